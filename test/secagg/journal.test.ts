/**
 * The aggregator's session journal (sdk/secagg/journal.ts): an aggregator process SIGKILLed in the middle of a session
 * and started again continues the one session it hosted, and the devices' clients carry on through the outage.
 *
 * The rule before the journal: a session lived in the aggregator's memory, so a kill after devices had sent masked
 * inputs lost the session (the job expired unpaid). Letting devices join a second session instead is unsafe: two sums
 * over different survivor sets differ by one device's input. The second test shows that an aggregator restarted
 * without its journal gets no second sum: devices that already masked never start the session again.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  SecAggClient,
  SecAggError,
  SecAggHttpServer,
  SecAggHttpTransport,
  SecAggServer,
  decodeJournal,
  encodeJournalEntry,
  encodeVector,
  replayJournal,
  runSecAggHttpClient,
  type HttpClientRun,
  type JournalEntry,
  type SecAggSessionConfig,
} from "#sdk/secagg/index.ts";
import { freePort } from "../../script/network/processes.ts";
import { accountsFor, makeConfig, randomInputs } from "./helpers.ts";
import { TS_NODE_ARGS } from "../../script/network/processes.ts";

const HOST = path.join(import.meta.dirname, "fixtures/journal-host.ts");
const ROUND_TIMEOUT_MS = 3_000;
const POLL = { initialDelayMs: 20, maxDelayMs: 200, roundTimeoutMs: 30_000, outageMs: 30_000 };

interface Host {
  child: ChildProcessWithoutNullStreams;
  /** The restored round printed at start. */
  round: string;
  /** Resolves with the session's end line ("session done" / "session failed …"). */
  end: Promise<string>;
}

/** Starts the aggregator process (node itself, so SIGKILL hits the process that holds the journal). */
async function startHost(args: string[]): Promise<Host> {
  const child = spawn(process.execPath, [...TS_NODE_ARGS, HOST, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const end = new Promise<string>((resolve) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /session (done|failed[^\n]*)/.exec(out);
      if (m) resolve(m[0]);
    });
  });
  const round = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const m = /listening \S+ round (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => reject(new Error(`host exited ${code}: ${err}`)));
  });
  return { child, round, end };
}

async function kill(h: Host): Promise<void> {
  const exited = new Promise((r) => h.child.once("exit", (_c, sig) => r(sig)));
  h.child.kill("SIGKILL");
  assert.equal(await exited, "SIGKILL");
}

/** Waits until the session is in `round` with `pending` clients still to answer it. */
async function waitForStatus(url: string, sessionId: string, round: number, pending: number) {
  for (const until = Date.now() + 30_000; Date.now() < until;) {
    const res = await fetch(`${url}/sessions/${sessionId}`);
    const s = (await res.json()) as { round: number | string; pending: number };
    if (s.round === round && s.pending === pending) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`session never reached round ${round} with ${pending} pending`);
}

/** A promise with its resolver (a device still classifying its records). */
function gate<T>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}

describe("SecAgg session journal: an aggregator killed mid-session", () => {
  const n = 8;
  const m = 64;
  let dir = "";
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "dml-journal-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /**
   * Starts the host, runs 8 clients until round 2 holds the masked inputs of clients 1–4 (5, 6 and 8 are still
   * computing theirs; 7 goes silent after sharing its keys, 8 after masking), then SIGKILLs the host.
   */
  async function killInRound2(name: string) {
    const accounts = accountsFor(n, 71);
    const config: SecAggSessionConfig = makeConfig(accounts, m);
    const configFile = path.join(dir, `${name}.json`);
    const journalFile = path.join(dir, `${name}.journal`);
    await writeFile(configFile, JSON.stringify(config));
    const port = await freePort();
    const args = [configFile, journalFile, String(port), String(ROUND_TIMEOUT_MS)];
    const url = `http://127.0.0.1:${port}`;
    const first = await startHost(args);
    assert.equal(first.round, "0");
    const inputs = randomInputs(accounts.keys(), m, 71);
    const gates = new Map([5, 6, 8].map((id) => [id, gate<Float64Array>()]));
    const stopBefore = new Map<number, 2 | 3>([
      [7, 2],
      [8, 3],
    ]);
    const runs = [...accounts.entries()].map(([id, account]) =>
      runSecAggHttpClient({
        baseUrl: url,
        config,
        id,
        account,
        input: gates.get(id)?.promise ?? inputs.get(id)!,
        poll: POLL,
        stopBeforeRound: stopBefore.get(id),
      }).then(
        (r): HttpClientRun | SecAggError => r,
        (e: unknown) => e as SecAggError,
      ),
    );
    await waitForStatus(url, config.sessionId, 2, 4);
    await kill(first);
    await assert.rejects(fetch(url), "the aggregator is down");
    return { accounts, config, journalFile, args, url, inputs, gates, runs };
  }

  it("restarted from its journal, it continues the same session: the exact sum of the survivors, every message once", async () => {
    const k = await killInRound2("resume");
    const second = await startHost(k.args);
    assert.equal(second.round, "2", "the restarted aggregator resumes in the masked-input round");
    for (const [id, g] of k.gates) g.open(k.inputs.get(id)!);
    const runs = await Promise.all(k.runs);
    assert.equal(await second.end, "session done");
    // clients 1–4 waited through the outage, 5, 6 and 8 posted to the restarted process
    assert.deepEqual(
      runs.map((r) => (r instanceof SecAggError ? r.code : r.completedRound)),
      [4, 4, 4, 4, 4, 4, 1, 2],
    );
    const result = await new SecAggHttpTransport(k.url, k.config.sessionId).result();
    const survivors = [1, 2, 3, 4, 5, 6, 8];
    assert.deepEqual(result.survivors, survivors);
    assert.deepEqual(result.dropped, [7]);
    const expected = new Uint32Array(m);
    for (const id of survivors) {
      const e = encodeVector(k.inputs.get(id)!, k.config.encoding);
      for (let i = 0; i < m; i++) expected[i] = expected[i]! + e[i]!;
    }
    assert.deepEqual(
      new Uint32Array(new Uint8Array(Buffer.from(result.sum, "base64")).buffer),
      expected,
    );
    await kill(second);

    // one session: every round closed once, no client's message for a round journaled twice
    const entries = decodeJournal(await readFile(k.journalFile, "utf8"));
    assert.deepEqual(
      entries.filter((e) => e.kind === "advance").map((e) => e.round),
      [0, 1, 2, 3, 4],
    );
    const keys = entries.flatMap((e) =>
      e.kind === "message" ? [`${e.message.body.round}:${e.message.body.sender}`] : [],
    );
    assert.equal(new Set(keys).size, keys.length);
    // the journal replays to the same result without the network
    const replayed = await replayJournal(k.config, entries);
    assert.deepEqual(replayed.getResult().sum, expected);
    // a second open of a hosted session is refused before its journal file is read or cut
    const http = new SecAggHttpServer();
    try {
      await http.openSession(k.config, { journalFile: k.journalFile, roundTimeoutMs: 1_000 });
      const before = await readFile(k.journalFile, "utf8");
      await assert.rejects(
        http.openSession(k.config, { journalFile: k.journalFile, roundTimeoutMs: 1_000 }),
        (e: SecAggError) => e.code === "INVALID_CONFIG",
      );
      assert.equal(await readFile(k.journalFile, "utf8"), before);
    } finally {
      await http.close();
    }
  });

  it("restarted without its journal, it gets no second sum: clients that masked never start the session again", async () => {
    const k = await killInRound2("lost");
    await rm(k.journalFile);
    const second = await startHost(k.args);
    assert.equal(second.round, "0", "a fresh session");
    for (const [id, g] of k.gates) g.open(k.inputs.get(id)!);
    const runs = await Promise.all(k.runs);
    // nobody re-advertises, so round 0 times out with nobody: the session fails and nothing was unmasked
    assert.match(await second.end, /session failed TOO_FEW_SURVIVORS/);
    await kill(second);
    for (const r of runs.slice(0, 6))
      assert.ok(r instanceof SecAggError, `client ${runs.indexOf(r) + 1} gave up`);
    const entries = decodeJournal(await readFile(k.journalFile, "utf8"));
    assert.deepEqual(
      entries.filter((e) => e.kind === "message"),
      [],
      "no device message reached the fresh session",
    );
  });
});

describe("SecAgg session journal: replay", () => {
  const accounts = accountsFor(5, 73);
  const config = makeConfig(accounts, 8);

  /** A session run in memory with every state change journaled. */
  async function journaledRun(): Promise<JournalEntry[]> {
    const entries: JournalEntry[] = [];
    const server = new SecAggServer(config);
    server.attachJournal((e) => entries.push(e));
    const clients = [...accounts.entries()].map(
      ([id, account]) => new SecAggClient({ config, id, account }),
    );
    for (const c of clients) await server.submit(await c.advertise());
    await server.advance();
    for (const c of clients) await server.submit(await c.shareKeys(server.keysFor(c.id)));
    await server.advance();
    const x = randomInputs(accounts.keys(), 8, 73);
    for (const c of clients)
      await server.submit(await c.maskedInput(server.sharesFor(c.id), x.get(c.id)!));
    await server.advance();
    for (const c of clients) await server.submit(await c.consistency(server.consistencyRequest()));
    await server.advance();
    for (const c of clients) await server.submit(await c.unmask(server.unmaskRequest(c.id)));
    await server.advance();
    return entries;
  }

  it("a replayed journal rebuilds the same result; a torn last line is dropped; a changed entry is JOURNAL_INVALID", async () => {
    const entries = await journaledRun();
    const text = entries.map((e) => encodeJournalEntry(e) + "\n").join("");
    const full = await replayJournal(config, decodeJournal(text));
    assert.equal(full.round, "done");
    // cut inside the last line: that entry was never acknowledged, the rest replays up to round 4
    const torn = decodeJournal(text.slice(0, -10));
    assert.equal(torn.length, entries.length - 1);
    assert.equal((await replayJournal(config, torn)).round, 4);
    // a masked input changed after it was signed no longer verifies
    const masked = entries.findIndex((e) => e.kind === "message" && e.message.body.round === 2);
    const e = entries[masked]!;
    assert.ok(e.kind === "message" && e.message.body.round === 2);
    const changed = [...entries];
    const body = { ...e.message.body, masked: e.message.body.masked.map((w) => w ^ 1) };
    changed[masked] = { kind: "message", message: { ...e.message, body } };
    await assert.rejects(replayJournal(config, changed), (err: SecAggError) => {
      assert.equal(err.code, "JOURNAL_INVALID");
      assert.match(err.message, /BAD_SIGNATURE/);
      return true;
    });
    // another session's journal
    await assert.rejects(
      replayJournal(makeConfig(accounts, 8), entries),
      (err: SecAggError) => err.code === "JOURNAL_INVALID" && /WRONG_SESSION/.test(err.message),
    );
    assert.throws(
      () => decodeJournal('{"k":"x"}\n'),
      (err: SecAggError) => err.code === "JOURNAL_INVALID",
    );
  });
});

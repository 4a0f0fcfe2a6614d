/** Keystore round trip and dataset import (eml folder, mbox, JSONL; malformed input → error, nothing written). */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadRawCorpus } from "#sdk/ml/index.ts";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { recoverMessageAddress } from "viem";
import { datasetFile, importDataset, loadDataset, splitMbox } from "../../device-runner/dataset.ts";
import { DeviceError } from "../../device-runner/errors.ts";
import {
  createKeystore,
  KeystoreError,
  LIGHT_SCRYPT,
  unlockKeystore,
  keystoreAddress,
} from "#sdk/crypto/keystore.ts";
import { idleReason, inWindow } from "../../device-runner/idle.ts";
import { parseCorrectionsFile, labelledRecords } from "../../device-runner/corrections.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "dml-device-local-"));
});
after(() => rm(dir, { recursive: true, force: true }));

async function rejects(p: Promise<unknown>, code: string): Promise<DeviceError | KeystoreError> {
  try {
    await p;
  } catch (e) {
    assert.ok(
      e instanceof DeviceError || e instanceof KeystoreError,
      `expected DeviceError or KeystoreError, got ${String(e)}`,
    );
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe("keystore (Web3 Secret Storage v3, scrypt)", () => {
  it("round trips a generated key; a wrong password is WRONG_PASSWORD; never overwrites", async () => {
    const file = path.join(dir, "ks1.json");
    const account = await createKeystore(file, "a long password", { scrypt: LIGHT_SCRYPT });
    const json = JSON.parse(await readFile(file, "utf8")) as {
      crypto: { kdf: string; kdfparams: { n: number } };
    };
    assert.equal(json.crypto.kdf, "scrypt");
    assert.equal(json.crypto.kdfparams.n, LIGHT_SCRYPT.n);
    assert.equal((await keystoreAddress(file)).toLowerCase(), account.address.toLowerCase());
    const unlocked = await unlockKeystore(file, "a long password");
    assert.equal(unlocked.address, account.address);
    const sig = await unlocked.signMessage({ message: "hello" });
    assert.equal(
      await recoverMessageAddress({ message: "hello", signature: sig }),
      account.address,
    );
    await rejects(unlockKeystore(file, "another password"), "WRONG_PASSWORD");
    const before = await readFile(file, "utf8");
    await rejects(
      createKeystore(file, "a long password", { scrypt: LIGHT_SCRYPT }),
      "KEYSTORE_EXISTS",
    );
    assert.equal(await readFile(file, "utf8"), before);
  });

  it("imports a key; rejects short passwords, bad keys, corrupt and missing keystores", async () => {
    const key = generatePrivateKey();
    const file = path.join(dir, "ks2.json");
    const acc = await createKeystore(file, "password-2", { importKey: key, scrypt: LIGHT_SCRYPT });
    assert.equal(acc.address, privateKeyToAccount(key).address);
    assert.equal((await unlockKeystore(file, "password-2")).address, acc.address);
    await rejects(
      createKeystore(path.join(dir, "ks3.json"), "short", { scrypt: LIGHT_SCRYPT }),
      "WEAK_PASSWORD",
    );
    await rejects(
      createKeystore(path.join(dir, "ks4.json"), "password-4", {
        importKey: "0x1234",
        scrypt: LIGHT_SCRYPT,
      }),
      "KEYSTORE_INVALID",
    );
    await writeFile(path.join(dir, "ks5.json"), "{}");
    await rejects(unlockKeystore(path.join(dir, "ks5.json"), "password-5"), "KEYSTORE_INVALID");
    await rejects(unlockKeystore(path.join(dir, "nope.json"), "password-5"), "KEYSTORE_MISSING");
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith(".tmp")),
      [],
    );
  });
});

describe("dataset import", () => {
  let raws: { text: string; label: 0 | 1 }[];
  before(async () => {
    const corpus = await loadRawCorpus();
    const ham = corpus.filter((e) => e.group.startsWith("easy-ham")).slice(0, 6);
    const spam = corpus.filter((e) => e.group.startsWith("spam")).slice(0, 4);
    raws = [
      ...ham.map((e) => ({ text: e.text, label: 0 as const })),
      ...spam.map((e) => ({ text: e.text, label: 1 as const })),
    ];
  });

  it("imports a folder of .eml files (real SpamAssassin messages)", async () => {
    const src = path.join(dir, "eml");
    await mkdir(src);
    for (const [i, r] of raws.entries())
      await writeFile(path.join(src, `${String(i).padStart(3, "0")}.eml`), r.text);
    await writeFile(path.join(src, "notes.txt"), "ignored");
    const ds = path.join(dir, "ds-eml");
    const meta = await importDataset(ds, "email/rfc822-v1", "eml", src);
    assert.equal(meta.count, raws.length);
    const loaded = await loadDataset(ds, "email/rfc822-v1");
    assert.equal(loaded.records.length, raws.length);
    assert.ok(loaded.records.every((r) => r.body.length > 0));
    assert.ok(loaded.records.some((r) => r.subject.length > 0));
  });

  it("imports an mbox file (mboxrd From-escaping)", async () => {
    const mbox = raws
      .map(
        (r) =>
          `From sender@example.com Mon Jan  1 00:00:00 2001\n${r.text.replace(/^(>*From )/gm, ">$1").replace(/\n+$/, "")}\n`,
      )
      .join("\n");
    assert.equal(splitMbox(mbox).length, raws.length);
    const f = path.join(dir, "inbox.mbox");
    await writeFile(f, mbox);
    const ds = path.join(dir, "ds-mbox");
    const meta = await importDataset(ds, "email/rfc822-v1", "mbox", f);
    assert.equal(meta.count, raws.length);
    const escaped = splitMbox("From a\nSubject: x\n\n>From here\n>>From there\n");
    assert.equal(escaped[0], "Subject: x\n\nFrom here\n>From there\n");
  });

  it("imports JSONL with labels; loads back what was imported", async () => {
    const f = path.join(dir, "in.jsonl");
    await writeFile(
      f,
      '{"subject":"a","text":"hello","label":"spam"}\n\n{"id":"x","subject":"b","text":"world","label":0}\n{"subject":"c","text":"unlabelled"}\n',
    );
    const ds = path.join(dir, "ds-jsonl");
    const meta = await importDataset(ds, "email/rfc822-v1", "jsonl", f);
    assert.deepEqual([meta.count, meta.labelled], [3, 2]);
    const { records } = await loadDataset(ds, "email/rfc822-v1");
    assert.deepEqual(
      records.map((r) => [r.id, r.label]),
      [
        ["line-1", 1],
        ["x", 0],
        ["line-4", undefined],
      ],
    );
  });

  it("malformed input: a clear error and nothing written (and an existing dataset is kept)", async () => {
    const ds = path.join(dir, "ds-bad");
    const good = path.join(dir, "good.jsonl");
    await writeFile(good, '{"subject":"a","text":"hello"}\n');
    await importDataset(ds, "email/rfc822-v1", "jsonl", good);
    const before = await readFile(datasetFile(ds, "email/rfc822-v1"), "utf8");
    const cases: [string, "eml" | "mbox" | "jsonl", string, string][] = [];
    const badJson = path.join(dir, "bad1.jsonl");
    await writeFile(badJson, '{"subject":"a","text":"ok"}\n{"subject":"a","text":"ok"\n');
    cases.push(["truncated JSON", "jsonl", badJson, "line 2: not JSON"]);
    const badField = path.join(dir, "bad2.jsonl");
    await writeFile(badField, '{"subject":"a","text":"ok","label":"maybe"}\n');
    cases.push(["bad label", "jsonl", badField, "line 1"]);
    const extra = path.join(dir, "bad3.jsonl");
    await writeFile(extra, '{"subject":"a","txt":"ok"}\n');
    cases.push(["wrong field", "jsonl", extra, "line 1"]);
    // `body` (the corpus records' field) stands for `text`, but not both at once
    const both = path.join(dir, "bad4.jsonl");
    await writeFile(both, '{"subject":"a","text":"ok","body":"ok"}\n');
    cases.push(["text and body", "jsonl", both, "exactly one of text and body"]);
    const emlDir = path.join(dir, "bad-eml");
    await mkdir(emlDir);
    await writeFile(path.join(emlDir, "1.eml"), raws[0]!.text);
    await writeFile(path.join(emlDir, "2.eml"), "this is not an email at all\njust text\n");
    cases.push(["eml without headers", "eml", emlDir, "2.eml"]);
    const emptyDir = path.join(dir, "empty-eml");
    await mkdir(emptyDir);
    cases.push(["no eml files", "eml", emptyDir, "no .eml files"]);
    const badMbox = path.join(dir, "bad.mbox");
    await writeFile(badMbox, "Subject: no separator\n\nbody\n");
    cases.push(["mbox without From line", "mbox", badMbox, "From"]);
    cases.push(["missing file", "jsonl", path.join(dir, "missing.jsonl"), "ENOENT"]);
    for (const [name, kind, loc, msg] of cases) {
      const e = await rejects(importDataset(ds, "email/rfc822-v1", kind, loc), "DATASET_INVALID");
      assert.ok(e.message.includes(msg), `${name}: ${e.message}`);
      assert.equal(await readFile(datasetFile(ds, "email/rfc822-v1"), "utf8"), before, name);
    }
    await rejects(importDataset(ds, "image/png-v1", "jsonl", good), "UNKNOWN_SCHEMA");
    assert.deepEqual(
      (await readdir(ds)).sort(),
      ["email_rfc822-v1.jsonl"],
      "no temp or other files left behind",
    );
    // a tampered stored file is detected on load
    await writeFile(datasetFile(ds, "email/rfc822-v1"), before.replace("hello", "hellO"));
    await rejects(loadDataset(ds, "email/rfc822-v1"), "DATASET_INVALID");
    await rejects(loadDataset(path.join(dir, "none"), "email/rfc822-v1"), "DATASET_MISSING");
  });
});

describe("corrections, idle policy", () => {
  it("corrections from JSON and CSV override imported labels; unknown ids are rejected", async () => {
    const records = [
      { id: "a", subject: "", body: "", label: 0 as const },
      { id: "b", subject: "", body: "" },
      { id: "c", subject: "", body: "" },
    ];
    const j = path.join(dir, "c.json");
    await writeFile(j, JSON.stringify({ a: "spam", b: 0 }));
    const c = await parseCorrectionsFile(j, records);
    assert.deepEqual(c, { a: 1, b: 0 });
    assert.deepEqual(
      labelledRecords(records, c).map((r) => [r.record.id, r.label]),
      [
        ["a", 1],
        ["b", 0],
      ],
    );
    const csv = path.join(dir, "c.csv");
    await writeFile(csv, "id,label\nc,spam\n");
    assert.deepEqual(await parseCorrectionsFile(csv, records), { c: 1 });
    await writeFile(csv, "zzz,spam\n");
    await rejects(parseCorrectionsFile(csv, records), "CORRECTIONS_INVALID");
    await writeFile(csv, "a,maybe\n");
    await rejects(parseCorrectionsFile(csv, records), "CORRECTIONS_INVALID");
  });

  it("idle policy: load per core and time windows (wrapping midnight)", () => {
    assert.ok(inWindow("22:00-07:00", 23 * 60));
    assert.ok(inWindow("22:00-07:00", 6 * 60 + 59));
    assert.ok(!inWindow("22:00-07:00", 7 * 60));
    assert.ok(inWindow("09:00-17:00", 12 * 60));
    const noon = new Date(2026, 0, 1, 12, 0);
    assert.equal(idleReason({ maxLoadPerCore: 0.5, windows: [] }, noon, 0.5, 2), undefined);
    assert.match(idleReason({ maxLoadPerCore: 0.5, windows: [] }, noon, 1.5, 2) ?? "", /load 0.75/);
    assert.match(
      idleReason({ maxLoadPerCore: 1, windows: ["22:00-07:00"] }, noon, 0, 2) ?? "",
      /outside/,
    );
    assert.equal(
      idleReason({ maxLoadPerCore: 1, windows: ["22:00-07:00", "11:00-13:00"] }, noon, 0, 2),
      undefined,
    );
  });
});

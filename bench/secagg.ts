/**
 * Secure-aggregation bench: client and server time and bytes per client over a grid of cohort sizes n, vector
 * lengths m and dropout rates, run in-process (real crypto, real Ed25519 session-key signatures verified by the
 * server, no HTTP; message sizes are those of the HTTP transport: JSON, and the binary form of the masked input).
 *
 *   npx tsx bench/secagg.ts                                   # default grid (18 cells, ≈ 20 min idle), stops starting new configs after 40 min
 *   npx tsx bench/secagg.ts --n 100,500 --m 16,4096 --dropout 0,0.3 --budget-min 5
 *   npx tsx bench/secagg.ts --n 500 --m 100000 --degree 40   # override the SecAgg+ degree
 *   npx tsx bench/secagg.ts --n 1000 --m 100000 --dropout 0.3 --unmask-only   # the server's unmasking work alone
 *
 * Dropped clients go silent after ShareKeys (before sending their masked input): the costliest case for the server,
 * which must reconstruct their mask keys and regenerate their k pairwise masks — the case Bonawitz et al. measure.
 * Clients do not re-verify their neighbours' advertisement signatures in the simulation (that would repeat n·k
 * identical verifications on one machine); the bench measures one verification and adds k of them to each client.
 * Certificate checks of the ConsistencyCheck round (≥ T signatures per share group, against the registered session
 * keys) are real and inside each client's measured time. The load average is printed with the grid (shared machines).
 *
 * Each round's messages reach the server together (as concurrent HTTP requests do): "server total" is the wall time
 * of the rounds' submissions and closes, and "server verify" the wall time during which a signature check was under
 * way. At n = 1,000 the server checks signatures in its worker pool (`verifyInPool`), so that is nearly all of the
 * rounds' submission time.
 */
import { Command } from "commander";
import { loadavg } from "node:os";
import { bytesToHex, zeroAddress } from "viem";
import type { Hex } from "viem";
import { sessionSignerOf } from "#sdk/crypto/session-key.ts";
import type { SessionSigner } from "#sdk/crypto/session-key.ts";
import { selfMaskSeed } from "#sdk/secagg/client.ts";
import { X25519Secret } from "#sdk/secagg/x25519.ts";
import {
  droppedMasksOf,
  makeEncoding,
  removeMasks,
  resolveSession,
  simulateSession,
  verifySigned,
  SecAggClient,
  UnmaskPool,
  sharedUnmaskPool,
} from "#sdk/secagg/index.ts";
import type { SecAggSessionConfig } from "#sdk/secagg/index.ts";

const list = (s: string) => s.split(",").map(Number);
const program = new Command()
  .option("--n <list>", "cohort sizes", "100,500,1000")
  .option("--m <list>", "vector lengths", "16,4096,100000")
  .option("--dropout <list>", "dropout rates", "0,0.3")
  .option("--degree <k>", "SecAgg+ neighbourhood degree (default: defaultDegree(n))")
  .option("--budget-min <minutes>", "do not start a new config after this many minutes", "40")
  .option("--workers <n>", "unmasking worker threads (default: the machine's cores; 1 = inline)")
  .option(
    "--unmask-only",
    "time only the server's unmasking work (the same key agreements, HKDF and PRG expansions as finalize) per cell",
  )
  .parse();
const opts = program.opts<{
  n: string;
  m: string;
  dropout: string;
  degree?: string;
  budgetMin: string;
  unmaskOnly?: boolean;
  workers?: string;
}>();
// --workers N: a pool of N threads (1 = inline); default: the process-wide pool (the machine's parallelism)
const pool =
  opts.workers === undefined
    ? sharedUnmaskPool()
    : Number(opts.workers) > 1
      ? new UnmaskPool(Number(opts.workers))
      : undefined;
const unmaskOptions = pool === undefined ? { workers: 1 } : { pool };

function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ns = list(opts.n);
const ms = list(opts.m);
const drops = list(opts.dropout);
const maxN = Math.max(...ns);
const accounts = new Map<number, SessionSigner>();
for (let i = 1; i <= maxN; i++)
  accounts.set(i, sessionSignerOf(`0x${(0xbe000 + i).toString(16).padStart(64, "0")}`));

const configs = ns
  .flatMap((n) => ms.flatMap((m) => drops.map((d) => ({ n, m, d }))))
  .sort((a, b) => a.n * a.m - b.n * b.m || a.d - b.d);

// one signature verification, to account the client's k neighbour checks
async function verifyCostMs(): Promise<number> {
  const cfg = baseConfig(4, 1);
  const session = resolveSession(cfg);
  const c = new SecAggClient({ config: session, id: 1, account: accounts.get(1)! });
  const msg = await c.advertise();
  const t0 = performance.now();
  const key = session.sessionKeyOf.get(1)!;
  for (let i = 0; i < 200; i++) verifySigned(key, session.domain, msg);
  return (performance.now() - t0) / 200;
}

function baseConfig(n: number, m: number, degree?: number): SecAggSessionConfig {
  return {
    sessionId: bytesToHex(crypto.getRandomValues(new Uint8Array(32))) as Hex,
    chainId: 31337,
    verifyingContract: zeroAddress,
    // registered session keys: every signature is verified against a known Ed25519 key, without recovery
    roster: [...accounts.entries()]
      .slice(0, n)
      .map(([id, a]) => ({ id, address: a.address, sessionKey: a.sessionKey })),
    vectorLength: m,
    encoding: makeEncoding({ clip: 1, maxClients: n }),
    ...(degree === undefined ? {} : { degree }),
  };
}

const fmtMs = (x: number) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(1)} ms`);
const fmtB = (x: number) =>
  x >= 1 << 20
    ? `${(x / (1 << 20)).toFixed(2)} MiB`
    : x >= 1024
      ? `${(x / 1024).toFixed(1)} KiB`
      : `${x} B`;

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

/**
 * The server's unmasking work for a cell, without running the clients: one self-mask expansion per survivor, and for
 * each dropped client w one X25519 agreement (prepared survivor keys), HKDF and PRG expansion per live neighbour —
 * exactly the loop of `SecAggServer.finalize` after reconstruction. For cells whose full simulation would take
 * minutes (n = 1000, m = 100,000: the 1000 simulated clients alone expand ≈ 2·10⁵ masks).
 */
async function unmaskOnly(n: number, m: number, d: number): Promise<void> {
  const session = resolveSession(
    baseConfig(n, m, opts.degree === undefined ? undefined : Number(opts.degree)),
  );
  const r = mulberry(n * 7 + m + Math.round(d * 100));
  const dropped = new Set<number>();
  while (dropped.size < Math.round(n * d)) dropped.add(session.ids[Math.floor(r() * n)]!);
  const secret = (id: number) => {
    const b = new Uint8Array(32);
    new DataView(b.buffer).setUint32(0, id);
    b[31] = 0x40;
    return new X25519Secret(b);
  };
  const sPk = new Map(session.ids.map((id) => [id, secret(id).publicKey()]));
  const sum = new Uint32Array(m);
  // a live server starts its unmasking workers with the session (SecAggServer), long before it unmasks
  const tw = performance.now();
  await pool?.warm();
  const warmMs = performance.now() - tw;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage(); // every thread of the process: comparable across loads, unlike wall time
  const survivors = session.ids.filter((u) => !dropped.has(u));
  const { expansions, workers, fallbacks } = await removeMasks(
    sum,
    {
      m,
      sessionIdBytes: session.sessionIdBytes,
      selfSeeds: survivors.map((u) => selfMaskSeed(session.sessionIdBytes, sPk.get(u)!)),
      ...droppedMasksOf(
        [...dropped].map((w) => ({ w, secret: secret(w).secret })),
        session.neighbours,
        (u) => !dropped.has(u),
        (u) => sPk.get(u)!,
      ),
    },
    unmaskOptions,
  );
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  console.log(
    `| ${n} | ${m} | ${d} | ${session.mode} ${session.degree}/${session.threshold} | unmask only: ${expansions} mask expansions on ${workers} thread(s)${fallbacks > 0 ? ` (${fallbacks} slices inline after a worker failure)` : ""} | ${fmtMs(ms)} | ${(ms / expansions).toFixed(3)} ms each | CPU ${fmtMs(cpuMs)} (${(cpuMs / expansions).toFixed(3)} ms each) | workers started before: ${warmMs.toFixed(0)} ms | ${load()} |`,
  );
}

if (opts.unmaskOnly === true) {
  for (const { n, m, d } of configs) await unmaskOnly(n, m, d);
  process.exit(0);
}

// a long-running aggregator starts its unmasking workers once (SecAggServer warms the pool for large sessions); start
// them before the first cell so that their start-up (≈ 0.4 s of CPU each under tsx) is not billed to round 0
await pool?.warm();
const verifyMs = await verifyCostMs();
console.log(
  `one session-key (Ed25519) verification of an EIP-712 digest: ${verifyMs.toFixed(3)} ms; load average ${load()}`,
);
console.log(
  "| n | m | dropout | mode k/t | client compute (mean/max) | client sent | client recv | server total | server verify | reconstruct | unmask | exact | sent / 4m | load avg |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
const started = Date.now();
for (const { n, m, d } of configs) {
  if ((Date.now() - started) / 60_000 > Number(opts.budgetMin)) {
    console.log(`| ${n} | ${m} | ${d} | skipped (budget) |`);
    continue;
  }
  const config = baseConfig(n, m, opts.degree === undefined ? undefined : Number(opts.degree));
  const session = resolveSession(config);
  const r = mulberry(n * 7 + m + Math.round(d * 100));
  const dropPlan = new Map<number, 2>();
  const target = Math.round(n * d);
  const ids = [...session.ids];
  while (dropPlan.size < target) dropPlan.set(ids[Math.floor(r() * n)]!, 2);
  // inputs generated on demand (and summed for the exactness check) to keep memory at O(m)
  const expected = new Uint32Array(m);
  const inputFor = (id: number) => {
    const rr = mulberry(id * 1000003 + m);
    const x = new Float64Array(m);
    for (let i = 0; i < m; i++) x[i] = rr() * 2 - 1;
    if (!dropPlan.has(id)) {
      const off = session.encoding.offset;
      const sc = session.encoding.scale;
      for (let i = 0; i < m; i++) expected[i] = expected[i]! + Math.round(x[i]! * sc) + off;
    }
    return x;
  };
  const rep = await simulateSession({
    config: session,
    accounts,
    inputs: inputFor,
    drops: dropPlan,
    measureBytes: true,
    verifyNeighbourSignatures: false,
  });
  const exact = rep.result.sum.every((v, i) => v === expected[i]);
  // bytes per surviving client against the raw 4m-byte vector
  const expansion = (x: number) => (x / (4 * m)).toFixed(2);
  const live = rep.clients.filter((c) => !dropPlan.has(c.id));
  const k = session.degree;
  const comp = live.map((c) => c.computeMs + k * verifyMs);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const t = rep.server.timings;
  console.log(
    `| ${n} | ${m} | ${d} | ${session.mode} ${k}/${session.threshold} | ${fmtMs(mean(comp))} / ${fmtMs(Math.max(...comp))} | ${fmtB(
      Math.round(mean(live.map((c) => c.bytesSent))),
    )} | ${fmtB(Math.round(mean(live.map((c) => c.bytesReceived))))} | ${fmtMs(rep.serverMs)} | ${fmtMs(t.verifyMs)} | ${fmtMs(
      t.reconstructMs,
    )} | ${fmtMs(t.unmaskMs)} | ${exact ? "yes" : "NO"} | ${expansion(
      mean(live.map((c) => c.bytesSent)),
    )}× | ${load()} |`,
  );
}

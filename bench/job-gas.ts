/**
 * Job gas benchmark (issue 4): the whole on-chain lifecycle of a prediction job with 3 attestors, from
 * createJob to Settled (device claims excluded; assignment through ResultAttestation with the attestor draw, the
 * attested resultHash, the report presenting its preimage), for several cohort sizes, on the protocol deployed by
 * script/deploy.ts on an in-process EDR chain; the connected-set post each size needs (its challenge window passes
 * before the job); the device claims of one job; and each cohort fraud proof (PROTOCOL.md §7.3) against a real
 * faulty cohort.
 *
 *   npx hardhat run bench/job-gas.ts             (part of `npm run bench:gas`)
 *   DML_BENCH_DEVICES=10,1000 npx hardhat run bench/job-gas.ts
 *
 * Two figures per transaction: receipt gas, and execution gas = receipt − 21,000 intrinsic − calldata (EIP-2028),
 * which is what a gas report counts. "first job" runs on a fresh deployment (every fee-ledger entry and node
 * balance still zero, so their first writes are fresh slots); "steady state" is the next job with the same nodes.
 */
import type { Address } from "viem";
import { buildCohortTree, type CohortMember } from "#sdk/chain/cohort.ts";
import { printGas, Role, sumGas, type GasRow } from "./fixture/protocol.ts";
import { JOB, JobLifecycle } from "./fixture/job-run.ts";

const TARGET_LIFECYCLE = 1_500_000n;
const TARGET_CLAIM = 80_000n;
const sizes = (process.env.DML_BENCH_DEVICES ?? "10,200,1000").split(",").map(Number);

const L = await JobLifecycle.create();
const totals: { n: number; phase: string; gas: bigint; execution: bigint; txs: number }[] = [];
const posts: { n: number; gas: bigint; execution: bigint }[] = [];
for (const n of sizes) {
  const snap = await L.env.conn.networkHelpers.takeSnapshot();
  const sets = [...L.connectedSets];
  const before = L.env.gasLog.length;
  await L.ensureConnected(n);
  const post = L.env.gasLog.slice(before).find((r) => r.label === "GrowthPool.postEpoch");
  if (post) posts.push({ n, gas: post.gas, execution: post.execution });
  for (const phase of ["first job", "steady state"]) {
    const run = await L.runToAttested(n);
    const r = await L.report(run.jobId, L.payouts(run.devices));
    const rows = [...run.gas, ...r.gas];
    const total = sumGas(rows);
    totals.push({ n, phase, ...total, txs: rows.length });
    printGas(`lifecycle, ${n} devices, 3 attestors, ${phase}`, [
      ...rows,
      { label: "TOTAL create → settled", ...total },
    ]);
  }
  await snap.restore();
  L.connectedSets.splice(0, L.connectedSets.length, ...sets); // the chain forgot the sets posted since
}

console.log("\n  lifecycle summary (create → settled, device claims excluded)");
for (const t of totals)
  console.log(
    `    ${String(t.n).padStart(5)} devices  ${t.phase.padEnd(13)} ${t.txs} txs  receipt ${t.gas}  execution ${t.execution}` +
      `  ${t.execution <= TARGET_LIFECYCLE ? "≤" : ">"} ${TARGET_LIFECYCLE}`,
  );
console.log(
  "\n  connected-set post (GrowthPool.postEpoch; the challenge window then passes with no transaction)",
);
for (const p of posts)
  console.log(`    ${String(p.n).padStart(5)} devices  receipt ${p.gas}  execution ${p.execution}`);

// Device claims of one 300-device job (270 leaves after dropouts, two 256-bit claim words): no device held DML before.
const run = await L.runToAttested(300);
const { tree } = await L.report(run.jobId, L.payouts(run.devices));
const claims: GasRow[] = await L.claimAll(run.jobId, run, tree!);
const exec = claims.map((c) => c.execution).sort((a, b) => (a < b ? -1 : 1));
const pick = (q: number) => exec[Math.min(exec.length - 1, Math.floor(q * exec.length))]!;
console.log(
  `\n  device claim, ${claims.length}-leaf payout tree (execution gas): min ${exec[0]}, median ${pick(0.5)}, ` +
    `max ${exec.at(-1)} (${exec.at(-1)! <= TARGET_CLAIM ? "≤" : ">"} ${TARGET_CLAIM}); receipt gas max ` +
    `${claims.map((c) => c.gas).reduce((a, b) => (a > b ? a : b))}`,
);
// A second payout to the same devices: their token balance slots now exist.
// The attested result pays them (the attestors derive the same list), so the reporter presents exactly that list.
const sameDevices = (devices: Parameters<typeof L.payouts>[0]) =>
  L.payouts(devices).map((e, i) => ({ ...e, account: tree!.claims()[i]!.account }));
const run2 = await L.runToAttested(300, { entries: sameDevices });
const r2 = await L.report(run2.jobId, sameDevices(run2.devices));
const again: GasRow[] = [];
for (const c of r2.tree!.claims()) {
  const d = run.devices.find((x) => x.address === c.account)!;
  const w = await L.env.localWallet(d);
  await L.env.send(
    w,
    "Settlement",
    "claim",
    [run2.jobId, c.index, c.account, c.amount, c.proof],
    "claim",
  );
  again.push(L.env.gasLog.at(-1)!);
}
const exec2 = again.map((c) => c.execution).sort((a, b) => (a < b ? -1 : 1));
console.log(
  `  device claim by devices that already hold DML: min ${exec2[0]}, max ${exec2.at(-1)} (execution gas)`,
);

// Cohort fraud proofs: a job of 10 devices drawn from the latest standing set, a faulty cohort assigned, one proof.
const { env } = L;
const watcher = env.wallet(13);
const N = 10;
const proofs: { label: string; row: GasRow }[] = [];
type Tree = ReturnType<typeof buildCohortTree>;
/** Schedules a job, turns the fair draw of N + 1 into a faulty cohort, assigns it, sends the fraud proof. */
async function proveFault(
  label: string,
  tamper: (fair: CohortMember[]) => Promise<CohortMember[]> | CohortMember[],
  proof: (tree: Tree, fair: CohortMember[]) => [string, readonly unknown[]],
): Promise<void> {
  const jobId = await L.schedule(L.spec(N));
  const fair = await L.drawCohortOf(jobId, N + 1);
  const tree = buildCohortTree(await tamper(fair.members));
  await L.assign(jobId, tree.root, N, JOB.COHORT, fair.connectedEpoch);
  const [fn, args] = proof(tree, fair.members);
  await env.send(watcher, "ResultAttestation", fn, [jobId, ...args], `ResultAttestation.${fn}`);
  proofs.push({ label, row: env.gasLog.at(-1)! });
  await env.stakeNode(L.distributor, Role.Distributor, JOB.SLASH); // top the slashed stake up again
}
const set = () => L.connectedSets.at(-1)!;
const connectedLeaf = (index: bigint) => {
  const device = set().devices.find((d) => set().tree.leafOf(d.address)!.index === index)!;
  const l = set().tree.leafOf(device.address)!;
  return [{ index: l.index, device: l.device, signature: l.signature }, l.proof] as const;
};
const reposition = (ms: CohortMember[]) => ms.map((m, position) => ({ ...m, position }));
const none = { index: 0n, device: "0x0000000000000000000000000000000000000000", signature: "0x" };
await proveFault(
  "order: two adjacent members swapped",
  (fair) => reposition([...fair.slice(0, 3), fair[4]!, fair[3]!, ...fair.slice(5, N)]),
  (tree) => ["challengeCohortOrder", [tree.proofAt(3), tree.proofAt(4)]],
);
await proveFault(
  "member: a Sybil at a connected device's index",
  (fair) =>
    fair
      .slice(0, N)
      .map((m) =>
        m.position === 5
          ? { ...m, device: "0x000000000000000000000000000000000000dEaD" as Address }
          : m,
      ),
  (tree, fair) => [
    "challengeCohortMember",
    [tree.proofAt(5), ...connectedLeaf(fair[5]!.connectedIndex)],
  ],
);
await proveFault(
  "member: a position beyond deviceCount",
  (fair) => fair,
  (tree) => ["challengeCohortMember", [tree.proofAt(N), none, []]],
);
await proveFault(
  "omission: a drawn device left out",
  (fair) => reposition([...fair.slice(0, 2), ...fair.slice(3)]),
  (tree, fair) => [
    "challengeCohortOmission",
    [...connectedLeaf(fair[2]!.connectedIndex), tree.proofAt(1), tree.proofAt(2)],
  ],
);
await proveFault(
  "ineligible: a member's price floor above the reward",
  async (fair) => {
    const d = set().devices.find((x) => x.address === fair[0]!.device)!;
    const w = await env.localWallet(d);
    await env.send(w, "DeviceRegistry", "updateConsent", [
      { anyAlgorithmInSchema: true, algorithms: [], priceFloor: JOB.REWARD + 1n },
    ]);
    return fair.slice(0, N);
  },
  (tree) => ["challengeCohortIneligible", [tree.proofAt(0)]],
);
console.log(
  "\n  cohort fraud proofs (each slashes the distributor, pays the watcher, fails the job with a refund)",
);
for (const { label, row } of proofs)
  console.log(`    ${label.padEnd(52)} receipt ${row.gas}  execution ${row.execution}`);

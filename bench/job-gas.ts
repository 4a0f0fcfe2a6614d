/**
 * Job gas benchmark (issue 4): the whole on-chain lifecycle of a prediction job with 3 attestors, from
 * createJob to Settled (device claims excluded; assignment through ResultAttestation with the attestor draw, the
 * attested resultHash, the report presenting its preimage), for several cohort sizes, on the protocol deployed by
 * script/deploy.ts on an in-process EDR chain; then the device claims of one job.
 *
 *   npx hardhat run bench/job-gas.ts             (part of `npm run bench:gas`)
 *   DML_BENCH_DEVICES=10,1000 npx hardhat run bench/job-gas.ts
 *
 * Two figures per transaction: receipt gas, and execution gas = receipt − 21,000 intrinsic − calldata (EIP-2028),
 * which is what a gas report counts. "first job" runs on a fresh deployment (every fee-ledger entry and node
 * balance still zero, so their first writes are fresh slots); "steady state" is the next job with the same nodes.
 */
import { printGas, sumGas, type GasRow } from "../test/integration/helpers/protocol.ts";
import { JobLifecycle } from "../test/integration/helpers/job-run.ts";

const TARGET_LIFECYCLE = 1_500_000n;
const TARGET_CLAIM = 80_000n;
const sizes = (process.env.DML_BENCH_DEVICES ?? "10,200,1000").split(",").map(Number);

const L = await JobLifecycle.create();
const totals: { n: number; phase: string; gas: bigint; execution: bigint; txs: number }[] = [];
for (const n of sizes) {
  const snap = await L.env.conn.networkHelpers.takeSnapshot();
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
}

console.log("\n  lifecycle summary (create → settled, device claims excluded)");
for (const t of totals)
  console.log(
    `    ${String(t.n).padStart(5)} devices  ${t.phase.padEnd(13)} ${t.txs} txs  receipt ${t.gas}  execution ${t.execution}` +
      `  ${t.execution <= TARGET_LIFECYCLE ? "≤" : ">"} ${TARGET_LIFECYCLE}`,
  );

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

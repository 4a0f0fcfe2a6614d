/**
 * One job: the phase timeline with each phase's deadline, the cohort and its survivors (the devices in the attested
 * aggregate), the attestors' votes, the gas of every phase transaction (receipts from the chain), the settlement
 * split and the devices' claims.
 */
import { html } from "lit";
import type { Hex } from "viem";
import { z } from "zod";
import { big, bigOpt, bytes } from "../graphql.ts";
import { addr, num, when } from "../format.ts";
import type { Page, PageContext } from "../page.ts";

const jobSchema = z.object({
  id: z.string(),
  jobId: big,
  status: z.string(),
  deadline: big,
  customer: z.object({ id: bytes }),
  algorithm: z.object({ id: z.string() }),
  budget: big,
  escrow: big,
  usePaid: big,
  maxDevices: big,
  minDevices: bigOpt,
  minParticipants: bigOpt,
  rewardPerDevice: big,
  clearingPrice: bigOpt,
  deviceCount: bigOpt,
  refund: big,
  paidToSettlement: big,
  payoutsClaimed: big,
  payoutClaimCount: z.number(),
  failReason: bytes.nullable(),
  statusChanges: z.array(
    z.object({
      from: z.string(),
      to: z.string(),
      deadline: big,
      timestamp: big,
      blockNumber: big,
      transactionHash: bytes,
    }),
  ),
  cohort: z
    .object({
      root: bytes,
      deviceCount: big,
      cid: z.string(),
      distributor: bytes,
      aggregator: bytes,
      challenges: z.array(z.object({ fault: z.string(), challenger: bytes, slashed: big })),
    })
    .nullable(),
  attestation: z
    .object({
      status: z.string(),
      attestors: z.array(bytes),
      attested: z.boolean().nullable(),
      majority: z.boolean().nullable(),
      aggregateHash: bytes.nullable(),
      finalHash: bytes.nullable(),
      commitDeadline: bigOpt,
      revealDeadline: bigOpt,
      votes: z.array(
        z.object({
          attestor: bytes,
          aggregateHash: bytes.nullable(),
          committedAt: bigOpt,
          revealedAt: bigOpt,
        }),
      ),
    })
    .nullable(),
  report: z
    .object({
      reporter: bytes,
      reportCid: z.string(),
      reportCommitment: bytes,
      participants: big,
      payoutTotal: big,
      qualityMet: z.boolean(),
      success: z.boolean(),
      transactionHash: bytes,
    })
    .nullable(),
  split: z
    .object({
      distributorFee: big,
      aggregatorFee: big,
      reporterFee: big,
      attestorShare: big,
      attestorCount: big,
      royalty: big,
      parentRoyalty: big,
      protocolFee: big,
      devicePool: big,
    })
    .nullable(),
  payoutClaims: z.array(
    z.object({ index: big, account: z.object({ id: bytes }), amount: big, timestamp: big }),
  ),
  slashes: z.array(z.object({ node: bytes, role: z.string(), amount: big })),
});
const schema = z.object({ job: jobSchema.nullable() });
export type JobData = z.infer<typeof jobSchema>;

export const JOB_QUERY = `query ($id: ID!) { job(id: $id) {
  id jobId status deadline customer { id } algorithm { id } budget escrow usePaid maxDevices minDevices minParticipants
  rewardPerDevice clearingPrice deviceCount refund paidToSettlement payoutsClaimed payoutClaimCount failReason
  statusChanges(first: 100, orderBy: blockNumber) { from to deadline timestamp blockNumber transactionHash }
  cohort { root deviceCount cid distributor aggregator challenges { fault challenger slashed } }
  attestation { status attestors attested majority aggregateHash finalHash commitDeadline revealDeadline
    votes(first: 100) { attestor aggregateHash committedAt revealedAt } }
  report { reporter reportCid reportCommitment participants payoutTotal qualityMet success transactionHash }
  split { distributorFee aggregatorFee reporterFee attestorShare attestorCount royalty parentRoyalty protocolFee devicePool }
  payoutClaims(first: 1000, orderBy: index) { index account { id } amount timestamp }
  slashes(first: 100) { node role amount }
} }`;

interface Loaded {
  job: JobData | null;
  /** Gas used by each phase transaction (null without a chain). */
  gas: Map<string, bigint> | null;
}

async function gasOf(
  ctx: PageContext,
  hashes: readonly string[],
): Promise<Map<string, bigint> | null> {
  const chain = ctx.chain;
  if (chain === null) return null;
  const out = new Map<string, bigint>();
  for (const h of new Set(hashes)) {
    const r = await chain.getTransactionReceipt({ hash: h as Hex });
    out.set(h, r.gasUsed);
  }
  return out;
}

export const job: Page<Loaded> = {
  title: "Job",
  async load(ctx, [id]) {
    const { job } = await ctx.q(schema, JOB_QUERY, { id: id ?? "" });
    const hashes = job
      ? [
          ...job.statusChanges.map((c) => c.transactionHash),
          ...(job.report ? [job.report.transactionHash] : []),
        ]
      : [];
    return { job, gas: job ? await gasOf(ctx, hashes) : null };
  },
  view({ job: j, gas }, _ctx, [id]) {
    if (j === null) return html`<p class="error">no job ${id}</p>`;
    const totalGas = gas ? [...gas.values()].reduce((a, b) => a + b, 0n) : null;
    const revealed = j.attestation?.votes.filter((v) => v.revealedAt !== null) ?? [];
    const agree = revealed.filter((v) => v.aggregateHash === j.attestation?.finalHash).length;
    return html`
      <p>
        Job ${num("job.jobId", j.jobId)} · <b data-testid="job.status">${j.status}</b> · customer
        ${addr(j.customer.id)} · algorithm <a href="#/marketplace">${j.algorithm.id}</a> ·
        <a href="#/report/${j.id}">customer view</a>
      </p>
      <section class="cards">
        <div class="card">
          <h3>Budget</h3>
          ${num("job.budget", j.budget, "dml")}<small
            >escrow ${num("job.escrow", j.escrow, "dml")}</small
          >
        </div>
        <div class="card">
          <h3>Devices</h3>
          ${num("job.deviceCount", j.deviceCount)} in the cohort<small>
            survivors ${num("job.participants", j.report?.participants)} (min
            ${num("job.minParticipants", j.minParticipants)})</small
          >
        </div>
        <div class="card">
          <h3>Reward per device</h3>
          ${num("job.rewardPerDevice", j.rewardPerDevice, "dml")}<small
            >clearing price ${num("job.clearingPrice", j.clearingPrice, "dml")}</small
          >
        </div>
        <div class="card">
          <h3>Gas</h3>
          ${num("job.gas.total", totalGas)}<small
            >over ${num("job.gas.txs", gas?.size ?? null)} phase transactions</small
          >
        </div>
        <div class="card">
          <h3>Claims</h3>
          ${num("job.payoutClaimCount", j.payoutClaimCount)}<small
            >${num("job.payoutsClaimed", j.payoutsClaimed, "dml")} of
            ${num("job.paidToSettlement", j.paidToSettlement, "dml")}</small
          >
        </div>
      </section>
      <h2>Phase timeline</h2>
      <table>
        <tr>
          <th>phase</th>
          <th>at</th>
          <th>block</th>
          <th>deadline of the phase</th>
          <th>gas</th>
        </tr>
        ${j.statusChanges.map(
          (c, i) =>
            html`<tr>
              <td>${c.from} → <b>${c.to}</b></td>
              <td>${when(c.timestamp)}</td>
              <td>${num(`job.phase.${i}.block`, c.blockNumber, "block")}</td>
              <td>${when(c.deadline)}</td>
              <td>${num(`job.phase.${i}.gas`, gas?.get(c.transactionHash) ?? null)}</td>
            </tr>`,
        )}
      </table>
      <h2>Cohort</h2>
      ${
        j.cohort
          ? html`<p>
                distributor ${addr(j.cohort.distributor)} · aggregator ${addr(j.cohort.aggregator)}
                · ${num("job.cohort.deviceCount", j.cohort.deviceCount)} devices (list
                ${j.cohort.cid}) · ${num("job.cohort.survivors", j.report?.participants)} in the
                attested aggregate · ${num("job.cohort.challenges", j.cohort.challenges.length)}
                challenges
              </p>
              ${j.cohort.challenges.map((c) => html`<p>${c.fault} by ${addr(c.challenger)}, slashed ${num("job.cohort.challenge.slashed", c.slashed, "dml")}</p>`)}`
          : html`<p class="muted">not assigned</p>`
      }
      <h2>Attestation</h2>
      ${
        j.attestation
          ? html`<p>
                ${j.attestation.status} · ${num("job.attestation.revealed", revealed.length)} of
                ${num("job.attestation.attestors", j.attestation.attestors.length)} revealed ·
                ${num("job.attestation.agree", agree)} agree with the final hash · majority
                ${String(j.attestation.majority ?? "–")}
              </p>
              <table>
                <tr>
                  <th>attestor</th>
                  <th>committed</th>
                  <th>revealed</th>
                  <th>aggregate hash</th>
                </tr>
                ${j.attestation.votes.map(
                  (v) =>
                    html`<tr>
                      <td>${addr(v.attestor)}</td>
                      <td>${when(v.committedAt)}</td>
                      <td>${when(v.revealedAt)}</td>
                      <td>
                        ${addr(v.aggregateHash)}
                        ${v.aggregateHash === j.attestation?.finalHash ? "✓" : ""}
                      </td>
                    </tr>`,
                )}
              </table>`
          : html`<p class="muted">not drawn</p>`
      }
      <h2>Settlement</h2>
      ${
        j.split
          ? html`<table>
              ${(
                [
                  ["distributor fee", "distributorFee"],
                  ["aggregator fee", "aggregatorFee"],
                  ["reporter fee", "reporterFee"],
                  ["attestors' share", "attestorShare"],
                  ["royalty", "royalty"],
                  ["parent royalty", "parentRoyalty"],
                  ["protocol fee", "protocolFee"],
                  ["device pool", "devicePool"],
                ] as const
              ).map(
                ([label, k]) =>
                  html`<tr>
                    <td>${label}</td>
                    <td>${num(`job.split.${k}`, j.split![k], "dml")}</td>
                  </tr>`,
              )}
              <tr>
                <td>refund</td>
                <td>${num("job.refund", j.refund, "dml")}</td>
              </tr>
            </table>`
          : html`<p class="muted">not settled</p>`
      }
      <h2>Claims</h2>
      <table>
        <tr>
          <th>index</th>
          <th>device account</th>
          <th>amount</th>
          <th>at</th>
        </tr>
        ${j.payoutClaims.map(
          (c) =>
            html`<tr>
              <td>${c.index.toString()}</td>
              <td>${addr(c.account.id)}</td>
              <td>${num(`job.claim.${c.index}`, c.amount, "dml")}</td>
              <td>${when(c.timestamp)}</td>
            </tr>`,
        )}
      </table>
      ${
        j.slashes.length
          ? html`<h2>Slashes</h2>
              ${j.slashes.map((s) => html`<p>${s.role} ${addr(s.node)}: ${num("job.slash", s.amount, "dml")}</p>`)}`
          : ""
      }
    `;
  },
};

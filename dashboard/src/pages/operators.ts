/**
 * Operators: each node's stake per role (bonded, unbonding, locked), its recent locks, rewards (job fees credited by
 * Settlement.JobSplit — distributor, aggregator and reporter fees and each agreeing attestor's share — plus the
 * fine-tuning attestor payments) and slashes.
 */
import { html } from "lit";
import { z } from "zod";
import { big, bytes } from "../graphql.ts";
import { addr, num, when } from "../format.ts";
import type { Page } from "../page.ts";

const schema = z.object({
  nodes: z.array(
    z.object({
      id: bytes,
      endpoint: z.string(),
      registeredAt: big,
      stakes: z.array(
        z.object({
          id: z.string(),
          role: z.string(),
          bonded: big,
          unbonding: big,
          locked: big,
          slashed: big,
          active: z.boolean(),
          locks: z.array(z.object({ kind: z.string(), amount: big, locked: big, timestamp: big })),
        }),
      ),
      slashes: z.array(z.object({ id: z.string(), role: z.string(), amount: big, timestamp: big })),
    }),
  ),
  jobSplits: z.array(
    z.object({
      distributor: bytes,
      aggregator: bytes,
      reporter: bytes,
      distributorFee: big,
      aggregatorFee: big,
      reporterFee: big,
      attestorShare: big,
      attestors: z.array(bytes),
    }),
  ),
  attestorPayments: z.array(z.object({ attestor: bytes, amount: big })),
});
type Data = z.infer<typeof schema>;

/** Rewards credited to each operator (lower-case address → wei). */
export function rewardsByOperator(
  d: Pick<Data, "jobSplits" | "attestorPayments">,
): Map<string, bigint> {
  const m = new Map<string, bigint>();
  const add = (a: string, v: bigint) => m.set(a.toLowerCase(), (m.get(a.toLowerCase()) ?? 0n) + v);
  for (const s of d.jobSplits) {
    add(s.distributor, s.distributorFee);
    add(s.aggregator, s.aggregatorFee);
    add(s.reporter, s.reporterFee);
    for (const a of s.attestors) add(a, s.attestorShare);
  }
  for (const p of d.attestorPayments) add(p.attestor, p.amount);
  return m;
}

export const operators: Page<Data> = {
  title: "Operators",
  load: (ctx) =>
    ctx.q(
      schema,
      `{ nodes(first: 1000, orderBy: registeredAt) { id endpoint registeredAt
           stakes(first: 5) { id role bonded unbonding locked slashed active
             locks(first: 5, orderBy: blockNumber, orderDirection: desc) { kind amount locked timestamp } }
           slashes(first: 100) { id role amount timestamp } }
         jobSplits(first: 1000) { distributor aggregator reporter distributorFee aggregatorFee reporterFee attestorShare attestors }
         attestorPayments(first: 1000) { attestor amount } }`,
    ),
  view(d) {
    const rewards = rewardsByOperator(d);
    return html`
      <table>
        <tr>
          <th>operator</th>
          <th>role</th>
          <th>bonded</th>
          <th>unbonding</th>
          <th>locked</th>
          <th>recent locks</th>
          <th>slashed</th>
          <th>rewards</th>
        </tr>
        ${d.nodes.flatMap((n) =>
          n.stakes.map(
            (s, i) =>
              html`<tr data-stake=${s.id}>
                <td>${i === 0 ? html`${addr(n.id)}<br /><small>${n.endpoint}</small>` : ""}</td>
                <td>${s.role}${s.active ? "" : " (inactive)"}</td>
                <td>${num(`stake.${s.id}.bonded`, s.bonded, "dml")}</td>
                <td>${num(`stake.${s.id}.unbonding`, s.unbonding, "dml")}</td>
                <td>${num(`stake.${s.id}.locked`, s.locked, "dml")}</td>
                <td>
                  ${s.locks.map((l) => html`<div><small>${l.kind} ${num(`stake.${s.id}.lock`, l.amount, "dml")} at ${when(l.timestamp)}</small></div>`)}
                </td>
                <td>${num(`stake.${s.id}.slashed`, s.slashed, "dml")}</td>
                <td>
                  ${i === 0 ? num(`operator.${n.id.toLowerCase()}.rewards`, rewards.get(n.id.toLowerCase()) ?? 0n, "dml") : ""}
                </td>
              </tr>`,
          ),
        )}
      </table>
      ${d.nodes.length === 0 ? html`<p class="muted">no operator registered</p>` : ""}
      <h2>Slashes</h2>
      <table>
        <tr>
          <th>operator</th>
          <th>role</th>
          <th>amount</th>
          <th>at</th>
        </tr>
        ${d.nodes.flatMap((n) =>
          n.slashes.map(
            (s) =>
              html`<tr>
                <td>${addr(n.id)}</td>
                <td>${s.role}</td>
                <td>${num(`slash.${s.id}`, s.amount, "dml")}</td>
                <td>${when(s.timestamp)}</td>
              </tr>`,
          ),
        )}
      </table>
    `;
  },
};

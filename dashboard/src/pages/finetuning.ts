/**
 * Fine-tuning: per bounty, the control-group and hidden-split accuracy of each round's candidate as a chart, the
 * accepted versions and the trainers' payouts. The hidden-split accuracy is the attested `metric` (subgraph); the
 * control-group accuracy is the candidate package's published confusion matrix on the bounty's control group
 * (`manifest.json` of the round's `modelCid`, read through the IPFS path).
 */
import { html } from "lit";
import { z } from "zod";
import { big, bigOpt, bytes } from "../graphql.ts";
import { addr, num } from "../format.ts";
import type { Page, PageContext } from "../page.ts";

const round = z.object({
  id: z.string(),
  round: z.number(),
  status: z.string(),
  metric: bigOpt,
  accepted: z.boolean().nullable(),
  modelCid: z.string().nullable(),
  refiner: bytes.nullable(),
  childAlgorithm: z.object({ id: z.string(), version: z.number() }).nullable(),
  trainerPayments: z.array(z.object({ account: z.object({ id: bytes }), amount: big })),
});
const bounty = z.object({
  id: z.string(),
  status: z.string(),
  rewardPool: big,
  rounds: z.number(),
  baselineMetric: big,
  minGainBps: z.number(),
  trainerCount: z.number(),
  paidToTrainers: big,
  paidToAttestors: big,
  algorithm: z.object({ id: z.string(), packageCid: z.string() }),
  roundList: z.array(round),
});
const schema = z.object({ bounties: z.array(bounty) });
type Bounty = z.infer<typeof bounty>;

const manifest = z.object({
  controlGroup: z.object({ confusion: z.array(z.array(z.number())) }).optional(),
});

/** Accuracy as a 1e18 fixed point (the contract's metric scale) from a confusion matrix. */
export function accuracy(confusion: readonly (readonly number[])[]): bigint | null {
  let right = 0;
  let all = 0;
  confusion.forEach((row, t) => row.forEach((n, p) => ((all += n), (right += t === p ? n : 0))));
  return all === 0 ? null : (BigInt(right) * 10n ** 18n) / BigInt(all);
}

async function controlAccuracy(ctx: PageContext, cid: string): Promise<bigint | null> {
  if (ctx.config.ipfs === null) return null;
  try {
    const res = await fetch(`${ctx.config.ipfs}/${encodeURIComponent(cid)}/manifest.json`);
    if (!res.ok) return null;
    const m = manifest.parse(await res.json());
    return m.controlGroup ? accuracy(m.controlGroup.confusion) : null;
  } catch {
    return null;
  }
}

interface Loaded {
  bounties: Bounty[];
  /** modelCid / packageCid → control-group accuracy. */
  control: Map<string, bigint | null>;
}

const cache = new Map<string, Promise<bigint | null>>();

const toPct = (m: bigint | null | undefined): number | null =>
  m === null || m === undefined ? null : Number(m / 10n ** 12n) / 1e4;

export const finetuning: Page<Loaded> = {
  title: "Fine-tuning",
  async load(ctx) {
    const { bounties } = await ctx.q(
      schema,
      `{ bounties(first: 100, orderBy: bountyId) { id status rewardPool rounds baselineMetric minGainBps trainerCount
           paidToTrainers paidToAttestors algorithm { id packageCid }
           roundList(first: 100, orderBy: round) { id round status metric accepted modelCid refiner
             childAlgorithm { id version } trainerPayments(first: 1000) { account { id } amount } } } }`,
    );
    const cids = bounties.flatMap((b) => [
      b.algorithm.packageCid,
      ...b.roundList.flatMap((r) => (r.modelCid ? [r.modelCid] : [])),
    ]);
    const control = new Map<string, bigint | null>();
    for (const cid of cids) {
      if (!cache.has(cid)) cache.set(cid, controlAccuracy(ctx, cid));
      const accuracy = await cache.get(cid)!;
      // a manifest IPFS could not serve yet is asked again on the next refresh; a read one never changes (a CID)
      if (accuracy === null) cache.delete(cid);
      control.set(cid, accuracy);
    }
    return { bounties, control };
  },
  view: ({ bounties, control }) => html`
    ${bounties.length === 0 ? html`<p class="muted">no bounty yet</p>` : ""}
    ${bounties.map((b) => {
      const labels = ["base", ...b.roundList.map((r) => `round ${r.round}`)];
      const payouts = new Map<string, bigint>();
      for (const r of b.roundList)
        for (const p of r.trainerPayments)
          payouts.set(p.account.id, (payouts.get(p.account.id) ?? 0n) + p.amount);
      return html`<section data-bounty=${b.id}>
        <h2>Bounty #${b.id} on algorithm #${b.algorithm.id} · ${b.status}</h2>
        <p>
          reward pool ${num(`bounty.${b.id}.rewardPool`, b.rewardPool, "dml")} ·
          ${num(`bounty.${b.id}.rounds`, b.rounds)} rounds ·
          ${num(`bounty.${b.id}.trainerCount`, b.trainerCount)} trainers · paid to trainers
          ${num(`bounty.${b.id}.paidToTrainers`, b.paidToTrainers, "dml")}, to attestors
          ${num(`bounty.${b.id}.paidToAttestors`, b.paidToAttestors, "dml")} · baseline
          ${num(`bounty.${b.id}.baseline`, b.baselineMetric, "pct")}
        </p>
        <dml-chart
          .config=${{
            type: "line",
            data: {
              labels,
              datasets: [
                {
                  label: "control group accuracy (%)",
                  data: [
                    toPct(control.get(b.algorithm.packageCid)),
                    ...b.roundList.map((r) => toPct(r.modelCid ? control.get(r.modelCid) : null)),
                  ],
                },
                {
                  label: "hidden split accuracy (%)",
                  data: [toPct(b.baselineMetric), ...b.roundList.map((r) => toPct(r.metric))],
                },
              ],
            },
            options: {
              spanGaps: true,
              scales: { y: { title: { display: true, text: "accuracy (%)" } } },
            },
          }}
        ></dml-chart>
        <table>
          <tr>
            <th>round</th>
            <th>status</th>
            <th>control accuracy</th>
            <th>hidden-split accuracy</th>
            <th>accepted version</th>
            <th>refiner</th>
            <th>trainers paid</th>
          </tr>
          ${b.roundList.map(
            (r) =>
              html`<tr>
                <td>${r.round}</td>
                <td data-testid="round.${r.id}.status">${r.status}</td>
                <td>
                  ${num(`round.${r.id}.control`, r.modelCid ? control.get(r.modelCid) : null, "pct")}
                </td>
                <td>${num(`round.${r.id}.metric`, r.metric, "pct")}</td>
                <td>
                  ${r.childAlgorithm ? html`#${r.childAlgorithm.id} v${r.childAlgorithm.version}` : "–"}
                </td>
                <td>${addr(r.refiner)}</td>
                <td>
                  ${num(
                    `round.${r.id}.trainersPaid`,
                    r.trainerPayments.reduce((a, p) => a + p.amount, 0n),
                    "dml",
                  )}
                </td>
              </tr>`,
          )}
        </table>
        <h3>Trainer payouts</h3>
        <table>
          <tr>
            <th>trainer</th>
            <th>paid</th>
          </tr>
          ${[...payouts].map(
            ([a, v]) =>
              html`<tr>
                <td>${addr(a)}</td>
                <td>${num(`bounty.${b.id}.trainer.${a}`, v, "dml")}</td>
              </tr>`,
          )}
        </table>
      </section>`;
    })}
  `,
};

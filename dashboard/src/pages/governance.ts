/**
 * Governance: proposals with their votes, the timelock queue (eta) and execution. The subgraph records Pending,
 * Queued, Executed and Canceled; Active, Succeeded and Defeated follow from the clock (the token's timestamp clock)
 * and the votes, as the governor computes them: shown here against the chain head's time when the RPC answers.
 */
import { html } from "lit";
import { z } from "zod";
import { big, bigOpt, bytes } from "../graphql.ts";
import { addr, num, when } from "../format.ts";
import type { Page } from "../page.ts";

const schema = z.object({
  proposals: z.array(
    z.object({
      id: z.string(),
      proposer: z.object({ id: bytes }),
      description: z.string(),
      state: z.string(),
      targets: z.array(bytes),
      voteStart: big,
      voteEnd: big,
      eta: bigOpt,
      forVotes: big,
      againstVotes: big,
      abstainVotes: big,
      voteCount: z.number(),
      createdAt: big,
      queuedAt: bigOpt,
      executedAt: bigOpt,
      canceledAt: bigOpt,
      votes: z.array(
        z.object({
          id: z.string(),
          voter: z.object({ id: bytes }),
          support: z.number(),
          weight: big,
          reason: z.string(),
        }),
      ),
    }),
  ),
});
type Proposal = z.infer<typeof schema>["proposals"][number];

const SUPPORT = ["against", "for", "abstain"];

/** The displayed state: the subgraph's, refined by the clock while voting (Pending → Active → Succeeded/Defeated). */
export function displayState(p: Proposal, now: bigint | null): string {
  if (p.state !== "Pending" || now === null) return p.state;
  if (now < p.voteStart) return "Pending";
  if (now <= p.voteEnd) return "Active";
  return p.forVotes > p.againstVotes ? "Succeeded (quorum permitting)" : "Defeated";
}

interface Loaded extends z.infer<typeof schema> {
  now: bigint | null;
}

export const governance: Page<Loaded> = {
  title: "Governance",
  async load(ctx) {
    const d = await ctx.q(
      schema,
      `{ proposals(first: 100, orderBy: createdAt, orderDirection: desc) { id proposer { id } description state targets
           voteStart voteEnd eta forVotes againstVotes abstainVotes voteCount createdAt queuedAt executedAt canceledAt
           votes(first: 1000, orderBy: blockNumber) { id voter { id } support weight reason } } }`,
    );
    let now: bigint | null = null;
    try {
      now = ctx.chain ? (await ctx.chain.getBlock({ blockTag: "latest" })).timestamp : null;
    } catch {
      now = null;
    }
    return { ...d, now };
  },
  view: ({ proposals, now }) => html`
    ${proposals.length === 0 ? html`<p class="muted">no proposal yet</p>` : ""}
    ${proposals.map(
      (p) =>
        html`<section data-proposal=${p.id}>
          <h2>${p.description.split("\n")[0]}</h2>
          <p>
            <b data-testid="proposal.${p.id}.state">${displayState(p, now)}</b> · by
            ${addr(p.proposer.id)} · ${p.targets.length} call(s) · voting ${when(p.voteStart)} –
            ${when(p.voteEnd)}
          </p>
          <p>
            for ${num(`proposal.${p.id}.for`, p.forVotes, "dml")} · against
            ${num(`proposal.${p.id}.against`, p.againstVotes, "dml")} · abstain
            ${num(`proposal.${p.id}.abstain`, p.abstainVotes, "dml")} ·
            ${num(`proposal.${p.id}.voteCount`, p.voteCount)} votes
          </p>
          <p>
            queued ${when(p.queuedAt)} (eta ${when(p.eta)}) · executed
            ${when(p.executedAt)}${p.canceledAt ? html` · canceled ${when(p.canceledAt)}` : ""}
          </p>
          <dml-chart
            .config=${{
              type: "doughnut",
              data: {
                labels: ["for", "against", "abstain"],
                datasets: [
                  {
                    data: [p.forVotes, p.againstVotes, p.abstainVotes].map(
                      (v) => Number(v / 10n ** 14n) / 1e4,
                    ),
                  },
                ],
              },
              options: { plugins: { legend: { position: "right" } } },
            }}
            style="height:160px"
          ></dml-chart>
          <table>
            <tr>
              <th>voter</th>
              <th>support</th>
              <th>weight</th>
              <th>reason</th>
            </tr>
            ${p.votes.map(
              (v) =>
                html`<tr>
                  <td>${addr(v.voter.id)}</td>
                  <td>${SUPPORT[v.support] ?? v.support}</td>
                  <td>${num(`vote.${v.id}.weight`, v.weight, "dml")}</td>
                  <td>${v.reason}</td>
                </tr>`,
            )}
          </table>
        </section>`,
    )}
  `,
};

/**
 * Network overview: stake by role, slashes and challenges, jobs by status, fees, devices, the growth pool's actual
 * emission beside its schedule curve, and the winners of each epoch.
 */
import { html } from "lit";
import { z } from "zod";
import { big, bigOpt, bytes } from "../graphql.ts";
import { addr, dml, num } from "../format.ts";
import { emissionAt, erasFrom } from "../emission.ts";
import type { Page } from "../page.ts";
import { JobStatus, Role } from "../../../sdk/chain/enums.ts";

/** The staking roles and job statuses as the contracts number them (sdk/chain/enums.ts; `None` is no job). */
const ROLES = Object.keys(Role) as (keyof typeof Role)[];
const JOB_STATUSES = (Object.keys(JobStatus) as (keyof typeof JobStatus)[]).filter(
  (s) => s !== "None",
);

const protocolFields = [
  "jobCount",
  ...JOB_STATUSES.map((s) => `jobs${s}`),
  "jobVolume",
  "usePaid",
  "auctionRevenue",
  "fees",
  "protocolFees",
  "devicePayouts",
  "devicePayoutsClaimed",
  "devices",
  "devicesEverRegistered",
  "emission",
  "emissionClaimed",
  "staked",
  "locked",
  "slashed",
  "nodes",
  "algorithms",
  "licencesSold",
  "requests",
  "bounties",
  "proposals",
  "votes",
  "burned",
] as const;

const schema = z.object({
  protocol: z.record(z.string(), big).nullable(),
  stakes: z.array(
    z.object({ role: z.string(), bonded: big, unbonding: big, locked: big, slashed: big }),
  ),
  slashes: z.array(
    z.object({
      id: z.string(),
      role: z.string(),
      amount: big,
      node: z.object({ id: bytes }),
      slasher: bytes,
      timestamp: big,
    }),
  ),
  cohortChallenges: z.array(z.object({ id: z.string(), fault: z.string(), slashed: big })),
  connectedSetChallenges: z.array(z.object({ id: z.string(), fault: z.string(), slashed: big })),
  growthPoolEpoches: z.array(
    z.object({
      epoch: big,
      status: z.string(),
      heartbeats: big,
      winnersDrawn: bigOpt,
      perWinner: bigOpt,
      budget: bigOpt,
      claimed: big,
      claimCount: z.number(),
      winners: z.array(z.object({ j: big, account: z.object({ id: bytes }), amount: big })),
    }),
  ),
  parameterChanges: z.array(z.object({ event: z.string(), values: z.array(z.string()) })),
});
export type Overview = z.infer<typeof schema>;

export const OVERVIEW_QUERY = `{
  protocol(id: "1") { ${protocolFields.join(" ")} }
  stakes(first: 1000) { role bonded unbonding locked slashed }
  slashes(first: 20, orderBy: blockNumber, orderDirection: desc) { id role amount node { id } slasher timestamp }
  cohortChallenges(first: 1000) { id fault slashed }
  connectedSetChallenges(first: 1000) { id fault slashed }
  growthPoolEpoches(first: 1000, orderBy: epoch) {
    epoch status heartbeats winnersDrawn perWinner budget claimed claimCount
    winners(first: 64, orderBy: j) { j account { id } amount }
  }
  parameterChanges(first: 100, orderBy: blockNumber, where: { event_in: ["GrowthPoolInitialized", "HalvingEpochsUpdated"] }) { event values }
}`;

/** Bonded plus unbonding stake per role. */
export function stakeByRole(stakes: Overview["stakes"]): Map<string, bigint> {
  const m = new Map<string, bigint>(ROLES.map((r) => [r, 0n]));
  for (const s of stakes) m.set(s.role, (m.get(s.role) ?? 0n) + s.bonded + s.unbonding);
  return m;
}

const toDml = (wei: bigint): number => Number(wei / 10n ** 14n) / 1e4;

export const overview: Page<Overview> = {
  title: "Network",
  load: (ctx) => ctx.q(schema, OVERVIEW_QUERY),
  view(d) {
    const p = d.protocol ?? {};
    const v = (k: string) => p[k] ?? 0n;
    const byRole = stakeByRole(d.stakes);
    const eras = erasFrom(d.parameterChanges);
    const lastEpoch = d.growthPoolEpoches.at(-1)?.epoch ?? 0n;
    const h = eras[0]?.halvingEpochs ?? 1n;
    const horizon = lastEpoch + 1n > 4n * h ? lastEpoch + 1n : 4n * h;
    const step = horizon > 200n ? horizon / 200n : 1n;
    const xs: bigint[] = [];
    for (let e = 0n; e <= horizon; e += step) xs.push(e);
    const actual = new Map(
      d.growthPoolEpoches.map((e) => [e.epoch, (e.perWinner ?? 0n) * (e.winnersDrawn ?? 0n)]),
    );
    const epochXs = [...new Set([...xs, ...actual.keys()])].sort((a, b) => (a < b ? -1 : 1));
    return html`
      <section class="cards">
        <div class="card">
          <h3>Staked</h3>
          ${num("overview.staked", v("staked"), "dml")}
          <small>locked ${num("overview.locked", v("locked"), "dml")}</small>
        </div>
        <div class="card">
          <h3>Slashed</h3>
          ${num("overview.slashed", v("slashed"), "dml")}
          <small>${num("overview.slashCount", d.slashes.length)} recent slashes</small>
        </div>
        <div class="card">
          <h3>Challenges</h3>
          ${num("overview.cohortChallenges", d.cohortChallenges.length)} cohort ·
          ${num("overview.connectedSetChallenges", d.connectedSetChallenges.length)} connected-set
        </div>
        <div class="card">
          <h3>Jobs</h3>
          ${num("overview.jobCount", v("jobCount"))}
          <small>volume ${num("overview.jobVolume", v("jobVolume"), "dml")}</small>
        </div>
        <div class="card">
          <h3>Fees</h3>
          ${num("overview.fees", v("fees"), "dml")}
          <small
            >protocol ${num("overview.protocolFees", v("protocolFees"), "dml")} · use
            ${num("overview.usePaid", v("usePaid"), "dml")} · auctions
            ${num("overview.auctionRevenue", v("auctionRevenue"), "dml")}</small
          >
        </div>
        <div class="card">
          <h3>Devices</h3>
          ${num("overview.devices", v("devices"))}
          <small
            >${num("overview.devicesEverRegistered", v("devicesEverRegistered"))} ever · payouts
            ${num("overview.devicePayouts", v("devicePayouts"), "dml")}, claimed
            ${num("overview.devicePayoutsClaimed", v("devicePayoutsClaimed"), "dml")}</small
          >
        </div>
        <div class="card">
          <h3>Growth emission</h3>
          ${num("overview.emission", v("emission"), "dml")}
          <small>claimed ${num("overview.emissionClaimed", v("emissionClaimed"), "dml")}</small>
        </div>
      </section>
      <section class="grid2">
        <div>
          <h2>Stake by role</h2>
          <dml-chart
            .config=${{
              type: "bar",
              data: {
                labels: [...byRole.keys()],
                datasets: [
                  { label: "bonded + unbonding (DML)", data: [...byRole.values()].map(toDml) },
                ],
              },
            }}
          ></dml-chart>
          <table>
            <tr>
              <th>role</th>
              <th>stake</th>
            </tr>
            ${[...byRole].map(
              ([r, s]) =>
                html`<tr>
                  <td>${r}</td>
                  <td>${num(`overview.stake.${r}`, s, "dml")}</td>
                </tr>`,
            )}
          </table>
        </div>
        <div>
          <h2>Jobs by status</h2>
          <dml-chart
            .config=${{
              type: "bar",
              data: {
                labels: [...JOB_STATUSES],
                datasets: [{ label: "jobs", data: JOB_STATUSES.map((s) => Number(v(`jobs${s}`))) }],
              },
            }}
          ></dml-chart>
          <table>
            <tr>
              <th>status</th>
              <th>jobs</th>
            </tr>
            ${JOB_STATUSES.map(
              (s) =>
                html`<tr>
                  <td>${s}</td>
                  <td>${num(`overview.jobs.${s}`, v(`jobs${s}`))}</td>
                </tr>`,
            )}
          </table>
        </div>
      </section>
      <section>
        <h2>Growth pool: emission per epoch against the schedule</h2>
        <dml-chart
          .config=${{
            type: "line",
            data: {
              labels: epochXs.map(String),
              datasets: [
                {
                  label: "schedule E(e) (DML)",
                  data: epochXs.map((e) => toDml(emissionAt(eras, e))),
                  pointRadius: 0,
                  stepped: true,
                },
                {
                  label: "allocated to winners (DML)",
                  type: "bar",
                  data: epochXs.map((e) => (actual.has(e) ? toDml(actual.get(e)!) : null)),
                },
              ],
            },
            options: { scales: { x: { title: { display: true, text: "epoch" } } } },
          }}
        ></dml-chart>
        <table>
          <tr>
            <th>epoch</th>
            <th>status</th>
            <th>heartbeats</th>
            <th>schedule E(e)</th>
            <th>budget</th>
            <th>winners drawn</th>
            <th>per winner</th>
            <th>claimed</th>
            <th>winners</th>
          </tr>
          ${d.growthPoolEpoches.map(
            (e) =>
              html`<tr>
                <td>${num(`growth.${e.epoch}.epoch`, e.epoch)}</td>
                <td>${e.status}</td>
                <td>${num(`growth.${e.epoch}.heartbeats`, e.heartbeats)}</td>
                <td>${num(`growth.${e.epoch}.schedule`, emissionAt(eras, e.epoch), "dml")}</td>
                <td>${num(`growth.${e.epoch}.budget`, e.budget, "dml")}</td>
                <td>${num(`growth.${e.epoch}.winnersDrawn`, e.winnersDrawn)}</td>
                <td>${num(`growth.${e.epoch}.perWinner`, e.perWinner, "dml")}</td>
                <td>
                  ${num(`growth.${e.epoch}.claimed`, e.claimed, "dml")}
                  (${num(`growth.${e.epoch}.claimCount`, e.claimCount)})
                </td>
                <td>
                  ${e.winners.map((w) => html`<div>#${w.j.toString()} ${addr(w.account.id)} ${dml(w.amount)}</div>`)}
                </td>
              </tr>`,
          )}
        </table>
      </section>
      <section>
        <h2>Recent slashes</h2>
        <table>
          <tr>
            <th>node</th>
            <th>role</th>
            <th>amount</th>
          </tr>
          ${d.slashes.map(
            (s) =>
              html`<tr>
                <td>${addr(s.node.id)}</td>
                <td>${s.role}</td>
                <td>${num(`slash.${s.id}`, s.amount, "dml")}</td>
              </tr>`,
          )}
        </table>
      </section>
    `;
  },
};

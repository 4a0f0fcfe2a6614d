/** Marketplace: algorithms as a version tree (fine-tuned children under their parent), licences and requests. */
import { html, type TemplateResult } from "lit";
import { z } from "zod";
import { big, bigOpt, bytes } from "../graphql.ts";
import { addr, num, when } from "../format.ts";
import type { Page } from "../page.ts";

const algorithm = z.object({
  id: z.string(),
  algorithmId: big,
  version: z.number(),
  parent: z.object({ id: z.string() }).nullable(),
  developer: z.object({ id: bytes }),
  publisher: bytes.nullable(),
  packageCid: z.string(),
  usePrice: big,
  licencePrice: big,
  deprecated: z.boolean(),
  uses: big,
  useRevenue: big,
  licencesSold: big,
  licenceRevenue: big,
  developerRevenue: big,
});
type Algorithm = z.infer<typeof algorithm>;
const schema = z.object({
  algorithms: z.array(algorithm),
  licences: z.array(
    z.object({
      id: z.string(),
      algorithm: z.object({ id: z.string() }),
      customer: z.object({ id: bytes }),
      price: big,
      purchasedAt: big,
    }),
  ),
  requests: z.array(
    z.object({
      id: z.string(),
      customer: z.object({ id: bytes }),
      bounty: big,
      deadline: big,
      status: z.string(),
      acceptedAlgorithm: z.object({ id: z.string() }).nullable(),
      developerAmount: bigOpt,
    }),
  ),
});

/** Roots first, each followed by its children (depth-first, by id). */
export function versionTree(algs: readonly Algorithm[]): { alg: Algorithm; depth: number }[] {
  const kids = new Map<string, Algorithm[]>();
  for (const a of algs) if (a.parent) kids.set(a.parent.id, [...(kids.get(a.parent.id) ?? []), a]);
  const ids = new Set(algs.map((a) => a.id));
  const out: { alg: Algorithm; depth: number }[] = [];
  const walk = (a: Algorithm, depth: number): void => {
    out.push({ alg: a, depth });
    for (const c of kids.get(a.id) ?? []) walk(c, depth + 1);
  };
  for (const a of algs) if (!a.parent || !ids.has(a.parent.id)) walk(a, 0);
  return out;
}

const row = ({ alg: a, depth }: { alg: Algorithm; depth: number }): TemplateResult =>
  html`<tr data-algorithm=${a.id}>
    <td style="padding-left:${depth * 1.5 + 0.4}em">
      ${depth > 0 ? "└ " : ""}#${a.id} v${a.version}${a.deprecated ? " (deprecated)" : ""}
    </td>
    <td>${addr(a.developer.id)}${a.publisher ? html` via ${addr(a.publisher)}` : ""}</td>
    <td>${num(`alg.${a.id}.usePrice`, a.usePrice, "dml")}</td>
    <td>${num(`alg.${a.id}.licencePrice`, a.licencePrice, "dml")}</td>
    <td>${num(`alg.${a.id}.uses`, a.uses)}</td>
    <td>${num(`alg.${a.id}.licencesSold`, a.licencesSold)}</td>
    <td>${num(`alg.${a.id}.developerRevenue`, a.developerRevenue, "dml")}</td>
    <td><code>${a.packageCid.slice(0, 14)}…</code></td>
  </tr>`;

export const marketplace: Page<z.infer<typeof schema>> = {
  title: "Marketplace",
  load: (ctx) =>
    ctx.q(
      schema,
      `{ algorithms(first: 1000, orderBy: algorithmId) { id algorithmId version parent { id } developer { id } publisher
           packageCid usePrice licencePrice deprecated uses useRevenue licencesSold licenceRevenue developerRevenue }
         licences(first: 1000, orderBy: purchasedAt) { id algorithm { id } customer { id } price purchasedAt }
         requests(first: 1000, orderBy: requestId) { id customer { id } bounty deadline status acceptedAlgorithm { id } developerAmount } }`,
    ),
  view: (d) => html`
    <h2>Algorithms and their fine-tuned versions</h2>
    <table>
      <tr>
        <th>algorithm</th>
        <th>developer</th>
        <th>use price</th>
        <th>licence price</th>
        <th>uses</th>
        <th>licences</th>
        <th>developer revenue</th>
        <th>package</th>
      </tr>
      ${versionTree(d.algorithms).map(row)}
    </table>
    <h2>Licences</h2>
    <table>
      <tr>
        <th>algorithm</th>
        <th>customer</th>
        <th>price</th>
        <th>bought</th>
      </tr>
      ${d.licences.map(
        (l) =>
          html`<tr>
            <td>#${l.algorithm.id}</td>
            <td>${addr(l.customer.id)}</td>
            <td>${num(`licence.${l.id}.price`, l.price, "dml")}</td>
            <td>${when(l.purchasedAt)}</td>
          </tr>`,
      )}
    </table>
    ${d.licences.length === 0 ? html`<p class="muted">no licence sold</p>` : ""}
    <h2>Requests</h2>
    <table>
      <tr>
        <th>request</th>
        <th>customer</th>
        <th>bounty</th>
        <th>deadline</th>
        <th>status</th>
        <th>accepted</th>
      </tr>
      ${d.requests.map(
        (r) =>
          html`<tr>
            <td>#${r.id}</td>
            <td>${addr(r.customer.id)}</td>
            <td>${num(`request.${r.id}.bounty`, r.bounty, "dml")}</td>
            <td>${when(r.deadline)}</td>
            <td>${r.status}</td>
            <td>${r.acceptedAlgorithm ? `#${r.acceptedAlgorithm.id}` : "–"}</td>
          </tr>`,
      )}
    </table>
    ${d.requests.length === 0 ? html`<p class="muted">no request posted</p>` : ""}
  `,
};

/** Jobs list: the newest 200 jobs with their status, customer, algorithm, budget and cohort. */
import { html } from "lit";
import { z } from "zod";
import { big, bigOpt, bytes } from "../graphql.ts";
import { addr, num, when } from "../format.ts";
import type { Page } from "../page.ts";

const schema = z.object({
  jobs: z.array(
    z.object({
      id: z.string(),
      jobId: big,
      status: z.string(),
      customer: z.object({ id: bytes }),
      algorithm: z.object({ id: z.string() }),
      budget: big,
      escrow: big,
      deviceCount: bigOpt,
      createdAt: big,
    }),
  ),
});

export const jobs: Page<z.infer<typeof schema>> = {
  title: "Jobs",
  load: (ctx) =>
    ctx.q(
      schema,
      `{ jobs(first: 200, orderBy: jobId, orderDirection: desc) {
          id jobId status customer { id } algorithm { id } budget escrow deviceCount createdAt } }`,
    ),
  view: (d) => html`
    <table>
      <tr>
        <th>job</th>
        <th>status</th>
        <th>customer</th>
        <th>algorithm</th>
        <th>budget</th>
        <th>escrow</th>
        <th>cohort</th>
        <th>created</th>
        <th></th>
      </tr>
      ${d.jobs.map(
        (j) =>
          html`<tr data-job=${j.id}>
            <td><a href="#/job/${j.id}">${num(`jobs.${j.id}.jobId`, j.jobId)}</a></td>
            <td data-testid="jobs.${j.id}.status">${j.status}</td>
            <td>${addr(j.customer.id)}</td>
            <td>${j.algorithm.id}</td>
            <td>${num(`jobs.${j.id}.budget`, j.budget, "dml")}</td>
            <td>${num(`jobs.${j.id}.escrow`, j.escrow, "dml")}</td>
            <td>${num(`jobs.${j.id}.deviceCount`, j.deviceCount)}</td>
            <td>${when(j.createdAt)}</td>
            <td><a href="#/report/${j.id}">customer view</a></td>
          </tr>`,
      )}
    </table>
    ${d.jobs.length === 0 ? html`<p class="muted">no job yet</p>` : ""}
  `,
};

/** The customer's view of one job: its report's public commitment and the in-page decryption (`<dml-report-view>`). */
import { html } from "lit";
import { z } from "zod";
import { big, bytes } from "../graphql.ts";
import { addr, num } from "../format.ts";
import type { Page } from "../page.ts";

const schema = z.object({
  job: z
    .object({
      id: z.string(),
      jobId: big,
      status: z.string(),
      encryptionKey: bytes,
      customer: z.object({ id: bytes }),
      report: z
        .object({
          reportCid: z.string(),
          reportCommitment: bytes,
          aggregateHash: bytes,
          participants: big,
          qualityMet: z.boolean(),
          success: z.boolean(),
        })
        .nullable(),
    })
    .nullable(),
});

export const report: Page<z.infer<typeof schema>> = {
  title: "Customer's report",
  load: (ctx, [id]) =>
    ctx.q(
      schema,
      `query ($id: ID!) { job(id: $id) { id jobId status encryptionKey customer { id }
        report { reportCid reportCommitment aggregateHash participants qualityMet success } } }`,
      { id: id ?? "" },
    ),
  view({ job: j }, ctx, [id]) {
    if (j === null) return html`<p class="error">no job ${id}</p>`;
    const r = j.report;
    return html`
      <p>
        Job <a href="#/job/${j.id}">${num("report.jobId", j.jobId)}</a> · ${j.status} · customer
        ${addr(j.customer.id)} · report key ${addr(j.encryptionKey)}
      </p>
      ${
        r === null
          ? html`<p class="muted">no report posted yet</p>`
          : html`<p>
                Report ${r.reportCid} · commitment ${addr(r.reportCommitment)} ·
                ${num("report.participants", r.participants)} participants · quality
                ${r.qualityMet ? "met" : "not met"}
              </p>
              <dml-report-view
                .ref=${{
                  jobId: j.id,
                  cid: r.reportCid,
                  commitment: r.reportCommitment,
                  aggregateHash: r.aggregateHash,
                  encryptionKey: j.encryptionKey,
                }}
                .ipfs=${ctx.config.ipfs}
              ></dml-report-view>`
      }
    `;
  },
};

/**
 * `<dml-report-view>`: the customer's view of its report. The customer picks its key file; the page fetches the
 * ciphertext from IPFS (the configured read path), checks it against the on-chain commitment and decrypts it with
 * sdk/crypto/report.ts — in the page, the key never leaves it. A wrong key is refused with the reason.
 *
 * `[data-testid=report.state]` is `idle`, `decrypting`, `decrypted` or `refused`.
 */
import { LitElement, html, type TemplateResult } from "lit";
import type { Hex } from "viem";
import { z } from "zod";
import { decryptReport, ReportError } from "../../sdk/crypto/report.ts";
import { num } from "./format.ts";
import { parseReportKey, ReportKeyError } from "./report-key.ts";

const estimate = z.object({
  estimate: z.number(),
  stdError: z.number(),
  interval: z.tuple([z.number(), z.number()]),
});
export const reportSchema = z.object({
  labels: z.array(z.string()),
  records: z.number(),
  devices: z.number(),
  meanProbability: z.array(z.number()),
  stdError: z.array(z.number()),
  classifyAndCount: z.array(estimate),
  adjusted: z.array(estimate.nullable()).optional(),
  aggregateHash: z.string(),
  privacy: z.object({ rho: z.number(), epsilon: z.number(), delta: z.number() }).optional(),
});
export type JobReport = z.infer<typeof reportSchema>;

export interface ReportRef {
  jobId: string;
  cid: string;
  commitment: Hex;
  aggregateHash: string;
  /** The job's encryptionKey (the customer's public key). */
  encryptionKey: string;
}

type State =
  | { kind: "idle" }
  | { kind: "decrypting" }
  | { kind: "decrypted"; report: JobReport; keyMatches: boolean }
  | { kind: "refused"; code: string; message: string };

export class DmlReportView extends LitElement {
  static override properties = {
    ref: { attribute: false },
    ipfs: { attribute: false },
    state: { state: true },
  };
  declare ref: ReportRef | undefined;
  declare ipfs: string | null;
  declare state: State;

  constructor() {
    super();
    this.ipfs = null;
    this.state = { kind: "idle" };
  }

  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  async #open(file: File): Promise<void> {
    const ref = this.ref;
    if (ref === undefined) return;
    this.state = { kind: "decrypting" };
    try {
      const key = parseReportKey(await file.text());
      if (this.ipfs === null)
        throw new ReportError("UNDECRYPTABLE", "no IPFS read path configured (?ipfs=URL)");
      const res = await fetch(`${this.ipfs}/${encodeURIComponent(ref.cid)}`);
      if (!res.ok)
        throw new Error(
          `IPFS answered ${res.status} for ${ref.cid}: ${(await res.text()).slice(0, 200)}`,
        );
      const ciphertext = new Uint8Array(await res.arrayBuffer());
      const report = reportSchema.parse(decryptReport(key.secretKey, ciphertext, ref.commitment));
      if (report.aggregateHash.toLowerCase() !== ref.aggregateHash.toLowerCase())
        throw new ReportError("COMMITMENT_MISMATCH", "the report is not the attested aggregate's");
      this.state = {
        kind: "decrypted",
        report,
        keyMatches: key.publicKey.toLowerCase() === ref.encryptionKey.toLowerCase(),
      };
    } catch (e) {
      const code =
        e instanceof ReportError || e instanceof ReportKeyError
          ? e.code
          : e instanceof z.ZodError
            ? "REPORT_INVALID"
            : "FETCH_FAILED";
      const message =
        e instanceof ReportError && e.code === "UNDECRYPTABLE"
          ? "This key does not open the report: it is not the key the job was created with."
          : (e as Error).message;
      this.state = { kind: "refused", code, message };
    }
  }

  #onFile = (ev: Event): void => {
    const input = ev.target as HTMLInputElement;
    const file = input.files?.[0];
    if (file) void this.#open(file);
  };

  #result(): TemplateResult {
    const s = this.state;
    switch (s.kind) {
      case "idle":
        return html`<p class="muted">Choose the report key file the job was created with.</p>`;
      case "decrypting":
        return html`<p class="muted">decrypting…</p>`;
      case "refused":
        return html`<p class="error" role="alert" data-testid="report.refusal" data-code=${s.code}>
          Refused (${s.code}): ${s.message}
        </p>`;
      case "decrypted": {
        const r = s.report;
        return html`
          <p>
            The ciphertext's keccak256 equals the on-chain commitment; decrypted in this page.
            ${num("report.records", r.records, "count")} records on
            ${num("report.devices", r.devices)}
            devices${
              r.privacy
                ? html` with distributed DP (ε ${num("report.epsilon", r.privacy.epsilon, "share")},
                  δ ${r.privacy.delta})`
                : ""
            }.
          </p>
          <table>
            <tr>
              <th>class</th>
              <th>estimate (adjusted classify-and-count)</th>
              <th>± std. error</th>
              <th>95% interval</th>
              <th>classify-and-count</th>
              <th>mean probability</th>
            </tr>
            ${r.labels.map((label, i) => {
              const e = r.adjusted?.[i] ?? r.classifyAndCount[i];
              const cc = r.classifyAndCount[i];
              return html`<tr>
                <td>${label}</td>
                <td>${num(`report.${label}.estimate`, e?.estimate, "share")}</td>
                <td>${num(`report.${label}.stdError`, e?.stdError, "share")}</td>
                <td>
                  [${num(`report.${label}.lo`, e?.interval[0], "share")},
                  ${num(`report.${label}.hi`, e?.interval[1], "share")}]
                </td>
                <td>${num(`report.${label}.cc`, cc?.estimate, "share")}</td>
                <td>${num(`report.${label}.mean`, r.meanProbability[i], "share")}</td>
              </tr>`;
            })}
          </table>
          <dml-chart
            .config=${{
              type: "bar",
              data: {
                labels: r.labels,
                datasets: [
                  {
                    label: "estimate",
                    data: r.labels.map(
                      (_, i) => (r.adjusted?.[i] ?? r.classifyAndCount[i])?.estimate ?? 0,
                    ),
                  },
                  {
                    label: "95% low",
                    data: r.labels.map(
                      (_, i) => (r.adjusted?.[i] ?? r.classifyAndCount[i])?.interval[0] ?? 0,
                    ),
                  },
                  {
                    label: "95% high",
                    data: r.labels.map(
                      (_, i) => (r.adjusted?.[i] ?? r.classifyAndCount[i])?.interval[1] ?? 0,
                    ),
                  },
                ],
              },
            }}
          ></dml-chart>
        `;
      }
    }
  }

  override render(): TemplateResult {
    return html`
      <label
        >Report key file <input type="file" data-testid="report.keyfile" @change=${this.#onFile}
      /></label>
      <span data-testid="report.state" data-state=${this.state.kind}>${this.state.kind}</span>
      ${this.#result()}
    `;
  }
}
customElements.define("dml-report-view", DmlReportView);

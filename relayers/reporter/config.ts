/** The reporter's own configuration fields (the common ones are in relayers/common/config.ts). */
import { intField, type FieldSpecs } from "../common/config.ts";
import { fromBlockField, ipfsFields } from "../common/connect.ts";

export const reporterFields = {
  ...ipfsFields("fetch transcripts, cohort lists and packages from and to add reports to"),
  ...fromBlockField("AttestationFinalized"),
  fetchTimeoutMs: {
    schema: intField(100, 600_000).default(30_000),
    arg: "<ms>",
    help: "longest wait for a transcript; past it the report is retried on a later tick [default: 30000]",
  },
} satisfies FieldSpecs;

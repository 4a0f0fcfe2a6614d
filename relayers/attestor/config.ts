/** The attestor's own configuration fields (the common ones are in relayers/common/config.ts). */
import { intField, type FieldSpecs } from "../common/config.ts";
import { fromBlockField, ipfsFields } from "../common/connect.ts";

export const attestorFields = {
  ...ipfsFields("fetch transcripts and cohort lists from"),
  ...fromBlockField("AttestorsDrawn"),
  fetchTimeoutMs: {
    schema: intField(100, 600_000).default(30_000),
    arg: "<ms>",
    help: "longest wait for a transcript; past it the attestor votes INVALID [default: 30000]",
  },
} satisfies FieldSpecs;

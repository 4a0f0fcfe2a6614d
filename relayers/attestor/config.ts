/** The attestor's own configuration fields (the common ones are in relayers/common/config.ts). */
import { intField, type FieldSpecs } from "../common/config.ts";
import { fromBlockField, ipfsFields } from "../common/connect.ts";

export const attestorFields = {
  ...ipfsFields("fetch transcripts, cohort lists, candidates and splits from"),
  ...fromBlockField("AttestorsDrawn (ResultAttestation, FineTuning)"),
  fetchTimeoutMs: {
    schema: intField(100, 600_000).default(30_000),
    arg: "<ms>",
    help: "longest wait for a transcript (or a round's candidate, list or split); past it the attestor votes INVALID (SPLIT_INVALID for a split) [default: 30000]",
  },
} satisfies FieldSpecs;

/** The watcher's own configuration fields (the common ones are in relayers/common/config.ts). */
import { intField, type FieldSpecs } from "../common/config.ts";
import { fromBlockField, ipfsFields } from "../common/connect.ts";

export const watcherFields = {
  ...ipfsFields("fetch connected sets and cohort lists from"),
  ...fromBlockField("EpochPosted and CohortAssigned"),
  fetchTimeoutMs: {
    schema: intField(100, 600_000).default(30_000),
    arg: "<ms>",
    help: "longest wait for a list from IPFS; past it the check is retried on the next tick [default: 30000]",
  },
  readConcurrency: {
    schema: intField(1, 1_000).default(32),
    arg: "<n>",
    help: "parallel registry reads while checking a list [default: 32]",
  },
} satisfies FieldSpecs;

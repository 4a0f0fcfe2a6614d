/** The watcher's own configuration fields (the common ones are in relayers/common/config.ts). */
import { z } from "zod";
import { intField, type FieldSpecs } from "../common/config.ts";

export const watcherFields = {
  heliaDir: {
    schema: z.string().min(1).optional(),
    arg: "<dir>",
    help: "embedded Helia node's stores (with --kubo-url: the verified block cache) [default: <data-dir>/ipfs]",
  },
  kuboUrl: {
    schema: z
      .string()
      .pipe(z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }))
      .optional(),
    arg: "<url>",
    help: "Kubo RPC API to fetch connected sets and cohort lists from [default: embedded Helia]",
  },
  fromBlock: {
    schema: intField(0, 2 ** 53 - 1).optional(),
    arg: "<block>",
    help: "first block scanned for EpochPosted and CohortAssigned [default: the manifest's startBlock]",
  },
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

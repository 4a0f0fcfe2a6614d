/** The aggregator's own configuration fields (the common ones are in relayers/common/config.ts). */
import { z } from "zod";
import { intField, type FieldSpecs } from "../common/config.ts";

export const aggregatorFields = {
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
    help: "Kubo RPC API to read cohort lists and packages from and publish transcripts to [default: embedded Helia]",
  },
  fromBlock: {
    schema: intField(0, 2 ** 53 - 1).optional(),
    arg: "<block>",
    help: "first block scanned for CohortAssigned [default: the manifest's startBlock]",
  },
  listenHost: {
    schema: z.string().min(1).default("127.0.0.1"),
    arg: "<host>",
    help: "interface the SecAgg HTTP server listens on (its public URL is the operator's NodeStaking endpoint) [default: 127.0.0.1]",
  },
  listenPort: {
    schema: intField(0, 65_535).default(9470),
    arg: "<port>",
    help: "port of the SecAgg HTTP server (0 = any free port, logged at start) [default: 9470]",
  },
  roundTimeoutMs: {
    schema: intField(500, 3_600_000).default(30_000),
    arg: "<ms>",
    help: "how long each SecAgg round waits for silent devices before dropping them [default: 30000]",
  },
  fetchTimeoutMs: {
    schema: intField(100, 600_000).default(30_000),
    arg: "<ms>",
    help: "longest wait for a cohort list or package manifest on IPFS; past it the serve is retried [default: 30000]",
  },
} satisfies FieldSpecs;

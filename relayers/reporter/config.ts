/** The reporter's own configuration fields (the common ones are in relayers/common/config.ts). */
import { z } from "zod";
import { intField, type FieldSpecs } from "../common/config.ts";

export const reporterFields = {
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
    help: "Kubo RPC API to fetch transcripts, cohort lists and packages from and to add reports to [default: embedded Helia]",
  },
  fromBlock: {
    schema: intField(0, 2 ** 53 - 1).optional(),
    arg: "<block>",
    help: "first block scanned for AttestationFinalized [default: the manifest's startBlock]",
  },
  fetchTimeoutMs: {
    schema: intField(100, 600_000).default(30_000),
    arg: "<ms>",
    help: "longest wait for a transcript; past it the report is retried on a later tick [default: 30000]",
  },
} satisfies FieldSpecs;

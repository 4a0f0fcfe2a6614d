/** The distributor's own configuration fields (the common ones are in relayers/common/config.ts). */
import { isAddress } from "viem";
import { z } from "zod";
import { intField, type FieldSpecs } from "../common/config.ts";
import { fromBlockField, ipfsFields } from "../common/connect.ts";

export const distributorFields = {
  ...ipfsFields("publish connected sets and cohort lists to"),
  ...fromBlockField("scheduled jobs"),
  listenHost: {
    schema: z.string().min(1).default("127.0.0.1"),
    arg: "<host>",
    help: "address the heartbeat HTTP endpoint binds to [default: 127.0.0.1]",
  },
  listenPort: {
    schema: intField(0, 65_535).default(8645),
    arg: "<port>",
    help: "port of the heartbeat HTTP endpoint (0: any free port) [default: 8645]",
  },
  maxBodyBytes: {
    schema: intField(256, 1_048_576).default(16_384),
    arg: "<bytes>",
    help: "largest heartbeat request body accepted; larger is refused with 413 [default: 16384]",
  },
  maxSkewSeconds: {
    schema: intField(10, 3_600).default(300),
    arg: "<s>",
    help: "largest difference between a heartbeat's timestamp and chain time [default: 300]",
  },
  aggregator: {
    schema: z
      .string()
      .refine((a) => isAddress(a, { strict: false }), "expected an address")
      .optional(),
    arg: "<address>",
    help: "aggregator named for every cohort [default: drawn from the active aggregators by the job's seed]",
  },
} satisfies FieldSpecs;

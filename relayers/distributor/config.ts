/** The distributor's own configuration fields (the common ones are in relayers/common/config.ts). */
import { z } from "zod";
import { intField, type FieldSpecs } from "../common/config.ts";

export const distributorFields = {
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
  fromBlock: {
    schema: intField(0, 2 ** 53 - 1).optional(),
    arg: "<block>",
    help: "first block scanned for scheduled jobs [default: the manifest's startBlock]",
  },
  maxBodyBytes: {
    schema: intField(256, 1_048_576).default(16_384),
    arg: "<bytes>",
    help: "largest heartbeat request body accepted; larger is refused with 413 [default: 16384]",
  },
} satisfies FieldSpecs;

/** The refiner's own configuration fields (the common ones are in relayers/common/config.ts). */
import { z } from "zod";
import { intField, type FieldSpecs } from "../common/config.ts";
import { fromBlockField, ipfsFields } from "../common/connect.ts";

export const refinerFields = {
  ...ipfsFields("read packages and labelled sets from and publish candidates and round lists to"),
  ...fromBlockField("BountyCreated"),
  listenHost: {
    schema: z.string().min(1).default("127.0.0.1"),
    arg: "<host>",
    help: "interface the SecAgg HTTP server of the hosted trainer groups listens on (its public URL is the operator's NodeStaking endpoint) [default: 127.0.0.1]",
  },
  listenPort: {
    schema: intField(0, 65_535).default(9471),
    arg: "<port>",
    help: "port of the SecAgg HTTP server (0 = any free port, logged at start) [default: 9471]",
  },
  roundTimeoutMs: {
    schema: intField(500, 3_600_000).default(120_000),
    arg: "<ms>",
    help: "how long each SecAgg round of a trainer group waits for silent trainers before dropping them; the first round also waits for their local training [default: 120000]",
  },
  roundsDir: {
    schema: z.string().min(1).optional(),
    arg: "<dir>",
    help: "file mode: do not host the groups, read each round's inputs from <dir>/<bountyId>-<round>.json (groups, gains, candidate, metric) written by an operator tool that aggregates elsewhere [default: host the groups]",
  },
  bounties: {
    schema: z
      .string()
      .regex(/^\d{1,78}(,\d{1,78})*$/, "expected bounty ids separated by commas")
      .optional(),
    arg: "<ids>",
    help: "only these bounties, e.g. 1,4 [default: every bounty]",
  },
} satisfies FieldSpecs;

/** The refiner's own configuration fields (the common ones are in relayers/common/config.ts). */
import { z } from "zod";
import type { FieldSpecs } from "../common/config.ts";
import { fromBlockField, ipfsFields } from "../common/connect.ts";

export const refinerFields = {
  ...ipfsFields("publish round lists to"),
  ...fromBlockField("BountyCreated"),
  roundsDir: {
    schema: z.string().min(1).optional(),
    arg: "<dir>",
    help: "where each round's inputs are read, <bountyId>-<round>.json (groups, gains, candidate, metric) [default: <data-dir>/rounds]",
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

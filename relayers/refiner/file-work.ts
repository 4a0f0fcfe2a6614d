/**
 * A `RefinerWork` read from files, for the `dml-relayer refiner` command until the refiner hosts the groups' SecAgg
 * sessions itself: an operator tool (or a test) writes one `<bountyId>-<round>.json` per round into `roundsDir`
 * with the groups' aggregated results and their control-group gains, the candidate it built and published, and —
 * once the hidden split is revealed — the candidate's metric on it. Every file is checked with zod; a missing file
 * means "not ready yet" (the commit waits), a missing metric fails the reveal attempt (retried on a later tick).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { getAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { RelayerError } from "../common/errors.ts";
import type { Candidate, GroupUpdate, RefinerWork } from "./Refiner.ts";

const int = z.string().regex(/^-?\d{1,78}$/);
export const roundInputSchema = z.strictObject({
  groups: z.array(
    z.strictObject({
      group: z.number().int().min(0).max(0xffffffff),
      members: z.array(z.string().regex(/^0x[0-9a-fA-F]{40}$/)).min(1),
      samples: z.string().regex(/^\d{1,78}$/),
      /** Control-group gain of the group's mean update, fixed point 1e18 (negative: the group is dropped). */
      gain: int,
    }),
  ),
  candidate: z.strictObject({
    modelCid: z.string().min(1),
    modelSha256: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  }),
  /** The candidate's metric on the revealed split (or the control group when none), fixed point 1e18. */
  metric: z
    .string()
    .regex(/^\d{1,78}$/)
    .optional(),
});
export type RoundInput = z.infer<typeof roundInputSchema>;

export function fileWork(roundsDir: string): RefinerWork {
  const read = async (bountyId: bigint, round: number): Promise<RoundInput | undefined> => {
    const file = path.join(roundsDir, `${bountyId}-${round}.json`);
    let raw: string;
    try {
      raw = await readFile(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      throw new RelayerError("CONFIG_FILE", `${file}: not JSON`, { cause: e });
    }
    const parsed = roundInputSchema.safeParse(json);
    if (!parsed.success)
      throw new RelayerError("CONFIG_FILE", `${file}: ${z.prettifyError(parsed.error)}`);
    return parsed.data;
  };
  return {
    async groups(bountyId, round) {
      const input = await read(bountyId, round);
      return input?.groups.map((g): GroupUpdate => ({
        group: g.group,
        members: g.members.map((m): Address => getAddress(m)),
        samples: BigInt(g.samples),
        gain: BigInt(g.gain),
      }));
    },
    async buildCandidate(bountyId, round): Promise<Candidate> {
      const input = await read(bountyId, round);
      if (input === undefined) throw new Error(`round ${bountyId}/${round}: no round input file`);
      return {
        modelCid: input.candidate.modelCid,
        modelSha256: input.candidate.modelSha256 as Hex,
      };
    },
    async metric(bountyId, round) {
      const input = await read(bountyId, round);
      if (input?.metric === undefined)
        throw new Error(
          `round ${bountyId}/${round}: the candidate's metric is not in the round input yet`,
        );
      return BigInt(input.metric);
    },
  };
}

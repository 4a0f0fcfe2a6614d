/**
 * The settled groups of a hosted round, persisted under the refiner's data directory
 * (`<stateDir>/rounds/<bountyId>-<round>.json`, tmp + rename) as soon as every group's SecAgg session settled, so a
 * refiner restarted between the sessions and the commit still builds the same candidate. Each group keeps its
 * decoded sum (`[Σ Δ, Σ n / SAMPLE_SCALE]`, exact as JSON numbers), its survivors and the values derived from them.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { getAddress, type Address } from "viem";
import { z } from "zod";
import type { GroupUpdate } from "./Refiner.ts";

export const ROUND_STATE_VERSION = 1;

const uint = z.string().regex(/^\d{1,78}$/);
const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);

export const roundStateSchema = z.strictObject({
  version: z.literal(ROUND_STATE_VERSION),
  bountyId: uint,
  round: z.number().int().min(0),
  /** The marketplace version the round trained from (`RoundOpened.algorithmId`) and its package. */
  algorithmId: uint,
  packageCid: z.string().min(1),
  modelSha256: hex32,
  controlCid: z.string().min(1),
  /** The groups whose session produced a result (failed sessions are left out). */
  groups: z.array(
    z.strictObject({
      group: z.number().int().min(0).max(0xffffffff),
      /** The session's survivors (addresses, roster order). */
      members: z.array(z.string().regex(/^0x[0-9a-fA-F]{40}$/)).min(1),
      samples: uint,
      gain: z.string().regex(/^-?\d{1,78}$/),
      /** The decoded SecAgg sum: parameters + 1 values. */
      sum: z.array(z.number().finite()).min(2),
    }),
  ),
});
export type RoundState = z.infer<typeof roundStateSchema>;

export class RoundStateError extends Error {
  readonly code = "ROUND_STATE_INVALID";
  override readonly name = "RoundStateError";
}

export function roundStateFile(stateDir: string, bountyId: bigint, round: number): string {
  return path.join(stateDir, "rounds", `${bountyId}-${round}.json`);
}

/** The persisted round, or undefined when none. @throws RoundStateError when the file is not a round state */
export async function loadRoundState(
  stateDir: string,
  bountyId: bigint,
  round: number,
): Promise<RoundState | undefined> {
  const file = roundStateFile(stateDir, bountyId, round);
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
    throw new RoundStateError(`${file}: not JSON`, { cause: e });
  }
  const parsed = roundStateSchema.safeParse(json);
  if (!parsed.success)
    throw new RoundStateError(`${file}: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  if (parsed.data.bountyId !== bountyId.toString() || parsed.data.round !== round)
    throw new RoundStateError(`${file}: holds round ${parsed.data.bountyId}/${parsed.data.round}`);
  return parsed.data;
}

/** Writes the round atomically (tmp + rename, mode 0600). */
export async function saveRoundState(stateDir: string, state: RoundState): Promise<void> {
  const file = roundStateFile(stateDir, BigInt(state.bountyId), state.round);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify(roundStateSchema.parse(state)), { mode: 0o600, flush: true });
  await rename(tmp, file);
}

/** The `GroupUpdate`s the Refiner selects from. */
export function updatesOf(state: RoundState): GroupUpdate[] {
  return state.groups.map((g) => ({
    group: g.group,
    members: g.members.map((m): Address => getAddress(m)),
    samples: BigInt(g.samples),
    gain: BigInt(g.gain),
  }));
}

/**
 * Cohort lists. A distributor posts the cohort's Merkle root and the CID of this JSON on-chain
 * (`JobMarket.CohortAssigned`); a device fetches the JSON, rebuilds the tree and accepts the list only when the root
 * matches the chain. Two versions, built with `@openzeppelin/merkle-tree`:
 * - version 2, a prediction job's cohort drawn from a connected set (PROTOCOL.md §7.3): members in ascending draw
 *   score, client id = position + 1, leaves `(position, connectedIndex, device)` as `ResultAttestation` proves them
 *   (`sdk/chain/cohort.ts`);
 * - version 1, a group list (fine-tuning groups, off-chain sessions): leaves `(address device, uint256 clientId)`.
 * `clientId` is the device's SecAgg client id.
 */
import { buildMerkleTree } from "#sdk/chain/merkle.ts";
import { buildCohortTree } from "#sdk/chain/cohort.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { getAddress, isAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { ProtocolError } from "./errors.ts";

export const COHORT_LIST_VERSION = 1;
export const DRAWN_COHORT_LIST_VERSION = 2;

const jobIdSchema = z.string().regex(/^[0-9]{1,78}$/);
const addressSchema = z.string().refine((a) => isAddress(a, { strict: false }), "not an address");
const idSchema = z.number().int().min(1).max(0xffffffff);

export const cohortListSchema = z.discriminatedUnion("version", [
  z.strictObject({
    version: z.literal(COHORT_LIST_VERSION),
    /** Job id (decimal string). */
    jobId: jobIdSchema,
    members: z
      .array(z.strictObject({ id: idSchema, address: addressSchema }))
      .min(1)
      .max(100_000),
  }),
  z.strictObject({
    version: z.literal(DRAWN_COHORT_LIST_VERSION),
    jobId: jobIdSchema,
    /** Growth-pool epoch whose connected set the cohort is drawn from. */
    connectedEpoch: z.string().regex(/^[0-9]{1,78}$/),
    /** In ascending draw score: member i has client id i + 1. */
    members: z
      .array(
        z.strictObject({
          id: idSchema,
          address: addressSchema,
          connectedIndex: z.string().regex(/^[0-9]{1,78}$/),
        }),
      )
      .min(1)
      .max(100_000)
      .refine((ms) => ms.every((m, i) => m.id === i + 1), "member i must have client id i + 1"),
  }),
]);
export type CohortList = z.infer<typeof cohortListSchema>;

export function cohortRoot(list: CohortList): Hex {
  if (list.version === DRAWN_COHORT_LIST_VERSION)
    return buildCohortTree(
      list.members.map((m) => ({
        position: m.id - 1,
        connectedIndex: BigInt(m.connectedIndex),
        device: m.address as Address,
      })),
    ).root;
  return buildMerkleTree(
    list.members.map((m) => ({ account: m.address as Address, value: BigInt(m.id) })),
  ).root;
}

/** The version-2 list of a drawn cohort (`sdk/chain/cohort.ts` `drawCohort`). */
export function drawnCohortList(
  jobId: bigint,
  connectedEpoch: bigint,
  members: readonly { position: number; connectedIndex: bigint; device: Address }[],
): CohortList {
  return {
    version: DRAWN_COHORT_LIST_VERSION,
    jobId: jobId.toString(),
    connectedEpoch: connectedEpoch.toString(),
    members: members.map((m) => ({
      id: m.position + 1,
      address: m.device,
      connectedIndex: m.connectedIndex.toString(),
    })),
  };
}

/** Encodes a cohort list (what a distributor publishes). */
export function encodeCohortList(list: CohortList): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(cohortListSchema.parse(list)) + "\n");
}

/**
 * Fetches the list, checks its schema, job id and Merkle root against the chain's, and returns the list plus this
 * device's client id. With `drawn` (a prediction job, PROTOCOL.md §7.3 and §7.9) the list must also be a drawn
 * (version 2) cohort of exactly the on-chain `deviceCount` members and at least `kMin`; these are checked before the
 * root, so a short roster is refused as such whatever root it comes with.
 * @throws ProtocolError COHORT_INVALID | COHORT_TOO_SMALL | COHORT_SIZE_MISMATCH | COHORT_ROOT_MISMATCH | NOT_IN_COHORT
 */
export async function fetchCohort(
  store: ContentStore,
  cid: string,
  expected: {
    root: Hex;
    jobId: bigint;
    device: Address;
    drawn?: { deviceCount: number; kMin: number };
  },
): Promise<{ list: CohortList; clientId: number }> {
  let list: CohortList;
  try {
    list = cohortListSchema.parse(
      JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(await store.getBytes(cid))),
    );
  } catch (e) {
    throw new ProtocolError(
      "COHORT_INVALID",
      `cohort list ${cid}: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  if (BigInt(list.jobId) !== expected.jobId)
    throw new ProtocolError(
      "COHORT_INVALID",
      `cohort list ${cid} is for job ${list.jobId}, not ${expected.jobId}`,
    );
  if (expected.drawn !== undefined) {
    const { deviceCount, kMin } = expected.drawn;
    const n = list.members.length;
    if (list.version !== DRAWN_COHORT_LIST_VERSION)
      throw new ProtocolError(
        "COHORT_INVALID",
        `cohort list ${cid} is a version-${list.version} list; a prediction job's cohort is drawn (version ${DRAWN_COHORT_LIST_VERSION})`,
      );
    if (n < kMin)
      throw new ProtocolError(
        "COHORT_TOO_SMALL",
        `cohort list ${cid} has ${n} devices, fewer than kMin = ${kMin}`,
      );
    if (n !== deviceCount)
      throw new ProtocolError(
        "COHORT_SIZE_MISMATCH",
        `cohort list ${cid} has ${n} devices, the chain assigned ${deviceCount}`,
      );
  }
  let root: Hex;
  try {
    root = cohortRoot(list);
  } catch (e) {
    throw new ProtocolError(
      "COHORT_INVALID",
      `cohort list ${cid}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (root.toLowerCase() !== expected.root.toLowerCase())
    throw new ProtocolError(
      "COHORT_ROOT_MISMATCH",
      `cohort list ${cid} has root ${root}, the chain says ${expected.root}`,
    );
  const ids = new Set<number>();
  for (const m of list.members) {
    if (ids.has(m.id))
      throw new ProtocolError("COHORT_INVALID", `cohort list ${cid}: duplicate client id ${m.id}`);
    ids.add(m.id);
  }
  const me = list.members.find((m) => getAddress(m.address) === getAddress(expected.device));
  if (me === undefined)
    throw new ProtocolError(
      "NOT_IN_COHORT",
      `device ${expected.device} is not in the cohort of job ${expected.jobId}`,
    );
  return { list, clientId: me.id };
}

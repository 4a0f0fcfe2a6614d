/**
 * Token holders' governance actions on `DMLGovernor` (OpenZeppelin Governor + TimelockControl, timestamp clock;
 * PROTOCOL.md §7.8): a proposal is a list of calls the timelock makes; it goes propose → (voting delay) → vote →
 * (voting period) → queue → (timelock delay) → execute. Every protocol contract is a UUPS proxy whose upgrades only
 * the timelock may authorise, so an upgrade is the proposal `upgradeToAndCall(newImplementation, init)`.
 *
 * `action(client, params)` style over one `TxSender` per holder; reads return typed values; every failure is a
 * `TxError` from the sender or a `GovernanceError` with a code.
 */
import {
  encodeAbiParameters,
  encodeFunctionData,
  getAddress,
  hexToBigInt,
  keccak256,
  parseAbi,
  stringToHex,
  type Address,
  type Hex,
} from "viem";
import { dmlGovernorAbi } from "./abi/DMLGovernor.ts";
import { dmlTokenAbi } from "./abi/DMLToken.ts";
import type { ChainPublicClient } from "./clients.ts";
import type { TxResult, TxSender } from "./tx-sender.ts";

/** `IGovernor.ProposalState`, by name. */
export const ProposalState = {
  Pending: 0,
  Active: 1,
  Canceled: 2,
  Defeated: 3,
  Succeeded: 4,
  Queued: 5,
  Expired: 6,
  Executed: 7,
} as const;
export type ProposalStateName = keyof typeof ProposalState;
const STATE_NAMES = Object.keys(ProposalState) as ProposalStateName[];

/** `GovernorCountingSimple` vote types. */
export const VoteType = { Against: 0, For: 1, Abstain: 2 } as const;

export type GovernanceErrorCode = "PROPOSAL_STATE" | "PROPOSAL_INVALID" | "UNKNOWN_PROPOSAL";
export class GovernanceError extends Error {
  readonly code: GovernanceErrorCode;
  constructor(code: GovernanceErrorCode, message: string) {
    super(message);
    this.name = "GovernanceError";
    this.code = code;
  }
}

/** A proposal as the governor hashes it. */
export interface Proposal {
  targets: readonly Address[];
  values: readonly bigint[];
  calldatas: readonly Hex[];
  description: string;
}

/** ERC-1967's implementation slot: `bytes32(uint256(keccak256("eip1967.proxy.implementation")) - 1)`. */
export const IMPLEMENTATION_SLOT =
  "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc" as const;

const uupsAbi = parseAbi(["function upgradeToAndCall(address newImplementation, bytes data)"]);

/** The proposal that upgrades the UUPS proxy `proxy` to `implementation` (calling `init` on it when given). */
export function upgradeProposal(opts: {
  proxy: Address;
  implementation: Address;
  description: string;
  init?: Hex;
}): Proposal {
  if (opts.description.trim() === "")
    throw new GovernanceError("PROPOSAL_INVALID", "a proposal needs a description");
  return {
    targets: [getAddress(opts.proxy)],
    values: [0n],
    calldatas: [
      encodeFunctionData({
        abi: uupsAbi,
        functionName: "upgradeToAndCall",
        args: [getAddress(opts.implementation), opts.init ?? "0x"],
      }),
    ],
    description: opts.description,
  };
}

export function descriptionHash(p: Pick<Proposal, "description">): Hex {
  return keccak256(stringToHex(p.description));
}

/** `Governor.hashProposal`, computed locally. */
export function proposalIdOf(p: Proposal): bigint {
  return hexToBigInt(
    keccak256(
      encodeAbiParameters(
        [{ type: "address[]" }, { type: "uint256[]" }, { type: "bytes[]" }, { type: "bytes32" }],
        [[...p.targets], [...p.values], [...p.calldatas], descriptionHash(p)],
      ),
    ),
  );
}

/** The implementation behind an ERC-1967 proxy. */
export async function implementationOf(
  client: ChainPublicClient,
  proxy: Address,
): Promise<Address> {
  const word = await client.getStorageAt({ address: proxy, slot: IMPLEMENTATION_SLOT });
  return getAddress(`0x${(word ?? "0x").slice(-40).padStart(40, "0")}`);
}

/** What a holder needs to know about a proposal. */
export interface ProposalInfo {
  id: bigint;
  state: ProposalStateName;
  /** Vote start and end (timestamps: the governor's clock is the token's timestamp clock). */
  snapshot: bigint;
  deadline: bigint;
  /** Timelock ETA once queued (0 before). */
  eta: bigint;
  votes: { against: bigint; for: bigint; abstain: bigint };
  /** Votes needed at the snapshot. */
  quorum: bigint;
}

export async function proposalInfo(
  client: ChainPublicClient,
  governor: Address,
  id: bigint,
): Promise<ProposalInfo> {
  const c = { address: governor, abi: dmlGovernorAbi, args: [id] } as const;
  const [state, snapshot, deadline, eta, votes] = await Promise.all([
    client.readContract({ ...c, functionName: "state" }),
    client.readContract({ ...c, functionName: "proposalSnapshot" }),
    client.readContract({ ...c, functionName: "proposalDeadline" }),
    client.readContract({ ...c, functionName: "proposalEta" }),
    client.readContract({ ...c, functionName: "proposalVotes" }),
  ]);
  const now = (await client.getBlock()).timestamp;
  const quorum = await client.readContract({
    address: governor,
    abi: dmlGovernorAbi,
    functionName: "quorum",
    args: [snapshot < now ? snapshot : now - 1n],
  });
  const name = STATE_NAMES[Number(state)];
  if (name === undefined)
    throw new GovernanceError("PROPOSAL_STATE", `unknown proposal state ${state}`);
  return {
    id,
    state: name,
    snapshot,
    deadline,
    eta,
    votes: { against: votes[0], for: votes[1], abstain: votes[2] },
    quorum,
  };
}

async function expectState(
  client: ChainPublicClient,
  governor: Address,
  id: bigint,
  want: readonly ProposalStateName[],
  action: string,
): Promise<void> {
  const state =
    STATE_NAMES[
      Number(
        await client.readContract({
          address: governor,
          abi: dmlGovernorAbi,
          functionName: "state",
          args: [id],
        }),
      )
    ];
  if (state === undefined || !want.includes(state))
    throw new GovernanceError(
      "PROPOSAL_STATE",
      `cannot ${action} proposal ${id}: it is ${state ?? "unknown"}, not ${want.join(" or ")}`,
    );
}

/** Delegates the holder's votes to itself (ERC20Votes counts only delegated balances). */
export async function delegateToSelf(sender: TxSender, token: Address): Promise<TxResult> {
  return sender.send({
    address: token,
    abi: dmlTokenAbi,
    functionName: "delegate",
    args: [sender.address],
  });
}

/** Submits the proposal; returns its id (= `proposalIdOf`). */
export async function propose(
  sender: TxSender,
  governor: Address,
  p: Proposal,
): Promise<{ id: bigint; tx: TxResult }> {
  if (
    p.targets.length === 0 ||
    p.targets.length !== p.values.length ||
    p.targets.length !== p.calldatas.length
  )
    throw new GovernanceError(
      "PROPOSAL_INVALID",
      "targets, values and calldatas must have one entry each",
    );
  const tx = await sender.send({
    address: governor,
    abi: dmlGovernorAbi,
    functionName: "propose",
    args: [[...p.targets], [...p.values], [...p.calldatas], p.description],
  });
  return { id: proposalIdOf(p), tx };
}

/** Casts the holder's vote (checks the proposal is Active first). */
export async function castVote(
  sender: TxSender,
  client: ChainPublicClient,
  governor: Address,
  id: bigint,
  support: (typeof VoteType)[keyof typeof VoteType],
): Promise<TxResult> {
  await expectState(client, governor, id, ["Active"], "vote on");
  return sender.send({
    address: governor,
    abi: dmlGovernorAbi,
    functionName: "castVote",
    args: [id, support],
  });
}

/** Queues a succeeded proposal in the timelock. */
export async function queue(
  sender: TxSender,
  client: ChainPublicClient,
  governor: Address,
  p: Proposal,
): Promise<TxResult> {
  await expectState(client, governor, proposalIdOf(p), ["Succeeded"], "queue");
  return sender.send({
    address: governor,
    abi: dmlGovernorAbi,
    functionName: "queue",
    args: [[...p.targets], [...p.values], [...p.calldatas], descriptionHash(p)],
  });
}

/** Executes a queued proposal once its timelock delay passed (anyone may). */
export async function execute(
  sender: TxSender,
  client: ChainPublicClient,
  governor: Address,
  p: Proposal,
): Promise<TxResult> {
  await expectState(client, governor, proposalIdOf(p), ["Queued"], "execute");
  return sender.send({
    address: governor,
    abi: dmlGovernorAbi,
    functionName: "execute",
    args: [[...p.targets], [...p.values], [...p.calldatas], descriptionHash(p)],
  });
}

/**
 * The proposal `id` as it was submitted, from the governor's `ProposalCreated` log (queue and execute need its
 * targets, values, calldatas and description; holders other than the proposer only know its id).
 * @throws GovernanceError UNKNOWN_PROPOSAL
 */
export async function proposalFromChain(
  client: ChainPublicClient,
  governor: Address,
  id: bigint,
  fromBlock: bigint,
): Promise<Proposal & { proposer: Address }> {
  const logs = await client.getContractEvents({
    address: governor,
    abi: dmlGovernorAbi,
    eventName: "ProposalCreated",
    fromBlock,
  });
  const log = logs.find((l) => l.args.proposalId === id);
  if (log === undefined)
    throw new GovernanceError("UNKNOWN_PROPOSAL", `no proposal ${id} on governor ${governor}`);
  const a = log.args;
  const p: Proposal = {
    targets: (a.targets ?? []).map((t) => getAddress(t)),
    values: [...(a.values ?? [])],
    calldatas: [...(a.calldatas ?? [])],
    description: a.description ?? "",
  };
  if (proposalIdOf(p) !== id)
    throw new GovernanceError(
      "UNKNOWN_PROPOSAL",
      `the ProposalCreated log of ${id} does not hash to it`,
    );
  return { ...p, proposer: getAddress(a.proposer!) };
}

/** A proposal of one call `target.calldata` (with `value` wei). */
export function singleCallProposal(opts: {
  target: Address;
  calldata: Hex;
  value?: bigint;
  description: string;
}): Proposal {
  if (opts.description.trim() === "")
    throw new GovernanceError("PROPOSAL_INVALID", "a proposal needs a description");
  return {
    targets: [getAddress(opts.target)],
    values: [opts.value ?? 0n],
    calldatas: [opts.calldata],
    description: opts.description,
  };
}

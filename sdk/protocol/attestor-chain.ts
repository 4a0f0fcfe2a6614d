/**
 * The chain reads an attestor needs (PROTOCOL.md §7.4), typed and zod-checked: the job's cohort root and size, payout
 * rule and quality bound (`JobMarket.getJob`); the attestation record (`ResultAttestation.attestationOf`: status,
 * aggregator, drawn attestors, commit deadline) with the transcript CID of the aggregator's `AggregateCommitted` event;
 * a node's registered X25519 key (`NodeStaking.encryptionKey`); the cohort members' registered SecAgg session keys
 * (`DeviceRegistry.sessionKeysOf`) as of the block of the job's `CohortAssigned` event, so a device that deregisters
 * (clearing its key) after the session cannot make the transcript it signed unverifiable. `chainAttestorReads`
 * implements them over viem (the historical read needs the node to hold that block's state: an archive node, or a
 * node within its pruning window).
 */
import { getAddress, type Abi, type Address, type Hex, type PublicClient } from "viem";
import { z } from "zod";
import { protocolAbis } from "#sdk/chain/abi/index.ts";
import { jobSeed } from "#sdk/chain/result.ts";

/** What `attestJob` reads of a job. */
export interface AttestedJob {
  scheduledEpoch: number;
  cohortRoot: Hex;
  deviceCount: number;
  rewardPerDevice: bigint;
  minParticipants: number;
  maxStdError: bigint;
}

/** The job's attestation record as the attestor uses it. */
export interface AttestationRecord {
  /** `IResultAttestation.Status` (2 = Committed). */
  status: number;
  aggregator: Address;
  attestors: Address[];
  commitDeadline: bigint;
  revealDeadline: bigint;
  /** CID the aggregator committed with its result (`AggregateCommitted`); undefined before the commitment. */
  transcriptCid?: string;
}

export interface AttestorChainReads {
  job(jobId: bigint): Promise<AttestedJob>;
  attestation(jobId: bigint): Promise<AttestationRecord>;
  /** The operator's registered X25519 public key (32 bytes, hex). */
  encryptionKey(operator: Address): Promise<Hex>;
  /** The members' registered SecAgg session keys (bytes32, zero when unset) as of the job's cohort assignment. */
  sessionKeysOf(jobId: bigint, devices: readonly Address[]): Promise<Hex[]>;
  /** The job's seed (`jobSeed(JobMarket.epochSeed(scheduledEpoch), jobId)`): with the cohort root, it seeds the graph. */
  jobSeed(jobId: bigint): Promise<Hex>;
}

export interface AttestorContracts {
  JobMarket: Address;
  ResultAttestation: Address;
  NodeStaking: Address;
  DeviceRegistry: Address;
}

type ReadClient = Pick<PublicClient, "readContract" | "getContractEvents">;

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/) as unknown as z.ZodType<Hex>;
const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/)
  .transform((a) => getAddress(a));
const u32 = z.union([z.number(), z.bigint()]).transform((x) => Number(x));

const jobSchema = z.looseObject({
  scheduledEpoch: u32,
  cohortRoot: hex32,
  deviceCount: u32,
  rewardPerDevice: z.bigint(),
  minParticipants: u32,
  maxStdError: z.bigint(),
});
const attestationSchema = z.looseObject({
  status: u32,
  aggregator: address,
  attestors: z.array(address),
  commitDeadline: z.bigint(),
  revealDeadline: z.bigint(),
});
const committedSchema = z.looseObject({
  args: z.looseObject({ transcriptCid: z.string() }),
});

/** The generated const ABI of `name`, widened: the reads below name their functions at run time. */
const abiOf = (name: keyof AttestorContracts): Abi => protocolAbis[name];

/**
 * The attestor's reads over a viem public client and the deployed contracts' addresses. `fromBlock` bounds the
 * `AggregateCommitted` log query (default 0: fine on the dev chain; a relayer passes its deployment or watch block).
 */
export function chainAttestorReads(
  client: ReadClient,
  contracts: AttestorContracts,
  opts: { fromBlock?: bigint } = {},
): AttestorChainReads {
  const read = (
    name: keyof AttestorContracts,
    functionName: string,
    args: readonly unknown[],
    blockNumber?: bigint,
  ) =>
    client.readContract({
      address: contracts[name],
      abi: abiOf(name),
      functionName,
      args,
      ...(blockNumber === undefined ? {} : { blockNumber }),
    });
  return {
    async job(jobId) {
      return jobSchema.parse(await read("JobMarket", "getJob", [jobId]));
    },
    async attestation(jobId) {
      const record = attestationSchema.parse(
        await read("ResultAttestation", "attestationOf", [jobId]),
      );
      const events = await client.getContractEvents({
        address: contracts.ResultAttestation,
        abi: abiOf("ResultAttestation"),
        eventName: "AggregateCommitted",
        args: { jobId },
        fromBlock: opts.fromBlock ?? 0n,
      });
      const last = events.at(-1);
      return {
        ...record,
        ...(last === undefined
          ? {}
          : { transcriptCid: committedSchema.parse(last).args.transcriptCid }),
      };
    },
    async encryptionKey(operator) {
      return hex32.parse(await read("NodeStaking", "encryptionKey", [operator]));
    },
    async jobSeed(jobId) {
      const job = jobSchema.parse(await read("JobMarket", "getJob", [jobId]));
      const epochSeed = hex32.parse(await read("JobMarket", "epochSeed", [job.scheduledEpoch]));
      return jobSeed(epochSeed, jobId);
    },
    async sessionKeysOf(jobId, devices) {
      const assigned = await client.getContractEvents({
        address: contracts.JobMarket,
        abi: abiOf("JobMarket"),
        eventName: "CohortAssigned",
        args: { jobId },
        fromBlock: opts.fromBlock ?? 0n,
      });
      const at = assigned.at(-1)?.blockNumber ?? undefined;
      if (at === undefined) throw new Error(`job ${jobId} has no CohortAssigned event`);
      return z.array(hex32).parse(await read("DeviceRegistry", "sessionKeysOf", [devices], at));
    },
  };
}

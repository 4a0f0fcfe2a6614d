/**
 * Deployment configuration: a JSON file validated with zod. Every field has a default suited to the
 * embedded dev chain; real networks must at least give the VRF coordinator, key hash and subscription.
 */
import { readFileSync } from "node:fs";
import { getAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { ConfigError } from "#sdk/chain/errors.ts";
import { attestationConfigSchema } from "../deploy-steps/attestation-config.ts";

const uint = z
  .union([
    z.string().regex(/^\d+$/, "a non-negative integer"),
    z.number().int().nonnegative(),
    z.bigint(),
  ])
  .transform((v) => BigInt(v));
const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "not an address")
  .transform((a) => getAddress(a) as Address);
const bytes32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "not bytes32")
  .transform((h) => h.toLowerCase() as Hex);

const ETHER = 10n ** 18n;
const DAY = 86_400n;

export const deployConfigSchema = z.object({
  timelock: z
    .object({
      /** Seconds between queueing and executing a governance operation. */
      minDelay: uint.default(2n * DAY),
    })
    .prefault({}),
  genesis: z
    .object({
      /**
       * Transfers from the treasury executed by the timelock during deployment. Default: none on a real
       * network; 1,000,000 DML to Hardhat account #1 (a faucet for operators and tests) on the dev chain.
       */
      allocations: z.array(z.object({ to: address, amount: uint })).optional(),
    })
    .prefault({}),
  governor: z
    .object({
      votingDelay: uint.default(DAY),
      votingPeriod: uint.default(7n * DAY),
      /** Votes needed to propose, token wei. */
      proposalThreshold: uint.default(100_000n * ETHER),
      /** Percent of total supply at the snapshot. */
      quorumPercent: uint.default(4n),
    })
    .prefault({}),
  staking: z
    .object({
      /** Minimum bonded stake per role: distributor, aggregator, attestor, reporter, refiner (token wei). */
      minStake: z
        .tuple([uint, uint, uint, uint, uint])
        .default([
          10_000n * ETHER,
          10_000n * ETHER,
          5_000n * ETHER,
          5_000n * ETHER,
          10_000n * ETHER,
        ]),
      unbondingDelay: uint.default(7n * DAY),
      challengerShareBps: z.number().int().min(0).max(10_000).default(5_000),
      burnSlashed: z.boolean().default(true),
    })
    .prefault({}),
  marketplace: z
    .object({
      /** Protocol fee on licence and per-use payments (bps, at most 2,000). */
      protocolFeeBps: z.number().int().min(0).max(2_000).default(250),
      /** Share of a child version's revenue paid to its parent (bps, at most 5,000). */
      parentShareBps: z.number().int().min(0).max(5_000).default(1_000),
    })
    .prefault({}),
  jobMarket: z
    .object({
      /** Auction epoch length (seconds); commit and reveal windows must fit inside it. */
      epochLength: z
        .number()
        .int()
        .min(60)
        .max(30 * 86_400)
        .default(3_600),
      commitWindow: z.number().int().positive().default(1_800),
      revealWindow: z.number().int().positive().default(1_200),
      /** K: jobs scheduled per epoch. */
      capacity: z.number().int().min(1).max(256).default(4),
      maxBidsPerEpoch: z.number().int().min(1).max(256).default(64),
      /** Minimum revealed bid and clearing price (token wei). */
      reservePrice: uint.default(ETHER),
      unrevealedPenaltyBps: z.number().int().min(0).max(10_000).default(1_000),
      fees: z
        .object({
          distributor: z.number().int().min(0).max(10_000).default(200),
          aggregator: z.number().int().min(0).max(10_000).default(300),
          attestors: z.number().int().min(0).max(10_000).default(300),
          reporter: z.number().int().min(0).max(10_000).default(200),
          protocol: z.number().int().min(0).max(10_000).default(250),
          royalty: z.number().int().min(0).max(10_000).default(500),
        })
        .prefault({})
        .refine(
          (f) => Object.values(f).reduce((a, b) => a + b, 0) <= 10_000,
          "fees sum to more than 10,000 bps",
        ),
      minPhaseDuration: z.number().int().positive().default(600),
      maxPhaseDuration: z
        .number()
        .int()
        .positive()
        .max(365 * 86_400)
        .default(30 * 86_400),
    })
    .prefault({})
    .refine(
      (j) => j.commitWindow + j.revealWindow <= j.epochLength,
      "commit + reveal windows exceed the epoch",
    )
    .refine((j) => j.capacity <= j.maxBidsPerEpoch, "capacity exceeds maxBidsPerEpoch")
    .refine(
      (j) => j.minPhaseDuration <= j.maxPhaseDuration,
      "minPhaseDuration exceeds maxPhaseDuration",
    ),
  /** ResultAttestation, Settlement and FineTuning (script/deploy-steps/attestation-config.ts). */
  attestation: attestationConfigSchema,
  growthPool: z
    .object({
      /** Start of epoch 0 (unix seconds); default: the latest block's timestamp when the pool is deployed. */
      genesis: uint.optional(),
      epochLength: uint.default(DAY),
      /** Epochs per halving (H). */
      halvingEpochs: uint.default(365n),
      /** Winners per epoch (k), at most 64. */
      winnersPerEpoch: uint.refine((k) => k >= 1n && k <= 64n, "between 1 and 64").default(10n),
      /** Seconds a winner has to claim after the draw. */
      claimWindow: uint.default(30n * DAY),
    })
    .prefault({}),
  vrf: z
    .object({
      /** Chainlink VRF v2.5 coordinator. Absent on the dev chain: a VRFCoordinatorV2_5Mock is deployed. */
      coordinator: address.optional(),
      keyHash: bytes32.default(`0x${"00".repeat(31)}01`),
      /** Existing subscription (real networks). On the dev chain one is created and funded. */
      subscriptionId: uint.optional(),
      requestConfirmations: z.number().int().min(0).max(200).default(3),
      callbackGasLimit: z.number().int().positive().max(2_500_000).default(500_000),
      mock: z
        .object({
          baseFee: uint.default(10n ** 17n),
          gasPrice: uint.default(10n ** 9n),
          weiPerUnitLink: uint.default(4n * 10n ** 15n),
          /** LINK (mock units) credited to the dev subscription. */
          fundLink: uint.default(1_000n * ETHER),
          /** Native wei credited to the dev subscription. */
          fundNative: uint.default(100n * ETHER),
        })
        .prefault({}),
    })
    .prefault({}),
});

export type DeployConfigInput = z.input<typeof deployConfigSchema>;
export type DeployConfig = z.output<typeof deployConfigSchema>;

/** Validates a configuration object. @throws ConfigError */
export function parseDeployConfig(value: unknown, source = "deployment config"): DeployConfig {
  const r = deployConfigSchema.safeParse(value ?? {});
  if (!r.success) throw new ConfigError(`${source} is invalid: ${z.prettifyError(r.error)}`);
  return r.data;
}

/** Reads and validates a JSON configuration file. @throws ConfigError */
export function readDeployConfig(file: string): DeployConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new ConfigError(`cannot read config ${file}`, { cause });
  }
  return parseDeployConfig(json, file);
}

/** Real networks need a real coordinator, key hash and subscription. @throws ConfigError */
export function assertConfigForChain(config: DeployConfig, devChain: boolean): void {
  if (devChain) return;
  const missing: string[] = [];
  if (!config.vrf.coordinator) missing.push("vrf.coordinator");
  if (config.vrf.subscriptionId === undefined) missing.push("vrf.subscriptionId");
  if (/^0x0{63}1$/.test(config.vrf.keyHash)) missing.push("vrf.keyHash");
  if (missing.length > 0)
    throw new ConfigError(`a non-dev chain needs ${missing.join(", ")} in the config file`);
}

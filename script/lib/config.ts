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
/** DMLToken's fixed supply. */
export const TOKEN_SUPPLY = 1_000_000_000n * ETHER;
/** Smallest quorum (percent of supply) above the growth pool's first-halving emission (4.5% of supply). */
export const MIN_QUORUM_PERCENT = 5n;

export const deployConfigSchema = z
  .object({
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
        /**
         * Percent of total supply at the snapshot. At least 5: the growth pool's first halving period emits half of
         * its 9%, i.e. 4.5% of supply, and growth-pool winnings alone must never reach quorum (PROTOCOL.md §7.8).
         */
        quorumPercent: uint
          .refine(
            (q) => q >= MIN_QUORUM_PERCENT && q <= 100n,
            `between ${MIN_QUORUM_PERCENT} and 100: growth-pool winnings of the first halving period (4.5% of supply) must not reach quorum alone`,
          )
          .default(MIN_QUORUM_PERCENT),
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
    deviceRegistry: z
      .object({
        /** DML bond each device registration posts (the price of a Sybil, PROTOCOL.md §7.2); at most 1,000,000 DML. */
        deviceBond: uint
          .refine((b) => b > 0n && b <= 1_000_000n * ETHER, "between 1 wei and 1,000,000 DML")
          .default(10n * ETHER),
      })
      .prefault({}),
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
        /** Seconds after a post during which faults can be proven; must be below staking.unbondingDelay. */
        challengeWindow: uint
          .refine((w) => w >= 600n && w <= 30n * DAY, "between 10 minutes and 30 days")
          .default(DAY),
        /** Distributor stake slashed per proven fault in a post (token wei). */
        slashAmount: uint.refine((a) => a > 0n, "positive").default(10_000n * ETHER),
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
  })
  .refine((c) => c.growthPool.challengeWindow < c.staking.unbondingDelay, {
    message:
      "growthPool.challengeWindow must be shorter than staking.unbondingDelay (the poster's stake must still be slashable)",
    path: ["growthPool", "challengeWindow"],
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

/**
 * What a real network's config must add to the defaults (PROTOCOL.md §7.8): genesis allocations whose holders can
 * reach quorum on their own (they vote from day one: treasury recipients are self-delegated by DMLToken), so
 * governance neither deadlocks nor falls to growth-pool winnings.
 */
export const realNetworkConfigSchema = z
  .object({
    genesis: z.object({
      allocations: z
        .array(z.object({ to: z.string(), amount: z.bigint() }), {
          error: "genesis.allocations is required on a real network (nobody could vote otherwise)",
        })
        .min(
          1,
          "genesis.allocations must not be empty on a real network (nobody could vote otherwise)",
        ),
    }),
    governor: z.object({ quorumPercent: z.bigint() }),
  })
  .refine(
    (c) =>
      c.genesis.allocations.reduce((sum, a) => sum + a.amount, 0n) >=
      (TOKEN_SUPPLY * c.governor.quorumPercent) / 100n,
    {
      message: "genesis.allocations must add up to at least the governor's quorum",
      path: ["genesis", "allocations"],
    },
  );

/** Real networks need genesis voters and a real coordinator, key hash and subscription. @throws ConfigError */
export function assertConfigForChain(config: DeployConfig, devChain: boolean): void {
  if (devChain) return;
  const genesis = realNetworkConfigSchema.safeParse(config);
  if (!genesis.success)
    throw new ConfigError(
      `the config is invalid for a non-dev chain: ${z.prettifyError(genesis.error)}`,
    );
  const missing: string[] = [];
  if (!config.vrf.coordinator) missing.push("vrf.coordinator");
  if (config.vrf.subscriptionId === undefined) missing.push("vrf.subscriptionId");
  if (/^0x0{63}1$/.test(config.vrf.keyHash)) missing.push("vrf.keyHash");
  if (missing.length > 0)
    throw new ConfigError(`a non-dev chain needs ${missing.join(", ")} in the config file`);
}

/**
 * Deployment configuration of ResultAttestation, Settlement and FineTuning (the `attestation` section of
 * the deployment config; see script/lib/config.ts). Defaults suit the dev chain.
 */
import { z } from "zod";

const uint = z
  .union([
    z.string().regex(/^\d+$/, "a non-negative integer"),
    z.number().int().nonnegative(),
    z.bigint(),
  ])
  .transform((v) => BigInt(v));

const ETHER = 10n ** 18n;
const DAY = 86_400;
/** AttestationQuorum.MAX_SIZE: at most 15 attestors per job / round. */
const MAX_QUORUM = 15;

export const attestationConfigSchema = z
  .object({
    resultAttestation: z
      .object({
        /** Attestors drawn per job. */
        quorum: z.number().int().min(1).max(MAX_QUORUM).default(3),
        /** Share of the job's attestation phase for attestor commits (bps). */
        commitWindowBps: z.number().int().min(1).max(9_999).default(4_000),
        /** Share of the job's attestation phase for reveals (bps). */
        revealWindowBps: z.number().int().min(1).max(9_999).default(4_000),
        /** Stake slashed per fault (token wei). */
        slashAmount: uint.default(100n * ETHER),
        /** Smallest cohort any job may be assigned (PROTOCOL.md §7.3); the same on every network. */
        kMin: z
          .number()
          .int()
          .min(1)
          .max(2 ** 32 - 1)
          .default(5),
      })
      .prefault({})
      .refine(
        (p) => p.commitWindowBps + p.revealWindowBps < 10_000,
        "commit + reveal windows must be below 10,000 bps",
      ),
    settlement: z
      .object({
        /** Seconds devices have to claim before unclaimed payouts are swept (7 days .. 5 years). */
        claimWindow: z
          .number()
          .int()
          .min(7 * DAY)
          .max(5 * 365 * DAY)
          .default(30 * DAY),
      })
      .prefault({}),
    fineTuning: z
      .object({
        quorum: z.number().int().min(1).max(MAX_QUORUM).default(3),
        /** Seconds after a round's submission for attestor commits. */
        commitWindow: z.number().int().positive().default(DAY),
        /** Seconds after the commit window for reveals. */
        revealWindow: z.number().int().positive().default(DAY),
        slashAmount: uint.default(100n * ETHER),
        /** Seconds after acceptance before unclaimed trainer payouts return to the poster. */
        claimWindow: z
          .number()
          .int()
          .positive()
          .default(30 * DAY),
        /** Share of each round's reward paid to the attestors who revealed the majority value (bps). */
        attestorShareBps: z.number().int().min(0).max(10_000).default(1_000),
      })
      .prefault({}),
  })
  .prefault({});

export type AttestationDeployConfig = z.output<typeof attestationConfigSchema>;

/**
 * The privacy block of an algorithm package's manifest (`manifest.privacy`, docs/privacy.md): the noise every device
 * adds to a prediction job's result vector. It is part of the content-addressed package the marketplace lists, so
 * every device, the aggregator, the attestors and the customer read the same values, and nobody can change them per
 * job; the customer chooses an algorithm knowing its (ε, δ).
 */
import { z } from "zod";

/** Records per device a DP job reads at most: n² must stay below the result vector's PAIR_SCALE (10^5). */
export const MAX_DP_RECORDS = 316;

export const privacySpecSchema = z.strictObject({
  mechanism: z.literal("distributed-discrete-gaussian/v1"),
  /** σ of the summed noise on the first-order coordinates (record counts, sums of probabilities), in records. */
  sigma: z.number().positive().finite().max(1e6),
  /** σ of the summed noise on the per-device squares and cross-products (n², n·c, c²). */
  secondOrderSigma: z.number().positive().finite().max(1e9),
  /** Records a device reads at most for this job (its first `maxRecords`); bounds each record's influence. */
  maxRecords: z.number().int().min(1).max(MAX_DP_RECORDS),
  /** δ of the (ε, δ) statement the report gives. */
  delta: z.number().gt(0).max(1e-3),
});
export type PrivacySpec = z.infer<typeof privacySpecSchema>;

/**
 * The reference algorithm's noise: σ = 5 records on counts, σ₂ = 1.25 · 2 · maxRecords on the squares and
 * cross-products, 256 records per device, δ = 10⁻⁶ — ρ ≈ 1.04 per job, ε ≈ 8 (docs/privacy.md).
 */
export const DEFAULT_PRIVACY_SPEC: PrivacySpec = {
  mechanism: "distributed-discrete-gaussian/v1",
  sigma: 5,
  secondOrderSigma: 640,
  maxRecords: 256,
  delta: 1e-6,
};

/**
 * Zero-concentrated DP accounting (Bun & Steinke 2016) for the distributed discrete Gaussian (Kairouz, Liu, Steinke
 * 2021, "The Distributed Discrete Gaussian Mechanism for Federated Learning with Secure Aggregation").
 *
 * **One release.** n devices each add independent N_Z(0, σ_j²) to coordinate j of their integer vector; the sum
 * carries Z_j = Σ_i X_ij, which is close to, but not exactly, a discrete Gaussian of variance nσ_j². The paper
 * (Theorem 1 / Proposition 14, as TFF's `ddgauss_epsilon` uses it) bounds the Rényi divergence of the sum for one
 * coordinate with sensitivity δ by α/2 · (δ/(√n σ) + τ)², with
 *
 *   τ(n, σ) = 10 · Σ_{k=1}^{n−1} exp(−2π²σ² · k/(k+1)),
 *
 * i.e. ρ = ½ (δ/(√n σ) + τ)². Coordinates are independent, so the divergences add; for a neighbouring change δ with
 * A² = sup Σ_j δ_j²/(nσ_j²), Minkowski's inequality gives ρ ≤ ½ (A + √d · τ_max)² over the d noised coordinates.
 * τ vanishes for the per-device σ in encoded units used here (σ ≫ 1: exp(−2π²σ²/2) underflows), but it is computed.
 *
 * **Composition.** ρ-zCDP mechanisms compose by adding ρ (the ledger sums the ρ of every job an owner served).
 *
 * **Conversion to (ε, δ)-DP.** The tight conversion of Canonne, Kamath, Steinke 2020 (Proposition 12 / Corollary
 * 13): ρ-zCDP implies (ε, δ)-DP for
 *
 *   ε = inf_{α>1} αρ + (ln(1/δ) + (α−1)·ln(1 − 1/α) − ln α) / (α − 1),
 *
 * which is never larger than the classic ε = ρ + 2√(ρ ln(1/δ)) (Bun & Steinke, Proposition 1.3), also exported.
 */
import { PrivacyError } from "./errors.ts";

/** The paper's τ correction for a sum over n devices each adding N_Z(0, σ²). */
export function ddgTau(n: number, sigma: number): number {
  let tau = 0;
  for (let k = 1; k < n; k++) tau += Math.exp(-2 * Math.PI ** 2 * sigma ** 2 * (k / (k + 1)));
  return 10 * tau;
}

/**
 * ρ of one distributed discrete Gaussian release.
 * @param a2 A² = sup over neighbouring inputs of Σ_j δ_j²/(n·σ_j²) (sensitivity against the summed noise)
 * @param dims number of noised coordinates d
 * @param tauMax the largest τ(n, σ_j) over the coordinates
 */
export function ddgRho(a2: number, dims: number, tauMax: number): number {
  if (!(a2 >= 0) || !Number.isFinite(a2))
    throw new PrivacyError("INVALID_NOISE_PARAMS", `sensitivity A² = ${a2} must be finite ≥ 0`);
  return 0.5 * (Math.sqrt(a2) + Math.sqrt(dims) * tauMax) ** 2;
}

function checkRhoDelta(rho: number, delta: number): void {
  if (!(rho >= 0) || !Number.isFinite(rho))
    throw new PrivacyError("INVALID_NOISE_PARAMS", `ρ = ${rho} must be finite ≥ 0`);
  if (!(delta > 0 && delta < 1))
    throw new PrivacyError("INVALID_NOISE_PARAMS", `δ = ${delta} must lie in (0, 1)`);
}

/** The classic conversion ε = ρ + 2√(ρ ln(1/δ)). */
export function epsilonSimple(rho: number, delta: number): number {
  checkRhoDelta(rho, delta);
  return rho + 2 * Math.sqrt(rho * Math.log(1 / delta));
}

/** The tight conversion of Canonne, Kamath, Steinke 2020 (module comment), minimised over α numerically. */
export function epsilonOf(rho: number, delta: number): number {
  checkRhoDelta(rho, delta);
  if (rho === 0) return 0;
  const L = Math.log(1 / delta);
  const f = (alpha: number) =>
    alpha * rho + (L + (alpha - 1) * Math.log1p(-1 / alpha) - Math.log(alpha)) / (alpha - 1);
  // convex in α on (1, ∞): golden-section search over u = ln(α − 1)
  let lo = -20;
  let hi = 20;
  const g = (u: number) => f(1 + Math.exp(u));
  const phi = (Math.sqrt(5) - 1) / 2;
  let x1 = hi - phi * (hi - lo);
  let x2 = lo + phi * (hi - lo);
  let f1 = g(x1);
  let f2 = g(x2);
  for (let i = 0; i < 200; i++) {
    if (f1 < f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - phi * (hi - lo);
      f1 = g(x1);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + phi * (hi - lo);
      f2 = g(x2);
    }
  }
  return Math.max(0, Math.min(f1, f2, epsilonSimple(rho, delta)));
}

/** Sequential composition: ρ adds. */
export function composeRho(rhos: readonly number[]): number {
  return rhos.reduce((a, b) => a + b, 0);
}

/**
 * Deterministic, seeded split of the reference corpus into the public and private parts the protocol
 * uses (PROTOCOL.md §6):
 *
 * - `test`: held-out labelled evaluation set (ground truth for every accuracy figure);
 * - `control`: the public labelled control group of fine-tuning bounties;
 * - `developer`: a small public slice the developer trains the reference algorithm on;
 * - `inboxes`: the rest, the private data of `devices` simulated devices, split non-IID.
 *
 * Non-IID inboxes: device `i` draws a spam propensity `p_i ~ Beta(alpha, beta)`. The pool's spam is
 * allocated to devices in proportion to `p_i`, its ham in proportion to `1 - p_i` (largest-remainder
 * rounding), so every pooled email lands in exactly one inbox and each inbox's spam ratio follows its
 * own draw. The randomness is a SHA-256 counter-mode stream ({@link Prng}) seeded by `seed`.
 */
import { z } from "zod";
import type { Email } from "./corpus.ts";
import { Prng } from "./prng.ts";

export const splitParamsSchema = z
  .object({
    seed: z.string().min(1),
    testFraction: z.number().gt(0).lt(1),
    controlFraction: z.number().gt(0).lt(1),
    developerFraction: z.number().gt(0).lt(1),
    devices: z.number().int().min(1),
    alpha: z.number().positive(),
    beta: z.number().positive(),
  })
  .refine((p) => p.testFraction + p.controlFraction + p.developerFraction < 1, {
    message: "test + control + developer fractions must leave emails for the devices",
  });
export type SplitParams = z.infer<typeof splitParamsSchema>;

export const DEFAULT_SPLIT_PARAMS: SplitParams = {
  seed: "dml/spam-assassin/v1",
  testFraction: 0.2,
  controlFraction: 0.1,
  developerFraction: 0.03,
  devices: 20,
  alpha: 0.9,
  beta: 2,
};

export interface Inbox {
  device: number;
  /** The Beta draw that shaped this inbox. */
  drawnSpamRatio: number;
  emails: Email[];
}

export interface Split {
  params: SplitParams;
  test: Email[];
  control: Email[];
  developer: Email[];
  inboxes: Inbox[];
}

/** Splits `emails` (corpus order) with `params` (defaults filled in); pure and deterministic. */
export function splitCorpus(emails: readonly Email[], params: Partial<SplitParams> = {}): Split {
  const p = splitParamsSchema.parse({ ...DEFAULT_SPLIT_PARAMS, ...params });
  const root = new Prng(p.seed);
  const order = root.fork("order").shuffle(emails.map((_, i) => i));
  const take = (fraction: number, from: number): [number[], number] => {
    const n = Math.round(fraction * emails.length);
    return [order.slice(from, from + n), from + n];
  };
  const [testIdx, a] = take(p.testFraction, 0);
  const [controlIdx, b] = take(p.controlFraction, a);
  const [developerIdx, c] = take(p.developerFraction, b);
  const pool = order.slice(c);
  if (pool.length < p.devices) {
    throw new RangeError(
      `splitCorpus: ${pool.length} pooled emails cannot fill ${p.devices} inboxes`,
    );
  }

  const draws = root.fork("ratios");
  const ratios = Array.from({ length: p.devices }, () => draws.beta(p.alpha, p.beta));
  const spam = pool.filter((i) => emails[i]?.label === 1);
  const ham = pool.filter((i) => emails[i]?.label === 0);
  const spamCounts = apportion(spam.length, ratios);
  const hamCounts = apportion(
    ham.length,
    ratios.map((r) => 1 - r),
  );
  // Every device gets at least one email: move one from the largest inbox to an empty one. The
  // largest holds >= 2 while one is empty, because the pool has at least one email per device.
  for (;;) {
    const totals = spamCounts.map((n, i) => n + (hamCounts[i] ?? 0));
    const empty = totals.indexOf(0);
    if (empty < 0) break;
    const donor = totals.indexOf(Math.max(...totals));
    const counts = (hamCounts[donor] ?? 0) >= (spamCounts[donor] ?? 0) ? hamCounts : spamCounts;
    counts[donor] = (counts[donor] ?? 0) - 1;
    counts[empty] = (counts[empty] ?? 0) + 1;
  }

  const pick = (idx: readonly number[]): Email[] => idx.map((i) => emails[i] as Email);
  const inboxes: Inbox[] = [];
  let s = 0;
  let h = 0;
  for (let d = 0; d < p.devices; d++) {
    const ns = spamCounts[d] ?? 0;
    const nh = hamCounts[d] ?? 0;
    const idx = root
      .fork(`inbox/${d}`)
      .shuffle([...spam.slice(s, s + ns), ...ham.slice(h, h + nh)]);
    s += ns;
    h += nh;
    inboxes.push({ device: d, drawnSpamRatio: ratios[d] ?? 0, emails: pick(idx) });
  }
  return {
    params: p,
    test: pick(testIdx),
    control: pick(controlIdx),
    developer: pick(developerIdx),
    inboxes,
  };
}

/** Splits `total` into integer parts proportional to `weights` (largest remainder, ties by index). */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((acc, w) => acc + w, 0);
  if (!(sum > 0)) return weights.map((_, i) => (i === 0 ? total : 0));
  const exact = weights.map((w) => (w / sum) * total);
  const counts = exact.map(Math.floor);
  let rest = total - counts.reduce((acc, c) => acc + c, 0);
  const byRemainder = exact
    .map((x, i) => ({ i, r: x - Math.floor(x) }))
    .sort((u, v) => v.r - u.r || u.i - v.i);
  for (const { i } of byRemainder) {
    if (rest === 0) break;
    counts[i] = (counts[i] ?? 0) + 1;
    rest -= 1;
  }
  return counts;
}

/** Every email of every inbox, in device order (the centralized baseline's training data). */
export function allDeviceEmails(split: Split): Email[] {
  return split.inboxes.flatMap((inbox) => inbox.emails);
}

/** Fraction of spam in a list of emails (0 for an empty list). */
export function spamRatio(emails: readonly Email[]): number {
  return emails.length === 0 ? 0 : emails.filter((e) => e.label === 1).length / emails.length;
}

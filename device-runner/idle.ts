/**
 * When a device may work: the 1-minute load average per core must be at most `maxLoadPerCore`, and the local time
 * must fall in one of `windows` ("HH:MM-HH:MM", may wrap midnight; empty = any time).
 */
import os from "node:os";
import { z } from "zod";

const windowRe = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/;

export const idlePolicySchema = z.strictObject({
  maxLoadPerCore: z.number().positive().max(64).default(0.5),
  windows: z.array(z.string().regex(windowRe, "window must be HH:MM-HH:MM")).max(24).default([]),
});
export type IdlePolicy = z.infer<typeof idlePolicySchema>;

export const ALWAYS_IDLE: IdlePolicy = { maxLoadPerCore: 64, windows: [] };

export function inWindow(window: string, minutes: number): boolean {
  const m = windowRe.exec(window);
  if (m === null) return false;
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  return start <= end ? minutes >= start && minutes < end : minutes >= start || minutes < end;
}

export function idleReason(
  policy: IdlePolicy,
  now = new Date(),
  load1 = os.loadavg()[0] ?? 0,
  cores = os.availableParallelism(),
): string | undefined {
  const perCore = load1 / Math.max(1, cores);
  if (perCore > policy.maxLoadPerCore)
    return `load ${perCore.toFixed(2)}/core > ${policy.maxLoadPerCore}`;
  const minutes = now.getHours() * 60 + now.getMinutes();
  if (policy.windows.length > 0 && !policy.windows.some((w) => inWindow(w, minutes)))
    return `outside the allowed windows ${policy.windows.join(", ")}`;
  return undefined;
}

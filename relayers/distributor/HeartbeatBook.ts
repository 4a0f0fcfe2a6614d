/**
 * The distributor's record of the epoch's heartbeats: each is checked (shape, EIP-712 signature by the device,
 * epoch, clock skew) and a second one for the same (epoch, device) is refused, so the connected set holds one leaf
 * per device with the first signature received.
 */
import type { Address, Hex } from "viem";
import type { ConnectedDevice } from "#sdk/chain/connected-set.ts";
import { ProtocolError } from "#sdk/protocol/errors.ts";
import { heartbeatSchema, verifyHeartbeat, type HeartbeatDomain } from "#sdk/protocol/heartbeat.ts";

export type HeartbeatErrorCode =
  "HEARTBEAT_INVALID" | "HEARTBEAT_REPLAY" | "DEVICE_UNREGISTERED" | "BODY_TOO_LARGE";

export class HeartbeatError extends Error {
  readonly code: HeartbeatErrorCode;
  constructor(code: HeartbeatErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = "HeartbeatError";
  }
}

export class HeartbeatBook {
  readonly #byEpoch = new Map<number, Map<Address, Hex>>();

  readonly domain: HeartbeatDomain;
  readonly maxSkewSeconds: number;
  constructor(domain: HeartbeatDomain, maxSkewSeconds = 300) {
    this.domain = domain;
    this.maxSkewSeconds = maxSkewSeconds;
  }

  /**
   * Checks a heartbeat for `epoch` (shape, signature, epoch, clock skew) without recording it.
   * @throws HeartbeatError HEARTBEAT_INVALID
   */
  async verify(
    input: unknown,
    epoch: number,
    nowSeconds: number,
  ): Promise<{ device: Address; signature: Hex }> {
    let device: Address;
    try {
      device = await verifyHeartbeat(input, this.domain, {
        nowSeconds,
        epoch,
        maxSkewSeconds: this.maxSkewSeconds,
      });
    } catch (e) {
      if (e instanceof ProtocolError) throw new HeartbeatError("HEARTBEAT_INVALID", e.message);
      throw e;
    }
    return { device, signature: heartbeatSchema.parse(input).signature as Hex };
  }

  /** Whether `device` already has a heartbeat for `epoch`. */
  has(epoch: number, device: Address): boolean {
    return this.#byEpoch.get(epoch)?.has(device) ?? false;
  }

  /**
   * Records a verified heartbeat. @throws HeartbeatError HEARTBEAT_REPLAY when the device already has one
   */
  record(epoch: number, device: Address, signature: Hex): void {
    let seen = this.#byEpoch.get(epoch);
    if (!seen) {
      seen = new Map();
      this.#byEpoch.set(epoch, seen);
    }
    if (seen.has(device))
      throw new HeartbeatError(
        "HEARTBEAT_REPLAY",
        `already have ${device}'s heartbeat for epoch ${epoch}`,
      );
    seen.set(device, signature);
  }

  /** Forgets a recorded heartbeat (its persistence failed, so it was not acknowledged). */
  forget(epoch: number, device: Address): void {
    this.#byEpoch.get(epoch)?.delete(device);
  }

  /**
   * Records a heartbeat for `epoch` (verify + record).
   * @throws HeartbeatError HEARTBEAT_INVALID (bad shape, signature, epoch or time), HEARTBEAT_REPLAY (already have one)
   */
  async accept(input: unknown, epoch: number, nowSeconds: number): Promise<Address> {
    const { device, signature } = await this.verify(input, epoch, nowSeconds);
    this.record(epoch, device, signature);
    return device;
  }

  /** Epochs with at least one heartbeat, ascending. */
  epochs(): number[] {
    return [...this.#byEpoch.keys()].sort((a, b) => a - b);
  }

  /** The epoch's connected devices, ordered by address (the connected-set leaves). */
  connected(epoch: number): ConnectedDevice[] {
    const seen = this.#byEpoch.get(epoch);
    if (!seen) return [];
    return [...seen]
      .map(([device, signature]) => ({ device, signature }))
      .sort((a, b) => (a.device.toLowerCase() < b.device.toLowerCase() ? -1 : 1));
  }

  /** Drops epochs before `epoch` once their set is posted. */
  prune(epoch: number): void {
    for (const e of this.#byEpoch.keys()) if (e < epoch) this.#byEpoch.delete(e);
  }
}

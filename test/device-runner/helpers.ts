/**
 * Shared fixtures of the device-runner tests: temp device dirs, a recording loopback proxy, the reference package, and
 * an in-memory chain view for admission (job terms, kMin, `DeviceRegistry.isEligible` semantics).
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Email } from "#sdk/ml/index.ts";
import { getAddress, keccak256, toHex, type Address, type Hex } from "viem";
import type { ChainView, JobTerms } from "../../device-runner/admission.ts";
import { saveLocalConsent, type Consent } from "../../device-runner/consent.ts";
import { importDataset } from "../../device-runner/dataset.ts";
import { devicePaths, type DevicePaths } from "../../device-runner/paths.ts";

export interface Recorded {
  method: string;
  url: string;
  body: Buffer;
}

/** An HTTP proxy on 127.0.0.1 that records every request byte and forwards it to `target`. */
export class RecordingProxy {
  readonly records: Recorded[] = [];
  private server: Server | undefined;
  private readonly target: string;
  constructor(target: string) {
    this.target = target;
  }

  async listen(): Promise<string> {
    const read = async (req: IncomingMessage) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    };
    this.server = createServer((req, res) => {
      void (async () => {
        const body = await read(req);
        this.records.push({ method: req.method ?? "", url: req.url ?? "", body });
        try {
          const r = await fetch(this.target + (req.url ?? ""), {
            method: req.method,
            headers: req.headers["content-type"]
              ? { "content-type": req.headers["content-type"] }
              : {},
            body: body.length > 0 ? body : undefined,
          });
          const out = Buffer.from(await r.arrayBuffer());
          res.writeHead(r.status, {
            "content-type": r.headers.get("content-type") ?? "application/json",
          });
          res.end(out);
        } catch {
          res.writeHead(502).end();
        }
      })();
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const addr = this.server.address();
    if (addr === null || typeof addr === "string") throw new Error("no address");
    return `http://127.0.0.1:${addr.port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A fresh device data dir with `emails` imported as JSONL under email/rfc822-v1. */
export async function deviceWithInbox(
  emails: readonly Email[],
  labelled = true,
): Promise<DevicePaths> {
  const root = await mkdtemp(path.join(tmpdir(), "dml-device-"));
  const paths = devicePaths(root);
  await importInbox(paths, emails, labelled);
  return paths;
}

/** (Re-)imports `emails` as the device's email/rfc822-v1 dataset. */
export async function importInbox(
  paths: DevicePaths,
  emails: readonly Email[],
  labelled = true,
): Promise<void> {
  const src = path.join(paths.root, "inbox.jsonl");
  await writeFile(
    src,
    emails
      .map((e) =>
        JSON.stringify({
          id: e.id,
          subject: e.subject,
          text: e.body,
          ...(labelled ? { label: e.label } : {}),
        }),
      )
      .join("\n") + "\n",
  );
  await importDataset(paths.datasets, "email/rfc822-v1", "jsonl", src);
}

/** sha256 of every file under `dir` (to prove a job left the data and keys untouched). */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else
        out[path.relative(dir, p)] = createHash("sha256")
          .update(await readFile(p))
          .digest("hex");
    }
  };
  await walk(dir);
  return out;
}

/** Consent to every algorithm of the email schema at any price. */
export const OPEN_CONSENT: Consent = {
  schemas: ["email/rfc822-v1"],
  anyAlgorithmInSchema: true,
  algorithms: [],
  priceFloor: 0n,
};

/** Writes the owner's local consent (`consent.json`) of a device. */
export async function giveConsent(paths: DevicePaths, consent: Consent = OPEN_CONSENT) {
  await saveLocalConsent(paths.consent, consent);
}

/** The job seed `FakeChain` reports for `jobId` (tests build the aggregator's session config with it). */
export function fakeJobSeed(jobId: bigint): Hex {
  return keccak256(toHex(`fake job seed ${jobId}`));
}

/**
 * An in-memory chain for admission: job terms by id, `kMin`, and registrations with `DeviceRegistry.isEligible`'s
 * rule (registered with a session key, serves the schema, reward ≥ floor, any algorithm in the schema or a listed one),
 * `sessionKeysOf` and job seeds (`fakeJobSeed`).
 */
export class FakeChain implements ChainView {
  readonly terms = new Map<bigint, JobTerms>();
  readonly registrations = new Map<
    Address,
    {
      schemas: Hex[];
      anyAlgorithmInSchema: boolean;
      algorithms: bigint[];
      priceFloor: bigint;
      sessionKey?: Hex;
    }
  >();
  private readonly market: Address;
  kMinValue: number;
  constructor(market: Address, kMinValue = 5) {
    this.market = market;
    this.kMinValue = kMinValue;
  }

  jobMarket(): Address {
    return this.market;
  }

  async jobTerms(jobId: bigint): Promise<JobTerms> {
    const t = this.terms.get(jobId);
    if (t === undefined) throw new Error(`no job ${jobId}`);
    return t;
  }

  async kMin(): Promise<number> {
    return this.kMinValue;
  }

  register(
    device: Address,
    r: {
      schemas: Hex[];
      anyAlgorithmInSchema: boolean;
      algorithms: bigint[];
      priceFloor: bigint;
      sessionKey?: Hex;
    },
  ) {
    this.registrations.set(getAddress(device), r);
  }

  async sessionKeysOf(devices: readonly Address[]): Promise<Hex[]> {
    return this.keysOf(devices.map((address) => ({ address })));
  }

  /** The registered session keys of `members` (zero when unset), synchronously, for building rosters in tests. */
  keysOf(members: readonly { address: string }[]): Hex[] {
    return members.map(
      (m) =>
        this.registrations.get(getAddress(m.address))?.sessionKey ??
        (`0x${"00".repeat(32)}` as Hex),
    );
  }

  async jobSeed(jobId: bigint): Promise<Hex> {
    return fakeJobSeed(jobId);
  }

  async isEligible(
    device: Address,
    schema: Hex,
    algorithmId: bigint,
    reward: bigint,
  ): Promise<boolean> {
    const r = this.registrations.get(getAddress(device));
    if (r === undefined || reward < r.priceFloor || r.sessionKey === undefined) return false;
    if (!r.schemas.some((s) => s.toLowerCase() === schema.toLowerCase())) return false;
    return r.anyAlgorithmInSchema || r.algorithms.includes(algorithmId);
  }
}

/**
 * Relayer configuration: one table of fields gives the zod schema, the command-line flags, the environment variables
 * and the help text, so they can never disagree.
 *
 *   precedence  flags > environment (`DML_<FIELD>`, e.g. `DML_RPC_URL`) > JSON file (`--config` / `DML_CONFIG`)
 *               > defaults;
 *   validation  at start, with zod; a bad value stops the relayer with ONE line naming the field, where the value came
 *               from and what is wrong (`RelayerError CONFIG_INVALID`), never zod's issue array.
 *
 * The keystore password is never a config value (it would be logged with the config): it comes from
 * `DML_KEYSTORE_PASSWORD` or from the file named by `passwordFile`.
 */
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { DEFAULT_RPC_URL } from "#sdk/chain/clients.ts";
import { KeystoreError, unlockKeystore } from "#sdk/crypto/keystore.ts";
import type { DeviceAccount } from "#sdk/crypto/session-key.ts";
import { RelayerError } from "./errors.ts";

/** One config field: its schema (accepting strings from flags and env), help text and flag placeholder. */
export interface FieldSpec<S extends z.ZodType = z.ZodType> {
  schema: S;
  help: string;
  /** e.g. `<url>`; a flag without one is a boolean switch. */
  arg?: string;
}
export type FieldSpecs = Record<string, FieldSpec>;
export type ConfigOf<F extends FieldSpecs> = { [K in keyof F]: z.output<F[K]["schema"]> };

/** An integer field that also accepts its decimal string (flags and env are strings). */
export function intField(min: number, max: number) {
  return z.preprocess(
    (v) => (typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
    z
      .number({ error: "expected an integer" })
      .int("expected an integer")
      .min(min, `expected at least ${min}`)
      .max(max, `expected at most ${max}`),
  );
}

const urlField = z
  .string()
  .trim()
  .pipe(z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }));

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Fields every role has. `role` names the default data directory (~/.dml-relayer/<role>). */
export function commonFields(role: string) {
  return {
    dataDir: {
      schema: z
        .string()
        .min(1)
        .default(path.join(os.homedir(), ".dml-relayer", role)),
      arg: "<dir>",
      help: `data directory: the action queue (PGlite) and its lock [default: ~/.dml-relayer/${role}]`,
    },
    rpcUrl: {
      schema: urlField.default(DEFAULT_RPC_URL),
      arg: "<url>",
      help: `JSON-RPC endpoint of the chain [default: ${DEFAULT_RPC_URL}]`,
    },
    chainId: {
      schema: intField(1, 2 ** 53 - 1).optional(),
      arg: "<id>",
      help: "expected chain id; the relayer refuses to start on another chain [default: asked from the RPC]",
    },
    manifest: {
      schema: z.string().min(1).optional(),
      arg: "<file>",
      help: "deployment manifest written by script/deploy.ts [default: deployments/<chain-id>.local.json]",
    },
    keystore: {
      schema: z.string().min(1).optional(),
      arg: "<file>",
      help: "the operator's Web3 Secret Storage v3 keystore [default: <data-dir>/keystore.json]",
    },
    passwordFile: {
      schema: z.string().min(1).optional(),
      arg: "<file>",
      help: "file holding the keystore password (else DML_KEYSTORE_PASSWORD)",
    },
    metricsPort: {
      schema: intField(0, 65_535).default(9464),
      arg: "<port>",
      help: "port of /healthz and /metrics on 127.0.0.1; 0 picks a free one [default: 9464]",
    },
    tickIntervalMs: {
      schema: intField(10, 3_600_000).default(5_000),
      arg: "<ms>",
      help: "pause between two ticks (reconcile, then act) [default: 5000]",
    },
    healthMaxTickAgeMs: {
      schema: intField(100, 86_400_000).default(60_000),
      arg: "<ms>",
      help: "/healthz answers 503 when no tick ended within this time [default: 60000]",
    },
    maxAttempts: {
      schema: intField(1, 1_000).default(5),
      arg: "<n>",
      help: "handler runs before an action is marked failed [default: 5]",
    },
    retryBaseMs: {
      schema: intField(0, 3_600_000).default(1_000),
      arg: "<ms>",
      help: "back-off before the first retry, doubled each time [default: 1000]",
    },
    retryMaxMs: {
      schema: intField(0, 86_400_000).default(60_000),
      arg: "<ms>",
      help: "longest back-off between retries [default: 60000]",
    },
    drainTimeoutMs: {
      schema: intField(0, 3_600_000).default(30_000),
      arg: "<ms>",
      help: "on SIGTERM/SIGINT, longest wait for the action in flight before exiting 1 [default: 30000]",
    },
    logLevel: {
      schema: z.enum(LOG_LEVELS).default("info"),
      arg: "<level>",
      help: `pino log level: ${LOG_LEVELS.join(", ")} [default: info]`,
    },
  } satisfies FieldSpecs;
}
export type CommonConfig = ConfigOf<ReturnType<typeof commonFields>>;

/** `rpcUrl` → `DML_RPC_URL`. */
export function envName(key: string): string {
  return `DML_${key.replace(/[A-Z]/g, (m) => `_${m}`).toUpperCase()}`;
}

/** `rpcUrl` → `--rpc-url`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}`;
}

/** Adds one option per field to `cmd`, under the help heading `heading`. */
export function addConfigOptions(cmd: Command, fields: FieldSpecs, heading: string): Command {
  cmd.optionsGroup(heading);
  for (const [key, f] of Object.entries(fields))
    cmd.option(`${flagName(key)}${f.arg ? ` ${f.arg}` : ""}`, `${f.help}; env ${envName(key)}`);
  return cmd;
}

export interface ConfigSources {
  /** Parsed flags (commander's `opts()`): camelCase keys, undefined when not given. */
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** The JSON file; defaults to flags.config, then env DML_CONFIG. */
  file?: string;
}

/**
 * Merges flags > env > file > defaults and validates. @throws RelayerError CONFIG_INVALID (one line naming the
 * field and its source) | CONFIG_FILE
 */
export async function loadConfig<F extends FieldSpecs>(
  fields: F,
  src: ConfigSources,
): Promise<ConfigOf<F>> {
  const env = src.env ?? {};
  const flags = src.flags ?? {};
  const fileName =
    src.file ?? (typeof flags.config === "string" ? flags.config : undefined) ?? env.DML_CONFIG;
  const fromFile = fileName === undefined ? {} : await readConfigFile(fileName);
  const merged: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  for (const key of Object.keys(fromFile)) {
    if (!(key in fields))
      throw new RelayerError(
        "CONFIG_INVALID",
        `invalid config: unknown key "${key}" in ${fileName} (known: ${Object.keys(fields).join(", ")})`,
      );
  }
  for (const key of Object.keys(fields)) {
    const e = env[envName(key)];
    if (flags[key] !== undefined) {
      merged[key] = flags[key];
      source[key] = `flag ${flagName(key)}`;
    } else if (e !== undefined && e !== "") {
      merged[key] = e;
      source[key] = `env ${envName(key)}`;
    } else if (fromFile[key] !== undefined) {
      merged[key] = fromFile[key];
      source[key] = `file ${fileName}`;
    }
  }
  const shape = Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f.schema]));
  const parsed = z.object(shape).safeParse(merged);
  if (parsed.success) return parsed.data as ConfigOf<F>;
  const issue = parsed.error.issues[0];
  const key = String(issue?.path[0] ?? "?");
  const given = merged[key];
  const from = source[key] ?? "default";
  const shown = given === undefined ? "" : ` = ${JSON.stringify(given).slice(0, 80)}`;
  throw new RelayerError(
    "CONFIG_INVALID",
    `invalid config: ${key} (${from}${shown}): ${issue?.message ?? "invalid value"}`,
  );
}

async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new RelayerError("CONFIG_FILE", `cannot read the config file ${file}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new RelayerError("CONFIG_FILE", `${file} is not JSON: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const obj = z.record(z.string(), z.unknown()).safeParse(json);
  if (!obj.success) throw new RelayerError("CONFIG_FILE", `${file} must hold one JSON object`);
  return obj.data;
}

/** The keystore path: `keystore`, else `<dataDir>/keystore.json`. */
export function keystorePath(config: Pick<CommonConfig, "keystore" | "dataDir">): string {
  return config.keystore ?? path.join(config.dataDir, "keystore.json");
}

/** The keystore password: the file `passwordFile` (one trailing newline dropped), else `DML_KEYSTORE_PASSWORD`. */
export async function keystorePassword(
  config: Pick<CommonConfig, "passwordFile">,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (config.passwordFile !== undefined) {
    try {
      return (await readFile(config.passwordFile, "utf8")).replace(/\r?\n$/, "");
    } catch (e) {
      throw new RelayerError("KEYSTORE", `cannot read the password file ${config.passwordFile}`, {
        cause: e,
      });
    }
  }
  const p = env.DML_KEYSTORE_PASSWORD;
  if (p === undefined || p === "")
    throw new RelayerError(
      "KEYSTORE",
      "no keystore password: set DML_KEYSTORE_PASSWORD or pass --password-file",
    );
  return p;
}

/**
 * Unlocks the operator's key. @throws KeystoreError WRONG_PASSWORD | KEYSTORE_MISSING | KEYSTORE_INVALID,
 * RelayerError KEYSTORE (no password)
 */
export async function unlockOperator(
  config: Pick<CommonConfig, "keystore" | "dataDir" | "passwordFile">,
  env: NodeJS.ProcessEnv = process.env,
): Promise<DeviceAccount> {
  const file = keystorePath(config);
  try {
    return await unlockKeystore(file, await keystorePassword(config, env));
  } catch (e) {
    if (e instanceof KeystoreError && e.code === "WRONG_PASSWORD")
      throw new KeystoreError("WRONG_PASSWORD", `wrong password for the keystore ${file}`);
    throw e;
  }
}

#!/usr/bin/env node
/**
 * `dml-device` — the data owner's command line (docs/device-runner.md).
 *
 *   dml-device --data-dir ~/.dml-device <command>
 *
 * The keystore password is read from DML_DEVICE_PASSWORD, from --password-file, or prompted for.
 */
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { createInterface } from "node:readline/promises";
import { Command, Option } from "commander";
import pino from "pino";
import {
  createPublicClient,
  formatUnits,
  http,
  getAddress,
  isAddress,
  parseEther,
  parseUnits,
  type Address,
  type Hex,
} from "viem";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { chainFromId } from "#sdk/chain/clients.ts";
import { EMAIL_SCHEMA_ID } from "#sdk/chain/schema.ts";
import { deviceClients, type DevicePublicClient } from "./chain.ts";
import {
  loadConfig,
  saveConfig,
  contractAddress,
  deviceConfigSchema,
  startBlockOf,
} from "./config.ts";
import type { DatasetSource } from "./dataset.ts";
import { CliError, describeCliError, parseOptions, reportCliError } from "#sdk/cli/errors.ts";
import { addExamples } from "#sdk/cli/help.ts";
import { jsonText, makeOutput, type Output } from "#sdk/cli/output.ts";
import { progressCallback, progressEnabled, withProgress } from "#sdk/cli/progress.ts";
import {
  createKeystore,
  keystoreAddress,
  LIGHT_SCRYPT,
  unlockKeystore,
} from "#sdk/crypto/keystore.ts";
import { devicePaths } from "./paths.ts";
// Each command's own modules load when it runs: a claim never loads the ML runtime or the daemon, `--help` none of
// them (≈ 1–2 s of CPU per process otherwise).

const log = pino({ name: "dml-device" }, pino.destination(2));
export const program = new Command("dml-device")
  .description(
    "DML device runner: your data stays on this device. Import your data, say which algorithms may read it " +
      "(consent), then `run`: the device watches the chain for cohorts that include it, runs the algorithm locally " +
      "when idle and sends only a masked result; claim your rewards with `claim`.\n\n" +
      "The keystore password comes from DML_DEVICE_PASSWORD, --password-file, or a prompt. A failure is one line on " +
      "stderr, `dml-device: error[CODE]: message`; exit 0 success, 1 runtime failure, 2 bad options or configuration.",
  )
  .exitOverride()
  .configureOutput({ outputError: () => undefined })
  .option(
    "--data-dir <dir>",
    "device data directory",
    process.env.DML_DEVICE_DIR ?? `${process.env.HOME ?? "."}/.dml-device`,
  )
  .option("--password-file <file>", "file holding the keystore password")
  .option(
    "--json",
    "print one JSON document on stdout (bigints as decimal strings) and no progress bars; `run` and `host` log pino JSON lines",
  );

/** device.json fields → the `config init` flags that set them (validation errors name the flag). */
const DEVICE_CONFIG_FLAGS = (p: readonly PropertyKey[]): string =>
  ({
    rpcUrl: "--rpc",
    chainId: "--chain-id",
    manifest: "--manifest",
    distributorUrl: "--distributor",
    kuboUrl: "--kubo",
    idle: p[1] === "windows" ? "--window" : "--max-load",
  })[String(p[0])] ?? String(p.join("."));
/** Consent fields → the `consent` flags. */
const CONSENT_FLAGS = (p: readonly PropertyKey[]): string =>
  ({
    schemas: "--schema",
    anyAlgorithmInSchema: "--any-algorithm",
    algorithms: "--algorithm",
    priceFloor: "--price-floor",
    minCohort: "--min-cohort",
    privacyBudget: "--privacy-budget",
  })[String(p[0])] ?? String(p.join("."));

const paths = () => devicePaths(program.opts<{ dataDir: string }>().dataDir);
/** --json given: one JSON document on stdout, no bars (sdk/cli/output.ts, sdk/cli/progress.ts). */
const json = (): boolean => program.opts<{ json?: boolean }>().json === true;
const out = (): Output => makeOutput(json());
const bars = (): boolean => progressEnabled(json());
/** `work` under a one-step bar on stderr (a transaction sent and mined, proofs fetched and checked). */
const waiting = <T>(title: string, work: () => Promise<T>): Promise<T> =>
  withProgress(title, bars(), work);

async function password(confirm = false): Promise<string> {
  if (process.env.DML_DEVICE_PASSWORD) return process.env.DML_DEVICE_PASSWORD;
  const file = program.opts<{ passwordFile?: string }>().passwordFile;
  if (file !== undefined) return (await readFile(file, "utf8")).replace(/\r?\n$/, "");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const p = await rl.question("keystore password: ");
    if (confirm && (await rl.question("repeat password: ")) !== p)
      throw new CliError("INVALID_INPUT", "the passwords differ");
    return p;
  } finally {
    rl.close();
  }
}

/** The device in `dir` (default: --data-dir): its paths, configuration, unlocked key and clients. */
async function context(dir?: string) {
  const p = dir === undefined ? paths() : devicePaths(dir);
  const config = await loadConfig(p.config);
  const account = await unlockKeystore(p.keystore, await password());
  return { p, config, account, clients: deviceClients(config.rpcUrl, config.chainId, account) };
}

type DeviceContext = Awaited<ReturnType<typeof context>>;

/**
 * Runs `fn` for the device in --data-dir, or for each of `dirs` in turn in this one process (each with its own key,
 * configuration and content store: a fleet claims without a process per device). With several devices each output
 * line starts with the device's directory, a failing device is reported on stderr (`<dir>: error[CODE]: message`)
 * and the others still run; the exit code is 1 when any failed.
 */
async function forEachDevice<T extends object>(
  title: string,
  dirs: readonly string[],
  fn: (c: DeviceContext, store: ContentStore) => Promise<T>,
  human: (r: T) => string,
): Promise<void> {
  const several = dirs.length > 0;
  const results: object[] = [];
  for (const dir of several ? dirs : [undefined]) {
    const prefix = dir === undefined ? "" : `${dir}: `;
    try {
      const c = await context(dir);
      const { openContentStore } = await import("#sdk/ipfs/index.ts");
      const store = await openContentStore({
        heliaDir: c.p.helia,
        ...(c.config.kuboUrl ? { kuboUrl: c.config.kuboUrl } : {}),
      });
      try {
        const r = await waiting(`${prefix}${title}`, () => fn(c, store));
        if (!several) out().result(r, () => human(r));
        else if (json()) results.push({ dir, ...r });
        else console.log(prefix + human(r));
      } finally {
        await store.close();
      }
    } catch (e) {
      if (!several) throw e;
      const { code, message } = describeCliError(e);
      if (json()) results.push({ dir, error: { code, message } });
      // one line per failed device, led by its directory as its stdout lines are: `<dir>: error[CODE]: message`
      else process.stderr.write(`${prefix}error[${code}]: ${message}\n`);
      process.exitCode = 1;
    }
  }
  if (several && json()) out().result({ devices: results }, []);
}

const address = (s: string): Address => {
  if (!isAddress(s, { strict: false }))
    throw new CliError("INVALID_ARGUMENT", `--to: not an address: ${s}`);
  return getAddress(s);
};

// ---------------------------------------------------------------- config
const configCmd = program.command("config").description("device configuration (device.json)");
const configInit = configCmd
  .command("init")
  .description(
    "Write the device's configuration (device.json in --data-dir): the chain and its deployment manifest, the " +
      "distributor that takes heartbeats, IPFS (Kubo or embedded Helia), and the idle policy that says when jobs may run.",
  )
  .option("--rpc <url>", "JSON-RPC URL", "http://127.0.0.1:8545")
  .option("--chain-id <id>", "chain id", "31337")
  .option("--manifest <file>", "deployment manifest (script/deploy.ts output)")
  .option("--distributor <url>", "distributor endpoint for heartbeats")
  .option("--kubo <url>", "Kubo RPC URL (default: embedded Helia)")
  .option("--max-load <perCore>", "idle policy: max 1-min load average per core", "0.5")
  .option(
    "--window <HH:MM-HH:MM...>",
    "idle policy: allowed time windows",
    (v: string, acc: string[]) => [...acc, v],
    [] as string[],
  )
  .action(
    async (o: {
      rpc: string;
      chainId: string;
      manifest?: string;
      distributor?: string;
      kubo?: string;
      maxLoad: string;
      window: string[];
    }) => {
      const config = parseOptions(
        deviceConfigSchema,
        {
          rpcUrl: o.rpc,
          chainId: Number(o.chainId),
          ...(o.manifest ? { manifest: o.manifest } : {}),
          ...(o.distributor ? { distributorUrl: o.distributor } : {}),
          ...(o.kubo ? { kuboUrl: o.kubo } : {}),
          idle: { maxLoadPerCore: Number(o.maxLoad), windows: o.window },
        },
        DEVICE_CONFIG_FLAGS,
      );
      await saveConfig(paths().config, config);
      out().result({ file: paths().config }, `wrote ${paths().config}`);
    },
  );
addExamples(configInit, [
  "dml-device config init --rpc http://127.0.0.1:8545 --manifest deployments/31337.local.json",
  "dml-device --data-dir ./dev0 config init --distributor http://127.0.0.1:9100 --window 22:00-06:00",
]);
const configShow = configCmd
  .command("show")
  .description("Print device.json (the configuration `config init` wrote).");
addExamples(configShow, ["dml-device config show"]);
configShow.action(async () => {
  // device.json is JSON either way: the same document with or without --json
  const config = await loadConfig(paths().config);
  out().result(config, () => jsonText(config));
});

// ---------------------------------------------------------------- wallet
const wallet = program.command("wallet").description("device key, balances, transfers");
const walletCreate = wallet
  .command("create")
  .description(
    "Create the device key (or import one) into an encrypted v3 keystore in --data-dir; never overwrites one. The " +
      "password must have at least 8 characters.",
  )
  .option("--import-key-file <file>", "file holding a 0x-hex private key to import")
  .option("--light-kdf", "scrypt N = 2^12 instead of the configured cost (throwaway devices only)")
  .action(async (o: { importKeyFile?: string; lightKdf?: boolean }) => {
    const p = paths();
    const config = await loadConfig(p.config);
    const importKey = o.importKeyFile
      ? ((await readFile(o.importKeyFile, "utf8")).trim() as Hex)
      : undefined;
    const account = await createKeystore(p.keystore, await password(true), {
      ...(importKey ? { importKey } : {}),
      scrypt: o.lightKdf ? LIGHT_SCRYPT : config.scrypt,
    });
    out().result({ address: account.address }, account.address);
  });
addExamples(walletCreate, [
  "DML_DEVICE_PASSWORD=… dml-device wallet create",
  "dml-device --password-file ./pw wallet create --import-key-file ./key.hex",
]);
const walletAddress = wallet
  .command("address")
  .description("Print the device's address (no password needed).");
addExamples(walletAddress, ["dml-device wallet address"]);
walletAddress.action(async () => {
  const address = getAddress(await keystoreAddress(paths().keystore));
  out().result({ address }, address);
});
const walletBalance = wallet
  .command("balance")
  .description("Show the device account's ETH (gas) and DML balances.");
addExamples(walletBalance, ["dml-device wallet balance"]);
walletBalance.action(async () => {
  const p = paths();
  const config = await loadConfig(p.config);
  const publicClient = createPublicClient({
    chain: chainFromId(config.chainId, config.rpcUrl),
    transport: http(config.rpcUrl),
  }) as DevicePublicClient;
  const me = getAddress(await keystoreAddress(p.keystore));
  const { balances, formatBalances } = await import("./wallet.ts");
  const b = await balances({ publicClient }, contractAddress(config, "DMLToken"), me);
  out().result(b, () => formatBalances(b));
});
const walletTransfer = wallet
  .command("transfer")
  .description("Send ETH or DML from the device account.")
  .requiredOption("--to <address>", "recipient")
  .requiredOption("--amount <amount>", "decimal amount (ETH or DML)")
  .addOption(new Option("--asset <asset>", "what to send").choices(["eth", "dml"]).default("dml"));
addExamples(walletTransfer, [
  "dml-device wallet transfer --to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --amount 12.5",
  "dml-device wallet transfer --to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --amount 0.01 --asset eth",
]);
walletTransfer.action(async (o: { to: string; amount: string; asset: "eth" | "dml" }) => {
  const { config, clients } = await context();
  const amount = o.asset === "eth" ? parseEther(o.amount) : parseUnits(o.amount, 18);
  const { transfer } = await import("./wallet.ts");
  const txHash = await waiting(`sending ${o.amount} ${o.asset.toUpperCase()}`, () =>
    transfer(clients, {
      asset: o.asset,
      token: contractAddress(config, "DMLToken"),
      to: address(o.to),
      amount,
    }),
  );
  out().result({ txHash }, txHash);
});

// ---------------------------------------------------------------- claims
const claim = program
  .command("claim")
  .description("claim rewards with locally verified Merkle proofs");
const FLEET_ARGUMENT = [
  "[dirs...]",
  "claim for each of these device data directories in this one process (default: --data-dir)",
] as const;
const claimGrowth = claim
  .command("growth")
  .description(
    "Claim this device's growth-pool wins of an epoch: the winners list and proofs are rebuilt and checked locally.",
  )
  .requiredOption("--epoch <n>", "growth epoch");
addExamples(claimGrowth, [
  "dml-device claim growth --epoch 3",
  "dml-device --password-file ./pw claim growth --epoch 3 ./devices/0 ./devices/1",
]);
claimGrowth.argument(...FLEET_ARGUMENT).action(async (dirs: string[], o: { epoch: string }) => {
  const { claimGrowthWins } = await import("./rewards.ts");
  await forEachDevice(
    `claiming growth epoch ${o.epoch}`,
    dirs,
    ({ config, clients }, store) =>
      claimGrowthWins(clients, store, contractAddress(config, "GrowthPool"), BigInt(o.epoch)),
    (r) => `won draws: [${r.won.join(", ")}], claimed now: [${r.claimed.join(", ")}]`,
  );
});
const claimJob = claim
  .command("job")
  .requiredOption("--job <id>", "the settled job")
  .argument(...FLEET_ARGUMENT)
  .description(
    "Claim this device's payout of a settled job: root and payout list CID are read from Settlement's ReportPosted, " +
      "the proof is checked locally. A payout already claimed sends nothing.",
  );
addExamples(claimJob, [
  "dml-device claim job --job 7",
  "dml-device claim job --job 7 ./devices/0 ./devices/1",
]);
claimJob.action(async (dirs: string[], o: { job: string }) => {
  const { claimJobPayout } = await import("./rewards.ts");
  await forEachDevice(
    `claiming job ${o.job}`,
    dirs,
    ({ config, clients }, store) =>
      claimJobPayout(clients, store, {
        settlement: contractAddress(config, "Settlement"),
        jobId: BigInt(o.job),
        fromBlock: startBlockOf(config),
      }),
    (r) =>
      r.hash === undefined
        ? `payout ${r.index} (${formatUnits(r.amount, 18)} DML) was already claimed`
        : `claimed ${formatUnits(r.amount, 18)} DML: ${r.hash}`,
  );
});
const claimTrainer = claim
  .command("trainer")
  .description(
    "Claim this trainer's payout of an accepted fine-tuning round (proof checked against the on-chain root).",
  )
  .requiredOption("--bounty <id>", "fine-tuning bounty")
  .requiredOption("--round <n>", "accepted round");
addExamples(claimTrainer, ["dml-device claim trainer --bounty 1 --round 2"]);
claimTrainer
  .option(
    "--cid <cid>",
    "a trainer payout list CID (default: the round list CID on chain; the root is always read on chain)",
  )
  .argument(...FLEET_ARGUMENT)
  .action(async (dirs: string[], o: { bounty: string; round: string; cid?: string }) => {
    const { claimTrainerPayout } = await import("./rewards.ts");
    await forEachDevice(
      `claiming bounty ${o.bounty} round ${o.round}`,
      dirs,
      ({ config, clients }, store) =>
        claimTrainerPayout(clients, store, {
          fineTuning: contractAddress(config, "FineTuning"),
          bountyId: BigInt(o.bounty),
          round: BigInt(o.round),
          ...(o.cid ? { cid: o.cid } : {}),
        }),
      (r) =>
        r.hash === undefined
          ? `${formatUnits(r.amount, 18)} DML was already claimed`
          : `claimed ${formatUnits(r.amount, 18)} DML: ${r.hash}`,
    );
  });

// ---------------------------------------------------------------- data + consent
const data = program.command("data").description("local datasets (never uploaded)");
const dataImport = data
  .command("import")
  .description(
    "Import a local dataset (exactly one of --eml, --mbox, --jsonl) under a schema; records are validated, parsed and " +
      "kept in --data-dir, never uploaded.",
  )
  .option("--schema <id>", "dataset schema", EMAIL_SCHEMA_ID)
  .option("--eml <dir>", "folder of .eml files")
  .option("--mbox <file>", "mbox file")
  .option("--jsonl <file>", "JSONL {subject, text, label?}")
  .action(async (o: { schema: string; eml?: string; mbox?: string; jsonl?: string }) => {
    const given = (["eml", "mbox", "jsonl"] as const).filter((k) => o[k] !== undefined);
    if (given.length !== 1)
      throw new CliError("INVALID_ARGUMENT", "give exactly one of --eml, --mbox, --jsonl");
    const source: DatasetSource = given[0]!;
    const { importDataset } = await import("./dataset.ts");
    const meta = await importDataset(
      paths().datasets,
      o.schema,
      source,
      o[source]!,
      progressCallback(`parsing ${source === "jsonl" ? "lines" : "messages"}`, bars()),
    );
    out().result(
      meta,
      `imported ${meta.count} records (${meta.labelled} labelled) under ${meta.schema}`,
    );
  });
addExamples(dataImport, [
  "dml-device data import --mbox ~/mail/inbox.mbox",
  "dml-device data import --jsonl ./emails.jsonl --schema email/rfc822-v1",
]);
const dataList = data
  .command("list")
  .description("List the imported datasets: schema, records, labelled records.");
addExamples(dataList, ["dml-device data list"]);
dataList.action(async () => {
  const { listDatasets } = await import("./dataset.ts");
  const datasets = await listDatasets(paths().datasets);
  // an empty list prints nothing without --json (as before), `{"datasets": []}` with it
  if (datasets.length === 0 && !json()) return;
  out().result({ datasets }, () =>
    datasets.map((m) => `${m.schema}\t${m.count} records\t${m.labelled} labelled\t${m.importedAt}`),
  );
});

const consentCmd = program
  .command("consent")
  .description(
    "Register the device (or update it) in DeviceRegistry with the schemas it serves and its consent: which " +
      "algorithms may run on its data and the lowest reward it accepts. Local-only limits (cohort size, privacy " +
      "budget) are kept on the device.",
  )
  .option("--schema <id...>", "schemas served", [EMAIL_SCHEMA_ID])
  .option("--any-algorithm", "accept any algorithm in the schemas", false)
  .option("--algorithm <id...>", "accepted algorithm ids", [] as string[])
  .option("--price-floor <dml>", "minimum reward per job (DML)", "0")
  .option(
    "--min-cohort <n>",
    "local only: refuse cohorts smaller than this (on top of the chain's kMin)",
  )
  .option(
    "--privacy-budget <rho>",
    "local only: lifetime zCDP budget ρ over DP jobs (default 5; docs/privacy.md)",
  )
  .action(
    async (o: {
      schema: string[];
      anyAlgorithm: boolean;
      algorithm: string[];
      priceFloor: string;
      minCohort?: string;
      privacyBudget?: string;
    }) => {
      const { p, config, clients, account } = await context();
      const { consentSchema, registerConsent, saveLocalConsent } = await import("./consent.ts");
      const consent = parseOptions(
        consentSchema,
        {
          schemas: o.schema,
          anyAlgorithmInSchema: o.anyAlgorithm,
          algorithms: o.algorithm,
          priceFloor: parseUnits(o.priceFloor, 18),
          ...(o.minCohort !== undefined ? { minCohort: Number(o.minCohort) } : {}),
          ...(o.privacyBudget !== undefined ? { privacyBudget: Number(o.privacyBudget) } : {}),
        },
        CONSENT_FLAGS,
      );
      // the owner's wish is kept locally first: the runner follows it even if the registration fails
      await saveLocalConsent(p.consent, consent);
      const txHashes = await waiting("registering consent", () =>
        registerConsent(
          clients,
          contractAddress(config, "DeviceRegistry"),
          consent,
          account.session.sessionKey,
        ),
      );
      out().result({ txHashes }, txHashes);
    },
  );

// ---------------------------------------------------------------- run
addExamples(consentCmd, [
  "dml-device consent --any-algorithm --price-floor 1",
  "dml-device consent --algorithm 1 3 --min-cohort 20 --privacy-budget 2",
]);
const runCmd = program
  .command("run")
  .description("watch the chain for cohorts that include this device and serve them when idle")
  .option("--once", "one poll, then exit")
  .action(async (o: { once?: boolean }) => {
    const { p, config, account, clients } = await context();
    const [{ openContentStore }, { runDaemon }] = await Promise.all([
      import("#sdk/ipfs/index.ts"),
      import("./daemon.ts"),
    ]);
    const store = await openContentStore({
      heliaDir: p.helia,
      ...(config.kuboUrl ? { kuboUrl: config.kuboUrl } : {}),
    });
    const ac = new AbortController();
    process.once("SIGINT", () => ac.abort());
    try {
      await runDaemon({
        config,
        paths: p,
        account,
        publicClient: clients.publicClient,
        store,
        log,
        once: o.once ?? false,
        signal: ac.signal,
      });
    } finally {
      await store.close();
    }
  });

addExamples(runCmd, ["dml-device run", "dml-device --data-dir ./dev0 run --once"]);
program
  .command("host")
  .description(
    "run several devices in this one process: each data directory keeps its own key, data, clients and jobs " +
      "(a fleet or a simulation; every keystore opens with the same password)",
  )
  .argument("<dirs...>", "device data directories")
  .option("--once", "one poll per device, then exit")
  .addHelpText(
    "after",
    "\nExample:\n  dml-device --password-file ./pw host ./devices/0 ./devices/1 ./devices/2",
  )
  .action(async (dirs: string[], o: { once?: boolean }) => {
    const ac = new AbortController();
    process.once("SIGINT", () => ac.abort());
    process.once("SIGTERM", () => ac.abort());
    const { hostDevices } = await import("./host.ts");
    const { failed } = await hostDevices({
      dirs,
      password: await password(),
      log,
      signal: ac.signal,
      once: o.once ?? false,
    });
    if (failed.length > 0) {
      console.error(`devices stopped: ${failed.join(", ")}`);
      process.exitCode = 1;
    }
  });

const jobCmd = program
  .command("job")
  .description("run one job from a JSON descriptor (drills, or jobs relayed off-chain)")
  .requiredOption("--file <job.json>", "the job descriptor (a prediction or a training job)");
addExamples(jobCmd, ["dml-device job --file ./drill.json"]);
jobCmd.action(async (o: { file: string }) => {
  const { p, config, account, clients } = await context();
  const raw = JSON.parse(await readFile(o.file, "utf8")) as { kind?: string };
  const [
    { trainingJobSchema },
    { predictionJobSchema },
    { openContentStore },
    { DeviceRunner },
    { chainViewOf },
  ] = await Promise.all([
    import("./trainer.ts"),
    import("./prediction-job.ts"),
    import("#sdk/ipfs/index.ts"),
    import("./runner.ts"),
    import("./admission.ts"),
  ]);
  const job = raw.kind === "train" ? trainingJobSchema.parse(raw) : predictionJobSchema.parse(raw);
  const store = await openContentStore({
    heliaDir: p.helia,
    ...(config.kuboUrl ? { kuboUrl: config.kuboUrl } : {}),
  });
  try {
    const runner = await DeviceRunner.open({
      paths: p,
      account,
      store,
      idle: config.idle,
      chain: chainViewOf(clients.publicClient, config),
      log,
    });
    const entry = await waiting(
      job.kind === "train"
        ? `training bounty ${job.bountyId} round ${job.round}`
        : `running job ${job.jobId}`,
      () => runner.handle(job),
    );
    // the job log entry is JSON either way (one line without --json, as before)
    if (json()) out().result(entry, []);
    else console.log(JSON.stringify(entry));
    if (entry.status === "failed" || entry.status === "refused") process.exitCode = 1;
  } finally {
    await store.close();
  }
});

// ---------------------------------------------------------------- trainer
const train = program
  .command("train")
  .description(
    "trainer mode: enrol in fine-tuning bounties, review predictions and correct labels",
  );
const trainEnrol = train
  .command("enrol")
  .description(
    "enrol this device as a trainer of a fine-tuning bounty; `run` then trains in each of its rounds",
  )
  .requiredOption("--bounty <id>", "fine-tuning bounty");
addExamples(trainEnrol, ["dml-device train enrol --bounty 1"]);
trainEnrol.action(async (o: { bounty: string }) => {
  if (!/^[0-9]+$/.test(o.bounty))
    throw new CliError("INVALID_ARGUMENT", `--bounty: not a bounty id: ${o.bounty}`);
  const { config, clients } = await context();
  const bountyId = BigInt(o.bounty);
  const { enrolTrainer } = await import("./enrol.ts");
  const r = await waiting(`enrolling in bounty ${bountyId}`, () =>
    enrolTrainer(
      clients,
      {
        FineTuning: contractAddress(config, "FineTuning"),
        DeviceRegistry: contractAddress(config, "DeviceRegistry"),
      },
      bountyId,
    ),
  );
  out().result({ bountyId, ...r }, () =>
    r.status === "already"
      ? `already enrolled in bounty ${bountyId}`
      : `enrolled in bounty ${bountyId}: ${r.hash}`,
  );
});
const trainReview = train
  .command("review")
  .description(
    "show the model's predictions on your data and take corrections (interactive, or --corrections)",
  )
  .requiredOption("--package <cid>")
  .requiredOption("--sha256 <hex>", "the model's on-chain sha256")
  .option("--schema <id>", "dataset schema", EMAIL_SCHEMA_ID)
  .option("--corrections <file>", "JSON {id: label} or CSV id,label instead of prompting")
  .option("--limit <n>", "records to review interactively", "20");
addExamples(trainReview, [
  "dml-device train review --package bafy… --sha256 0x…",
  "dml-device train review --package bafy… --sha256 0x… --corrections ./labels.csv",
]);
trainReview.action(
  async (o: {
    package: string;
    sha256: string;
    schema: string;
    corrections?: string;
    limit: string;
  }) => {
    const p = paths();
    const config = await loadConfig(p.config);
    const [{ loadDataset }, { loadCorrections, parseCorrectionsFile, saveCorrections }] =
      await Promise.all([import("./dataset.ts"), import("./corrections.ts")]);
    const dataset = await loadDataset(p.datasets, o.schema);
    const current = await loadCorrections(p.corrections, o.schema);
    if (o.corrections !== undefined) {
      const parsed = await parseCorrectionsFile(o.corrections, dataset.records);
      await saveCorrections(p.corrections, o.schema, { ...current, ...parsed });
      const saved = Object.keys(parsed).length;
      out().result({ saved }, `saved ${saved} corrections`);
      return;
    }
    if (json())
      throw new CliError(
        "INVALID_ARGUMENT",
        "--json: the interactive review prints for a person; give --corrections <file>",
      );
    const [{ openContentStore }, { loadVerifiedPackage }, { classifyRecords }] = await Promise.all([
      import("#sdk/ipfs/index.ts"),
      import("./prediction-job.ts"),
      import("#sdk/ml/index.ts"),
    ]);
    const store = await openContentStore({
      heliaDir: p.helia,
      ...(config.kuboUrl ? { kuboUrl: config.kuboUrl } : {}),
    });
    try {
      const pkg = await loadVerifiedPackage(store, o.package, o.sha256);
      const records = dataset.records.slice(0, Number(o.limit));
      const preds = await classifyRecords(
        pkg,
        records.map((r) => ({ subject: r.subject, body: r.body })),
      );
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const labels = pkg.manifest.outputLabels;
      try {
        for (const [i, r] of records.entries()) {
          const pr = preds[i]!;
          const shown = current[r.id] ?? r.label;
          console.log(
            `\n[${r.id}] ${r.subject.slice(0, 100)}\n  ${r.body.replace(/\s+/g, " ").slice(0, 160)}`,
          );
          console.log(
            `  model: ${labels[pr.label]} (p=${(pr.probabilities[pr.label] ?? 0).toFixed(3)})${shown === undefined ? "" : `, your label: ${labels[shown]}`}`,
          );
          const a = (await rl.question(`  label? [${labels.join("/")}, enter = keep, q = quit] `))
            .trim()
            .toLowerCase();
          if (a === "q") break;
          const k = labels.indexOf(a);
          if (k === 0 || k === 1) current[r.id] = k;
        }
      } finally {
        rl.close();
      }
      await saveCorrections(p.corrections, o.schema, current);
      console.log(`saved ${Object.keys(current).length} corrections`);
    } finally {
      await store.close();
    }
  },
);

addExamples(program, [
  "dml-device config init --rpc http://127.0.0.1:8545 --manifest deployments/31337.local.json",
  "DML_DEVICE_PASSWORD=… dml-device wallet create",
  "dml-device data import --mbox ~/mail/inbox.mbox && dml-device consent --any-algorithm",
  "dml-device run",
  "dml-device claim job --job 7",
]);

/** Parses `argv` (user arguments) and runs; a failure is one line on stderr and exit 1 or 2 (sdk/cli/errors.ts). */
export async function main(argv: readonly string[]): Promise<void> {
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (e) {
    // --help and --version end by throwing with exit code 0 under exitOverride
    if ((e as { exitCode?: unknown }).exitCode === 0) return;
    reportCliError("dml-device", e);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href)
  await main(process.argv.slice(2));

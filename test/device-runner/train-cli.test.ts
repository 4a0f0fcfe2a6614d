/**
 * `dml-device train enrol` as an owner runs it (node child processes) against the real protocol on EDR, served as
 * HTTP JSON-RPC: an unregistered device gets one clear line, a registered one enrols on chain, a second call says
 * so and exits 0, a missing bounty is a clear error. And the training data: a labelled SpamAssassin slice, imported
 * with `dml-device data import` in the corpus's own record format, keeps every label and trains the round's package
 * towards it (`trainingRows` → `localUpdate`, TRAINING_DEFAULTS).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { getAddress, type Address } from "viem";
import { generatePrivateKey } from "viem/accounts";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { deviceAccount, type DeviceAccount } from "#sdk/crypto/session-key.ts";
import {
  buildClassifierPackage,
  getFeaturizer,
  hashedBowSpec,
  loadCorpus,
  predict,
  recordText,
  train,
  type Email,
  type LoadedPackage,
  type LogRegWeights,
} from "#sdk/ml/index.ts";
import { TRAINING_DEFAULTS } from "#sdk/protocol/training-round.ts";
import type { DeviceClients } from "../../device-runner/chain.ts";
import { deviceConfigSchema, saveConfig } from "../../device-runner/config.ts";
import { enrolTrainer } from "../../device-runner/enrol.ts";
import { DeviceError } from "../../device-runner/errors.ts";
import { EMAIL_SCHEMA_ID, importDataset } from "../../device-runner/dataset.ts";
import { devicePaths, type DevicePaths } from "../../device-runner/paths.ts";
import { localUpdate, priorShiftOffset, trainingRows } from "../../device-runner/trainer.ts";
import { buildSplitTree } from "#sdk/chain/finetuning.ts";
import { ETHER, label, ProtocolEnv } from "../../bench/fixture/protocol.ts";
import { serveRpc, type RpcServer } from "../e2e/rpc.ts";

const exec = promisify(execFile);
const CLI = path.resolve(import.meta.dirname, "../../device-runner/bin/dml-device.mjs");
const PASSWORD = "train-cli-test-password";
const SCHEMA = label("email/rfc822-v1");

let dir: string;
let paths: DevicePaths;

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    // the node running the tests strips the types itself (faster to start than tsx; docs/toolchain.md)
    const r = await exec(process.execPath, [CLI, "--data-dir", paths.root, ...args], {
      env: { ...process.env, DML_DEVICE_PASSWORD: PASSWORD },
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "dml-train-cli-"));
  paths = devicePaths(path.join(dir, "dev"));
});
after(() => rm(dir, { recursive: true, force: true }));

describe("dml-device train enrol (FineTuning on EDR over JSON-RPC)", () => {
  let env: ProtocolEnv;
  let rpc: RpcServer;
  let device: DeviceAccount;
  let bountyId: bigint;

  before(async () => {
    env = await ProtocolEnv.create();
    rpc = await serveRpc(env.conn.provider);
    await env.send(env.wallet(2), "AlgorithmMarketplace", "list", [
      "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
      label("model.onnx"),
      SCHEMA,
      ETHER,
      0n,
      0n,
      "",
    ]);
    const poster = env.wallet(3);
    await env.fund([getAddress(poster.account.address)], 100n * ETHER);
    await env.approve(poster, "FineTuning");
    await env.send(poster, "FineTuning", "createBounty", [
      {
        algorithmId: await env.read<bigint>("AlgorithmMarketplace", "algorithmCount"),
        controlCid: "bafkreicontrolcontrolcontrolcontrolcontrolcontrolcontrolcon",
        metricId: label("accuracy"),
        minGainBps: 100,
        rewardPool: 10n * ETHER,
        rounds: 1,
        groupSize: 0,
        roundDuration: 3_600,
        splitRoot: buildSplitTree([{ round: 0, cid: "bafkreisplit", salt: label("salt") }]).root,
        baselineMetric: 8n * 10n ** 17n,
        splitWindow: 3_600,
      },
    ]);
    bountyId = await env.read<bigint>("FineTuning", "bountyCount");
    const key = generatePrivateKey();
    device = deviceAccount(key);
    await createKeystore(paths.keystore, PASSWORD, { importKey: key, scrypt: LIGHT_SCRYPT });
    await env.conn.networkHelpers.setBalance(device.address, ETHER);
    await saveConfig(
      paths.config,
      deviceConfigSchema.parse({
        rpcUrl: rpc.url,
        chainId: 31337,
        confirmations: 0,
        contracts: Object.fromEntries(
          Object.entries(env.manifest.contracts).map(([k, v]) => [k, v.address]),
        ),
      }),
    );
  });
  after(() => rpc?.close());

  const enrolled = (who: Address) => env.read<boolean>("FineTuning", "isEnrolled", [bountyId, who]);

  it("an unregistered device is told to register first, a missing bounty is one clear line; exit 1, nothing sent", async () => {
    const [unregistered, missing] = await Promise.all([
      run(["train", "enrol", "--bounty", bountyId.toString()]),
      run(["train", "enrol", "--bounty", "9"]),
    ]);
    assert.equal(unregistered.code, 1);
    assert.equal(
      unregistered.err,
      `dml-device: error[NOT_REGISTERED]: ${device.address} is not a registered device: run \`dml-device consent\` first\n`,
    );
    assert.equal(missing.code, 1);
    assert.equal(
      missing.err,
      "dml-device: error[BOUNTY_NOT_ACTIVE]: bounty 9 does not exist (FineTuning has 1 bounty)\n",
    );
    assert.equal(await enrolled(device.address), false);
    assert.equal(await env.pub.getTransactionCount({ address: device.address }), 0);
  });

  it("a registered device enrols on chain; a second call says so and exits 0", async () => {
    await env.registerDevices([device], SCHEMA);
    const first = await run(["train", "enrol", "--bounty", bountyId.toString()]);
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, new RegExp(`^enrolled in bounty ${bountyId}: 0x[0-9a-f]{64}\n$`));
    assert.equal(await enrolled(device.address), true);
    const again = await run(["train", "enrol", "--bounty", bountyId.toString()]);
    assert.equal(again.code, 0, again.err);
    assert.equal(again.out, `already enrolled in bounty ${bountyId}\n`);
    const b = await env.read<{ trainerCount: number }>("FineTuning", "getBounty", [bountyId]);
    assert.equal(b.trainerCount, 1);
  });

  it("a finalised bounty takes no more trainers (BOUNTY_NOT_ACTIVE, nothing sent); its trainers stay enrolled", async () => {
    // the bounty's only round closes without a candidate: the bounty is finalised
    const opened = await env.read<{ roundOpenedAt: bigint; roundDuration: number }>(
      "FineTuning",
      "getBounty",
      [bountyId],
    );
    await env.warpTo(opened.roundOpenedAt + BigInt(opened.roundDuration) + 1n);
    await env.send(env.wallet(6), "FineTuning", "closeRound", [bountyId]);
    const late = deviceAccount(generatePrivateKey());
    await env.registerDevices([late], SCHEMA);
    const clients = {
      publicClient: env.pub,
      walletClient: await env.localWallet(late),
    } as unknown as DeviceClients;
    const contracts = {
      FineTuning: env.addr("FineTuning"),
      DeviceRegistry: env.addr("DeviceRegistry"),
    };
    await assert.rejects(
      enrolTrainer(clients, contracts, bountyId),
      (e) =>
        e instanceof DeviceError &&
        e.code === "BOUNTY_NOT_ACTIVE" &&
        e.message === `bounty ${bountyId} is finalized: it takes no more trainers`,
    );
    const nonce = await env.pub.getTransactionCount({ address: late.address });
    assert.equal(nonce, 3, "approve, register, setSessionKey: no enrol sent");
    const enrolledClients = {
      publicClient: env.pub,
      walletClient: await env.localWallet(device),
    } as unknown as DeviceClients;
    assert.deepEqual(await enrolTrainer(enrolledClients, contracts, bountyId), {
      status: "already",
    });
  });
});

describe("training data: a labelled SpamAssassin slice imported as dml-device data import does", () => {
  it("keeps every label of the corpus records and trains the package towards them", async () => {
    const corpus = await loadCorpus();
    const pick = (spam: 0 | 1, n: number) => corpus.filter((e) => e.label === spam).slice(0, n);
    const slice: Email[] = [...pick(1, 60), ...pick(0, 60)];
    // the corpus cache's own lines ({id, group, label, subject, body}), as a user would cut them from it
    const src = path.join(dir, "slice.jsonl");
    await writeFile(src, slice.map((e) => JSON.stringify(e)).join("\n") + "\n");
    // what `dml-device data import --jsonl` runs (its CLI path is in cli.test.ts)
    const meta = await importDataset(paths.datasets, EMAIL_SCHEMA_ID, "jsonl", src);
    assert.equal(meta.count, slice.length);
    assert.equal(meta.labelled, slice.length);

    const rows = await trainingRows(paths, "email/rfc822-v1");
    assert.deepEqual(
      rows.map((r) => [r.record.id, r.label]),
      slice.map((e) => [e.id, e.label]),
    );
    // the round's package: a weak start (4 toy texts); a trainer's update moves it towards the slice's labels
    const f = getFeaturizer(hashedBowSpec());
    const toy = ["win money now", "free prize click here", "meeting at noon", "see the notes"];
    const built = buildClassifierPackage(
      train({ x: toy.map((t) => f.featurize(t)), y: [1, 1, 0, 0] }, 2, 20),
    );
    const pkg: LoadedPackage = {
      cid: "local",
      manifest: built.manifest,
      model: built.model,
      featurizer: getFeaturizer(built.manifest.featurizer),
    };
    const { before, after, delta, vector } = localUpdate(pkg, rows, TRAINING_DEFAULTS);
    const accuracy = (w: LogRegWeights) =>
      rows.filter(
        (r) =>
          predict(
            w,
            f.featurize(
              recordText(built.manifest.inputSchema, {
                subject: r.record.subject,
                body: r.record.body,
              }),
            ),
          ) === r.label,
      ).length / rows.length;
    assert.ok(
      accuracy(after) > accuracy(before) + 0.1,
      `accuracy ${accuracy(before)} → ${accuracy(after)}`,
    );
    let norm = 0;
    for (const d of delta) norm += d * d;
    assert.ok(Math.sqrt(norm) <= TRAINING_DEFAULTS.clipNorm + 1e-9 && norm > 0);
    assert.equal(vector.length, delta.length + 1);
    assert.equal(
      Math.round(vector[delta.length]! * 2 ** 16),
      slice.length,
      "n rides in the last slot",
    );
  });
});

describe("the prior-shift correction of a trainer's local training", () => {
  const f = getFeaturizer(hashedBowSpec());
  const toy = ["win money now", "free prize click here", "meeting at noon", "see the notes"];
  const weights = train({ x: toy.map((t) => f.featurize(t)), y: [1, 1, 0, 0] }, 2, 20);
  const plain = buildClassifierPackage(weights).manifest;
  const withControl = {
    ...plain,
    controlGroup: {
      source: "test",
      recordsSha256: "0".repeat(64),
      confusion: [
        [70, 5],
        [10, 15],
      ],
    },
  };

  it("is log(local share / control-group share) per class, add-one smoothed; none without a control group", () => {
    // control group: 75 ham, 25 spam → (76, 26) / 102; the inbox: 3 ham, 1 spam → (4, 2) / 6
    const offset = priorShiftOffset(withControl, [0, 0, 1, 0]);
    assert.equal(offset.length, 2);
    assert.ok(Math.abs(offset[0]! - Math.log(4 / 6 / (76 / 102))) < 1e-12);
    assert.ok(Math.abs(offset[1]! - Math.log(2 / 6 / (26 / 102))) < 1e-12);
    // an all-ham inbox lowers the spam logit while it trains, an all-spam one raises it
    assert.ok(priorShiftOffset(withControl, [0, 0, 0, 0, 0, 0])[1]! < 0);
    assert.ok(priorShiftOffset(withControl, [1, 1, 1, 1, 1, 1])[1]! > 0);
    assert.deepEqual(priorShiftOffset(plain, [0, 1]), []);
    assert.deepEqual(
      priorShiftOffset(
        { ...withControl, controlGroup: { ...withControl.controlGroup, confusion: [[1]] } },
        [0],
      ),
      [],
    );
  });

  it("localUpdate trains with it: an all-ham inbox moves the spam bias less than without it", () => {
    const rows = [
      "meeting moved to friday",
      "lunch at noon",
      "notes from the call",
      "see attached",
    ].map((subject, i) => ({ record: { subject, body: `hello ${i}` }, label: 0 as const }));
    const pkg = (manifest: typeof plain): LoadedPackage => ({
      cid: "local",
      manifest,
      model: buildClassifierPackage(weights).model,
      featurizer: f,
    });
    const spamBias = (d: Float64Array) => d[d.length - 1]!; // flatten layout: W…, b0, b1
    const without = localUpdate(pkg(plain), rows, TRAINING_DEFAULTS).delta;
    const corrected = localUpdate(pkg(withControl), rows, TRAINING_DEFAULTS).delta;
    assert.ok(spamBias(without) < 0);
    assert.ok(
      Math.abs(spamBias(corrected)) < Math.abs(spamBias(without)),
      `${spamBias(corrected)} vs ${spamBias(without)}`,
    );
  });
});

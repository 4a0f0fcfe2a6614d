/**
 * A real `dml-relayer watcher` process against the EDR chain (served over HTTP JSON-RPC on 127.0.0.1) with its own
 * keystore, data directory and Helia copy. A distributor posts a connected set with a forged heartbeat signature while
 * the watcher runs: the watcher proves it (`challengeSignature`), the poster is slashed, the watcher's balance rises by
 * the challenger share; SIGTERM exits 0; restarted on the same data directory it sends nothing more. Prints the time
 * from the post to the challenge and the process's CPU time and memory (from /metrics).
 *
 * Then a cohort: the distributor (played by the test) draws a job's cohort and assigns a list whose last member is
 * not the drawn one (the next device in draw order replaces it, the way a distributor would seat a device of its
 * own). A fresh watcher process proves the omission (`challengeCohortOmission`): the job fails, the distributor's
 * stake drops by the slash amount, the watcher's DML balance rises by the challenger share; restarted on the same
 * data directory it sends nothing more.
 */
import assert from "node:assert/strict";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { bytesToHex, getAddress, type Address, type Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { DEV_MNEMONIC } from "#sdk/chain/clients.ts";
import { buildCohortTree, type CohortMember } from "#sdk/chain/cohort.ts";
import { buildConnectedSet, CONNECTED_SET_LEAF_ENCODING } from "#sdk/chain/connected-set.ts";
import { writeManifest } from "#sdk/chain/manifest.ts";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { signHeartbeatMessage } from "#sdk/protocol/heartbeat.ts";
import { drawnCohortList, encodeCohortList } from "../../sdk/protocol/cohort.ts";
import { JOB, JobLifecycle, who } from "../../bench/fixture/job-run.ts";
import { abi, ETHER, JobStatus, Role } from "../../bench/fixture/protocol.ts";
import { killAll, startRelayer, waitFor, type RelayerProcess } from "./helpers.ts";

import { serveRpc, type RpcServer } from "../e2e/rpc.ts";

const CLI = path.resolve(import.meta.dirname, "../../relayers/bin/dml-relayer.mjs");
const PASSWORD = "watcher password";
const WATCHER = 16;
/** `IResultAttestation.CohortFault.Omitted`. */
const OMITTED = 4;

describe("dml-relayer watcher process on EDR", () => {
  let life: JobLifecycle;
  let tmp: string;
  let rpc: RpcServer;

  before(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "dml-watcher-proc-"));
    life = await JobLifecycle.create();
    rpc = await serveRpc(life.env.conn.provider);
  });
  /** A keystore of the watcher's dev-chain key in `dir`, and a copy of the test's Helia blocks. */
  async function watcherDir(dir: string): Promise<Address> {
    await cp(path.join(tmp, "helia"), path.join(dir, "ipfs"), { recursive: true });
    const acct = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: WATCHER });
    assert.equal(getAddress(acct.address), who(life.env.wallet(WATCHER)));
    await createKeystore(path.join(dir, "keystore.json"), PASSWORD, {
      importKey: bytesToHex(acct.getHdKey().privateKey!),
      scrypt: LIGHT_SCRYPT,
    });
    return getAddress(acct.address);
  }
  const startWatcher = (dir: string, manifestFile: string): RelayerProcess =>
    startRelayer(
      [
        "watcher",
        "--data-dir",
        dir,
        "--rpc-url",
        rpc.url,
        "--manifest",
        manifestFile,
        "--metrics-port",
        "0",
        "--tick-interval-ms",
        "200",
        "--retry-base-ms",
        "200",
        "--fetch-timeout-ms",
        "10000",
      ],
      { DML_KEYSTORE_PASSWORD: PASSWORD },
      CLI,
    );
  /** Restarted on `dir`: a few ticks, no transaction from the watcher; SIGTERM exits 0. */
  async function restartSendsNothing(dir: string, manifestFile: string, me: Address) {
    const nonce = await life.env.pub.getTransactionCount({ address: me });
    const q = startWatcher(dir, manifestFile);
    const url = await q.ready;
    await waitFor("three ticks", async () => {
      const h = (await (await fetch(`${url}/healthz`)).json()) as { ticks: number };
      return h.ticks >= 3;
    });
    assert.equal(
      await life.env.pub.getTransactionCount({ address: me }),
      nonce,
      "no transaction sent",
    );
    q.child.kill("SIGTERM");
    assert.equal(await q.exited, 0, q.stderr());
  }

  after(async () => {
    killAll();
    rpc.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it("catches a post with a forged heartbeat signature, is paid the challenger share, and never challenges twice", async () => {
    const { env } = life;
    const rogue = env.wallet(15);
    await env.stakeNode(rogue, Role.Distributor, 10_000n * ETHER);
    const devices = life.poolDevices(12);
    await env.registerDevices(devices, JOB.SCHEMA);

    // the list the rogue will post: device 5's leaf carries device 4's signature
    const epoch = await env.read<bigint>("GrowthPool", "nextEpoch");
    await env.warpTo(await env.read<bigint>("GrowthPool", "epochEnd", [epoch]));
    const domain = { chainId: env.pub.chain!.id, verifyingContract: env.addr("DeviceRegistry") };
    const leaves = await Promise.all(
      devices.map(async (d, i): Promise<[string, string, string]> => [
        `${i}`,
        d.address,
        await signHeartbeatMessage(i === 5 ? devices[4]! : d, domain, epoch),
      ]),
    );
    const tree = StandardMerkleTree.of(leaves, [...CONNECTED_SET_LEAF_ENCODING]);
    const store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    const cid = await store.addBytes(new TextEncoder().encode(JSON.stringify(tree.dump())));
    await store.close();

    const dir = path.join(tmp, "watcher");
    const me = await watcherDir(dir);
    const manifestFile = path.join(tmp, "manifest.json");
    writeManifest(manifestFile, env.manifest);
    const start = () => startWatcher(dir, manifestFile);
    const challenges = async () =>
      (
        await env.pub.getContractEvents({
          address: env.addr("GrowthPool"),
          abi: abi("GrowthPool"),
          eventName: "PostChallenged",
          args: { epoch },
          fromBlock: 0n,
        })
      ).map(
        (e) =>
          (e as unknown as { args: { challenger: Address; fault: number; slashed: bigint } }).args,
      );

    const p = start();
    const metricsUrl = await p.ready;
    const balance0 = await env.balance(me);
    const t0 = performance.now();
    await env.send(rogue, "GrowthPool", "postEpoch", [epoch, tree.root, BigInt(tree.length), cid]);
    await waitFor("the watcher's challenge", async () => (await challenges()).length > 0, 60_000);
    const postToChallengeMs = performance.now() - t0;
    const [ev] = await challenges();
    assert.equal(getAddress(ev!.challenger), me);
    assert.equal(ev!.fault, 1, "BadSignature");
    assert.equal(ev!.slashed, 10_000n * ETHER);
    const shareBps = BigInt(await env.read<number>("NodeStaking", "challengerShareBps"));
    assert.equal((await env.balance(me)) - balance0, (ev!.slashed * shareBps) / 10_000n);

    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    console.log(
      "watcher process:",
      JSON.stringify({
        postToChallengeMs: Math.round(postToChallengeMs),
        cpuSeconds: num(/^dml_relayer_process_cpu_seconds_total(?:\{[^}]*\})? (\S+)$/m),
        rssMiB: Math.round(
          num(/^dml_relayer_process_resident_memory_bytes(?:\{[^}]*\})? (\S+)$/m) / 2 ** 20,
        ),
        challengeLatencyS: num(
          /^dml_relayer_action_latency_seconds_sum\{role="watcher",type="challenge-set"\} (\S+)$/m,
        ),
      }),
    );
    p.child.kill("SIGTERM");
    assert.equal(await p.exited, 0, p.stderr());

    // restarted on the same data directory: a few ticks, nothing sent
    await restartSendsNothing(dir, manifestFile, me);
    assert.equal((await challenges()).length, 1);
  });
  it("catches a cohort with a non-drawn member: the distributor is slashed, the watcher paid, a restart sends nothing", async () => {
    const { env } = life;
    const N = 8;
    // an honest connected set of 12 devices, its list on Helia (the omission proof needs the omitted device's leaf)
    const devices = life.poolDevices(12);
    await env.registerDevices(devices, JOB.SCHEMA);
    const store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    const epoch = await env.read<bigint>("GrowthPool", "nextEpoch");
    await env.warpTo(await env.read<bigint>("GrowthPool", "epochEnd", [epoch]));
    const domain = { chainId: env.pub.chain!.id, verifyingContract: env.addr("DeviceRegistry") };
    const leaves = await Promise.all(
      devices.map(async (d, i): Promise<[string, string, string]> => [
        `${i}`,
        d.address,
        await signHeartbeatMessage(d, domain, epoch),
      ]),
    );
    const setTree = StandardMerkleTree.of(leaves, [...CONNECTED_SET_LEAF_ENCODING]);
    const setCid = await store.addBytes(new TextEncoder().encode(JSON.stringify(setTree.dump())));
    await env.send(life.distributor, "GrowthPool", "postEpoch", [
      epoch,
      setTree.root,
      BigInt(setTree.length),
      setCid,
    ]);
    const [, , finalAt] = await env.read<readonly [Hex, bigint, bigint]>(
      "GrowthPool",
      "connectedSet",
      [epoch],
    );
    await env.warpTo(finalAt + 1n);
    const set = buildConnectedSet(
      leaves.map(([, device, signature]) => ({
        device: device as Address,
        signature: signature as Hex,
      })),
    );
    assert.equal(set.root, setTree.root);
    life.connectedSets.push({ epoch, finalAt, tree: set, devices });

    const jobId = await life.schedule(life.spec(N, { devices: N, participants: N - 2 }));
    // the draw's first N+1 devices: the posted list keeps the first N-1 and seats the (N+1)-th in place of the N-th
    const wide = await life.drawCohortOf(jobId, N + 1);
    const omitted = wide.members[N - 1]!;
    const members: CohortMember[] = [
      ...wide.members.slice(0, N - 1),
      { ...wide.members[N]!, position: N - 1 },
    ];
    const tree = buildCohortTree(members);
    const cid = await store.addBytes(
      encodeCohortList(drawnCohortList(jobId, wide.connectedEpoch, members)),
    );
    await store.close();

    const dir = path.join(tmp, "cohort-watcher");
    const me = await watcherDir(dir);
    const manifestFile = path.join(tmp, "manifest.json");
    writeManifest(manifestFile, env.manifest);
    const distributor = who(life.distributor);
    const stakeOf = () =>
      env.read<bigint>("NodeStaking", "stakeOf", [distributor, Role.Distributor]);
    const challenges = async () =>
      (
        await env.pub.getContractEvents({
          address: env.addr("ResultAttestation"),
          abi: abi("ResultAttestation"),
          eventName: "CohortChallenged",
          args: { jobId },
          fromBlock: 0n,
        })
      ).map(
        (e) =>
          (
            e as unknown as {
              args: { distributor: Address; challenger: Address; fault: number; slashed: bigint };
            }
          ).args,
      );

    const p = startWatcher(dir, manifestFile);
    await p.ready;
    const [balance0, stake0] = [await env.balance(me), await stakeOf()];
    await life.assign(jobId, tree.root, N, cid, wide.connectedEpoch);
    await waitFor(
      "the watcher's challenge",
      async () => (await challenges()).length > 0,
      60_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\nwatcher stderr:\n${p.stderr()}`, { cause: e });
    });
    const [ev] = await challenges();
    assert.equal(getAddress(ev!.challenger), me);
    assert.equal(getAddress(ev!.distributor), distributor);
    assert.equal(ev!.fault, OMITTED, "Omitted");
    assert.equal(ev!.slashed, JOB.SLASH);
    assert.notEqual(getAddress(omitted.device), getAddress(members[N - 1]!.device));
    assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Failed);
    assert.equal(stake0 - (await stakeOf()), JOB.SLASH, "the distributor is slashed");
    const shareBps = BigInt(await env.read<number>("NodeStaking", "challengerShareBps"));
    assert.equal(
      (await env.balance(me)) - balance0,
      (JOB.SLASH * shareBps) / 10_000n,
      "the watcher is paid the challenger share",
    );
    p.child.kill("SIGTERM");
    assert.equal(await p.exited, 0, p.stderr());

    await restartSendsNothing(dir, manifestFile, me);
    assert.equal((await challenges()).length, 1);
  });
});

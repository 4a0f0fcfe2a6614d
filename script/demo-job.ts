/**
 * The main job of `npm start`, after the deployment: one prediction job on the embedded chain, run by every party the
 * way a real deployment runs it, with real parts only (EDR, Helia, ONNX Runtime, SecAgg over HTTP, ECIES, Merkle
 * claims):
 *
 *   developer   trains the reference spam classifier, publishes its package on Helia and lists it;
 *   operators   (distributor, aggregator, reporter, attestors) stake; the aggregator's NodeStaking endpoint is a
 *               real SecAgg HTTP server on loopback;
 *   customer    creates a job with its report key, wins the sealed-bid auction;
 *   distributor publishes a cohort of device runners holding SpamAssassin inboxes and assigns it through
 *               ResultAttestation, which draws the attestors from the job's seed (a block hash fixed after scheduling);
 *   devices     `dml-device run` once each (one is offline): chain watcher → package check → ONNX → SecAgg;
 *   aggregator  publishes the transcript and commits the job's resultHash (aggregate hash, payout root and total,
 *               participants, quality); each drawn attestor derives the same result from the transcript on its own
 *               (INVALID when it cannot fetch or verify it) and commit-reveals it;
 *   reporter    encrypts the report to the customer's key, posts it with the attested result and the payout list;
 *   customer    decrypts the report; devices claim their rewards from `ReportPosted` alone.
 *
 * Accounts are Hardhat's dev mnemonic (#1 is the genesis faucet); the chain is moved through the auction and
 * attestation windows with `evm_setNextBlockTimestamp` (dev chain only). Data under `.data/demo/` is recreated on
 * every run, like the chain.
 */
import { randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import pino from "pino";
import {
  createTestClient,
  formatEther,
  getAddress,
  http,
  keccak256,
  parseEther,
  toHex,
  type Address,
  type Hex,
} from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { deviceAccount, type DeviceAccount } from "#sdk/crypto/session-key.ts";
import { protocolAbi } from "#sdk/chain/contracts.ts";
import { TxSender } from "#sdk/chain/tx-sender.ts";
import {
  createChainWalletClient,
  devAccount,
  type ChainPublicClient,
  type ChainWalletClient,
} from "#sdk/chain/clients.ts";
import { aggregateCommitment, bidCommitment } from "#sdk/chain/commitments.ts";
import { jobSeed, resultHash } from "#sdk/chain/result.ts";
import { JobStatus, Role } from "#sdk/chain/enums.ts";
import { ChainError } from "#sdk/chain/errors.ts";
import type { Manifest } from "#sdk/chain/manifest.ts";
import { decryptReport, encryptReport, reportKeyPair } from "#sdk/crypto/report.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { deriveOperatorKey, walletSigner } from "#sdk/crypto/operator-key.ts";
import type { AdjustedEstimate, Estimate } from "#sdk/ml/estimate.ts";
import {
  buildReferencePackage,
  prepareWorkload,
  referenceManifestFields,
  publishPackage,
  trainReference,
} from "#sdk/ml/index.ts";
import { attestJob } from "#sdk/protocol/attestor.ts";
import { chainAttestorReads } from "#sdk/protocol/attestor-chain.ts";
import { commitVote, revealVote } from "#sdk/protocol/attestor-vote.ts";
import { deriveJobResult } from "#sdk/protocol/job-result.ts";
import { chainJobModelReads, jobModelOf } from "#sdk/protocol/job-model.ts";
import { attestorRecipients, publishSealedTranscript } from "#sdk/protocol/transcript-publish.ts";
import { SecAggHttpServer } from "#sdk/secagg/index.ts";
import type { DeviceClients, DevicePublicClient } from "../device-runner/chain.ts";
import {
  cohortRoot,
  drawnCohortList,
  encodeCohortList,
  type CohortList,
} from "#sdk/protocol/cohort.ts";
import { registerConsent, saveLocalConsent } from "../device-runner/consent.ts";
import { signHeartbeatMessage } from "#sdk/protocol/heartbeat.ts";
import { buildConnectedSet } from "#sdk/chain/connected-set.ts";
import { drawCohort, type CohortCandidate } from "#sdk/chain/cohort.ts";
import { deviceConfigSchema } from "../device-runner/config.ts";
import { runDaemon } from "../device-runner/daemon.ts";
import { importDataset, schemaHash } from "../device-runner/dataset.ts";
import { JobStateStore } from "../device-runner/job-state.ts";
import { devicePaths, type DevicePaths } from "../device-runner/paths.ts";
import { DEFAULT_PRIVACY_SPEC } from "#sdk/privacy/index.ts";
import { claimJobPayout } from "../device-runner/rewards.ts";
import { jobSessionConfig } from "#sdk/protocol/session.ts";

const DEVICES = 8;
const OFFLINE = 1; // the last device never comes online
const MIN_PARTICIPANTS = DEVICES - OFFLINE;
const REWARD = parseEther("2");
const BID = parseEther("3");
const USE_PRICE = parseEther("5");
// the customer accepts a standard error of 0.15 on the spam share (adjusted, with DP noise) from ≥ 5 devices
const MAX_STD_ERROR = 15n * 10n ** 16n; // 0.15, fixed point 1e18
const SCHEMA_ID = "email/rfc822-v1";

export interface DemoContext {
  rpcUrl: string;
  publicClient: ChainPublicClient;
  manifest: Manifest;
  dataDir: string;
  print: (line: string) => void;
}

type Wallet = ChainWalletClient;

/** Chain I/O of the demo: named contract calls that must succeed, time moves, gas accounting. */
class Chain {
  gasUsed = 0n;
  readonly pub: ChainPublicClient;
  readonly manifest: Manifest;
  readonly test: ReturnType<typeof createTestClient>;
  constructor(
    pub: ChainPublicClient,
    manifest: Manifest,
    test: ReturnType<typeof createTestClient>,
  ) {
    this.pub = pub;
    this.manifest = manifest;
    this.test = test;
  }

  addr(name: string): Address {
    const a = this.manifest.contracts[name]?.address;
    if (!a) throw new ChainError("START", `${name} is not in the deployment manifest`);
    return a;
  }

  read<T>(name: string, functionName: string, args: readonly unknown[] = []): Promise<T> {
    return this.pub.readContract({
      address: this.addr(name),
      abi: protocolAbi(name),
      functionName,
      args,
    }) as Promise<T>;
  }

  /** One TxSender per signer: nonces from the chain, reverts named, stuck transactions replaced. */
  private readonly senders = new Map<Address, Promise<TxSender>>();

  async send(w: Wallet, name: string, functionName: string, args: readonly unknown[]) {
    let sender = this.senders.get(w.account.address);
    if (!sender) {
      sender = TxSender.create({ publicClient: this.pub, walletClient: w });
      this.senders.set(w.account.address, sender);
    }
    const { receipt } = await (
      await sender
    ).send({ address: this.addr(name), abi: protocolAbi(name), functionName, args });
    this.gasUsed += receipt.gasUsed;
    return receipt;
  }

  async now(): Promise<bigint> {
    return (await this.pub.getBlock()).timestamp;
  }

  async warpTo(ts: bigint): Promise<void> {
    if ((await this.now()) >= ts) return;
    await this.test.setNextBlockTimestamp({ timestamp: ts });
    await this.test.mine({ blocks: 1 });
  }

  status(jobId: bigint): Promise<number> {
    return this.read<number>("JobMarket", "status", [jobId]);
  }
}

/** Runs the demo job; returns the job id and the total the devices claimed. */
export async function runDemoJob(ctx: DemoContext): Promise<{ jobId: bigint; paid: bigint }> {
  const started = Date.now();
  const { print } = ctx;
  const chainId = await ctx.publicClient.getChainId();
  const chain = new Chain(
    ctx.publicClient,
    ctx.manifest,
    createTestClient({ mode: "hardhat", transport: http(ctx.rpcUrl) }),
  );
  const wallet = (i: number) => createChainWalletClient(devAccount(i), ctx.rpcUrl, chainId);
  const [faucet, customer, developer, distributor, aggregator, reporter, keeper] = [
    1, 2, 3, 4, 5, 6, 11,
  ].map(wallet) as [Wallet, Wallet, Wallet, Wallet, Wallet, Wallet, Wallet];
  const attestors = [7, 8, 9, 10].map(wallet);
  const who = (w: Wallet) => getAddress(w.account.address);
  const deviceClients = (account: PrivateKeyAccount) =>
    ({
      publicClient: chain.pub,
      walletClient: createChainWalletClient(account, ctx.rpcUrl, chainId),
    }) as unknown as DeviceClients;

  const root = path.join(ctx.dataDir, "demo");
  await rm(root, { recursive: true, force: true });
  const store = await HeliaStore.open({ dir: path.join(root, "helia") });
  const secagg = new SecAggHttpServer();
  try {
    // developer: train, package, publish, list
    print("training the reference spam classifier on the developer's public slice …");
    const workload = await prepareWorkload();
    // the package publishes the model's confusion matrix on the held-out control group (PROTOCOL.md §7.11)
    // … with distributed DP noise on every device's result vector (docs/privacy.md)
    const built = await buildReferencePackage(workload, trainReference(workload), {
      ...referenceManifestFields(),
      privacy: DEFAULT_PRIVACY_SPEC,
    });
    const packageCid = await publishPackage(store, built.manifest, built.model);
    await chain.send(developer, "AlgorithmMarketplace", "list", [
      packageCid,
      `0x${built.manifest.modelSha256}`,
      schemaHash(SCHEMA_ID),
      USE_PRICE,
      0n,
      0n,
      "",
    ]);
    const algorithmId = await chain.read<bigint>("AlgorithmMarketplace", "algorithmCount");
    print(`algorithm ${algorithmId} listed: package ${packageCid}`);

    // operators: funds from the genesis faucet, registration, stake; the aggregator serves SecAgg
    const aggregatorUrl = await secagg.listen();
    const stakes: [Wallet, number, string][] = [
      [distributor, Role.Distributor, "http://127.0.0.1:1/distributor"],
      [aggregator, Role.Aggregator, aggregatorUrl],
      [reporter, Role.Reporter, "http://127.0.0.1:1/reporter"],
      ...attestors.map((a): [Wallet, number, string] => [
        a,
        Role.Attestor,
        "http://127.0.0.1:1/attestor",
      ]),
    ];
    for (const [w, role, endpoint] of stakes) {
      const min = await chain.read<bigint>("NodeStaking", "minStake", [role]);
      await chain.send(faucet, "DMLToken", "transfer", [who(w), min]);
      // the operator's X25519 key derives from its wallet (sdk/crypto/operator-key.ts): sealed transcripts reach it
      const { publicKey } = await deriveOperatorKey(walletSigner(w));
      await chain.send(w, "NodeStaking", "register", [endpoint, publicKey, "{}"]);
      await chain.send(w, "DMLToken", "approve", [chain.addr("NodeStaking"), min]);
      await chain.send(w, "NodeStaking", "stake", [role, min]);
    }
    print(`${stakes.length} operators staked; aggregator SecAgg endpoint ${aggregatorUrl}`);

    // devices: device runners with their own keys and inboxes; each registers with the DeviceRegistry (posting
    // its bond, consenting to the schema) and signs its heartbeat for the growth pool's epoch; the distributor
    // posts their connected set, which stands after its challenge window — before any job's seed exists, so
    // cohorts are drawn from it (PROTOCOL.md §7.2–7.3)
    const devices: { paths: DevicePaths; account: DeviceAccount }[] = [];
    for (let i = 0; i < DEVICES; i++) {
      const paths = devicePaths(path.join(root, "devices", String(i)));
      const inbox = workload.split.inboxes[i]!.emails;
      const src = path.join(root, `inbox-${i}.jsonl`);
      await writeFile(
        src,
        inbox.map((e) => JSON.stringify({ id: e.id, subject: e.subject, text: e.body })).join("\n"),
      );
      await importDataset(paths.datasets, SCHEMA_ID, "jsonl", src);
      await rm(src);
      devices.push({
        paths,
        account: deviceAccount(keccak256(toHex(`dml demo device ${i}`))),
      });
    }
    const registry = chain.addr("DeviceRegistry");
    const bond = await chain.read<bigint>("DeviceRegistry", "deviceBond");
    for (const d of devices) {
      await chain.send(faucet, "DMLToken", "transfer", [d.account.address, bond]);
      const gas = await faucet.sendTransaction({
        to: d.account.address,
        value: parseEther("0.01"),
      });
      await chain.pub.waitForTransactionReceipt({ hash: gas });
      // the owner's consent, kept locally (what the runner follows) and registered on chain
      const consent = {
        schemas: [SCHEMA_ID],
        anyAlgorithmInSchema: true,
        algorithms: [],
        priceFloor: 0n,
      };
      await saveLocalConsent(d.paths.consent, consent);
      await registerConsent(
        deviceClients(d.account),
        registry,
        consent,
        d.account.session.sessionKey,
      );
    }
    const growthEpoch = await chain.read<bigint>("GrowthPool", "nextEpoch");
    await chain.warpTo(await chain.read<bigint>("GrowthPool", "epochEnd", [growthEpoch]));
    const heartbeatDomain = { chainId, verifyingContract: registry };
    const connected = buildConnectedSet(
      await Promise.all(
        devices.map(async (d) => ({
          device: d.account.address,
          signature: await signHeartbeatMessage(d.account, heartbeatDomain, growthEpoch),
        })),
      ),
    );
    await chain.send(distributor, "GrowthPool", "postEpoch", [
      growthEpoch,
      connected.root,
      BigInt(devices.length),
      await store.addBytes(new TextEncoder().encode(JSON.stringify(connected.tree.dump()))),
    ]);
    const [, , standsAt] = await chain.read<readonly [Hex, bigint, bigint]>(
      "GrowthPool",
      "connectedSet",
      [growthEpoch],
    );
    await chain.warpTo(standsAt + 1n);
    print(
      `${devices.length} devices registered; their connected set for growth epoch ${growthEpoch} stands`,
    );

    // customer: a job with its report key, one sealed bid
    const reportKey = reportKeyPair();
    await chain.send(faucet, "DMLToken", "transfer", [who(customer), parseEther("1000")]);
    for (const spender of ["JobMarket", "AlgorithmMarketplace"])
      await chain.send(customer, "DMLToken", "approve", [chain.addr(spender), parseEther("1000")]);
    let epoch = await chain.read<bigint>("JobMarket", "currentEpoch");
    let windows = await chain.read<readonly bigint[]>("JobMarket", "epochWindows", [epoch]);
    if ((await chain.now()) + 60n >= windows[1]!) {
      await chain.warpTo(windows[3]!);
      epoch += 1n;
      windows = await chain.read<readonly bigint[]>("JobMarket", "epochWindows", [epoch]);
    }
    const lifecycleGasFrom = chain.gasUsed;
    await chain.send(customer, "JobMarket", "createJob", [
      {
        algorithmId,
        schema: schemaHash(SCHEMA_ID),
        minDevices: DEVICES,
        maxDevices: DEVICES,
        rewardPerDevice: REWARD,
        minParticipants: MIN_PARTICIPANTS,
        maxStdError: MAX_STD_ERROR,
        encryptionKey: reportKey.publicKey,
        durations: {
          bidding: 7 * 86_400,
          assignment: 3_600,
          commit: 7_200,
          attestation: 3_600,
          report: 3_600,
          settlement: 3_600,
        },
        maxUsePrice: USE_PRICE,
      },
    ]);
    const jobId = await chain.read<bigint>("JobMarket", "jobCount");
    const bidSalt = keccak256(randomBytes(32));
    await chain.send(customer, "JobMarket", "commitBid", [
      jobId,
      bidCommitment(jobId, BID, bidSalt, who(customer)),
      BID,
    ]);
    await chain.warpTo(windows[1]!);
    await chain.send(keeper, "JobMarket", "revealBid", [jobId, BID, bidSalt]);
    await chain.warpTo(windows[2]!);
    await chain.send(keeper, "JobMarket", "finalizeEpoch", [epoch]);
    if ((await chain.status(jobId)) !== JobStatus.Scheduled)
      throw new ChainError("START", `job ${jobId} was not scheduled`);
    print(`job ${jobId} created and scheduled in auction epoch ${epoch}`);

    const startBlock = await chain.pub.getBlockNumber({ cacheTime: 0 });
    // The epoch's seed is the hash of the block after finalizeEpoch's (EpochSeedArmed): it must exist before the
    // distributor assigns (the assignment fixes it). A live chain moves on by itself; the dev chain mines on demand.
    const [armed] = await chain.pub.getContractEvents({
      address: chain.addr("JobMarket"),
      abi: protocolAbi("JobMarket"),
      eventName: "EpochSeedArmed",
      args: { epoch },
      fromBlock: 0n,
    });
    const seedBlock = (armed as unknown as { args: { blockNumber: bigint } }).args.blockNumber;
    if (startBlock <= seedBlock)
      await chain.test.mine({ blocks: Number(seedBlock - startBlock + 1n) });
    // distributor: the cohort is drawn, not chosen — the eligible devices of the standing connected set with the
    // lowest keccak256(jobSeed, device), in ascending order (anyone can disprove another list on-chain)
    const seed = jobSeed((await chain.pub.getBlock({ blockNumber: seedBlock })).hash!, jobId);
    const now = await chain.now();
    const candidates: CohortCandidate[] = [];
    for (const d of devices) {
      const address = d.account.address;
      const eligible =
        (await chain.read<boolean>("DeviceRegistry", "isEligible", [
          address,
          schemaHash(SCHEMA_ID),
          algorithmId,
          REWARD,
        ])) && (await chain.read<bigint>("DeviceRegistry", "lastChange", [address])) < now;
      if (eligible)
        candidates.push({ connectedIndex: connected.leafOf(address)!.index, device: address });
    }
    const drawnMembers = drawCohort(seed, candidates, DEVICES);
    const cohort: CohortList = drawnCohortList(jobId, growthEpoch, drawnMembers);
    const assigned = await chain.send(distributor, "ResultAttestation", "assignCohort", [
      jobId,
      cohortRoot(cohort),
      DEVICES,
      await store.addBytes(encodeCohortList(cohort)),
      who(aggregator),
      growthEpoch,
    ]);
    // the attestors were drawn in the same transaction from the job's seed (never the aggregator)
    const [drawn] = await chain.pub.getContractEvents({
      address: chain.addr("ResultAttestation"),
      abi: protocolAbi("ResultAttestation"),
      eventName: "AttestorsDrawn",
      args: { jobId },
      fromBlock: assigned.blockNumber,
      toBlock: assigned.blockNumber,
    });
    const draw = (drawn as unknown as { args: { seed: Hex; attestors: readonly Address[] } }).args;
    const epochSeed = await chain.read<Hex>("JobMarket", "epochSeed", [epoch]);
    if (draw.seed !== jobSeed(epochSeed, jobId))
      throw new ChainError("START", `job ${jobId}'s attestors were not drawn from its seed`);
    print(
      `cohort of ${DEVICES} devices assigned (${OFFLINE} of them offline); attestors drawn from the job seed ${draw.seed.slice(0, 10)}…`,
    );

    // aggregator: the session; devices: one pass of the run loop each
    // the roster's session keys and the neighbour graph's seed come from the chain, as every device reads them
    const session = jobSessionConfig({
      chainId,
      jobMarket: chain.addr("JobMarket"),
      jobId,
      cohort,
      sessionKeys: await chain.read<Hex[]>("DeviceRegistry", "sessionKeysOf", [
        cohort.members.map((m) => m.address),
      ]),
      graph: { cohortRoot: cohortRoot(cohort), jobSeed: seed },
      classes: built.manifest.outputLabels.length,
    });
    secagg.addSession(session, { roundTimeoutMs: 5_000, recordTranscript: true });
    // the job's model as every party derives it from the chain and the package (sdk/protocol/job-model.ts):
    // classes, quality class, the control group's confusion matrix, the DP mechanism of this session and kMin
    const { model } = await jobModelOf(
      {
        chain: chainJobModelReads(chain.pub, {
          JobMarket: chain.addr("JobMarket"),
          ResultAttestation: chain.addr("ResultAttestation"),
          NodeStaking: chain.addr("NodeStaking"),
          DeviceRegistry: chain.addr("DeviceRegistry"),
          AlgorithmMarketplace: chain.addr("AlgorithmMarketplace"),
        }),
        store,
        cohort: drawnMembers,
        session: { chainId, jobMarket: chain.addr("JobMarket") },
      },
      jobId,
    );
    const { privacy } = model;
    const config = deviceConfigSchema.parse({
      chainId,
      rpcUrl: ctx.rpcUrl,
      contracts: {
        JobMarket: chain.addr("JobMarket"),
        AlgorithmMarketplace: chain.addr("AlgorithmMarketplace"),
        NodeStaking: chain.addr("NodeStaking"),
        DeviceRegistry: chain.addr("DeviceRegistry"),
        ResultAttestation: chain.addr("ResultAttestation"),
      },
      startBlock: startBlock.toString(),
      confirmations: 0,
    });
    const online = devices.slice(0, DEVICES - OFFLINE);
    const log = pino({ level: process.env.DML_LOG_LEVEL ?? "silent" });
    const t0 = Date.now();
    await Promise.all(
      online.map((d) =>
        runDaemon({
          config,
          paths: d.paths,
          account: d.account,
          publicClient: chain.pub as unknown as DevicePublicClient,
          store,
          log,
          once: true,
          idleCheck: () => undefined,
        }),
      ),
    );
    for (const [i, d] of online.entries()) {
      const [entry] = Object.values((await JobStateStore.open(d.paths.jobState)).all());
      if (entry?.status !== "done")
        throw new ChainError(
          "START",
          `device ${i} did not serve the job: ${entry?.error ?? "no entry"}`,
        );
    }
    const result = await secagg.result(session.sessionId);
    print(
      `devices served the job in ${((Date.now() - t0) / 1000).toFixed(1)} s; SecAgg survivors ${result.survivors.join(",")}`,
    );

    // aggregator: transcript + the job's result, committed; attestors: each derives the result from the transcript
    // on its own (attestJob: INVALID when it cannot fetch, open or verify it) and commit-reveals it
    const onChainJob = await chain.read<{
      rewardPerDevice: bigint;
      minParticipants: number;
      maxStdError: bigint;
    }>("JobMarket", "getJob", [jobId]);
    const reads = chainAttestorReads(chain.pub, {
      JobMarket: chain.addr("JobMarket"),
      ResultAttestation: chain.addr("ResultAttestation"),
      NodeStaking: chain.addr("NodeStaking"),
      DeviceRegistry: chain.addr("DeviceRegistry"),
    });
    // transcript v2 (every signed message), sealed to the drawn attestors' registered keys: nobody else reads it
    const recipients = await attestorRecipients(reads, jobId);
    const transcriptCid = await publishSealedTranscript(
      store,
      secagg.transcript(session.sessionId),
      recipients,
    );
    print(
      `transcript v2 (every signed SecAgg message) sealed to the ${recipients.length} drawn attestors' keys: ${transcriptCid}`,
    );
    const survivors = [...result.survivors].sort((a, b) => a - b);
    const mine = deriveJobResult(
      { sessionId: session.sessionId, survivors, sum: result.sum },
      {
        members: cohort.members.map((m) => m.address as Address),
        encoding: session.encoding,
        model,
        rule: onChainJob,
      },
    );
    const committed = resultHash(mine.result);
    const aggSalt = keccak256(randomBytes(32));
    await chain.send(aggregator, "ResultAttestation", "commitAggregate", [
      jobId,
      aggregateCommitment(committed, aggSalt),
      transcriptCid,
    ]);
    const att = await chain.read<{ attestors: readonly Address[]; commitDeadline: bigint }>(
      "ResultAttestation",
      "attestationOf",
      [jobId],
    );
    const quorum = await Promise.all(
      att.attestors.map(async (a) => {
        const w = attestors.find((x) => who(x) === getAddress(a));
        if (!w) throw new ChainError("START", `attestor ${a} is not one of the demo's`);
        const key = await deriveOperatorKey(walletSigner(w));
        const outcome = await attestJob(
          {
            chain: reads,
            store,
            fetchTimeoutMs: 10_000,
            cohort: drawnMembers,
            me: { address: who(w), x25519SecretKey: key.secretKey },
            model,
            session: { chainId, jobMarket: chain.addr("JobMarket") },
          },
          jobId,
        );
        return { w, outcome };
      }),
    );
    const io = (w: Wallet) => ({
      resultAttestation: chain.addr("ResultAttestation"),
      wallet: w,
      publicClient: chain.pub,
    });
    const votes = [];
    for (const q of quorum) votes.push(await commitVote(io(q.w), jobId, q.outcome.value));
    await chain.warpTo(BigInt(att.commitDeadline) + 1n);
    for (const [i, q] of quorum.entries()) await revealVote(io(q.w), votes[i]!);
    await chain.send(aggregator, "ResultAttestation", "revealAggregate", [
      jobId,
      committed,
      aggSalt,
    ]);
    if ((await chain.status(jobId)) !== JobStatus.Attested)
      await chain.send(keeper, "ResultAttestation", "finalize", [jobId]);
    if ((await chain.status(jobId)) !== JobStatus.Attested)
      throw new ChainError("START", `job ${jobId} was not attested`);
    const agreeing = quorum.filter((q) => q.outcome.value === committed).length;
    print(
      `result ${committed.slice(0, 18)}… (aggregate ${mine.result.aggregateHash.slice(0, 10)}…, ${mine.result.participants} participants, quality ${mine.result.qualityMet ? "met" : "failed"}) attested by ${agreeing} of ${quorum.length} attestors`,
    );

    // reporter: the estimate from the attested result, the encrypted report and the payout list
    const { estimate, tree } = mine;
    const spam = model.qualityClass;
    const created = await chain.pub.getContractEvents({
      address: chain.addr("JobMarket"),
      abi: protocolAbi("JobMarket"),
      eventName: "JobCreated",
      args: { jobId },
      fromBlock: 0n,
    });
    const customerKey = (created[0] as unknown as { args: { encryptionKey: Hex } }).args
      .encryptionKey;
    const sealed = encryptReport(customerKey, {
      jobId: jobId.toString(),
      algorithmId: algorithmId.toString(),
      participants: mine.result.participants,
      aggregateHash: mine.result.aggregateHash,
      ...estimate,
      labels: built.manifest.outputLabels,
      ...(privacy
        ? { privacy: { rho: privacy.rho, epsilon: privacy.epsilon, delta: privacy.delta } }
        : {}),
    });
    await chain.send(reporter, "Settlement", "report", [
      jobId,
      {
        reportCid: await store.addBytes(sealed.ciphertext),
        reportCommitment: sealed.commitment,
        payoutsCid: tree
          ? await store.addBytes(new TextEncoder().encode(JSON.stringify(tree.toList())))
          : "",
        result: mine.result,
      },
    ]);
    const lifecycleGas = chain.gasUsed - lifecycleGasFrom;
    print(
      `report posted; job status ${(await chain.status(jobId)) === JobStatus.Settled ? "Settled" : "Failed"}`,
    );

    // customer: the report, from ReportPosted and Helia
    const posted = await chain.pub.getContractEvents({
      address: chain.addr("Settlement"),
      abi: protocolAbi("Settlement"),
      eventName: "ReportPosted",
      args: { jobId },
      fromBlock: startBlock,
    });
    const rp = (
      posted[0] as unknown as {
        args: { reportCid: string; reportCommitment: Hex; aggregateHash: Hex };
      }
    ).args;
    const opened = decryptReport(
      reportKey.secretKey,
      await store.getBytes(rp.reportCid),
      rp.reportCommitment,
    ) as {
      aggregateHash: Hex;
      records: number;
      meanProbability: number[];
      devices: number;
      stdError: number[];
      predictedShare: number[];
      classifyAndCount: Estimate[];
      adjusted?: AdjustedEstimate[];
      privacy?: { rho: number; epsilon: number; delta: number };
    };
    if (opened.aggregateHash !== rp.aggregateHash)
      throw new ChainError("START", "the report is not the attested aggregate's");
    // the emails the devices read (a DP job reads each device's first maxRecords)
    const read = online.map((_, i) =>
      workload.split.inboxes[i]!.emails.slice(0, privacy?.spec.maxRecords ?? Infinity),
    );
    const truth =
      read.reduce((s, r) => s + r.filter((e) => e.label === 1).length, 0) /
      read.reduce((s, r) => s + r.length, 0);
    const allInboxes = workload.split.inboxes.flatMap((i) => i.emails);
    const population = allInboxes.filter((e) => e.label === 1).length / allInboxes.length;
    const f = (x: number) => x.toFixed(4);
    const interval = (e: Estimate) => `95% [${f(e.interval[0])}, ${f(e.interval[1])}]`;
    const cc = opened.classifyAndCount[spam]!;
    const adj = opened.adjusted?.[spam];
    print(
      `customer's report: ${opened.records.toFixed(0)} emails on ${opened.devices} devices` +
        (opened.privacy
          ? ` (distributed DP: (ε, δ) = (${opened.privacy.epsilon.toFixed(2)}, ${opened.privacy.delta}) per email, ρ = ${opened.privacy.rho.toFixed(3)} zCDP)`
          : "") +
        `; spam share ` +
        (adj
          ? `${f(adj.estimate)} ± ${f(adj.stdError)} (${interval(adj)}; adjusted classify-and-count, control-group TPR ${f(adj.rates.tpr)} FPR ${f(adj.rates.fpr)}) — `
          : "") +
        `ground truth ${f(truth)} on these devices' emails, ${f(population)} over all ${workload.split.inboxes.length} inboxes (never seen by anyone)`,
    );
    print(
      `  uncorrected: classify-and-count ${f(cc.estimate)} ± ${f(cc.stdError)} (${interval(cc)}, cluster-robust); mean spam probability ${f(opened.meanProbability[spam]!)} ± ${f(opened.stdError[spam]!)} (records as if independent)`,
    );

    // devices: claims from chain data alone
    let paid = 0n;
    for (const d of online) {
      const gas = await faucet.sendTransaction({
        to: d.account.address,
        value: parseEther("0.01"),
      });
      await chain.pub.waitForTransactionReceipt({ hash: gas });
      const r = await claimJobPayout(deviceClients(d.account), store, {
        settlement: chain.addr("Settlement"),
        jobId,
      });
      paid += r.amount;
    }
    print(
      `${online.length} devices claimed ${formatEther(paid)} DML; lifecycle gas create → settled ${lifecycleGas.toLocaleString("en-US")} (receipts); ${((Date.now() - started) / 1000).toFixed(0)} s in all`,
    );
    return { jobId, paid };
  } finally {
    await secagg.close();
    await store.close();
  }
}

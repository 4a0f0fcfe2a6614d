/**
 * `dml-relayer attestor`: wires the Attestor (Attestor.ts) to the chain (viem, the deployment manifest), the
 * operator key (keystore) and IPFS (embedded Helia or Kubo) for the common runtime.
 */
import path from "node:path";
import {
  createChainPublicClient,
  createChainWalletClient,
  fetchChainId,
} from "#sdk/chain/clients.ts";
import type { CohortMember } from "#sdk/chain/cohort.ts";
import { contractAddress, defaultManifestPath, readManifest } from "#sdk/chain/manifest.ts";
import { openContentStore } from "#sdk/ipfs/index.ts";
import { chainJobModelReads, jobModelOf, publishedCohortOf } from "#sdk/protocol/job-model.ts";
import type { JobModel } from "#sdk/protocol/job-result.ts";
import { RelayerError } from "../common/errors.ts";
import { defineRole } from "../common/relayer.ts";
import { Attestor } from "./Attestor.ts";
import { attestorFields } from "./config.ts";

export const attestorRole = defineRole({
  name: "attestor",
  summary:
    "recompute each drawn job's result from its sealed transcript; commit and reveal the vote",
  description: [
    "Attestor: for every job whose drawn attestors include this operator (ResultAttestation.AttestorsDrawn), once",
    "the aggregator committed, fetch the sealed transcript, open it with the operator's X25519 key, replay the",
    "SecAgg session and derive the job's resultHash (or INVALID when the transcript is missing, undecryptable or",
    "inconsistent); commit it in the commit window and reveal it when the reveal window opens. Each vote is one",
    "durable action per phase, and every handler checks the chain first, so a restart never commits or reveals",
    "twice. The operator must be staked as an attestor with its X25519 key registered (NodeStaking).",
  ].join(" "),
  examples: [
    "DML_KEYSTORE_PASSWORD=… dml-relayer attestor --rpc-url http://127.0.0.1:8545 --data-dir ~/.dml-relayer/attestor",
    "dml-relayer attestor --config attestor.json --password-file ./pw --kubo-url http://127.0.0.1:5001",
  ],
  fields: attestorFields,
  needsKey: true,
  async create({ config, account, log }) {
    if (account === undefined) throw new RelayerError("KEYSTORE", "the attestor needs a key");
    let chainId: number;
    try {
      chainId = await fetchChainId(config.rpcUrl);
    } catch (e) {
      throw new RelayerError("RPC_UNREACHABLE", `no JSON-RPC answer from ${config.rpcUrl}`, {
        cause: e,
      });
    }
    if (config.chainId !== undefined && config.chainId !== chainId)
      throw new RelayerError(
        "CONFIG_INVALID",
        `invalid config: chainId (${config.chainId}): the RPC serves chain ${chainId}`,
      );
    const manifest = readManifest(config.manifest ?? defaultManifestPath(chainId));
    const contracts = {
      JobMarket: contractAddress(manifest, "JobMarket"),
      ResultAttestation: contractAddress(manifest, "ResultAttestation"),
      NodeStaking: contractAddress(manifest, "NodeStaking"),
      DeviceRegistry: contractAddress(manifest, "DeviceRegistry"),
      AlgorithmMarketplace: contractAddress(manifest, "AlgorithmMarketplace"),
    };
    const publicClient = await createChainPublicClient(config.rpcUrl, chainId);
    const wallet = createChainWalletClient(account, config.rpcUrl, chainId);
    const store = await openContentStore({
      heliaDir: config.heliaDir ?? path.join(config.dataDir, "ipfs"),
      ...(config.kuboUrl === undefined ? {} : { kuboUrl: config.kuboUrl }),
    });
    const fromBlock = BigInt(config.fromBlock ?? manifest.startBlock);
    const cohorts = new Map<bigint, Promise<readonly CohortMember[]>>();
    const models = new Map<bigint, Promise<JobModel>>();
    // the list the distributor published; attestJob checks it against the on-chain root and size
    const cohort = (jobId: bigint) => {
      let known = cohorts.get(jobId);
      if (known === undefined) {
        known = publishedCohortOf(publicClient, contracts.JobMarket, store, jobId, fromBlock);
        known.catch(() => cohorts.delete(jobId));
        cohorts.set(jobId, known);
      }
      return known;
    };
    const modelReads = chainJobModelReads(publicClient, contracts, { fromBlock });
    // the job's model from its package (classes, quality class, control-group confusion, DP): jobModelOf
    const model = (jobId: bigint) => {
      let known = models.get(jobId);
      if (known === undefined) {
        known = (async () =>
          (
            await jobModelOf(
              {
                chain: modelReads,
                store,
                cohort: await cohort(jobId),
                session: { chainId, jobMarket: contracts.JobMarket },
              },
              jobId,
            )
          ).model)();
        known.catch(() => models.delete(jobId));
        models.set(jobId, known);
      }
      return known;
    };
    const attestor = new Attestor({
      publicClient,
      wallet,
      contracts,
      chainId,
      store,
      fromBlock,
      fetchTimeoutMs: config.fetchTimeoutMs,
      inputs: { cohort, model },
    });
    log.info({ attestor: attestor.address, chainId, fromBlock: `${fromBlock}` }, "attestor ready");
    return {
      reconcile: (ctx) => attestor.reconcile(ctx),
      handlers: attestor.handlers,
      chain: publicClient,
      onReorg: (e) => attestor.onReorg(e),
      close: () => store.close(),
    };
  },
});

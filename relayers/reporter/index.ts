/**
 * `dml-relayer reporter`: wires the Reporter (Reporter.ts) to the chain (viem, the deployment manifest), the
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
import {
  chainJobModelReads,
  jobModelOf,
  publishedCohortOf,
  type LoadedJobModel,
} from "#sdk/protocol/job-model.ts";
import { RelayerError } from "../common/errors.ts";
import { defineRole } from "../common/relayer.ts";
import { Reporter } from "./Reporter.ts";
import { reporterFields } from "./config.ts";

export const reporterRole = defineRole({
  name: "reporter",
  summary:
    "settle each attested job: replay its transcript, encrypt the report to the customer, post it with the payouts",
  description: [
    "Reporter: for every job the attestation quorum attested (ResultAttestation.AttestationFinalized) and that is",
    "still Attested, fetch the sealed transcript (the aggregator seals it to the drawn attestors and every active",
    "reporter), open it with the operator's X25519 key, replay it, check it yields the attested resultHash, encrypt",
    "the report (crowd estimate, labels, DP figures) to the customer's key from JobCreated, add it and the payout",
    "list to IPFS and call Settlement.report. One durable action per job; the handler checks the chain first, so a",
    "restart never reports twice, and losing the race to another reporter counts as done. A reporter that staked",
    "after the aggregator committed is not a recipient of that job's transcript and cannot report it. The operator",
    "must be staked as a reporter with its X25519 key registered (NodeStaking).",
  ].join(" "),
  examples: [
    "DML_KEYSTORE_PASSWORD=… dml-relayer reporter --rpc-url http://127.0.0.1:8545 --data-dir ~/.dml-relayer/reporter",
    "dml-relayer reporter --config reporter.json --password-file ./pw --kubo-url http://127.0.0.1:5001",
  ],
  fields: reporterFields,
  needsKey: true,
  async create({ config, account, log }) {
    if (account === undefined) throw new RelayerError("KEYSTORE", "the reporter needs a key");
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
      Settlement: contractAddress(manifest, "Settlement"),
    };
    const publicClient = await createChainPublicClient(config.rpcUrl, chainId);
    const wallet = createChainWalletClient(account, config.rpcUrl, chainId);
    const store = await openContentStore({
      heliaDir: config.heliaDir ?? path.join(config.dataDir, "ipfs"),
      ...(config.kuboUrl === undefined ? {} : { kuboUrl: config.kuboUrl }),
    });
    const fromBlock = BigInt(config.fromBlock ?? manifest.startBlock);
    const cohorts = new Map<bigint, Promise<readonly CohortMember[]>>();
    const models = new Map<bigint, Promise<LoadedJobModel>>();
    // the list the distributor published; replayTranscript checks it against the on-chain root and size
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
    // the job's model and labels from its package (jobModelOf), as the aggregator and the attestors derive them
    const model = (jobId: bigint) => {
      let known = models.get(jobId);
      if (known === undefined) {
        known = (async () =>
          jobModelOf(
            {
              chain: modelReads,
              store,
              cohort: await cohort(jobId),
              session: { chainId, jobMarket: contracts.JobMarket },
            },
            jobId,
          ))();
        known.catch(() => models.delete(jobId));
        models.set(jobId, known);
      }
      return known;
    };
    const reporter = new Reporter({
      publicClient,
      wallet,
      contracts,
      chainId,
      store,
      fromBlock,
      fetchTimeoutMs: config.fetchTimeoutMs,
      inputs: { cohort, model },
    });
    log.info({ reporter: reporter.address, chainId, fromBlock: `${fromBlock}` }, "reporter ready");
    return {
      reconcile: (ctx) => reporter.reconcile(ctx),
      handlers: reporter.handlers,
      chain: publicClient,
      onReorg: (e) => reporter.onReorg(e),
      close: () => store.close(),
    };
  },
});

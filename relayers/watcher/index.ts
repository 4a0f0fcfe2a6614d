/**
 * `dml-relayer watcher`: wires the Watcher (Watcher.ts) to the chain (viem, the deployment manifest), the operator
 * key (keystore: challenges are sent from it and the challenger share is paid to it) and IPFS (embedded Helia or
 * Kubo) for the common runtime.
 */
import { connectRole } from "../common/connect.ts";
import { RelayerError } from "../common/errors.ts";
import { defineRole } from "../common/relayer.ts";
import { watcherFields } from "./config.ts";
import { Watcher } from "./Watcher.ts";

export const watcherRole = defineRole({
  name: "watcher",
  summary:
    "check every connected-set post and drawn cohort; prove each fault on-chain for the challenger share",
  description: [
    "Watcher (anyone may run it): for every GrowthPool.EpochPosted still in its challenge window, fetch the",
    "connected-set list from IPFS and check every leaf (index < n, no device or index twice, the device's heartbeat",
    "signature for the epoch, a registered device); for every JobMarket.CohortAssigned whose attestation is open,",
    "fetch the cohort list and check it against the chain (each member at its connected index, eligible, in",
    "ascending draw score, no eligible device with a lower score left out). A fault is challenged once",
    "(GrowthPool.challenge*, ResultAttestation.challengeCohort*): the poster is slashed and this operator receives the",
    "challenger share. Handlers check the chain first, so a restart never challenges twice. The key needs gas only,",
    "no stake; it must not be a party of the jobs it challenges (customer, distributor, aggregator, drawn attestor),",
    "or the share is not paid.",
  ].join(" "),
  examples: [
    "DML_KEYSTORE_PASSWORD=… dml-relayer watcher --rpc-url http://127.0.0.1:8545 --data-dir ~/.dml-relayer/watcher",
    "dml-relayer watcher --config watcher.json --password-file ./pw --kubo-url http://127.0.0.1:5001",
  ],
  fields: watcherFields,
  needsKey: true,
  async create({ config, account, log }) {
    if (account === undefined) throw new RelayerError("KEYSTORE", "the watcher needs a key");
    const { chainId, publicClient, wallet, store, fromBlock, contracts } = await connectRole(
      config,
      account,
      ["GrowthPool", "ResultAttestation", "JobMarket", "DeviceRegistry", "AlgorithmMarketplace"],
    );
    const watcher = new Watcher({
      publicClient,
      wallet,
      contracts,
      chainId,
      store,
      fromBlock,
      fetchTimeoutMs: config.fetchTimeoutMs,
      readConcurrency: config.readConcurrency,
    });
    log.info({ watcher: watcher.address, chainId, fromBlock: `${fromBlock}` }, "watcher ready");
    return {
      reconcile: (ctx) => watcher.reconcile(ctx),
      handlers: watcher.handlers,
      chain: publicClient,
      // verdicts follow from the chain and the lists it commits to; a list not fetched yet is retried every tick
      reconcilesChainOnly: true,
      offChainPending: () => watcher.hasPendingChecks(),
      onReorg: (e) => watcher.onReorg(e),
      close: () => store.close(),
    };
  },
});

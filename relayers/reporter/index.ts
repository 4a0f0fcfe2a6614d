/**
 * `dml-relayer reporter`: wires the Reporter (Reporter.ts) to the chain (viem, the deployment manifest), the
 * operator key (keystore) and IPFS (embedded Helia or Kubo) for the common runtime.
 */
import { connectRole } from "../common/connect.ts";
import { publishedJobInputs } from "../common/job-inputs.ts";
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
    const { chainId, publicClient, wallet, store, fromBlock, contracts } = await connectRole(
      config,
      account,
      [
        "JobMarket",
        "ResultAttestation",
        "NodeStaking",
        "DeviceRegistry",
        "AlgorithmMarketplace",
        "Settlement",
      ],
    );
    const inputs = publishedJobInputs({ publicClient, contracts, store, fromBlock, chainId });
    const reporter = new Reporter({
      publicClient,
      wallet,
      contracts,
      chainId,
      store,
      fromBlock,
      fetchTimeoutMs: config.fetchTimeoutMs,
      inputs: { cohort: inputs.cohort, model: inputs.loadedModel },
    });
    log.info({ reporter: reporter.address, chainId, fromBlock: `${fromBlock}` }, "reporter ready");
    return {
      reconcile: (ctx) => reporter.reconcile(ctx),
      handlers: reporter.handlers,
      chain: publicClient,
      // which jobs to report follows from the chain at its head alone (reports are derived by the handler)
      reconcilesChainOnly: true,
      onReorg: (e) => reporter.onReorg(e),
      close: () => store.close(),
    };
  },
});

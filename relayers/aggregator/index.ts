/**
 * `dml-relayer aggregator`: wires the Aggregator (Aggregator.ts) to the chain (viem, the deployment manifest), the
 * operator key (keystore), IPFS (embedded Helia or Kubo) and a SecAgg HTTP server for the common runtime.
 */
import { listenSecAgg } from "../common/secagg-listen.ts";
import path from "node:path";
import { z } from "zod";
import { nodeStakingAbi } from "#sdk/chain/abi/NodeStaking.ts";
import { connectRole } from "../common/connect.ts";
import { RelayerError } from "../common/errors.ts";
import { defineRole } from "../common/relayer.ts";
import { Aggregator } from "./Aggregator.ts";
import { aggregatorFields } from "./config.ts";

const operatorSchema = z.looseObject({ endpoint: z.string() });

export const aggregatorRole = defineRole({
  name: "aggregator",
  summary:
    "serve the SecAgg session of each job assigned to this operator; commit, reveal and finalise its result",
  description: [
    "Aggregator: for every job whose CohortAssigned names this operator as the aggregator, open the job's SecAgg",
    "session on the SecAgg HTTP server (--listen-host/--listen-port; devices reach it at the operator's NodeStaking",
    "endpoint), derived from the chain exactly as the devices derive it (cohort list from IPFS checked against the",
    "on-chain root, registered session keys, cohort root and job seed, classes from the algorithm's package). When",
    "the session ends, seal its transcript to the drawn attestors and every active reporter, publish it, persist the",
    "result in the data directory, commit aggregateCommitment(resultHash, salt) with the transcript CID, reveal once",
    "the attestors' commit window closed (or all committed), and finalise after the reveal deadline if nobody did.",
    "Every handler checks the chain first, so a restart never commits or reveals twice; a restart re-opens the",
    "sessions still waiting for devices (devices that were mid-session do not rejoin).",
  ].join(" "),
  examples: [
    "DML_KEYSTORE_PASSWORD=… dml-relayer aggregator --rpc-url http://127.0.0.1:8545 --data-dir ~/.dml-relayer/aggregator",
    "dml-relayer aggregator --config aggregator.json --password-file ./pw --listen-host 0.0.0.0 --listen-port 9470",
  ],
  fields: aggregatorFields,
  needsKey: true,
  async create({ config, account, log }) {
    if (account === undefined) throw new RelayerError("KEYSTORE", "the aggregator needs a key");
    const { chainId, publicClient, wallet, store, fromBlock, contracts } = await connectRole(
      config,
      account,
      ["JobMarket", "ResultAttestation", "NodeStaking", "DeviceRegistry", "AlgorithmMarketplace"],
    );
    const { secagg, url: secaggUrl } = await listenSecAgg(config, () => store.close());
    const aggregator = new Aggregator({
      publicClient,
      wallet,
      contracts,
      chainId,
      store,
      secagg,
      stateDir: path.join(config.dataDir, "aggregator"),
      roundTimeoutMs: config.roundTimeoutMs,
      fetchTimeoutMs: config.fetchTimeoutMs,
      fromBlock,
      onEvent: (e) => {
        const { type, jobId, ...rest } = e;
        const fields = Object.fromEntries(
          Object.entries({ jobId, ...rest }).map(([k, v]) => [
            k,
            typeof v === "bigint" ? `${v}` : v,
          ]),
        );
        if (type === "session-failed") log.warn(fields, `aggregator: ${type}`);
        else log.info(fields, `aggregator: ${type}`);
      },
    });
    // devices read the endpoint from NodeStaking: say so when it does not look like this server
    const op = operatorSchema.safeParse(
      await publicClient
        .readContract({
          address: contracts.NodeStaking,
          abi: nodeStakingAbi,
          functionName: "operatorInfo",
          args: [aggregator.address],
        })
        .catch(() => undefined),
    );
    const endpoint = op.success ? op.data.endpoint : undefined;
    if (endpoint === undefined || endpoint === "")
      log.warn(
        { aggregator: aggregator.address, secaggUrl },
        "aggregator: no NodeStaking endpoint registered; devices cannot reach the SecAgg server",
      );
    log.info(
      { aggregator: aggregator.address, chainId, fromBlock: `${fromBlock}`, secaggUrl, endpoint },
      "aggregator ready",
    );
    return {
      reconcile: (ctx) => aggregator.reconcile(ctx),
      handlers: aggregator.handlers,
      chain: publicClient,
      // with no job of its own open, what to do follows from the chain alone; an open job's session, persisted
      // result or failed publish also decides, so the loop reconciles every tick then
      reconcilesChainOnly: true,
      offChainPending: () => aggregator.hasOpenJobs(),
      onReorg: (e) => aggregator.onReorg(e),
      close: async () => {
        await secagg.close();
        await store.close();
      },
    };
  },
});

/**
 * `dml-relayer distributor`: wires the Distributor (Distributor.ts) to the chain (viem, the deployment manifest), the
 * operator key (keystore), IPFS (embedded Helia or Kubo) and its public heartbeat endpoint (HeartbeatServer.ts).
 */
import { getAddress } from "viem";
import { connectRole } from "../common/connect.ts";
import { RelayerError } from "../common/errors.ts";
import { defineRole } from "../common/relayer.ts";
import { Distributor } from "./Distributor.ts";
import { distributorFields } from "./config.ts";
import { startHeartbeatServer } from "./HeartbeatServer.ts";

export const distributorRole = defineRole({
  name: "distributor",
  summary:
    "collect device heartbeats, post each growth epoch's connected set, request its draw, draw and assign cohorts",
  description: [
    "Distributor: serves POST /heartbeats (its NodeStaking endpoint) where registered devices send their signed",
    "heartbeat for the growth pool's current epoch; each is verified (signature, epoch, registry) and journaled in",
    "the data directory before it is acknowledged. Once an epoch ended it posts the epoch's connected set",
    "(GrowthPool.postEpoch, tree dump on IPFS); after the challenge window it requests the VRF draw (requestDraw, or",
    "retryDraw when the coordinator was replaced). For every Scheduled job whose seed exists it draws the cohort from",
    "the standing connected set (the eligible devices with the lowest keccak256(jobSeed, device)), publishes the list",
    "and assigns it (ResultAttestation.assignCohort) with an aggregator drawn by stake from the job's seed (or",
    "--aggregator). Every action is durable and checks the chain first, so a restart never posts or assigns twice.",
    "The operator must be staked as a distributor.",
  ].join(" "),
  examples: [
    "DML_KEYSTORE_PASSWORD=… dml-relayer distributor --rpc-url http://127.0.0.1:8545 --listen-host 0.0.0.0 --listen-port 8645",
    "dml-relayer distributor --config distributor.json --password-file ./pw --kubo-url http://127.0.0.1:5001",
  ],
  fields: distributorFields,
  needsKey: true,
  async create({ config, account, log }) {
    if (account === undefined) throw new RelayerError("KEYSTORE", "the distributor needs a key");
    const { chainId, publicClient, wallet, store, fromBlock, contracts } = await connectRole(
      config,
      account,
      [
        "GrowthPool",
        "JobMarket",
        "ResultAttestation",
        "NodeStaking",
        "DeviceRegistry",
        "AlgorithmMarketplace",
      ],
    );
    const distributor = await Distributor.open({
      publicClient,
      wallet,
      contracts,
      chainId,
      store,
      dataDir: config.dataDir,
      fromBlock,
      maxSkewSeconds: config.maxSkewSeconds,
      log,
      ...(config.aggregator === undefined ? {} : { aggregator: getAddress(config.aggregator) }),
    });
    let server;
    try {
      server = await startHeartbeatServer({
        host: config.listenHost,
        port: config.listenPort,
        maxBodyBytes: config.maxBodyBytes,
        intake: distributor,
        log,
      });
    } catch (e) {
      await store.close();
      throw new RelayerError(
        "CONFIG_INVALID",
        `invalid config: listenPort (${config.listenHost}:${config.listenPort}): ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    log.info(
      {
        distributor: distributor.address,
        chainId,
        fromBlock: `${fromBlock}`,
        heartbeatUrl: server.url,
      },
      "distributor ready",
    );
    return {
      reconcile: (ctx) => distributor.reconcile(ctx),
      handlers: distributor.handlers,
      chain: publicClient,
      // posts, draws and cohorts follow from the chain at its head alone (heartbeats are read by the post's handler)
      reconcilesChainOnly: true,
      onReorg: (event) => distributor.onReorg(event),
      close: async () => {
        await server.close();
        await store.close();
      },
    };
  },
});

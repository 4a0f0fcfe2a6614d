/**
 * `dml-relayer refiner`: wires the Refiner (Refiner.ts) to the chain (viem, the deployment manifest), the operator
 * key (keystore), IPFS (embedded Helia or Kubo) and its round inputs: by default it hosts the trainer groups of the
 * rounds it is drawn for on its own SecAgg HTTP server and builds the candidate itself (hosted-work.ts); with
 * `--rounds-dir` it reads each round's inputs from files instead (file-work.ts).
 */
import { listenSecAgg } from "../common/secagg-listen.ts";
import path from "node:path";
import type { Logger } from "pino";
import { z } from "zod";
import { nodeStakingAbi } from "#sdk/chain/abi/NodeStaking.ts";
import { connectRole } from "../common/connect.ts";
import { RelayerError } from "../common/errors.ts";
import { defineRole } from "../common/relayer.ts";
import { refinerFields } from "./config.ts";
import { fileWork } from "./file-work.ts";
import { HostedWork, type HostedWorkEvent } from "./hosted-work.ts";
import { Refiner } from "./Refiner.ts";

const operatorSchema = z.looseObject({ endpoint: z.string() });

function logEvent(log: Logger, e: HostedWorkEvent): void {
  const { type, ...rest } = e;
  const fields = Object.fromEntries(
    Object.entries(rest).map(([k, v]) => [k, typeof v === "bigint" ? `${v}` : v]),
  );
  if (type === "session-failed" || type === "host-failed") log.warn(fields, `refiner: ${type}`);
  else log.info(fields, `refiner: ${type}`);
}

export const refinerRole = defineRole({
  name: "refiner",
  summary:
    "fine-tuning rounds: host the trainer groups' SecAgg sessions, commit the kept groups' candidate and round list, reveal it, finalise the round",
  description: [
    "Refiner (PROTOCOL.md §5, §7.7): for every active FineTuning bounty whose current round draws this operator as",
    "its host (trainingRoundOf), serve one SecAgg session per trainer group on the SecAgg HTTP server",
    "(--listen-host/--listen-port; trainers reach it at the operator's NodeStaking endpoint). Once every group's",
    "session settled, keep the groups whose mean update improves the bounty's public control group, build the",
    "candidate package (ONNX, manifest with its control-group confusion) and publish it and the round list",
    "(accepted groups, canonical trainer payouts) on IPFS, and commit the candidate hidden (the salt is derived from",
    "the operator's deterministic signature; the settled groups and the candidate are persisted under the data",
    "directory first). After the poster reveals the hidden split and the drawn attestors commit, reveal the",
    "candidate with its accuracy on the split, then finalise the round; draw the attestors when the split reveal",
    "could not, and close rounds nobody committed. With --rounds-dir the groups are not hosted: each round's inputs",
    "are read from <dir>/<bountyId>-<round>.json. Each step is one durable action keyed by (phase, bounty, round),",
    "every handler checks the chain first. The operator must be staked as a refiner (NodeStaking). A restart while",
    "a round's sessions run loses them (the round is closed at its deadline); after they settled it loses nothing.",
  ].join(" "),
  examples: [
    "DML_KEYSTORE_PASSWORD=… dml-relayer refiner --rpc-url http://127.0.0.1:8545 --data-dir ~/.dml-relayer/refiner",
    "dml-relayer refiner --config refiner.json --listen-host 0.0.0.0 --listen-port 9471 --bounties 1,4",
    "dml-relayer refiner --config refiner.json --rounds-dir ./rounds",
  ],
  fields: refinerFields,
  needsKey: true,
  async create({ config, account, log }) {
    if (account === undefined) throw new RelayerError("KEYSTORE", "the refiner needs a key");
    const { chainId, publicClient, wallet, store, fromBlock, contracts } = await connectRole(
      config,
      account,
      ["FineTuning", "NodeStaking", "DeviceRegistry", "AlgorithmMarketplace"],
    );
    const bounties =
      config.bounties === undefined ? {} : { bounties: config.bounties.split(",").map(BigInt) };
    const address = wallet.account.address;
    if (config.roundsDir !== undefined) {
      const refiner = new Refiner({
        publicClient,
        wallet,
        contracts,
        chainId,
        store,
        fromBlock,
        stateDir: config.dataDir,
        work: fileWork(config.roundsDir),
        ...bounties,
      });
      log.info(
        { refiner: address, chainId, fromBlock: `${fromBlock}`, roundsDir: config.roundsDir },
        "refiner ready (file mode)",
      );
      return {
        reconcile: (ctx) => refiner.reconcile(ctx),
        handlers: refiner.handlers,
        chain: publicClient,
        onReorg: (e) => refiner.onReorg(e),
        close: () => store.close(),
      };
    }
    const { secagg, url: secaggUrl } = await listenSecAgg(config, () => store.close());
    const work = new HostedWork({
      publicClient,
      address,
      contracts,
      chainId,
      store,
      secagg,
      stateDir: path.join(config.dataDir, "hosted"),
      roundTimeoutMs: config.roundTimeoutMs,
      fromBlock,
      onEvent: (e) => logEvent(log, e),
    });
    const refiner = new Refiner({
      publicClient,
      wallet,
      contracts,
      chainId,
      store,
      fromBlock,
      stateDir: config.dataDir,
      work,
      ...bounties,
    });
    // trainers read the endpoint from NodeStaking: say so when none is registered
    const op = operatorSchema.safeParse(
      await publicClient
        .readContract({
          address: contracts.NodeStaking,
          abi: nodeStakingAbi,
          functionName: "operatorInfo",
          args: [address],
        })
        .catch(() => undefined),
    );
    const endpoint = op.success ? op.data.endpoint : undefined;
    if (endpoint === undefined || endpoint === "")
      log.warn(
        { refiner: address, secaggUrl },
        "refiner: no NodeStaking endpoint registered; trainers cannot reach the SecAgg server",
      );
    log.info(
      { refiner: address, chainId, fromBlock: `${fromBlock}`, secaggUrl, endpoint },
      "refiner ready",
    );
    return {
      reconcile: (ctx) => refiner.reconcile(ctx),
      handlers: refiner.handlers,
      chain: publicClient,
      onReorg: (e) => refiner.onReorg(e),
      close: async () => {
        await secagg.close();
        await store.close();
      },
    };
  },
});

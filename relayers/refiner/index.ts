/**
 * `dml-relayer refiner`: wires the Refiner (Refiner.ts) to the chain (viem, the deployment manifest), the operator
 * key (keystore), IPFS (embedded Helia or Kubo) and its round inputs (file-work.ts) for the common runtime.
 */
import path from "node:path";
import { connectRole } from "../common/connect.ts";
import { RelayerError } from "../common/errors.ts";
import { defineRole } from "../common/relayer.ts";
import { refinerFields } from "./config.ts";
import { fileWork } from "./file-work.ts";
import { Refiner } from "./Refiner.ts";

export const refinerRole = defineRole({
  name: "refiner",
  summary:
    "fine-tuning rounds: commit the kept groups' candidate and round list, reveal it, finalise the round",
  description: [
    "Refiner (PROTOCOL.md §5, §7.7): for every active FineTuning bounty, once the round's group updates are",
    "ready, keep the groups whose mean update improves the public control group, publish the round list (accepted",
    "groups, canonical trainer payouts) on IPFS and commit the candidate hidden (the salt is derived from the",
    "operator's deterministic signature; the candidate is persisted under the data directory before the commit).",
    "After the poster reveals the hidden split and the drawn attestors commit, reveal the candidate with its metric",
    "on the split, then finalise the round; draw the attestors when the split reveal could not, and close rounds",
    "nobody committed. Each step is one durable action keyed by (phase, bounty, round), and every handler checks",
    "the chain first. The operator must be staked as a refiner (NodeStaking).",
  ].join(" "),
  examples: [
    "DML_KEYSTORE_PASSWORD=… dml-relayer refiner --rpc-url http://127.0.0.1:8545 --data-dir ~/.dml-relayer/refiner",
    "dml-relayer refiner --config refiner.json --rounds-dir ./rounds --bounties 1,4",
  ],
  fields: refinerFields,
  needsKey: true,
  async create({ config, account, log }) {
    if (account === undefined) throw new RelayerError("KEYSTORE", "the refiner needs a key");
    const { chainId, publicClient, wallet, store, fromBlock, contracts } = await connectRole(
      config,
      account,
      ["FineTuning"],
    );
    const refiner = new Refiner({
      publicClient,
      wallet,
      contracts,
      chainId,
      store,
      fromBlock,
      stateDir: config.dataDir,
      work: fileWork(config.roundsDir ?? path.join(config.dataDir, "rounds")),
      ...(config.bounties === undefined
        ? {}
        : { bounties: config.bounties.split(",").map((b) => BigInt(b)) }),
    });
    log.info({ refiner: refiner.address, chainId, fromBlock: `${fromBlock}` }, "refiner ready");
    return {
      reconcile: (ctx) => refiner.reconcile(ctx),
      handlers: refiner.handlers,
      chain: publicClient,
      onReorg: (e) => refiner.onReorg(e),
      close: () => store.close(),
    };
  },
});

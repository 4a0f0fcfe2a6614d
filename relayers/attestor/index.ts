/**
 * `dml-relayer attestor`: wires the job attestor (Attestor.ts) and the fine-tuning round attestor (RoundAttestor.ts)
 * to the chain (viem, the deployment manifest), the operator key (keystore) and IPFS (embedded Helia or Kubo), as one
 * runtime on the common loop (compose.ts: one queue, one tick, both reconciles).
 */
import { connectRole } from "../common/connect.ts";
import { publishedJobInputs } from "../common/job-inputs.ts";
import { RelayerError } from "../common/errors.ts";
import { defineRole } from "../common/relayer.ts";
import { Attestor } from "./Attestor.ts";
import { composeRuntimes } from "./compose.ts";
import { RoundAttestor } from "./RoundAttestor.ts";
import { attestorFields } from "./config.ts";

export const attestorRole = defineRole({
  name: "attestor",
  summary:
    "recompute each drawn job's result (sealed transcript) and fine-tuning round (candidate on the split); vote",
  description: [
    "Attestor: for every job whose drawn attestors include this operator (ResultAttestation.AttestorsDrawn), once",
    "the aggregator committed, fetch the sealed transcript, open it with the operator's X25519 key, replay the",
    "SecAgg session and derive the job's resultHash (or INVALID when the transcript is missing, undecryptable or",
    "inconsistent); commit it in the commit window and reveal it when the reveal window opens. Each vote is one",
    "durable action per phase, and every handler checks the chain first, so a restart never commits or reveals",
    "twice. In the same process, for every fine-tuning round whose drawn attestors include this operator",
    "(FineTuning.AttestorsDrawn, after the poster's SplitRevealed), fetch the candidate package, the round list and",
    "the revealed split, and attest keccak256(modelSha256, accuracy on the split, canonical payout root) — or",
    "INVALID for an unusable candidate or list, SPLIT_INVALID for an unusable split — with the same commit-reveal",
    "discipline (actions round-commit:<bounty>:<round>, round-reveal:<bounty>:<round>). The operator must be staked",
    "as an attestor with its X25519 key registered (NodeStaking).",
  ].join(" "),
  examples: [
    "DML_KEYSTORE_PASSWORD=… dml-relayer attestor --rpc-url http://127.0.0.1:8545 --data-dir ~/.dml-relayer/attestor",
    "dml-relayer attestor --config attestor.json --password-file ./pw --kubo-url http://127.0.0.1:5001",
  ],
  fields: attestorFields,
  needsKey: true,
  async create({ config, account, log }) {
    if (account === undefined) throw new RelayerError("KEYSTORE", "the attestor needs a key");
    const { chainId, publicClient, wallet, store, fromBlock, contracts } = await connectRole(
      config,
      account,
      [
        "JobMarket",
        "ResultAttestation",
        "NodeStaking",
        "DeviceRegistry",
        "AlgorithmMarketplace",
        "FineTuning",
      ],
    );
    const inputs = publishedJobInputs({ publicClient, contracts, store, fromBlock, chainId });
    const attestor = new Attestor({
      publicClient,
      wallet,
      contracts,
      chainId,
      store,
      fromBlock,
      fetchTimeoutMs: config.fetchTimeoutMs,
      inputs: { cohort: inputs.cohort, model: inputs.model },
    });
    const rounds = new RoundAttestor({
      publicClient,
      wallet,
      contracts: { FineTuning: contracts.FineTuning },
      chainId,
      store,
      fromBlock,
      fetchTimeoutMs: config.fetchTimeoutMs,
      onVerdict: (r, v) =>
        log.info(
          {
            bountyId: `${r.bountyId}`,
            round: r.round,
            verdict: v.kind,
            value: v.value,
            ...(v.kind === "value" ? { metric: `${v.metric}` } : { reason: v.reason }),
          },
          "round value derived",
        ),
    });
    log.info({ attestor: attestor.address, chainId, fromBlock: `${fromBlock}` }, "attestor ready");
    return composeRuntimes([attestor, rounds], {
      chain: publicClient,
      close: () => store.close(),
    });
  },
});

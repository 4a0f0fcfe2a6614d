/**
 * sdk/chain/governance on the real contracts (in-process EDR, deployed by script/deploy.ts with three genesis
 * holders): an upgrade of the AlgorithmMarketplace proxy goes propose → vote → queue → execute through the
 * DMLGovernor and its timelock; the proxy then runs the new implementation and every piece of state read before
 * (algorithms, balances) reads the same after. Each step refuses to run out of order with PROPOSAL_STATE, and a
 * holder without quorum cannot pass a proposal (Defeated).
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { getAddress, type Address, type Hex } from "viem";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
import {
  castVote,
  delegateToSelf,
  execute,
  GovernanceError,
  implementationOf,
  propose,
  proposalIdOf,
  proposalInfo,
  queue,
  upgradeProposal,
  VoteType,
} from "#sdk/chain/governance.ts";
import { TxSender } from "#sdk/chain/tx-sender.ts";
import { devAccount, type ChainPublicClient, type ChainWalletClient } from "#sdk/chain/clients.ts";
import { ETHER, label, ProtocolEnv } from "../../bench/fixture/protocol.ts";

const HOLDER = 20_000_000n * ETHER; // 2% of supply each; quorum is 5%
const SCHEMA = label("email/rfc822-v1");

describe("governance: an upgrade by proposal", () => {
  let env: ProtocolEnv;
  let pub: ChainPublicClient;
  let senders: TxSender[];
  let governor: Address;
  let market: Address;
  const isState = (state: string) => (e: unknown) =>
    e instanceof GovernanceError && e.code === "PROPOSAL_STATE" && e.message.includes(state);

  before(async () => {
    env = await ProtocolEnv.create({
      genesis: {
        allocations: [12, 13, 14].map((i) => ({
          to: devAccount(i).address,
          amount: HOLDER,
        })),
      },
    });
    pub = env.pub as unknown as ChainPublicClient;
    senders = await Promise.all(
      [12, 13, 14].map((i) =>
        TxSender.create({
          publicClient: pub,
          walletClient: env.wallet(i) as unknown as ChainWalletClient,
        }),
      ),
    );
    governor = env.addr("DMLGovernor");
    market = env.addr("AlgorithmMarketplace");
    for (const s of senders) await delegateToSelf(s, env.addr("DMLToken"));
    await env.send(env.wallet(2), "AlgorithmMarketplace", "list", [
      "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
      label("model.onnx"),
      SCHEMA,
      5n * ETHER,
      0n,
      0n,
      "",
    ]);
  });

  async function deployImplementation(): Promise<Address> {
    const art = loadArtifact("AlgorithmMarketplace");
    const w = env.wallet(2);
    const hash = await w.deployContract({ abi: art.abi, bytecode: art.bytecode as Hex, args: [] });
    const r = await env.pub.waitForTransactionReceipt({ hash });
    assert.ok(r.contractAddress);
    return getAddress(r.contractAddress);
  }

  it("propose → vote → queue → execute upgrades the proxy and keeps its state", async () => {
    const before = {
      impl: await implementationOf(pub, market),
      count: await env.read<bigint>("AlgorithmMarketplace", "algorithmCount"),
      algorithm: await env.read("AlgorithmMarketplace", "getAlgorithm", [1n]),
      governance: await env.read<Address>("AlgorithmMarketplace", "governance"),
    };
    assert.equal(before.impl, env.manifest.contracts.AlgorithmMarketplace?.implementation);
    const next = await deployImplementation();
    const p = upgradeProposal({
      proxy: market,
      implementation: next,
      description: "DIP-1: AlgorithmMarketplace patch release",
    });
    const { id } = await propose(senders[0]!, governor, p);
    assert.equal(id, proposalIdOf(p));
    let info = await proposalInfo(pub, governor, id);
    assert.equal(info.state, "Pending");
    await assert.rejects(
      castVote(senders[0]!, pub, governor, id, VoteType.For),
      isState("Pending"),
    );
    await assert.rejects(queue(senders[0]!, pub, governor, p), isState("Pending"));

    await env.warpTo(info.snapshot + 1n);
    for (const s of senders) await castVote(s, pub, governor, id, VoteType.For);
    info = await proposalInfo(pub, governor, id);
    assert.equal(info.state, "Active");
    assert.equal(info.votes.for, 3n * HOLDER);
    assert.ok(info.votes.for >= info.quorum, `for ${info.votes.for} ≥ quorum ${info.quorum}`);

    await env.warpTo(info.deadline + 1n);
    assert.equal((await proposalInfo(pub, governor, id)).state, "Succeeded");
    await assert.rejects(execute(senders[1]!, pub, governor, p), isState("Succeeded"));
    await queue(senders[1]!, pub, governor, p);
    info = await proposalInfo(pub, governor, id);
    assert.equal(info.state, "Queued");
    assert.ok(info.eta > 0n);
    assert.equal(
      await implementationOf(pub, market),
      before.impl,
      "nothing changes before execution",
    );

    await env.warpTo(info.eta);
    await execute(senders[2]!, pub, governor, p);
    assert.equal((await proposalInfo(pub, governor, id)).state, "Executed");
    assert.equal(await implementationOf(pub, market), next);
    assert.equal(await env.read("AlgorithmMarketplace", "algorithmCount"), before.count);
    assert.deepEqual(
      await env.read("AlgorithmMarketplace", "getAlgorithm", [1n]),
      before.algorithm,
    );
    assert.equal(await env.read("AlgorithmMarketplace", "governance"), before.governance);
    await assert.rejects(execute(senders[2]!, pub, governor, p), isState("Executed"));
  });

  it("one holder's 2% does not reach the 5% quorum: the proposal is Defeated and cannot be queued", async () => {
    const p = upgradeProposal({
      proxy: market,
      implementation: await deployImplementation(),
      description: "DIP-2: a proposal one holder backs alone",
    });
    const { id } = await propose(senders[0]!, governor, p);
    await env.warpTo((await proposalInfo(pub, governor, id)).snapshot + 1n);
    await castVote(senders[0]!, pub, governor, id, VoteType.For);
    await env.warpTo((await proposalInfo(pub, governor, id)).deadline + 1n);
    assert.equal((await proposalInfo(pub, governor, id)).state, "Defeated");
    await assert.rejects(queue(senders[0]!, pub, governor, p), isState("Defeated"));
  });

  it("refuses a proposal without a description", () => {
    assert.throws(
      () => upgradeProposal({ proxy: market, implementation: market, description: " " }),
      (e) => e instanceof GovernanceError && e.code === "PROPOSAL_INVALID",
    );
  });
});

/**
 * subgraph/src/mappings/dml-token.ts and dml-governor.ts against real DMLToken and DMLGovernor events on the EDR chain
 * (`hardhat node`), indexed by the local graph host from the `graph build` output: genesis allocations (allocate →
 * self-delegation), transfers, a delegation to another holder and its removal, a burn; a proposal that changes every
 * governor setting (voting delay and period, proposal threshold, quorum numerator, the same timelock), voted with
 * castVote, castVoteWithReason and castVoteWithReasonAndParams, queued and executed through the timelock (the
 * governor's `onlyGovernance` accepts no other way); a second proposal canceled by its proposer. Every expected value
 * is read from the chain with viem or decoded from the chain's logs; every DMLToken and DMLGovernor handler runs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { encodeFunctionData, getAddress, zeroAddress, type Address, type Hex } from "viem";
import {
  descriptionHash,
  proposalIdOf,
  ProposalState,
  type Proposal,
} from "#sdk/chain/governance.ts";
import { protocolAbi } from "#sdk/chain/contracts.ts";
import { ETHER, localAccount } from "../../../bench/fixture/protocol.ts";
import {
  expectEventFields,
  parameterValues,
  startIndexedProtocol,
  type DecodedLog,
  type EntityJson,
  type IndexedProtocol,
} from "../helpers/indexed-protocol.ts";

const MILLION = 1_000_000n * ETHER;
const STATE_NAMES = Object.keys(ProposalState);
const lower = (a: string) => a.toLowerCase();
const refId = (v: unknown) => (v as { id: string } | null)?.id ?? null;

describe("subgraph mapping: DMLToken and DMLGovernor", () => {
  let ix: IndexedProtocol;
  const alice = localAccount("sg-gov-alice");
  const bob = localAccount("sg-gov-bob");
  const carol = localAccount("sg-gov-carol");
  const dave = localAccount("sg-gov-dave");
  let governor: Address;
  let settings: Proposal;
  let canceled: Proposal;
  /** The block at which dave's votes went to carol and the block that took them back. */
  let delegatedAt: bigint;
  const PARAMS: Hex = "0x0badc0de";

  before(async () => {
    ix = await startIndexedProtocol({
      timelock: { minDelay: 60n },
      governor: { votingDelay: 120n, votingPeriod: 600n },
      genesis: {
        allocations: [
          { to: alice.address, amount: 40n * MILLION },
          { to: bob.address, amount: 25n * MILLION },
          { to: carol.address, amount: 5n * MILLION },
        ],
      },
    });
    const { env } = ix;
    governor = env.addr("DMLGovernor");
    const gAbi = protocolAbi("DMLGovernor");
    const [a, b, c, d] = await Promise.all(
      [alice, bob, carol, dave].map((x) => env.localWallet(x)),
    );

    // token: a transfer to an undelegated holder, who delegates to carol; a burn
    await env.send(a!, "DMLToken", "transfer", [dave.address, 2n * MILLION]);
    await env.send(d!, "DMLToken", "delegate", [carol.address]);
    delegatedAt = await env.pub.getBlockNumber({ cacheTime: 0 });
    await env.send(b!, "DMLToken", "burn", [MILLION]);

    // the settings proposal: every governor setter, executed by the timelock
    const read = <T>(fn: string) => env.read<T>("DMLGovernor", fn);
    const call = (functionName: string, args: readonly unknown[]) =>
      encodeFunctionData({ abi: gAbi, functionName, args });
    const timelock = env.addr("TimelockController");
    const calldatas = [
      call("setVotingDelay", [Number(await read<bigint>("votingDelay")) + 30]),
      call("setVotingPeriod", [Number(await read<bigint>("votingPeriod")) + 60]),
      call("setProposalThreshold", [(await read<bigint>("proposalThreshold")) * 2n]),
      call("updateQuorumNumerator", [(await read<bigint>("quorumNumerator")) + 1n]),
      call("updateTimelock", [timelock]),
    ];
    settings = {
      targets: calldatas.map(() => governor),
      values: calldatas.map(() => 0n),
      calldatas,
      description: "# Governor settings\nLonger delay and period, higher threshold and quorum.",
    };
    canceled = {
      targets: [governor],
      values: [0n],
      calldatas: [call("setProposalThreshold", [1n])],
      description: "A threshold of one wei (withdrawn)",
    };
    const args = (p: Proposal) => [p.targets, p.values, p.calldatas, p.description];
    const hashed = (p: Proposal) => [p.targets, p.values, p.calldatas, descriptionHash(p)];
    await env.send(a!, "DMLGovernor", "propose", args(settings));
    await env.send(a!, "DMLGovernor", "propose", args(canceled));
    await env.send(a!, "DMLGovernor", "cancel", hashed(canceled));

    const id = proposalIdOf(settings);
    await env.warpTo((await env.read<bigint>("DMLGovernor", "proposalSnapshot", [id])) + 1n);
    await env.send(a!, "DMLGovernor", "castVote", [id, 1]);
    await env.send(b!, "DMLGovernor", "castVoteWithReason", [id, 2, "abstaining: no opinion"]);
    await env.send(c!, "DMLGovernor", "castVoteWithReasonAndParams", [
      id,
      0,
      "against, with params",
      PARAMS,
    ]);
    await env.warpTo((await env.read<bigint>("DMLGovernor", "proposalDeadline", [id])) + 1n);
    await env.send(c!, "DMLGovernor", "queue", hashed(settings));
    await env.warpTo(await env.read<bigint>("DMLGovernor", "proposalEta", [id]));
    await env.send(d!, "DMLGovernor", "execute", hashed(settings));

    // dave takes his votes back from carol (no delegate); carol pays bob
    await env.send(d!, "DMLToken", "delegate", [zeroAddress]);
    await env.send(c!, "DMLToken", "transfer", [bob.address, MILLION / 2n]);
    await ix.sync();
  });
  after(async () => ix?.stop());

  const logsOf = async (contract: string, ...names: string[]) =>
    (await ix.logs()).filter((l) => l.contract === contract && names.includes(l.eventName));
  const blockTime = async (log: DecodedLog) =>
    (await ix.env.pub.getBlock({ blockNumber: log.log.blockNumber! })).timestamp.toString();

  it("every account holds the token's balance, votes and delegate", async () => {
    const { env } = ix;
    const accounts = await ix.entities("Account");
    const ids = new Set(accounts.map((a) => a.id));
    // every address in a token event has an account
    for (const l of await logsOf("DMLToken", "Transfer", "DelegateChanged", "DelegateVotesChanged"))
      for (const v of Object.values(l.args))
        if (typeof v === "string" && v.startsWith("0x") && v.length === 42)
          assert.ok(ids.has(lower(v)), `account ${v} (${l.eventName})`);
    for (const a of accounts) {
      const who = getAddress(a.id as string);
      assert.equal(a.balance, (await env.balance(who)).toString(), `balance of ${who}`);
      assert.equal(
        a.votes,
        (await env.read<bigint>("DMLToken", "getVotes", [who])).toString(),
        `votes of ${who}`,
      );
      // never delegated or undelegated: no delegate (the token reads zero)
      const delegate = await env.read<Address>("DMLToken", "delegates", [who]);
      assert.equal(refId(a.delegate) ?? zeroAddress, lower(delegate), `delegate of ${who}`);
      assert.notEqual(refId(a.delegate), zeroAddress, `no account delegates to the zero address`);
    }
    // the holders of this scenario, as the chain has them now
    const dv = accounts.find((a) => a.id === lower(dave.address));
    assert.ok(dv);
    // the host clears a field a mapping sets to null (it once merged the old value back)
    assert.equal(refId(dv.delegate), null, "dave undelegated (delegate(address(0)))");
    assert.equal(refId(accounts.find((a) => a.id === zeroAddress)?.delegate), null);
    assert.equal(
      refId(accounts.find((a) => a.id === lower(alice.address))?.delegate),
      lower(alice.address),
    );
    assert.notEqual(accounts.find((a) => a.id === lower(bob.address))?.balance, "0");
  });

  it("delegation history: at the block dave delegated, carol held his votes", async () => {
    const { env } = ix;
    const r = await ix.query<{ d: EntityJson | null; c: EntityJson | null }>(
      `query($d: ID!, $c: ID!, $n: Int!) {
        d: account(id: $d, block: { number: $n }) { delegate { id } votes balance }
        c: account(id: $c, block: { number: $n }) { votes }
      }`,
      { d: lower(dave.address), c: lower(carol.address), n: Number(delegatedAt) },
    );
    const at = { blockNumber: delegatedAt };
    const token = { address: env.addr("DMLToken"), abi: protocolAbi("DMLToken") } as const;
    const delegate = await env.pub.readContract({
      ...token,
      functionName: "delegates",
      args: [dave.address],
      ...at,
    });
    assert.equal(refId(r.d?.delegate), lower(delegate as string));
    assert.equal(refId(r.d?.delegate), lower(carol.address));
    assert.equal(
      r.d?.balance,
      String(
        await env.pub.readContract({
          ...token,
          functionName: "balanceOf",
          args: [dave.address],
          ...at,
        }),
      ),
    );
    const carolVotes = await env.pub.readContract({
      ...token,
      functionName: "getVotes",
      args: [carol.address],
      ...at,
    });
    assert.equal(r.c?.votes, String(carolVotes));
    assert.ok(
      (carolVotes as bigint) > (await env.read<bigint>("DMLToken", "getVotes", [carol.address])),
      "carol lost dave's votes since",
    );
  });

  it("every Transfer is a TokenTransfer; burns add up to Protocol.burned and the token's totalBurned", async () => {
    const transfers = await logsOf("DMLToken", "Transfer");
    assert.ok(transfers.length >= 8, "mints, allocations, transfers and the burn");
    for (const log of transfers) {
      const e = await ix.eventEntityOf("TokenTransfer", log);
      assert.equal(expectEventFields(e, log), 3, "from, to and value compared");
      assert.equal(e.transactionHash, log.log.transactionHash);
      assert.equal(e.blockNumber, String(log.log.blockNumber));
      assert.equal(e.timestamp, await blockTime(log));
    }
    assert.equal((await ix.entities("TokenTransfer")).length, transfers.length);
    const burned = transfers
      .filter((l) => l.args.to === zeroAddress)
      .reduce((s, l) => s + (l.args.value as bigint), 0n);
    const totalBurned = await ix.env.read<bigint>("DMLToken", "totalBurned");
    assert.equal(burned, totalBurned);
    assert.ok(totalBurned > 0n);
    const p = await ix.entity("Protocol", "1");
    assert.equal(p?.burned, totalBurned.toString());
  });

  const expectProposal = async (p: Proposal) => {
    const { env } = ix;
    const id = proposalIdOf(p);
    const e = await ix.entity("Proposal", id.toString());
    assert.ok(e, `proposal ${id}`);
    const [created] = (await logsOf("DMLGovernor", "ProposalCreated")).filter(
      (l) => l.args.proposalId === id,
    );
    assert.ok(created);
    assert.ok(expectEventFields(e, created) >= 9, "every ProposalCreated parameter compared");
    const r = <T>(fn: string) => env.read<T>("DMLGovernor", fn, [id]);
    assert.equal(e.proposalId, id.toString());
    assert.equal(refId(e.proposer), lower(await r<Address>("proposalProposer")));
    assert.deepEqual(e.targets, p.targets.map(lower));
    assert.deepEqual(e.calldatas, p.calldatas.map(lower));
    assert.equal(e.description, p.description);
    assert.equal(e.voteStart, (await r<bigint>("proposalSnapshot")).toString());
    assert.equal(e.voteEnd, (await r<bigint>("proposalDeadline")).toString());
    assert.equal(e.state, STATE_NAMES[await r<number>("state")]);
    const [against, forVotes, abstain] = await r<readonly bigint[]>("proposalVotes");
    assert.equal(e.againstVotes, against!.toString());
    assert.equal(e.forVotes, forVotes!.toString());
    assert.equal(e.abstainVotes, abstain!.toString());
    assert.equal(e.createdAtBlock, String(created.log.blockNumber));
    assert.equal(e.createdAt, await blockTime(created));
    return { e, id, r };
  };

  it("the settings proposal: created, voted three ways, queued and executed as the governor has it", async () => {
    const { e, id, r } = await expectProposal(settings);
    assert.equal(e.state, "Executed");
    assert.equal(e.voteCount, 3);
    for (const t of ["againstVotes", "forVotes", "abstainVotes"]) assert.notEqual(e[t], "0", t);
    const eta = await r<bigint>("proposalEta");
    assert.equal(e.eta, eta.toString());
    const [queued] = (await logsOf("DMLGovernor", "ProposalQueued")).filter(
      (l) => l.args.proposalId === id,
    );
    const [executed] = (await logsOf("DMLGovernor", "ProposalExecuted")).filter(
      (l) => l.args.proposalId === id,
    );
    assert.ok(queued && executed);
    assert.equal(queued.args.etaSeconds, eta);
    assert.equal(e.queuedAt, await blockTime(queued));
    assert.equal(e.executedAt, await blockTime(executed));
    assert.equal(e.canceledAt, null);
  });

  it("the withdrawn proposal: canceled by its proposer while pending", async () => {
    const { e, id } = await expectProposal(canceled);
    assert.equal(e.state, "Canceled");
    const [log] = (await logsOf("DMLGovernor", "ProposalCanceled")).filter(
      (l) => l.args.proposalId === id,
    );
    assert.ok(log);
    assert.equal(e.canceledAt, await blockTime(log));
    assert.equal(e.voteCount, 0);
    assert.equal(e.eta, null);
    assert.equal(e.queuedAt, null);
    assert.equal(e.executedAt, null);
  });

  it("every VoteCast and VoteCastWithParams is a Vote weighted as the token's votes at the snapshot", async () => {
    const { env } = ix;
    const logs = await logsOf("DMLGovernor", "VoteCast", "VoteCastWithParams");
    assert.deepEqual(
      logs.map((l) => l.eventName),
      ["VoteCast", "VoteCast", "VoteCastWithParams"],
    );
    for (const log of logs) {
      const e = await ix.eventEntityOf("Vote", log);
      assert.equal(
        expectEventFields(e, log, { proposalId: "proposal" }),
        log.eventName === "VoteCast" ? 5 : 6,
      );
      const snapshot = await env.read<bigint>("DMLGovernor", "proposalSnapshot", [
        log.args.proposalId,
      ]);
      assert.equal(
        e.weight,
        (await env.read<bigint>("DMLToken", "getPastVotes", [log.args.voter, snapshot])).toString(),
      );
      assert.equal(
        await env.read("DMLGovernor", "hasVoted", [log.args.proposalId, log.args.voter]),
        true,
      );
      assert.equal(e.params, log.eventName === "VoteCast" ? null : PARAMS);
      assert.equal(e.transactionHash, log.log.transactionHash);
      assert.equal(e.blockNumber, String(log.log.blockNumber));
      assert.equal(e.timestamp, await blockTime(log));
    }
    const r = await ix.query<{ proposal: { votes: { id: string }[] } }>(
      `{ proposal(id: "${proposalIdOf(settings)}") { votes(orderBy: blockNumber) { id } } }`,
    );
    assert.deepEqual(
      r.proposal.votes.map((v) => v.id),
      logs.map((l) => l.eventId),
    );
  });

  it("governor settings: a ParameterChange per event, the last of each is what the governor reads", async () => {
    const { env } = ix;
    const names = [
      "VotingDelaySet",
      "VotingPeriodSet",
      "ProposalThresholdSet",
      "QuorumNumeratorUpdated",
      "TimelockChange",
    ];
    const logs = await logsOf("DMLGovernor", ...names);
    const [executed] = await logsOf("DMLGovernor", "ProposalExecuted");
    for (const name of names) {
      const of = logs.filter((l) => l.eventName === name);
      // the constructor's and the executed proposal's
      assert.equal(of.length, 2, name);
      assert.equal(of[1]!.log.transactionHash, executed!.log.transactionHash, `${name} executed`);
    }
    for (const log of logs) {
      const change = await ix.eventEntityOf("ParameterChange", log);
      assert.equal(change.event, log.eventName);
      assert.deepEqual(change.values, parameterValues(log));
      assert.equal(refId(change.contract), lower(governor));
      assert.equal(change.transactionHash, log.log.transactionHash);
    }
    const last = (name: string) => logs.filter((l) => l.eventName === name).at(-1)!;
    const read = async (fn: string) => String(await env.read("DMLGovernor", fn));
    const want: [string, string, string][] = [
      ["VotingDelaySet", "newVotingDelay", await read("votingDelay")],
      ["VotingPeriodSet", "newVotingPeriod", await read("votingPeriod")],
      ["ProposalThresholdSet", "newProposalThreshold", await read("proposalThreshold")],
      ["QuorumNumeratorUpdated", "newQuorumNumerator", await read("quorumNumerator")],
      ["TimelockChange", "newTimelock", lower(await read("timelock"))],
    ];
    for (const [name, param, value] of want) {
      const change = await ix.eventEntityOf("ParameterChange", last(name));
      assert.ok(change.values && (change.values as string[]).includes(`${param}=${value}`), name);
    }
    assert.equal(lower(await read("timelock")), lower(env.addr("TimelockController")));
    const c = await ix.entity("ProtocolContract", lower(governor));
    assert.ok(c);
    assert.equal(c.name, "DMLGovernor");
    assert.equal(c.upgradeCount, 0);
    assert.equal(c.implementation, null);
  });

  it("the protocol counts proposals and votes", async () => {
    const p = await ix.entity("Protocol", "1");
    assert.ok(p);
    assert.equal(p.proposals, String((await logsOf("DMLGovernor", "ProposalCreated")).length));
    assert.equal(p.proposals, "2");
    assert.equal(
      p.votes,
      String((await logsOf("DMLGovernor", "VoteCast", "VoteCastWithParams")).length),
    );
    assert.equal(p.votes, "3");
  });

  it("every DMLToken and DMLGovernor handler ran", () => {
    ix.assertHandlersRan(["DMLToken", "DMLGovernor"]);
  });
});

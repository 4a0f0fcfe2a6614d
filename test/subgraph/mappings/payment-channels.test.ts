/**
 * subgraph/src/mappings/payment-channels.ts against real PaymentChannels events on the EDR chain (`hardhat node`),
 * indexed by the local graph host from the `graph build` output: a channel opened, topped up, claimed twice with
 * EIP-712 vouchers signed off-chain and closed with a last voucher; a second one claimed once and reclaimed by its
 * sender after the expiry; and the deployment's own Initialized / Upgraded / GovernanceTransferred. Every expected value
 * is read from the chain with viem or decoded from the chain's logs; every PaymentChannels handler runs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address, type Hex } from "viem";
import { implementationOf } from "#sdk/chain/governance.ts";
import { ETHER, localAccount } from "../../../bench/fixture/protocol.ts";
import {
  expectEventFields,
  startIndexedProtocol,
  type DecodedLog,
  type IndexedProtocol,
} from "../helpers/indexed-protocol.ts";

const CHANNEL_STATUS = ["None", "Open", "Closed", "Reclaimed"];
const FUNDS = 1_000n * ETHER;

interface OnChainChannel {
  sender: Address;
  expiry: bigint;
  status: number;
  recipient: Address;
  deposit: bigint;
  paid: bigint;
}

const lower = (a: unknown) => String(a).toLowerCase();
const refId = (v: unknown) => (v as { id: string } | null)?.id ?? null;
const sum = (xs: readonly bigint[]) => xs.reduce((s, x) => s + x, 0n);

describe("subgraph mapping: PaymentChannels", () => {
  let ix: IndexedProtocol;
  let logs: DecodedLog[];
  const sender = localAccount("sg-channel-sender");
  const recipient = localAccount("sg-channel-recipient");
  let channels: Address;
  const ofChannels = (name: string) =>
    logs.filter((l) => l.contract === "PaymentChannels" && l.eventName === name);
  const blockTime = async (l: DecodedLog) =>
    (await ix.chain.pub.getBlock({ blockNumber: l.log.blockNumber! })).timestamp;

  before(async () => {
    ix = await startIndexedProtocol();
    const { env } = ix;
    channels = env.addr("PaymentChannels");
    const s = await env.localWallet(sender);
    const r = await env.localWallet(recipient);
    await env.fund([sender.address], FUNDS);
    await env.send(s, "DMLToken", "approve", [channels, (1n << 255n) - 1n]);
    const domain = {
      name: "DML PaymentChannels",
      version: "1",
      chainId: await env.pub.getChainId(),
      verifyingContract: channels,
    } as const;
    const voucher = (channelId: bigint, cumulativeAmount: bigint): Promise<Hex> =>
      sender.signTypedData({
        domain,
        types: {
          Voucher: [
            { name: "channelId", type: "uint256" },
            { name: "cumulativeAmount", type: "uint256" },
          ],
        },
        primaryType: "Voucher",
        message: { channelId, cumulativeAmount },
      });

    const now = await env.now();
    // #1: open, top up (more and later), two claims, close with a last voucher
    await env.send(s, "PaymentChannels", "open", [recipient.address, 100n * ETHER, now + 86_400n]);
    await env.send(s, "PaymentChannels", "topUp", [1n, 50n * ETHER, now + 2n * 86_400n]);
    await env.send(r, "PaymentChannels", "claim", [
      1n,
      30n * ETHER,
      await voucher(1n, 30n * ETHER),
    ]);
    await env.send(r, "PaymentChannels", "claim", [
      1n,
      70n * ETHER,
      await voucher(1n, 70n * ETHER),
    ]);
    await env.send(r, "PaymentChannels", "close", [
      1n,
      90n * ETHER,
      await voucher(1n, 90n * ETHER),
    ]);
    // #2: open, one claim, reclaimed by the sender after the expiry
    await env.send(s, "PaymentChannels", "open", [recipient.address, 40n * ETHER, now + 3_600n]);
    await env.send(r, "PaymentChannels", "claim", [
      2n,
      10n * ETHER,
      await voucher(2n, 10n * ETHER),
    ]);
    await env.warpTo(now + 3_601n);
    await env.send(s, "PaymentChannels", "reclaim", [2n]);
    await ix.sync();
    logs = await ix.logs();
  });
  after(async () => ix?.stop());

  it("every channel holds its parties, deposit, expiry, status and amount paid as the contract reads them", async () => {
    const { env } = ix;
    const count = await env.read<bigint>("PaymentChannels", "channelCount");
    assert.equal(count, 2n);
    const opened = ofChannels("ChannelOpened");
    assert.equal(opened.length, Number(count));
    for (let id = 1n; id <= count; id++) {
      const c = await ix.entity("Channel", id.toString());
      assert.ok(c, `channel ${id}`);
      const r = await env.read<OnChainChannel>("PaymentChannels", "getChannel", [id]);
      assert.equal(c.channelId, id.toString());
      assert.equal(refId(c.sender), lower(r.sender));
      assert.equal(refId(c.recipient), lower(r.recipient));
      assert.equal(c.deposit, r.deposit.toString());
      assert.equal(c.expiry, r.expiry.toString());
      assert.equal(c.status, CHANNEL_STATUS[r.status]);
      assert.equal(c.claimed, r.paid.toString());
      const open = opened.find((l) => l.args.channelId === id)!;
      assert.equal(open.log.blockNumber !== null, true);
      assert.equal(c.openedAt, String(await blockTime(open)));
      // the refund and the closing time come from the channel's terminal event
      const end = [...ofChannels("ChannelClosed"), ...ofChannels("ChannelReclaimed")].filter(
        (l) => l.args.channelId === id,
      );
      assert.equal(end.length, 1);
      assert.equal(c.refund, String(end[0]!.args.refund));
      assert.equal(BigInt(c.refund as string), r.deposit - r.paid);
      assert.equal(c.closedAt, String(await blockTime(end[0]!)));
    }
    assert.deepEqual(
      [(await ix.entity("Channel", "1"))!.status, (await ix.entity("Channel", "2"))!.status],
      ["Closed", "Reclaimed"],
    );
  });

  it("a top-up raises the deposit and the expiry to what the event and the contract say", async () => {
    const ups = ofChannels("ChannelToppedUp");
    assert.equal(ups.length, 1);
    const up = ups[0]!;
    const r = await ix.env.read<OnChainChannel>("PaymentChannels", "getChannel", [1n]);
    assert.equal(up.args.newDeposit, r.deposit);
    assert.equal(BigInt(up.args.newExpiry as number), r.expiry);
    const open = ofChannels("ChannelOpened").find((l) => l.args.channelId === 1n)!;
    assert.equal(
      up.args.newDeposit,
      (open.args.deposit as bigint) + (up.args.amount as bigint),
      "deposit = opened + topped up",
    );
    const c = (await ix.entity("Channel", "1"))!;
    assert.equal(c.deposit, String(up.args.newDeposit));
    assert.equal(c.expiry, String(up.args.newExpiry));
  });

  it("claims: one ChannelClaim per voucher redeemed (the close's included); the recipient holds their payouts", async () => {
    const { env } = ix;
    const claims = ofChannels("ChannelClaimed");
    assert.equal(claims.length, 4);
    for (const log of claims) {
      const e = await ix.eventEntityOf("ChannelClaim", log);
      assert.equal(expectEventFields(e, log, { channelId: "channel" }), 3);
      assert.equal(e.blockNumber, String(log.log.blockNumber));
      assert.equal(e.transactionHash, log.log.transactionHash);
      assert.equal(e.timestamp, String(await blockTime(log)));
    }
    for (const id of ["1", "2"]) {
      const r = await ix.query<{
        channel: { claims: { cumulativeAmount: string; payout: string }[] };
      }>(
        `{ channel(id: "${id}") { claims(orderBy: cumulativeAmount) { cumulativeAmount payout } } }`,
      );
      const mine = claims.filter((l) => String(l.args.channelId) === id);
      assert.deepEqual(
        r.channel.claims.map((c) => c.cumulativeAmount),
        mine.map((l) => String(l.args.cumulativeAmount)),
      );
      // each payout is the step from the previous cumulative amount
      let prev = 0n;
      for (const l of mine) {
        assert.equal(l.args.payout, (l.args.cumulativeAmount as bigint) - prev);
        prev = l.args.cumulativeAmount as bigint;
      }
      const ch = await env.read<OnChainChannel>("PaymentChannels", "getChannel", [BigInt(id)]);
      assert.equal(prev, ch.paid);
    }
    const paid = sum(claims.map((l) => l.args.payout as bigint));
    assert.equal(await env.balance(recipient.address), paid);
    // the sender holds what it was funded with less what the recipient was paid (refunds included)
    assert.equal(await env.balance(sender.address), FUNDS - paid);
    assert.equal(await env.balance(channels), 0n);
  });

  it("the protocol counts the channels opened", async () => {
    const p = await ix.entity("Protocol", "1");
    assert.ok(p);
    assert.equal(p.channels, String(await ix.env.read("PaymentChannels", "channelCount")));
  });

  it("the proxy's implementation, initializer version and governance", async () => {
    const { env } = ix;
    const c = await ix.entity("ProtocolContract", lower(channels));
    assert.ok(c);
    assert.equal(c.name, "PaymentChannels");
    assert.equal(c.implementation, lower(await implementationOf(ix.chain.pub as never, channels)));
    assert.equal(c.governance, lower(env.addr("TimelockController")));
    const init = ofChannels("Initialized");
    assert.equal(init.length, 1);
    assert.equal(c.initializedVersion, String(init[0]!.args.version));
    assert.equal(c.upgradeCount, ofChannels("Upgraded").length);
    assert.ok((c.upgradeCount as number) >= 1);
    const gov = ofChannels("GovernanceTransferred");
    assert.ok(gov.length >= 1);
    for (const log of gov) {
      const t = await ix.eventEntityOf("GovernanceTransfer", log);
      assert.equal(expectEventFields(t, log), 2);
      assert.equal(refId(t.contract), lower(channels));
    }
    assert.equal(
      getAddress(gov.at(-1)!.args.newGovernance as Address),
      env.addr("TimelockController"),
    );
  });

  it("every PaymentChannels handler ran", () => {
    ix.assertHandlersRan(["PaymentChannels"]);
  });
});

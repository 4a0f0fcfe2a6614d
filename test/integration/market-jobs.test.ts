/**
 * Issue 3 — marketplace, job auction and payment channels end to end on the in-process EDR chain, deployed
 * by script/deploy.ts with K = 2 jobs per auction epoch:
 * a developer lists an algorithm and a customer buys a licence; five jobs bid in one epoch, the two highest
 * are scheduled and each pays exactly the third-highest bid; the other three roll over, one withdraws with a
 * full refund and two are scheduled in the next epoch; a tailor-made request pays its bounty to the developer
 * less the protocol fee; 1,000 EIP-712 vouchers are signed and verified off-chain and settled with one claim.
 * Every balance is checked exactly; the gas of each on-chain step is printed.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { getAddress, hashTypedData, verifyTypedData, type Address, type Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { z } from "zod";
import { DEV_MNEMONIC } from "#sdk/chain/clients.ts";
import {
  abi,
  bidCommitment,
  BPS,
  ETHER,
  JobStatus,
  label,
  printGas,
  ProtocolEnv,
  revertName,
} from "../../bench/fixture/protocol.ts";

const SCHEMA = label("email/rfc822-v1");
const PKG = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
const PKG2 = "bafybeihkoviema7g3gxyt6la7vd5ho32ictqbilu3wnlo3rs7ewhnp7lly";
const USE_PRICE = 5n * ETHER;
const LICENCE = 100n * ETHER;
const PROTOCOL_FEE_BPS = 250n;
const RESERVE = ETHER;
const REWARD = ETHER;
const MAX_DEVICES = 20;
const BIDS = [10n, 8n, 6n, 4n, 2n].map((b) => b * ETHER);
const VOUCHERS = 1_000;
const STEP = ETHER / 2n;

const Scheduled = z.object({
  jobId: z.bigint(),
  epoch: z.bigint(),
  rank: z.bigint(),
  price: z.bigint(),
  refund: z.bigint(),
});

describe("Marketplace, job auction (K = 2) and payment channels (issue 3)", () => {
  let env: ProtocolEnv;
  let developer: ProtocolEnv["wallets"][number];
  let customer: ProtocolEnv["wallets"][number];
  let requester: ProtocolEnv["wallets"][number];
  let keeper: ProtocolEnv["wallets"][number];
  let treasury: Address;
  let algorithmId: bigint;
  const jobs: bigint[] = [];
  const who = (w: { account: { address: Address } }): Address => getAddress(w.account.address);

  /** The JobScheduled events of `jobId` (the price a job paid is no longer stored in the job). */
  async function scheduledEvents(jobId: bigint): Promise<z.infer<typeof Scheduled>[]> {
    const logs = await env.pub.getContractEvents({
      address: env.addr("JobMarket"),
      abi: abi("JobMarket"),
      eventName: "JobScheduled",
      args: { jobId },
      fromBlock: 0n,
    });
    return logs.map((l) => Scheduled.parse(l.args));
  }

  /** What a scheduled job paid: its scheduling epoch's clearing price, cross-checked with its JobScheduled. */
  async function pricePaid(jobId: bigint): Promise<bigint> {
    const job = await env.read<{ scheduledEpoch: number }>("JobMarket", "getJob", [jobId]);
    const epoch = BigInt(job.scheduledEpoch);
    const info = await env.read<{ clearingPrice: bigint }>("JobMarket", "epochInfo", [epoch]);
    const events = await scheduledEvents(jobId);
    assert.equal(events.length, 1, `job ${jobId} scheduled once`);
    assert.equal(events[0]!.epoch, epoch);
    assert.equal(events[0]!.price, info.clearingPrice);
    return info.clearingPrice;
  }

  before(async () => {
    env = await ProtocolEnv.create({ jobMarket: { capacity: 2, reservePrice: RESERVE } });
    developer = env.wallet(2);
    customer = env.wallet(3);
    requester = env.wallet(4);
    keeper = env.wallet(5);
    treasury = env.addr("TimelockController");
    await env.fund([who(customer), who(requester)], 10_000n * ETHER);
    for (const spender of ["AlgorithmMarketplace", "JobMarket", "PaymentChannels"])
      await env.approve(customer, spender);
    await env.approve(requester, "AlgorithmMarketplace");
    assert.equal(
      await env.read("JobMarket", "params").then((p) => (p as { capacity: number }).capacity),
      2,
    );
  });

  it("a developer lists an algorithm and a customer buys a licence (developer paid less protocol fee)", async () => {
    await env.send(developer, "AlgorithmMarketplace", "list", [
      PKG,
      label("model.onnx"),
      SCHEMA,
      USE_PRICE,
      LICENCE,
      0n,
      "",
    ]);
    algorithmId = await env.read<bigint>("AlgorithmMarketplace", "algorithmCount");
    const dev0 = await env.balance(who(developer));
    const t0 = await env.balance(treasury);
    const c0 = await env.balance(who(customer));
    await env.send(customer, "AlgorithmMarketplace", "buyLicence", [algorithmId, LICENCE]);
    const fee = (LICENCE * PROTOCOL_FEE_BPS) / BPS;
    assert.equal(
      await env.read("AlgorithmMarketplace", "hasLicence", [who(customer), algorithmId]),
      true,
    );
    assert.equal((await env.balance(who(developer))) - dev0, LICENCE - fee);
    assert.equal((await env.balance(treasury)) - t0, fee);
    assert.equal(c0 - (await env.balance(who(customer))), LICENCE);
  });

  function spec() {
    return {
      algorithmId,
      schema: SCHEMA,
      minDevices: 10,
      maxDevices: MAX_DEVICES,
      rewardPerDevice: REWARD,
      minParticipants: 8,
      maxStdError: 5n * 10n ** 16n,
      encryptionKey: `0x03${label("customer-key").slice(2)}` as Hex,
      durations: {
        bidding: 7 * 86_400,
        assignment: 3_600,
        commit: 3_600,
        attestation: 3_600,
        report: 3_600,
        settlement: 3_600,
      },
      maxUsePrice: 0n, // licensed: no per-use price is due
    };
  }

  it("five sealed bids, K = 2: the two highest pay exactly the third-highest bid; three roll over", async () => {
    const c = who(customer);
    const epoch = await env.warpToCommitWindow();
    const budget = await env.read<bigint>("JobMarket", "budgetOf", [MAX_DEVICES, REWARD]);
    const c0 = await env.balance(c);
    for (let i = 0; i < BIDS.length; i++) {
      await env.send(
        customer,
        "JobMarket",
        "createJob",
        [spec()],
        "JobMarket.createJob (licensed)",
      );
      jobs.push(await env.read<bigint>("JobMarket", "jobCount"));
    }
    // Licensed: no per-use price, only the escrowed budgets.
    assert.equal(c0 - (await env.balance(c)), budget * 5n);
    const salts = jobs.map((j) => label(`salt-${j}`));
    for (const [i, j] of jobs.entries())
      await env.send(customer, "JobMarket", "commitBid", [
        j,
        bidCommitment(j, BIDS[i]!, salts[i]!, c),
        BIDS[i],
      ]);
    const [, commitEnd, revealEnd] = await env.epochWindows(epoch);
    await env.warpTo(commitEnd!);
    for (const [i, j] of jobs.entries())
      await env.send(keeper, "JobMarket", "revealBid", [j, BIDS[i], salts[i]]);
    await env.warpTo(revealEnd!);
    const beforeFinal = await env.balance(c);
    const t0 = await env.balance(treasury);
    await env.send(
      keeper,
      "JobMarket",
      "finalizeEpoch",
      [epoch],
      "JobMarket.finalizeEpoch (5 bids)",
    );

    const price = BIDS[2]!;
    const info = await env.read<{ clearingPrice: bigint; scheduledCount: number }>(
      "JobMarket",
      "epochInfo",
      [epoch],
    );
    assert.equal(info.clearingPrice, price);
    assert.equal(info.scheduledCount, 2);
    for (const [i, j] of jobs.entries()) {
      const job = await env.read<{ status: number; escrow: bigint }>("JobMarket", "getJob", [j]);
      assert.equal(job.status, i < 2 ? JobStatus.Scheduled : JobStatus.Created, `job ${j}`);
      if (i < 2) assert.equal(await pricePaid(j), price);
      else assert.equal((await scheduledEvents(j)).length, 0, `job ${j} not scheduled`);
      assert.equal(job.escrow, budget, "budget stays escrowed");
    }
    // All five deposits come back except the two clearing prices, which go to the treasury.
    const deposits = BIDS.reduce((a, b) => a + b, 0n);
    assert.equal((await env.balance(c)) - beforeFinal, deposits - 2n * price);
    assert.equal((await env.balance(treasury)) - t0, 2n * price);
  });

  it("a rolled-over job withdraws with a full refund; the other two are scheduled next epoch", async () => {
    const c = who(customer);
    const withdrawn = jobs[4]!;
    const escrow = await env.read<bigint>("JobMarket", "escrowOf", [withdrawn]);
    const c0 = await env.balance(c);
    await env.send(customer, "JobMarket", "withdrawJob", [withdrawn]);
    assert.equal((await env.balance(c)) - c0, escrow);
    assert.equal(await env.read("JobMarket", "status", [withdrawn]), JobStatus.Cancelled);
    assert.equal(await env.read("JobMarket", "escrowOf", [withdrawn]), 0n);
    assert.equal(
      await revertName(
        customer.writeContract({
          address: env.addr("JobMarket"),
          abi: abi("JobMarket"),
          functionName: "withdrawJob",
          args: [jobs[0]!],
        }),
      ),
      "JobMarketInvalidStatus",
      "a scheduled job cannot be withdrawn",
    );

    const epoch = await env.warpToCommitWindow();
    const rolled = [jobs[2]!, jobs[3]!];
    const salts = rolled.map((j) => label(`salt2-${j}`));
    for (const [i, j] of rolled.entries())
      await env.send(customer, "JobMarket", "commitBid", [
        j,
        bidCommitment(j, 3n * ETHER, salts[i]!, c),
        3n * ETHER,
      ]);
    const [, commitEnd, revealEnd] = await env.epochWindows(epoch);
    await env.warpTo(commitEnd!);
    for (const [i, j] of rolled.entries())
      await env.send(keeper, "JobMarket", "revealBid", [j, 3n * ETHER, salts[i]]);
    await env.warpTo(revealEnd!);
    const c1 = await env.balance(c);
    await env.send(
      keeper,
      "JobMarket",
      "finalizeEpoch",
      [epoch],
      "JobMarket.finalizeEpoch (2 bids)",
    );
    for (const j of rolled) {
      const job = await env.read<{ status: number; scheduledEpoch: number }>(
        "JobMarket",
        "getJob",
        [j],
      );
      assert.equal(job.status, JobStatus.Scheduled);
      assert.equal(BigInt(job.scheduledEpoch), epoch);
      assert.equal(await pricePaid(j), RESERVE, "fewer than K + 1 bids: the reserve price");
    }
    assert.equal((await env.balance(c)) - c1, 2n * (3n * ETHER - RESERVE));
  });

  it("a tailor-made request pays its bounty to the developer less the protocol fee", async () => {
    const bounty = 50n * ETHER;
    const deadline = (await env.now()) + 86_400n;
    await env.send(requester, "AlgorithmMarketplace", "postRequest", [
      "bafkreirequestspecrequestspecrequestspecrequestspecreques",
      SCHEMA,
      bounty,
      deadline,
    ]);
    const requestId = await env.read<bigint>("AlgorithmMarketplace", "requestCount");
    await env.send(developer, "AlgorithmMarketplace", "list", [
      PKG2,
      label("model-v2.onnx"),
      SCHEMA,
      USE_PRICE,
      0n,
      0n,
      "",
    ]);
    const tailored = await env.read<bigint>("AlgorithmMarketplace", "algorithmCount");
    await env.send(developer, "AlgorithmMarketplace", "submitToRequest", [requestId, tailored]);
    const d0 = await env.balance(who(developer));
    const t0 = await env.balance(treasury);
    await env.send(requester, "AlgorithmMarketplace", "acceptSubmission", [requestId, tailored]);
    const fee = (bounty * PROTOCOL_FEE_BPS) / BPS;
    assert.equal((await env.balance(who(developer))) - d0, bounty - fee);
    assert.equal((await env.balance(treasury)) - t0, fee);
    const r = await env.read<{ status: number; acceptedAlgorithmId: bigint }>(
      "AlgorithmMarketplace",
      "getRequest",
      [requestId],
    );
    assert.equal(r.status, 2); // Accepted
    assert.equal(r.acceptedAlgorithmId, tailored);
  });

  it("1,000 EIP-712 vouchers signed and verified off-chain, settled with one on-chain claim", async () => {
    // The customer's key (Hardhat account #3) as a local viem account: signatures are made off-chain.
    const sender = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 3 });
    assert.equal(getAddress(sender.address), who(customer));
    const recipient = who(developer);
    const channels = env.addr("PaymentChannels");
    const deposit = BigInt(VOUCHERS) * STEP;
    const expiry = (await env.now()) + 86_400n;
    const c0 = await env.balance(who(customer));
    await env.send(customer, "PaymentChannels", "open", [recipient, deposit, expiry]);
    const channelId = await env.read<bigint>("PaymentChannels", "channelCount");
    assert.equal(c0 - (await env.balance(who(customer))), deposit);

    const domain = {
      name: "DML PaymentChannels",
      version: "1",
      chainId: await env.pub.getChainId(),
      verifyingContract: channels,
    } as const;
    const types = {
      Voucher: [
        { name: "channelId", type: "uint256" },
        { name: "cumulativeAmount", type: "uint256" },
      ],
    } as const;
    const t = Date.now();
    const vouchers: { cumulativeAmount: bigint; signature: Hex }[] = [];
    for (let i = 1; i <= VOUCHERS; i++) {
      const message = { channelId, cumulativeAmount: BigInt(i) * STEP };
      const signature = await sender.signTypedData({
        domain,
        types,
        primaryType: "Voucher",
        message,
      });
      vouchers.push({ cumulativeAmount: message.cumulativeAmount, signature });
    }
    const signMs = Date.now() - t;
    // The recipient checks every voucher as it arrives: signer, and a strictly increasing amount.
    const t2 = Date.now();
    let last = 0n;
    for (const v of vouchers) {
      assert.ok(v.cumulativeAmount > last);
      last = v.cumulativeAmount;
      assert.ok(
        await verifyTypedData({
          address: sender.address,
          domain,
          types,
          primaryType: "Voucher",
          message: { channelId, cumulativeAmount: v.cumulativeAmount },
          signature: v.signature,
        }),
      );
    }
    const verifyMs = Date.now() - t2;
    console.log(`    signed ${VOUCHERS} vouchers in ${signMs} ms, verified in ${verifyMs} ms`);
    const final = vouchers.at(-1)!;
    assert.equal(
      await env.read("PaymentChannels", "voucherDigest", [channelId, final.cumulativeAmount]),
      hashTypedData({
        domain,
        types,
        primaryType: "Voucher",
        message: { channelId, cumulativeAmount: final.cumulativeAmount },
      }),
    );
    const d0 = await env.balance(recipient);
    await env.send(
      developer,
      "PaymentChannels",
      "claim",
      [channelId, final.cumulativeAmount, final.signature],
      "PaymentChannels.claim (voucher 1,000)",
    );
    assert.equal((await env.balance(recipient)) - d0, deposit);
    const ch = await env.read<{ paid: bigint; deposit: bigint }>("PaymentChannels", "getChannel", [
      channelId,
    ]);
    assert.equal(ch.paid, deposit);
    assert.equal(await env.balance(channels), 0n);
    // An older voucher can no longer be redeemed.
    const older = vouchers[499]!;
    assert.equal(
      await revertName(
        developer.writeContract({
          address: channels,
          abi: abi("PaymentChannels"),
          functionName: "claim",
          args: [channelId, older.cumulativeAmount, older.signature],
        }),
      ),
      "ChannelVoucherReplayed",
    );
    printGas("gas of every on-chain step (receipt gas)", env.gasLog);
  });
});

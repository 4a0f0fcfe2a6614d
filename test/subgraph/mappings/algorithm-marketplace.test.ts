/**
 * subgraph/src/mappings/algorithm-marketplace.ts against real AlgorithmMarketplace events on the EDR chain
 * (`hardhat node`), indexed by the local graph host from the `graph build` output: listings (originals, an own version,
 * a child version published by an authorised publisher), price updates, a deprecation, licences, per-use payments
 * (one through JobMarket.createJob, one direct), revenue splits with a parent share, tailor-made requests accepted,
 * cancelled and refunded, the governance setters, and the deployment's own Initialized / Upgraded /
 * GovernanceTransferred. Every expected value is read from the chain with viem or decoded from the chain's logs; every
 * AlgorithmMarketplace handler runs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getAddress, zeroAddress, type Address, type Hex } from "viem";
import { implementationOf } from "#sdk/chain/governance.ts";
import { ETHER, label, localAccount } from "../../../bench/fixture/protocol.ts";
import {
  expectEventFields,
  parameterValues,
  startIndexedProtocol,
  type DecodedLog,
  type EntityJson,
  type IndexedProtocol,
} from "../helpers/indexed-protocol.ts";

const SCHEMA = label("email/rfc822-v1");
const PKG = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
const PKG2 = "bafybeihkoviema7g3gxyt6la7vd5ho32ictqbilu3wnlo3rs7ewhnp7lly";
const REQUEST_STATUS = ["None", "Open", "Accepted", "Refunded", "Cancelled"];

interface OnChainAlgorithm {
  developer: Address;
  parentId: bigint;
  schema: Hex;
  modelSha256: Hex;
  packageCid: string;
  metadataCid: string;
  usePrice: bigint;
  licencePrice: bigint;
  deprecated: boolean;
}
interface OnChainRequest {
  customer: Address;
  deadline: bigint;
  status: number;
  schema: Hex;
  bounty: bigint;
  acceptedAlgorithmId: bigint;
  submissionCount: number;
  specCid: string;
}

const lower = (a: unknown) => String(a).toLowerCase();
const refId = (v: unknown) => (v as { id: string } | null)?.id ?? null;
const sum = (xs: readonly bigint[]) => xs.reduce((s, x) => s + x, 0n);

describe("subgraph mapping: AlgorithmMarketplace", () => {
  let ix: IndexedProtocol;
  let logs: DecodedLog[];
  const dev = localAccount("sg-market-dev");
  const dev2 = localAccount("sg-market-dev2");
  const customer = localAccount("sg-market-customer");
  const publisher = localAccount("sg-market-publisher");
  const treasury = localAccount("sg-market-treasury").address;
  let market: Address;
  const ofMarket = (name: string) =>
    logs.filter((l) => l.contract === "AlgorithmMarketplace" && l.eventName === name);
  const blockTime = async (l: DecodedLog) =>
    (await ix.chain.pub.getBlock({ blockNumber: l.log.blockNumber! })).timestamp;

  before(async () => {
    ix = await startIndexedProtocol();
    const { env } = ix;
    market = env.addr("AlgorithmMarketplace");
    // governance: a fresh treasury (so it holds exactly the protocol fees), new fee and parent share, a publisher
    const fee = await env.read<number>("AlgorithmMarketplace", "protocolFeeBps");
    const maxFee = await env.read<number>("AlgorithmMarketplace", "MAX_PROTOCOL_FEE_BPS");
    const share = await env.read<number>("AlgorithmMarketplace", "parentShareBps");
    const maxShare = await env.read<number>("AlgorithmMarketplace", "MAX_PARENT_SHARE_BPS");
    await env.asGovernance("AlgorithmMarketplace", "setTreasury", [treasury]);
    await env.asGovernance("AlgorithmMarketplace", "setProtocolFeeBps", [
      Math.ceil((fee + maxFee) / 2),
    ]);
    await env.asGovernance("AlgorithmMarketplace", "setParentShareBps", [
      Math.ceil((share + maxShare) / 2),
    ]);
    await env.asGovernance("AlgorithmMarketplace", "setPublisher", [publisher.address, true]);

    const d = await env.localWallet(dev);
    const d2 = await env.localWallet(dev2);
    const c = await env.localWallet(customer);
    const p = await env.localWallet(publisher);
    await env.fund([customer.address], 10_000n * ETHER);
    for (const spender of ["AlgorithmMarketplace", "JobMarket"])
      await env.send(c, "DMLToken", "approve", [env.addr(spender), (1n << 255n) - 1n]);

    // #1 original (licences and uses sold), #2 original without licences (deprecated), #3 own version of #1
    await env.send(d, "AlgorithmMarketplace", "list", [
      PKG,
      label("model-1"),
      SCHEMA,
      5n * ETHER,
      100n * ETHER,
      0n,
      "bafkmeta",
    ]);
    await env.send(d, "AlgorithmMarketplace", "list", [
      PKG2,
      label("model-2"),
      SCHEMA,
      ETHER,
      0n,
      0n,
      "",
    ]);
    await env.send(d, "AlgorithmMarketplace", "list", [
      PKG,
      label("model-3"),
      SCHEMA,
      3n * ETHER,
      40n * ETHER,
      1n,
      "",
    ]);
    await env.send(d, "AlgorithmMarketplace", "updatePrices", [1n, 6n * ETHER, 120n * ETHER]);
    await env.send(d, "AlgorithmMarketplace", "deprecate", [2n]);
    // #4: a child of #1 by another developer, published by the publisher
    await env.send(p, "AlgorithmMarketplace", "publishChildVersion", [
      1n,
      dev2.address,
      PKG2,
      label("model-4"),
    ]);

    // licences of #1 and of the child #4 (a parent share goes to #1's developer)
    await env.send(c, "AlgorithmMarketplace", "buyLicence", [1n, 120n * ETHER]);
    const l4 = await env.read<OnChainAlgorithm>("AlgorithmMarketplace", "getAlgorithm", [4n]);
    await env.send(c, "AlgorithmMarketplace", "buyLicence", [4n, l4.licencePrice]);
    // per-use payments: a job on #3 (no licence) pays its use price through JobMarket; a direct payUse of #4
    const a3 = await env.read<OnChainAlgorithm>("AlgorithmMarketplace", "getAlgorithm", [3n]);
    await env.send(c, "JobMarket", "createJob", [
      {
        algorithmId: 3n,
        schema: SCHEMA,
        minDevices: 10,
        maxDevices: 20,
        rewardPerDevice: ETHER,
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
        maxUsePrice: a3.usePrice,
      },
    ]);
    await env.send(c, "AlgorithmMarketplace", "payUse", [4n, customer.address]);

    // requests: #1 accepted, #2 cancelled, #3 refunded after its deadline
    const now = await env.now();
    await env.send(c, "AlgorithmMarketplace", "postRequest", [
      "bafkspec1",
      SCHEMA,
      50n * ETHER,
      now + 86_400n,
    ]);
    await env.send(d, "AlgorithmMarketplace", "submitToRequest", [1n, 1n]);
    await env.send(d2, "AlgorithmMarketplace", "submitToRequest", [1n, 4n]);
    await env.send(c, "AlgorithmMarketplace", "acceptSubmission", [1n, 1n]);
    await env.send(c, "AlgorithmMarketplace", "postRequest", [
      "bafkspec2",
      SCHEMA,
      20n * ETHER,
      now + 86_400n,
    ]);
    await env.send(c, "AlgorithmMarketplace", "cancelRequest", [2n]);
    await env.send(c, "AlgorithmMarketplace", "postRequest", [
      "bafkspec3",
      SCHEMA,
      30n * ETHER,
      now + 3_600n,
    ]);
    await env.send(d, "AlgorithmMarketplace", "submitToRequest", [3n, 3n]);
    await env.warpTo(now + 3_601n);
    await env.send(d, "AlgorithmMarketplace", "refundRequest", [3n]);
    await ix.sync();
    logs = await ix.logs();
  });
  after(async () => ix?.stop());

  it("every algorithm holds its listing, prices, lineage and deprecation as the marketplace reads them", async () => {
    const { env } = ix;
    const count = await env.read<bigint>("AlgorithmMarketplace", "algorithmCount");
    assert.equal(count, 4n);
    const listed = ofMarket("AlgorithmListed");
    assert.equal(listed.length, Number(count));
    const children = ofMarket("ChildVersionPublished");
    assert.equal(children.length, 1);
    for (let id = 1n; id <= count; id++) {
      const a = await ix.entity("Algorithm", id.toString());
      assert.ok(a, `algorithm ${id}`);
      const r = await env.read<OnChainAlgorithm>("AlgorithmMarketplace", "getAlgorithm", [id]);
      assert.equal(a.algorithmId, id.toString());
      assert.equal(refId(a.developer), lower(r.developer));
      assert.equal(refId(a.parent), r.parentId === 0n ? null : r.parentId.toString());
      assert.equal(a.schema, r.schema);
      assert.equal(a.modelSha256, r.modelSha256);
      assert.equal(a.packageCid, r.packageCid);
      assert.equal(a.metadataCid, r.metadataCid);
      assert.equal(a.usePrice, r.usePrice.toString());
      assert.equal(a.licencePrice, r.licencePrice.toString());
      assert.equal(a.deprecated, r.deprecated);
      assert.equal(a.deprecated, !(await env.read("AlgorithmMarketplace", "isListed", [id])));
      // version: one more than the parent's
      const parent = r.parentId === 0n ? null : await ix.entity("Algorithm", r.parentId.toString());
      assert.equal(a.version, parent ? (parent.version as number) + 1 : 0);
      const child = children.find((l) => l.args.childId === id);
      assert.equal(a.publisher, child ? lower(child.args.publisher) : null);
      const log = listed.find((l) => l.args.algorithmId === id)!;
      assert.equal(a.listedAtBlock, String(log.log.blockNumber));
      assert.equal(a.listedAt, String(await blockTime(log)));
    }
    // the child was published by the publisher the governance allowed, for another developer
    assert.equal(getAddress(children[0]!.args.publisher as Address), publisher.address);
    assert.equal((await ix.entity("Algorithm", "4"))!.version, 1);
    assert.equal((await ix.entity("Algorithm", "2"))!.deprecated, true);
    assert.equal(ofMarket("AlgorithmPricesUpdated").length, 1);
    assert.equal(ofMarket("AlgorithmDeprecated").length, 1);
  });

  it("licences: one per purchase, at the price paid; the algorithm counts them and their revenue", async () => {
    const { env } = ix;
    const bought = ofMarket("LicencePurchased");
    assert.equal(bought.length, 2);
    for (const log of bought) {
      const id = log.args.algorithmId as bigint;
      const who = log.args.customer as Address;
      const l = await ix.entity("Licence", `${id}-${lower(who)}`);
      assert.ok(l);
      assert.equal(await env.read("AlgorithmMarketplace", "hasLicence", [who, id]), true);
      assert.ok(expectEventFields(l, log, { algorithmId: "algorithm" }) === 3);
      assert.equal(l.purchasedAtBlock, String(log.log.blockNumber));
      assert.equal(l.purchasedAt, String(await blockTime(log)));
    }
    for (let id = 1n; id <= 4n; id++) {
      const a = (await ix.entity("Algorithm", id.toString()))!;
      const mine = bought.filter((l) => l.args.algorithmId === id);
      assert.equal(a.licencesSold, String(mine.length));
      assert.equal(a.licenceRevenue, sum(mine.map((l) => l.args.price as bigint)).toString());
      const licensed = await env.read<boolean>("AlgorithmMarketplace", "hasLicence", [
        customer.address,
        id,
      ]);
      assert.equal(licensed, mine.length === 1);
    }
  });

  it("per-use payments: one AlgorithmUse per UsePaid (a job's through JobMarket, a direct one), counted per algorithm", async () => {
    const uses = ofMarket("UsePaid");
    assert.equal(uses.length, 2);
    const jobMarket = lower(ix.env.addr("JobMarket"));
    assert.deepEqual(
      uses.map((l) => lower(l.args.caller)),
      [jobMarket, lower(customer.address)],
    );
    for (const log of uses) {
      const u = await ix.eventEntityOf("AlgorithmUse", log);
      assert.equal(expectEventFields(u, log, { algorithmId: "algorithm" }), 4);
      assert.equal(u.blockNumber, String(log.log.blockNumber));
      assert.equal(u.transactionHash, log.log.transactionHash);
      assert.equal(u.timestamp, String(await blockTime(log)));
    }
    for (let id = 1n; id <= 4n; id++) {
      const a = (await ix.entity("Algorithm", id.toString()))!;
      const mine = uses.filter((l) => l.args.algorithmId === id);
      assert.equal(a.uses, String(mine.length));
      assert.equal(a.useRevenue, sum(mine.map((l) => l.args.price as bigint)).toString());
    }
    // the job's use price is what the job recorded and what the algorithm charged
    const created = logs.filter((l) => l.contract === "JobMarket" && l.eventName === "JobCreated");
    assert.equal(created.length, 1);
    assert.equal(created[0]!.args.usePaid, uses[0]!.args.price);
    const a3 = await ix.env.read<OnChainAlgorithm>("AlgorithmMarketplace", "getAlgorithm", [3n]);
    assert.equal(uses[0]!.args.price, a3.usePrice);
  });

  it("revenue splits: as the marketplace quotes them; developers hold exactly their shares", async () => {
    const { env } = ix;
    const splits = ofMarket("RevenueSplit");
    // two licences and two paid uses
    assert.equal(splits.length, 4);
    const sales = [...ofMarket("LicencePurchased"), ...ofMarket("UsePaid")];
    for (const log of splits) {
      const s = await ix.eventEntityOf("RevenueSplit", log);
      assert.equal(expectEventFields(s, log, { algorithmId: "algorithm" }), 6);
      assert.equal(s.transactionHash, log.log.transactionHash);
      const sale = sales.find((l) => l.log.transactionHash === log.log.transactionHash)!;
      const [developer, devAmount, parentDev, parentAmount, fee] = await env.read<
        readonly [Address, bigint, Address, bigint, bigint]
      >("AlgorithmMarketplace", "revenueSplit", [log.args.algorithmId, sale.args.price]);
      assert.deepEqual(
        [s.developer, s.developerAmount, s.parentDeveloper, s.parentAmount, s.protocolFee],
        [lower(developer), String(devAmount), lower(parentDev), String(parentAmount), String(fee)],
      );
    }
    // the child's sales pay #1's developer a parent share; the own version #3's do not
    const child = splits.filter((l) => l.args.algorithmId === 4n);
    assert.ok(child.every((l) => getAddress(l.args.parentDeveloper as Address) === dev.address));
    assert.ok(child.every((l) => (l.args.parentAmount as bigint) > 0n));
    const own = splits.find((l) => l.args.algorithmId === 3n)!;
    assert.equal(own.args.parentDeveloper, zeroAddress);
    // developerRevenue sums the developer's shares; the balances agree
    const revenue: Record<string, bigint> = {};
    for (let id = 1n; id <= 4n; id++) {
      const a = (await ix.entity("Algorithm", id.toString()))!;
      const mine = splits.filter((l) => l.args.algorithmId === id);
      assert.equal(
        a.developerRevenue,
        sum(mine.map((l) => l.args.developerAmount as bigint)).toString(),
      );
      revenue[refId(a.developer)!] =
        (revenue[refId(a.developer)!] ?? 0n) + BigInt(a.developerRevenue as string);
    }
    assert.equal(await env.balance(dev2.address), revenue[lower(dev2.address)]);
    const accepted = (await ix.entity("Request", "1"))!;
    assert.equal(
      await env.balance(dev.address),
      revenue[lower(dev.address)]! +
        sum(child.map((l) => l.args.parentAmount as bigint)) +
        BigInt(accepted.developerAmount as string),
    );
  });

  it("requests: accepted, cancelled and refunded as the marketplace reads them, with their submissions", async () => {
    const { env } = ix;
    const count = await env.read<bigint>("AlgorithmMarketplace", "requestCount");
    assert.equal(count, 3n);
    const closing = [
      ...ofMarket("RequestAccepted"),
      ...ofMarket("RequestCancelled"),
      ...ofMarket("RequestRefunded"),
    ];
    const posted = ofMarket("RequestPosted");
    const statuses: string[] = [];
    for (let id = 1n; id <= count; id++) {
      const e = await ix.entity("Request", id.toString());
      assert.ok(e);
      const r = await env.read<OnChainRequest>("AlgorithmMarketplace", "getRequest", [id]);
      assert.equal(e.requestId, id.toString());
      assert.equal(refId(e.customer), lower(r.customer));
      assert.equal(e.schema, r.schema);
      assert.equal(e.bounty, r.bounty.toString());
      assert.equal(e.deadline, r.deadline.toString());
      assert.equal(e.specCid, r.specCid);
      assert.equal(e.status, REQUEST_STATUS[r.status]);
      statuses.push(e.status as string);
      assert.equal(
        refId(e.acceptedAlgorithm),
        r.acceptedAlgorithmId === 0n ? null : r.acceptedAlgorithmId.toString(),
      );
      const p = posted.find((l) => l.args.requestId === id)!;
      assert.equal(expectEventFields(e, p), 6);
      assert.equal(e.postedAt, String(await blockTime(p)));
      const close = closing.filter((l) => l.args.requestId === id);
      assert.equal(close.length, 1);
      assert.equal(e.closedAt, String(await blockTime(close[0]!)));
      // submissions
      const subs = ofMarket("RequestSubmission").filter((l) => l.args.requestId === id);
      assert.equal(subs.length, r.submissionCount);
      for (const log of subs) {
        const s = await ix.eventEntityOf("RequestSubmission", log);
        assert.equal(
          expectEventFields(s, log, { requestId: "request", algorithmId: "algorithm" }),
          3,
        );
        assert.equal(
          await env.read("AlgorithmMarketplace", "isSubmitted", [id, log.args.algorithmId]),
          true,
        );
      }
      const listed = await ix.query<{ request: { submissions: { id: string }[] } }>(
        `{ request(id: "${id}") { submissions { id } } }`,
      );
      assert.equal(listed.request.submissions.length, r.submissionCount);
    }
    assert.deepEqual(statuses, ["Accepted", "Cancelled", "Refunded"]);
    const accept = ofMarket("RequestAccepted")[0]!;
    const e = (await ix.entity("Request", "1"))!;
    assert.equal(e.developer, lower(accept.args.developer));
    assert.equal(getAddress(e.developer as Address), dev.address);
    assert.equal(e.developerAmount, String(accept.args.developerAmount));
    assert.equal(e.protocolFee, String(accept.args.protocolFee));
    const feeBps = await env.read<number>("AlgorithmMarketplace", "protocolFeeBps");
    assert.equal(
      BigInt(e.protocolFee as string),
      (BigInt(e.bounty as string) * BigInt(feeBps)) / 10_000n,
    );
    for (const id of ["2", "3"]) {
      const r = (await ix.entity("Request", id))!;
      assert.equal(r.developer, null);
      assert.equal(r.protocolFee, null);
    }
    // nothing stays escrowed
    assert.equal(await env.read("AlgorithmMarketplace", "totalEscrowed"), 0n);
  });

  it("the protocol counts algorithms, licences, requests, use payments and the fees the treasury received", async () => {
    const { env } = ix;
    const p = await ix.entity("Protocol", "1");
    assert.ok(p);
    assert.equal(p.algorithms, String(await env.read("AlgorithmMarketplace", "algorithmCount")));
    assert.equal(p.licencesSold, String(ofMarket("LicencePurchased").length));
    assert.equal(p.requests, String(await env.read("AlgorithmMarketplace", "requestCount")));
    const jobUse = ofMarket("UsePaid")[0]!;
    assert.equal(p.usePaid, String(jobUse.args.price));
    // every protocol fee went to the treasury governance set, which held nothing before
    const fees = await env.balance(treasury);
    assert.equal(
      fees,
      sum([
        ...ofMarket("RevenueSplit").map((l) => l.args.protocolFee as bigint),
        ...ofMarket("RequestAccepted").map((l) => l.args.protocolFee as bigint),
      ]),
    );
    assert.ok(fees > 0n);
    assert.equal(p.protocolFees, String(fees));
    assert.equal(p.fees, String(fees));
    const days = await ix.entities("DailySnapshot");
    assert.equal(sum(days.map((d) => BigInt(d.dailyFees as string))), fees);
  });

  it("governance: fee, parent share, treasury and publisher changes; the proxy's implementation and version", async () => {
    const { env } = ix;
    const events = ["ProtocolFeeUpdated", "ParentShareUpdated", "TreasuryUpdated", "PublisherSet"];
    const last: Record<string, EntityJson> = {};
    for (const name of events) {
      const changes = ofMarket(name);
      assert.ok(changes.length >= 1, name);
      for (const log of changes) {
        const c = await ix.eventEntityOf("ParameterChange", log);
        assert.equal(c.event, name);
        assert.deepEqual(c.values, parameterValues(log));
        assert.deepEqual(refId(c.contract), lower(market));
        assert.equal(c.transactionHash, log.log.transactionHash);
        last[name] = c;
      }
    }
    const fee = await env.read<number>("AlgorithmMarketplace", "protocolFeeBps");
    const share = await env.read<number>("AlgorithmMarketplace", "parentShareBps");
    const tre = await env.read<Address>("AlgorithmMarketplace", "treasury");
    assert.equal(getAddress(tre), treasury);
    assert.equal(await env.read("AlgorithmMarketplace", "isPublisher", [publisher.address]), true);
    assert.equal((last.ProtocolFeeUpdated!.values as string[])[1], `newBps=${fee}`);
    assert.equal((last.ParentShareUpdated!.values as string[])[1], `newBps=${share}`);
    assert.equal((last.TreasuryUpdated!.values as string[])[1], `newTreasury=${lower(tre)}`);
    assert.deepEqual(last.PublisherSet!.values, [
      `publisher=${lower(publisher.address)}`,
      "allowed=true",
    ]);
    const c = await ix.entity("ProtocolContract", lower(market));
    assert.ok(c);
    assert.equal(c.name, "AlgorithmMarketplace");
    assert.equal(c.implementation, lower(await implementationOf(ix.chain.pub as never, market)));
    assert.equal(c.governance, lower(env.addr("TimelockController")));
    const init = ofMarket("Initialized");
    assert.equal(init.length, 1);
    assert.equal(c.initializedVersion, String(init[0]!.args.version));
    assert.equal(c.upgradeCount, ofMarket("Upgraded").length);
    assert.ok((c.upgradeCount as number) >= 1);
    const gov = ofMarket("GovernanceTransferred");
    assert.ok(gov.length >= 1);
    for (const log of gov) {
      const t = await ix.eventEntityOf("GovernanceTransfer", log);
      assert.equal(expectEventFields(t, log), 2);
      assert.equal(refId(t.contract), lower(market));
    }
    assert.equal(
      getAddress(gov.at(-1)!.args.newGovernance as Address),
      env.addr("TimelockController"),
    );
  });

  it("every AlgorithmMarketplace handler ran", () => {
    ix.assertHandlersRan(["AlgorithmMarketplace"]);
  });
});

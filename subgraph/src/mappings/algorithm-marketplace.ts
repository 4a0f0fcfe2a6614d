// AlgorithmMarketplace: algorithms and their fine-tuned versions, licences, per-use payments, revenue splits and
// tailor-made requests.
import { BigInt, ethereum } from "@graphprotocol/graph-ts";
import {
  AlgorithmDeprecated,
  AlgorithmListed,
  AlgorithmPricesUpdated,
  ChildVersionPublished,
  GovernanceTransferred,
  Initialized,
  LicencePurchased,
  ParentShareUpdated,
  ProtocolFeeUpdated,
  PublisherSet,
  RequestAccepted,
  RequestCancelled,
  RequestPosted,
  RequestRefunded,
  RequestSubmission as RequestSubmissionEvent,
  RevenueSplit as RevenueSplitEvent,
  TreasuryUpdated,
  Upgraded,
  UsePaid,
} from "../../generated/AlgorithmMarketplace/AlgorithmMarketplace";
import {
  Algorithm,
  AlgorithmUse,
  Licence,
  Request,
  RequestSubmission,
  RevenueSplit,
} from "../../generated/schema";
import { createOrLoadAccount } from "../helpers/accounts";
import {
  recordGovernanceTransfer,
  recordInitialized,
  recordParameterChange,
  recordUpgrade,
} from "../helpers/contracts";
import { makeEventId, makeLicenceId, makeNumberId } from "../helpers/ids";
import {
  createOrLoadDailySnapshot,
  createOrLoadProtocol,
  ONE,
  saveProtocol,
  ZERO,
} from "../helpers/protocol";

const NAME = "AlgorithmMarketplace";

export function handleAlgorithmListed(event: AlgorithmListed): void {
  let developer = createOrLoadAccount(event.params.developer);
  let a = new Algorithm(makeNumberId(event.params.algorithmId));
  a.algorithmId = event.params.algorithmId;
  a.developer = developer.id;
  a.version = 0;
  if (!event.params.parentId.isZero()) {
    let parent = Algorithm.load(makeNumberId(event.params.parentId));
    a.parent = makeNumberId(event.params.parentId);
    if (parent != null) a.version = parent.version + 1;
  }
  a.schema = event.params.schema;
  a.modelSha256 = event.params.modelSha256;
  a.packageCid = event.params.packageCid;
  a.metadataCid = event.params.metadataCid;
  a.usePrice = event.params.usePrice;
  a.licencePrice = event.params.licencePrice;
  a.deprecated = false;
  a.uses = ZERO;
  a.useRevenue = ZERO;
  a.licencesSold = ZERO;
  a.licenceRevenue = ZERO;
  a.developerRevenue = ZERO;
  a.listedAt = event.block.timestamp;
  a.listedAtBlock = event.block.number;
  a.save();
  let p = createOrLoadProtocol();
  p.algorithms = p.algorithms.plus(ONE);
  saveProtocol(p, event);
}

export function handleAlgorithmPricesUpdated(event: AlgorithmPricesUpdated): void {
  let a = Algorithm.load(makeNumberId(event.params.algorithmId));
  if (a == null) return;
  a.usePrice = event.params.usePrice;
  a.licencePrice = event.params.licencePrice;
  a.save();
}

export function handleAlgorithmDeprecated(event: AlgorithmDeprecated): void {
  let a = Algorithm.load(makeNumberId(event.params.algorithmId));
  if (a == null) return;
  a.deprecated = true;
  a.save();
}

export function handleChildVersionPublished(event: ChildVersionPublished): void {
  let a = Algorithm.load(makeNumberId(event.params.childId));
  if (a == null) return;
  a.parent = makeNumberId(event.params.parentId);
  a.publisher = event.params.publisher;
  let parent = Algorithm.load(makeNumberId(event.params.parentId));
  if (parent != null) a.version = parent.version + 1;
  a.save();
}

export function handleLicencePurchased(event: LicencePurchased): void {
  let customer = createOrLoadAccount(event.params.customer);
  let l = new Licence(makeLicenceId(event.params.algorithmId, event.params.customer));
  l.algorithm = makeNumberId(event.params.algorithmId);
  l.customer = customer.id;
  l.price = event.params.price;
  l.purchasedAt = event.block.timestamp;
  l.purchasedAtBlock = event.block.number;
  l.save();
  let a = Algorithm.load(l.algorithm);
  if (a != null) {
    a.licencesSold = a.licencesSold.plus(ONE);
    a.licenceRevenue = a.licenceRevenue.plus(event.params.price);
    a.save();
  }
  let p = createOrLoadProtocol();
  p.licencesSold = p.licencesSold.plus(ONE);
  saveProtocol(p, event);
}

export function handleUsePaid(event: UsePaid): void {
  let u = new AlgorithmUse(makeEventId(event));
  u.algorithm = makeNumberId(event.params.algorithmId);
  u.payer = event.params.payer;
  u.caller = event.params.caller;
  u.price = event.params.price;
  u.blockNumber = event.block.number;
  u.timestamp = event.block.timestamp;
  u.transactionHash = event.transaction.hash;
  u.save();
  let a = Algorithm.load(u.algorithm);
  if (a == null) return;
  a.uses = a.uses.plus(ONE);
  a.useRevenue = a.useRevenue.plus(event.params.price);
  a.save();
}

export function handleRevenueSplit(event: RevenueSplitEvent): void {
  let r = new RevenueSplit(makeEventId(event));
  r.algorithm = makeNumberId(event.params.algorithmId);
  r.developer = event.params.developer;
  r.developerAmount = event.params.developerAmount;
  r.parentDeveloper = event.params.parentDeveloper;
  r.parentAmount = event.params.parentAmount;
  r.protocolFee = event.params.protocolFee;
  r.blockNumber = event.block.number;
  r.timestamp = event.block.timestamp;
  r.transactionHash = event.transaction.hash;
  r.save();
  let a = Algorithm.load(r.algorithm);
  if (a != null) {
    a.developerRevenue = a.developerRevenue.plus(event.params.developerAmount);
    a.save();
  }
  addProtocolFee(event, event.params.protocolFee);
}

function addProtocolFee(event: ethereum.Event, fee: BigInt): void {
  if (fee.isZero()) return;
  let p = createOrLoadProtocol();
  p.protocolFees = p.protocolFees.plus(fee);
  p.fees = p.fees.plus(fee);
  let day = createOrLoadDailySnapshot(event);
  day.dailyFees = day.dailyFees.plus(fee);
  saveProtocol(p, event, day);
}

export function handleRequestPosted(event: RequestPosted): void {
  let customer = createOrLoadAccount(event.params.customer);
  let r = new Request(makeNumberId(event.params.requestId));
  r.requestId = event.params.requestId;
  r.customer = customer.id;
  r.schema = event.params.schema;
  r.bounty = event.params.bounty;
  r.deadline = event.params.deadline;
  r.specCid = event.params.specCid;
  r.status = "Open";
  r.postedAt = event.block.timestamp;
  r.save();
  let p = createOrLoadProtocol();
  p.requests = p.requests.plus(ONE);
  saveProtocol(p, event);
}

export function handleRequestSubmission(event: RequestSubmissionEvent): void {
  let s = new RequestSubmission(makeEventId(event));
  s.request = makeNumberId(event.params.requestId);
  s.algorithm = makeNumberId(event.params.algorithmId);
  s.developer = event.params.developer;
  s.blockNumber = event.block.number;
  s.timestamp = event.block.timestamp;
  s.transactionHash = event.transaction.hash;
  s.save();
}

export function handleRequestAccepted(event: RequestAccepted): void {
  let r = Request.load(makeNumberId(event.params.requestId));
  if (r == null) return;
  r.status = "Accepted";
  r.acceptedAlgorithm = makeNumberId(event.params.algorithmId);
  r.developer = event.params.developer;
  r.developerAmount = event.params.developerAmount;
  r.protocolFee = event.params.protocolFee;
  r.closedAt = event.block.timestamp;
  r.save();
  addProtocolFee(event, event.params.protocolFee);
}

export function handleRequestRefunded(event: RequestRefunded): void {
  let r = Request.load(makeNumberId(event.params.requestId));
  if (r == null) return;
  r.status = "Refunded";
  r.closedAt = event.block.timestamp;
  r.save();
}

export function handleRequestCancelled(event: RequestCancelled): void {
  let r = Request.load(makeNumberId(event.params.requestId));
  if (r == null) return;
  r.status = "Cancelled";
  r.closedAt = event.block.timestamp;
  r.save();
}

export function handleProtocolFeeUpdated(event: ProtocolFeeUpdated): void {
  recordParameterChange(event, NAME, "ProtocolFeeUpdated");
}
export function handleParentShareUpdated(event: ParentShareUpdated): void {
  recordParameterChange(event, NAME, "ParentShareUpdated");
}
export function handleTreasuryUpdated(event: TreasuryUpdated): void {
  recordParameterChange(event, NAME, "TreasuryUpdated");
}
export function handlePublisherSet(event: PublisherSet): void {
  recordParameterChange(event, NAME, "PublisherSet");
}

export function handleUpgraded(event: Upgraded): void {
  recordUpgrade(event, NAME, event.params.implementation);
}
export function handleGovernanceTransferred(event: GovernanceTransferred): void {
  recordGovernanceTransfer(
    event,
    NAME,
    event.params.previousGovernance,
    event.params.newGovernance,
  );
}
export function handleInitialized(event: Initialized): void {
  recordInitialized(event, NAME, event.params.version);
}

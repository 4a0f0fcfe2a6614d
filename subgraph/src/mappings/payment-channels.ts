// PaymentChannels: unidirectional channels, top-ups, voucher claims, closes and reclaims.
import {
  ChannelClaimed,
  ChannelClosed,
  ChannelOpened,
  ChannelReclaimed,
  ChannelToppedUp,
  GovernanceTransferred,
  Initialized,
  Upgraded,
} from "../../generated/PaymentChannels/PaymentChannels";
import { Channel, ChannelClaim } from "../../generated/schema";
import { createOrLoadAccount } from "../helpers/accounts";
import { recordGovernanceTransfer, recordInitialized, recordUpgrade } from "../helpers/contracts";
import { makeEventId, makeNumberId } from "../helpers/ids";
import { createOrLoadProtocol, ONE, saveProtocol, ZERO } from "../helpers/protocol";

const NAME = "PaymentChannels";

export function handleChannelOpened(event: ChannelOpened): void {
  let sender = createOrLoadAccount(event.params.sender);
  let recipient = createOrLoadAccount(event.params.recipient);
  let c = new Channel(makeNumberId(event.params.channelId));
  c.channelId = event.params.channelId;
  c.sender = sender.id;
  c.recipient = recipient.id;
  c.deposit = event.params.deposit;
  c.expiry = event.params.expiry;
  c.status = "Open";
  c.claimed = ZERO;
  c.openedAt = event.block.timestamp;
  c.save();
  let p = createOrLoadProtocol();
  p.channels = p.channels.plus(ONE);
  saveProtocol(p, event);
}

export function handleChannelToppedUp(event: ChannelToppedUp): void {
  let c = Channel.load(makeNumberId(event.params.channelId));
  if (c == null) return;
  c.deposit = event.params.newDeposit;
  c.expiry = event.params.newExpiry;
  c.save();
}

export function handleChannelClaimed(event: ChannelClaimed): void {
  let c = Channel.load(makeNumberId(event.params.channelId));
  if (c == null) return;
  c.claimed = event.params.cumulativeAmount;
  c.save();
  let claim = new ChannelClaim(makeEventId(event));
  claim.channel = c.id;
  claim.cumulativeAmount = event.params.cumulativeAmount;
  claim.payout = event.params.payout;
  claim.blockNumber = event.block.number;
  claim.timestamp = event.block.timestamp;
  claim.transactionHash = event.transaction.hash;
  claim.save();
}

export function handleChannelClosed(event: ChannelClosed): void {
  let c = Channel.load(makeNumberId(event.params.channelId));
  if (c == null) return;
  c.status = "Closed";
  c.claimed = event.params.totalPaid;
  c.refund = event.params.refund;
  c.closedAt = event.block.timestamp;
  c.save();
}

export function handleChannelReclaimed(event: ChannelReclaimed): void {
  let c = Channel.load(makeNumberId(event.params.channelId));
  if (c == null) return;
  c.status = "Reclaimed";
  c.refund = event.params.refund;
  c.closedAt = event.block.timestamp;
  c.save();
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

// NodeStaking: operators, stakes per role, unbonding, locks (job liabilities) and slashes.
import { Address, BigInt, ethereum } from "@graphprotocol/graph-ts";
import {
  ActiveStatusChanged,
  BurnSlashedSet,
  ChallengerShareSet,
  GovernanceTransferred,
  Initialized,
  MinStakeSet,
  OperatorRegistered,
  OperatorUpdated,
  Slashed,
  SlasherSet,
  Staked,
  StakeLocked,
  StakesLocked,
  StakesUnlocked,
  StakeUnlocked,
  TreasurySet,
  UnbondingDelaySet,
  UnbondRequested,
  Upgraded,
  Withdrawn,
} from "../../generated/NodeStaking/NodeStaking";
import { Node, Slash, Stake, StakeEvent, StakeLock } from "../../generated/schema";
import { createOrLoadAccount } from "../helpers/accounts";
import {
  recordGovernanceTransfer,
  recordInitialized,
  recordParameterChange,
  recordUpgrade,
} from "../helpers/contracts";
import { roleName } from "../helpers/enums";
import { makeEventId, makeEventItemId } from "../helpers/ids";
import {
  createOrLoadDailySnapshot,
  createOrLoadProtocol,
  ONE,
  saveProtocol,
  ZERO,
} from "../helpers/protocol";
import { createOrLoadStake } from "../helpers/staking";

const NAME = "NodeStaking";

export function handleOperatorRegistered(event: OperatorRegistered): void {
  let account = createOrLoadAccount(event.params.operator);
  let node = new Node(event.params.operator);
  node.account = account.id;
  node.endpoint = event.params.endpoint;
  node.encryptionKey = event.params.encryptionKey;
  node.metadata = event.params.metadata;
  node.registeredAt = event.block.timestamp;
  node.registeredAtBlock = event.block.number;
  node.save();
  account.node = node.id;
  account.save();
  let p = createOrLoadProtocol();
  p.nodes = p.nodes.plus(ONE);
  saveProtocol(p, event);
}

export function handleOperatorUpdated(event: OperatorUpdated): void {
  let node = Node.load(event.params.operator);
  if (node == null) return;
  node.endpoint = event.params.endpoint;
  node.encryptionKey = event.params.encryptionKey;
  node.metadata = event.params.metadata;
  node.save();
}

function recordStakeEvent(
  event: ethereum.Event,
  stake: Stake,
  kind: string,
  amount: BigInt,
  total: BigInt | null,
  readyAt: BigInt | null,
): void {
  let e = new StakeEvent(makeEventId(event));
  e.stake = stake.id;
  e.kind = kind;
  e.amount = amount;
  if (total) e.total = total;
  if (readyAt) e.readyAt = readyAt;
  e.blockNumber = event.block.number;
  e.timestamp = event.block.timestamp;
  e.transactionHash = event.transaction.hash;
  e.save();
}

export function handleStaked(event: Staked): void {
  let s = createOrLoadStake(event.params.operator, event.params.role);
  s.bonded = event.params.bonded;
  s.save();
  recordStakeEvent(event, s, "Staked", event.params.amount, event.params.bonded, null);
  let p = createOrLoadProtocol();
  p.staked = p.staked.plus(event.params.amount);
  let day = createOrLoadDailySnapshot(event);
  day.dailyStakeAdded = day.dailyStakeAdded.plus(event.params.amount);
  saveProtocol(p, event, day);
}

export function handleUnbondRequested(event: UnbondRequested): void {
  let s = createOrLoadStake(event.params.operator, event.params.role);
  s.bonded = s.bonded.minus(event.params.amount);
  s.unbonding = event.params.unbonding;
  s.unbondReadyAt = event.params.readyAt;
  s.save();
  recordStakeEvent(
    event,
    s,
    "UnbondRequested",
    event.params.amount,
    event.params.unbonding,
    event.params.readyAt,
  );
}

export function handleWithdrawn(event: Withdrawn): void {
  let s = createOrLoadStake(event.params.operator, event.params.role);
  s.unbonding = ZERO;
  s.unbondReadyAt = ZERO;
  s.save();
  recordStakeEvent(event, s, "Withdrawn", event.params.amount, null, null);
  let p = createOrLoadProtocol();
  p.staked = p.staked.minus(event.params.amount);
  saveProtocol(p, event);
}

export function handleActiveStatusChanged(event: ActiveStatusChanged): void {
  let s = createOrLoadStake(event.params.operator, event.params.role);
  s.active = event.params.active;
  s.save();
}

export function handleSlashed(event: Slashed): void {
  let s = createOrLoadStake(event.params.operator, event.params.role);
  let amount = event.params.amount;
  // NodeStaking.slash takes from the bonded stake first, then from the unbonding stake.
  let fromBonded = amount.lt(s.bonded) ? amount : s.bonded;
  let rest = amount.minus(fromBonded);
  let fromUnbonding = rest.lt(s.unbonding) ? rest : s.unbonding;
  s.bonded = s.bonded.minus(fromBonded);
  s.unbonding = s.unbonding.minus(fromUnbonding);
  if (s.unbonding.isZero()) s.unbondReadyAt = ZERO;
  s.slashed = s.slashed.plus(amount);
  s.save();
  let slash = new Slash(makeEventId(event));
  slash.node = event.params.operator;
  slash.stake = s.id;
  slash.role = roleName(event.params.role);
  slash.slasher = event.params.slasher;
  slash.amount = amount;
  slash.challenger = event.params.challenger;
  slash.challengerReward = event.params.challengerReward;
  slash.remainder = event.params.remainder;
  slash.burned = event.params.burned;
  slash.blockNumber = event.block.number;
  slash.timestamp = event.block.timestamp;
  slash.transactionHash = event.transaction.hash;
  slash.save();
  let p = createOrLoadProtocol();
  p.staked = p.staked.minus(amount);
  p.slashed = p.slashed.plus(amount);
  let day = createOrLoadDailySnapshot(event);
  day.dailySlashed = day.dailySlashed.plus(amount);
  saveProtocol(p, event, day);
}

function recordLock(
  event: ethereum.Event,
  batch: boolean,
  n: i32,
  stake: Stake,
  module: Address,
  kind: string,
  amount: BigInt,
): void {
  let lock = new StakeLock(batch ? makeEventItemId(event, n) : makeEventId(event));
  lock.stake = stake.id;
  lock.module = module;
  lock.kind = kind;
  lock.amount = amount;
  lock.locked = stake.locked;
  lock.blockNumber = event.block.number;
  lock.timestamp = event.block.timestamp;
  lock.transactionHash = event.transaction.hash;
  lock.save();
}

export function handleStakeLocked(event: StakeLocked): void {
  let s = createOrLoadStake(event.params.operator, event.params.role);
  s.locked = event.params.locked;
  s.save();
  recordLock(event, false, 0, s, event.params.module, "Lock", event.params.amount);
  let p = createOrLoadProtocol();
  p.locked = p.locked.plus(event.params.amount);
  saveProtocol(p, event);
}

export function handleStakeUnlocked(event: StakeUnlocked): void {
  let s = createOrLoadStake(event.params.operator, event.params.role);
  s.locked = event.params.locked;
  s.save();
  recordLock(event, false, 0, s, event.params.module, "Unlock", event.params.amount);
  let p = createOrLoadProtocol();
  p.locked = p.locked.minus(event.params.amount);
  saveProtocol(p, event);
}

export function handleStakesLocked(event: StakesLocked): void {
  let operators = event.params.operators;
  let roles = event.params.roles;
  let amount = event.params.amount;
  let p = createOrLoadProtocol();
  for (let i = 0; i < operators.length && i < roles.length; i++) {
    let s = createOrLoadStake(operators[i], roles[i]);
    s.locked = s.locked.plus(amount);
    s.save();
    recordLock(event, true, i, s, event.params.module, "Lock", amount);
    p.locked = p.locked.plus(amount);
  }
  saveProtocol(p, event);
}

export function handleStakesUnlocked(event: StakesUnlocked): void {
  let operators = event.params.operators;
  let roles = event.params.roles;
  let amount = event.params.amount;
  let p = createOrLoadProtocol();
  for (let i = 0; i < operators.length && i < roles.length; i++) {
    let s = createOrLoadStake(operators[i], roles[i]);
    // unlockMany releases up to `amount` of each lock.
    let released = amount.lt(s.locked) ? amount : s.locked;
    s.locked = s.locked.minus(released);
    s.save();
    recordLock(event, true, i, s, event.params.module, "Unlock", released);
    p.locked = p.locked.minus(released);
  }
  saveProtocol(p, event);
}

export function handleSlasherSet(event: SlasherSet): void {
  recordParameterChange(event, NAME, "SlasherSet");
}
export function handleMinStakeSet(event: MinStakeSet): void {
  recordParameterChange(event, NAME, "MinStakeSet");
}
export function handleUnbondingDelaySet(event: UnbondingDelaySet): void {
  recordParameterChange(event, NAME, "UnbondingDelaySet");
}
export function handleChallengerShareSet(event: ChallengerShareSet): void {
  recordParameterChange(event, NAME, "ChallengerShareSet");
}
export function handleBurnSlashedSet(event: BurnSlashedSet): void {
  recordParameterChange(event, NAME, "BurnSlashedSet");
}
export function handleTreasurySet(event: TreasurySet): void {
  recordParameterChange(event, NAME, "TreasurySet");
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

// DMLToken (not upgradeable): balances, delegation and votes, burns.
import { Address } from "@graphprotocol/graph-ts";
import { DelegateChanged, DelegateVotesChanged, Transfer } from "../../generated/DMLToken/DMLToken";
import { TokenTransfer } from "../../generated/schema";
import { createOrLoadAccount } from "../helpers/accounts";
import { makeEventId } from "../helpers/ids";
import { createOrLoadProtocol, saveProtocol } from "../helpers/protocol";

export function handleTransfer(event: Transfer): void {
  let value = event.params.value;
  // The sender is saved before the recipient is loaded, so that a self-transfer nets to zero.
  let from = createOrLoadAccount(event.params.from);
  if (event.params.from != Address.zero()) {
    from.balance = from.balance.minus(value);
    from.save();
  }
  let to = createOrLoadAccount(event.params.to);
  if (event.params.to != Address.zero()) {
    to.balance = to.balance.plus(value);
    to.save();
  } else {
    let p = createOrLoadProtocol();
    p.burned = p.burned.plus(value);
    saveProtocol(p, event);
  }
  let t = new TokenTransfer(makeEventId(event));
  t.from = from.id;
  t.to = to.id;
  t.value = value;
  t.blockNumber = event.block.number;
  t.timestamp = event.block.timestamp;
  t.transactionHash = event.transaction.hash;
  t.save();
}

export function handleDelegateChanged(event: DelegateChanged): void {
  let delegator = createOrLoadAccount(event.params.delegator);
  if (event.params.toDelegate == Address.zero()) {
    // delegate(address(0)) withdraws the delegation: no delegate, as for a holder who never delegated
    delegator.delegate = null;
  } else {
    delegator.delegate = createOrLoadAccount(event.params.toDelegate).id;
  }
  delegator.save();
}

export function handleDelegateVotesChanged(event: DelegateVotesChanged): void {
  let a = createOrLoadAccount(event.params.delegate);
  a.votes = event.params.newVotes;
  a.save();
}

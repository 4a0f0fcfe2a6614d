// Accounts: every address the protocol saw.
import { Address } from "@graphprotocol/graph-ts";
import { Account } from "../../generated/schema";
import { ZERO } from "./protocol";

/** The account of `address`, created (zero balance and votes) and saved on first sight. */
export function createOrLoadAccount(address: Address): Account {
  let a = Account.load(address);
  if (a != null) return a;
  a = new Account(address);
  a.balance = ZERO;
  a.votes = ZERO;
  a.save();
  return a;
}

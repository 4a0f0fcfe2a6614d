// Operator stakes per role.
import { Address } from "@graphprotocol/graph-ts";
import { Stake } from "../../generated/schema";
import { roleName } from "./enums";
import { makeStakeId } from "./ids";
import { ZERO } from "./protocol";

/** The stake of `operator` in `role` (JobStatus-style index), zero on first sight (not saved). */
export function createOrLoadStake(operator: Address, role: i32): Stake {
  let id = makeStakeId(operator, role);
  let s = Stake.load(id);
  if (s != null) return s;
  s = new Stake(id);
  s.node = operator;
  s.role = roleName(role);
  s.bonded = ZERO;
  s.unbonding = ZERO;
  s.unbondReadyAt = ZERO;
  s.locked = ZERO;
  s.active = false;
  s.slashed = ZERO;
  return s;
}

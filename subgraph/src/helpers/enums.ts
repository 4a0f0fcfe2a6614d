// Solidity enum members by index, as the schema stores them (String fields).

const JOB_STATUS: string[] = [
  "None",
  "Created",
  "Bidding",
  "Scheduled",
  "Assigned",
  "Committed",
  "Attested",
  "Reported",
  "Settled",
  "Failed",
  "Expired",
  "Cancelled",
];
const ROLE: string[] = ["Distributor", "Aggregator", "Attestor", "Reporter", "Refiner"];
const COHORT_FAULT: string[] = [
  "NotConnected",
  "PositionOutOfRange",
  "Ineligible",
  "OutOfOrder",
  "Omitted",
];
const POST_FAULT: string[] = [
  "UnregisteredDevice",
  "BadSignature",
  "DuplicateDevice",
  "IndexOutOfRange",
];

function member(names: string[], index: i32): string {
  if (index < 0 || index >= names.length) return "Unknown(" + index.toString() + ")";
  return names[index];
}

export function jobStatusName(index: i32): string {
  return member(JOB_STATUS, index);
}
export function roleName(index: i32): string {
  return member(ROLE, index);
}
export function cohortFaultName(index: i32): string {
  return member(COHORT_FAULT, index);
}
export function postFaultName(index: i32): string {
  return member(POST_FAULT, index);
}

export const JOB_NONE: i32 = 0;
export const JOB_SETTLED: i32 = 8;
export const JOB_FAILED: i32 = 9;

/** Settled, Failed, Expired and Cancelled: the escrow is zero. */
export function isTerminalJobStatus(index: i32): boolean {
  return index >= JOB_SETTLED;
}

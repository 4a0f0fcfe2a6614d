/** Solidity enums the off-chain parts read (values as the ABI encodes them). */

/** INodeStaking.Role. */
export const Role = {
  Distributor: 0,
  Aggregator: 1,
  Attestor: 2,
  Reporter: 3,
  Refiner: 4,
} as const;

/** IJobMarket.JobStatus. */
export const JobStatus = {
  None: 0,
  Created: 1,
  Bidding: 2,
  Scheduled: 3,
  Assigned: 4,
  Committed: 5,
  Attested: 6,
  Reported: 7,
  Settled: 8,
  Failed: 9,
  Expired: 10,
  Cancelled: 11,
} as const;

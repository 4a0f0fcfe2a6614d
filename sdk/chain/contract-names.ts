/**
 * The protocol contracts a deployment manifest names and clients call, read or decode: the deployed protocol
 * contracts and the governor. The ABI generator (`script/gen-abis.ts`) writes one const ABI per name; the JobMarket's
 * two linked libraries need none (solc puts their errors and events into the JobMarket's ABI).
 */
export const DEPLOYED_CONTRACTS = [
  "AlgorithmMarketplace",
  "DeviceRegistry",
  "DMLGovernor",
  "DMLToken",
  "FineTuning",
  "GrowthPool",
  "JobMarket",
  "NodeStaking",
  "PaymentChannels",
  "ResultAttestation",
  "Settlement",
] as const;
export type DeployedContractName = (typeof DEPLOYED_CONTRACTS)[number];

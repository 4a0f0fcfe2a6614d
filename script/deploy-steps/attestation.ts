/**
 * Deployment step for ResultAttestation, Settlement and FineTuning, called by script/deploy.ts after
 * JobMarket and BEFORE governance is handed to the timelock, so the deployer can wire them:
 *
 * - NodeStaking `setSlasher(ResultAttestation, true)` and `setSlasher(FineTuning, true)`;
 * - JobMarket `setModule(ATTESTATION_MODULE(), ResultAttestation)` and `setModule(SETTLEMENT_MODULE(), Settlement)`;
 * - AlgorithmMarketplace `setPublisher(FineTuning, true)`;
 * - then `transferGovernance(timelock)` on the three new proxies.
 *
 * Every wiring is checked on chain first (idempotent). When a contract to wire is already governed by the
 * timelock (an older deployment extended later), the deployer cannot wire it: the step fails with a
 * DeploymentError naming the call that a governance proposal must execute instead.
 */
import { getAddress, type Abi, type Address, type TransactionReceipt } from "viem";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
import { DeploymentError } from "#sdk/chain/errors.ts";
import type { AttestationDeployConfig } from "./attestation-config.ts";

/** The deploy.ts helpers this step uses, bound to its context. */
export interface AttestationStepDeps {
  deployer: Address;
  timelock: Address;
  config: AttestationDeployConfig;
  artifactsDir: string;
  /** Whether an artifact exists (contracts not built yet are skipped). */
  has(name: string): boolean;
  /** Addresses of already deployed proxies (from the manifest). */
  addressOf(name: string): Address | undefined;
  /** `implArgs`: constructor arguments of the implementation (immutables), if any. */
  ensureProxy(
    name: string,
    initArgs: () => readonly unknown[],
    implArgs?: readonly unknown[],
  ): Promise<Address>;
  read(
    address: Address,
    artifactName: string,
    fn: string,
    args?: readonly unknown[],
  ): Promise<unknown>;
  send(
    what: string,
    address: Address,
    abi: Abi,
    fn: string,
    args: readonly unknown[],
  ): Promise<TransactionReceipt>;
  step(
    name: string,
    isDone: () => Promise<boolean>,
    run: () => Promise<TransactionReceipt[]>,
  ): Promise<void>;
}

/** Proxies deployed by this step, in order. */
export const ATTESTATION_PROXIES = ["ResultAttestation", "Settlement", "FineTuning"] as const;

/** Deploys and wires ResultAttestation, Settlement and FineTuning (no-op when already done). */
export async function deployAttestationStep(d: AttestationStepDeps): Promise<void> {
  if (!ATTESTATION_PROXIES.every((n) => d.has(n))) return;
  const jobMarket = d.addressOf("JobMarket");
  const staking = d.addressOf("NodeStaking");
  const marketplace = d.addressOf("AlgorithmMarketplace");
  const registry = d.addressOf("DeviceRegistry");
  const token = d.addressOf("DMLToken");
  const growthPool = d.addressOf("GrowthPool");
  if (!jobMarket || !staking || !marketplace || !registry || !token || !growthPool) return;
  const { resultAttestation: ra, settlement: st, fineTuning: ft } = d.config;

  const attestation = await d.ensureProxy("ResultAttestation", () => [
    d.deployer,
    jobMarket,
    staking,
    growthPool,
    {
      quorum: ra.quorum,
      commitWindowBps: ra.commitWindowBps,
      revealWindowBps: ra.revealWindowBps,
      slashAmount: ra.slashAmount,
      kMin: ra.kMin,
    },
  ]);
  const settlement = await d.ensureProxy(
    "Settlement",
    () => [d.deployer, jobMarket, attestation, st.claimWindow],
    [token],
  );
  const fineTuning = await d.ensureProxy("FineTuning", () => [
    d.deployer,
    token,
    marketplace,
    staking,
    registry,
    {
      quorum: ft.quorum,
      commitWindow: ft.commitWindow,
      revealWindow: ft.revealWindow,
      slashAmount: ft.slashAmount,
      claimWindow: ft.claimWindow,
      attestorShareBps: ft.attestorShareBps,
    },
  ]);

  const abi = (name: string): Abi => loadArtifact(name, d.artifactsDir).abi;
  const governanceOf = async (address: Address): Promise<Address> =>
    getAddress((await d.read(address, "IGovernedUUPS", "governance")) as string);
  /** A wiring call from the deployer; refuses clearly when the target is no longer the deployer's. */
  const wire = async (
    name: string,
    target: Address,
    artifact: string,
    isDone: () => Promise<boolean>,
    fn: string,
    args: readonly unknown[],
  ): Promise<void> =>
    d.step(name, isDone, async () => {
      const gov = await governanceOf(target);
      if (gov !== d.deployer)
        throw new DeploymentError(
          `${name}: ${artifact} at ${target} is governed by ${gov}; ${fn}(${args.join(", ")}) must be ` +
            `executed through a governance proposal`,
        );
      return [await d.send(name, target, abi(artifact), fn, args)];
    });

  for (const [name, slasher] of [
    ["NodeStaking.slasher.ResultAttestation", attestation],
    ["NodeStaking.slasher.FineTuning", fineTuning],
  ] as const) {
    await wire(
      name,
      staking,
      "NodeStaking",
      async () => (await d.read(staking, "NodeStaking", "isSlasher", [slasher])) === true,
      "setSlasher",
      [slasher, true],
    );
  }
  for (const [name, roleFn, module] of [
    ["JobMarket.module.attestation", "ATTESTATION_MODULE", attestation],
    ["JobMarket.module.settlement", "SETTLEMENT_MODULE", settlement],
  ] as const) {
    const role = await d.read(jobMarket, "JobMarket", roleFn);
    await wire(
      name,
      jobMarket,
      "JobMarket",
      async () =>
        getAddress((await d.read(jobMarket, "JobMarket", "moduleOf", [role])) as string) === module,
      "setModule",
      [role, module],
    );
  }
  await wire(
    "AlgorithmMarketplace.publisher.FineTuning",
    marketplace,
    "AlgorithmMarketplace",
    async () =>
      (await d.read(marketplace, "AlgorithmMarketplace", "isPublisher", [fineTuning])) === true,
    "setPublisher",
    [fineTuning, true],
  );

  // The new proxies' governance goes to the timelock like every other proxy's.
  for (const [name, address] of [
    ["ResultAttestation", attestation],
    ["Settlement", settlement],
    ["FineTuning", fineTuning],
  ] as const) {
    await d.step(
      `${name}.governance`,
      async () => (await governanceOf(address)) === d.timelock,
      async () => {
        const who = await governanceOf(address);
        if (who !== d.deployer)
          throw new DeploymentError(`${name} is governed by ${who}, not the deployer`);
        return [
          await d.send(
            `${name}.transferGovernance`,
            address,
            abi("IGovernedUUPS"),
            "transferGovernance",
            [d.timelock],
          ),
        ];
      },
    );
  }
}

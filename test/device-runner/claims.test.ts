/**
 * The device runner claims job payouts from chain data alone, against the real protocol deployed by
 * script/deploy.ts on EDR: a job runs to `Settled` (bench/fixture/job-run.ts), the reporter's payout list
 * (`dml/payouts-v1`) is published on Helia and its CID posted in `Settlement.report`; each device finds its leaf
 * through `ReportPosted`, verifies the list and its proof locally and sends one `Settlement.claim` with its own key.
 * A second claim sends nothing; a dropout, a failed job and a report pointing at another job's list are refused
 * before any transaction.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address } from "viem";
import { settlementAbi } from "#sdk/chain/abi/index.ts";
import { buildPayoutTree } from "#sdk/chain/payouts.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import type { DeviceClients, DevicePublicClient } from "../../device-runner/chain.ts";
import { DeviceError } from "../../device-runner/errors.ts";
import { claimJobPayout, findJobPayout } from "../../device-runner/rewards.ts";
import { JOB, JobLifecycle, type JobRun } from "../../bench/fixture/job-run.ts";
import { JobStatus } from "../../bench/fixture/protocol.ts";

const N_DEVICES = 12;

describe("device runner: job payout claims from ReportPosted (Settlement on EDR)", () => {
  let life: JobLifecycle;
  let store: HeliaStore;
  let tmp: string;
  let run: JobRun;
  let settlement: Address;

  const clientsOf = async (i: number): Promise<DeviceClients> => ({
    publicClient: life.env.pub as unknown as DevicePublicClient,
    walletClient: (await life.env.localWallet(
      run.devices[i]!,
    )) as unknown as DeviceClients["walletClient"],
  });
  const code = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
    } catch (e) {
      assert.ok(e instanceof DeviceError, String(e));
      return e.code;
    }
    return "resolved";
  };

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "dml-device-claims-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    life = await JobLifecycle.create();
    settlement = life.env.addr("Settlement");
    run = await life.runToAttested(N_DEVICES);
    const tree = buildPayoutTree(life.payouts(run.devices));
    const cid = await store.addBytes(new TextEncoder().encode(JSON.stringify(tree.toList())));
    await life.report(run.jobId, life.payouts(run.devices), true, cid);
    assert.equal(
      await life.env.read("JobMarket", "status", [run.jobId]),
      JobStatus.Settled,
      "job settled",
    );
  });
  after(async () => {
    await store.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it("every paid device claims its leaf once with its own key; a second run sends nothing", async () => {
    const paid = run.devices.map((_, i) => i).filter((i) => i % 10 !== 9);
    const before = await life.env.balance(settlement);
    for (const i of paid) {
      const clients = await clientsOf(i);
      const me = getAddress(run.devices[i]!.address);
      const r = await claimJobPayout(clients, store, { settlement, jobId: run.jobId });
      assert.ok(r.hash, `device ${i} sent a claim`);
      assert.equal(r.amount, JOB.REWARD);
      assert.equal(await life.env.balance(me), JOB.REWARD);
      assert.equal(
        await life.env.read("Settlement", "isClaimed", [run.jobId, r.index]),
        true,
        `leaf ${r.index} marked`,
      );
      const again = await claimJobPayout(clients, store, { settlement, jobId: run.jobId });
      assert.equal(again.hash, undefined, "already claimed: no transaction");
      assert.equal(await life.env.balance(me), JOB.REWARD);
    }
    assert.equal(
      await life.env.balance(settlement),
      before - BigInt(paid.length) * JOB.REWARD,
      "Settlement paid exactly the claimed leaves",
    );
  });

  it("a dropout is not in the payout list: NOT_IN_PAYOUT, no transaction", async () => {
    const clients = await clientsOf(9);
    const nonce = await life.env.pub.getTransactionCount({ address: run.devices[9]!.address });
    assert.equal(
      await code(claimJobPayout(clients, store, { settlement, jobId: run.jobId })),
      "NOT_IN_PAYOUT",
    );
    assert.equal(
      await life.env.pub.getTransactionCount({ address: run.devices[9]!.address }),
      nonce,
    );
    assert.equal(await life.env.balance(getAddress(run.devices[9]!.address)), 0n);
  });

  it("a report naming another job's list, a failed job and an unreported job are refused locally", async () => {
    // Job 2 reports job 1's payout list CID with its own root: the list does not match the chain.
    const run2 = await life.runToAttested(N_DEVICES);
    const [posted] = await life.env.pub.getContractEvents({
      address: settlement,
      abi: settlementAbi,
      eventName: "ReportPosted",
      args: { jobId: run.jobId },
      fromBlock: 0n,
    });
    const firstCid = (posted as unknown as { args: { payoutsCid: string } }).args.payoutsCid;
    await life.report(run2.jobId, life.payouts(run2.devices), true, firstCid);
    const reader = await clientsOf(0);
    const account = getAddress(run2.devices[0]!.address);
    assert.equal(
      await code(findJobPayout(reader, store, { settlement, jobId: run2.jobId, account })),
      "PROOF_INVALID",
    );

    // Job 3: quality failed, it pays no device.
    const run3 = await life.runToAttested(N_DEVICES, { ok: false });
    await life.report(run3.jobId, [], false);
    assert.equal(
      await code(
        findJobPayout(reader, store, {
          settlement,
          jobId: run3.jobId,
          account: getAddress(run3.devices[0]!.address),
        }),
      ),
      "NOT_IN_PAYOUT",
    );

    // A job with no report.
    assert.equal(
      await code(findJobPayout(reader, store, { settlement, jobId: run3.jobId + 100n, account })),
      "CHAIN",
    );
  });
});

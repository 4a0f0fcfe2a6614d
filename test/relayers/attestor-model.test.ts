/**
 * The attestor role on a job of the reference package with its control-group confusion matrix and DP noise: the
 * job's model comes from the package (`jobModelOf`, as the role's index.ts wires it), so each drawn attestor derives
 * the aggregator's resultHash and the job is attested. The model the role used to take from its configuration
 * (classes and quality class only) derives another value from the same transcript — the model enters the resultHash
 * through the quality verdict (and so the payouts): decoding the noisy sum as if noiseless and ignoring the control
 * group, it finds a zero standard error where the honest one is ~0.08 — so the attestors would have voted against an
 * honest aggregator.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { deriveOperatorKey, walletSigner } from "#sdk/crypto/operator-key.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { attestJob } from "#sdk/protocol/attestor.ts";
import { chainAttestorReads } from "#sdk/protocol/attestor-chain.ts";
import { chainJobModelReads, jobModelOf } from "#sdk/protocol/job-model.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { testLoop } from "./helpers.ts";
import { createLogger } from "../../relayers/common/telemetry.ts";
import { Attestor } from "../../relayers/attestor/Attestor.ts";
import { JobLifecycle } from "../../bench/fixture/job-run.ts";
import { aggregateCommitment, JobStatus, label } from "../../bench/fixture/protocol.ts";
import { attestorContracts, prepareJob, referencePackage } from "./attestor-fixture.ts";

const N = 8;

describe("attestor role: the job's model from its package", () => {
  let life: JobLifecycle;
  let store: HeliaStore;
  let tmp: string;
  const log = createLogger("attestor", "silent");

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "dml-attestor-model-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    life = await JobLifecycle.create(await referencePackage(store));
  });
  after(async () => {
    await store.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it("attests the aggregator's value for the reference package (confusion + DP); the config-only model would not", async () => {
    const { env } = life;
    const chainId = env.pub.chain!.id;
    // a quality bound the package's honest error (adjusted classify-and-count with the DP noise's variance, ~0.08
    // here) misses: the config-only model, which knows neither, finds a zero error and would pay the devices
    const job = await prepareJob(life, store, N, { fromPackage: true, maxStdError: 10n ** 16n });
    assert.ok(job.model.confusion, "the package publishes its control group's confusion matrix");
    assert.ok(job.model.privacy, "the package adds DP noise");
    assert.equal(job.model.classes, 2);
    assert.equal(job.model.qualityClass, 1, "the last label, spam");
    const aggSalt = label(`agg-salt-${job.jobId}`);
    await env.send(life.aggregator, "ResultAttestation", "commitAggregate", [
      job.jobId,
      aggregateCommitment(job.value, aggSalt),
      job.cid,
    ]);

    const contracts = attestorContracts(life);
    const reads = chainAttestorReads(env.pub, contracts);
    const first = life.attestorWallet(job.attestors[0]!);
    const deps = {
      chain: reads,
      store,
      cohort: job.drawn.members,
      me: {
        address: job.attestors[0]!,
        x25519SecretKey: (await deriveOperatorKey(walletSigner(first))).secretKey,
      },
      session: { chainId, jobMarket: contracts.JobMarket },
    };
    // the bug: the model of the old `classes`/`qualityClass` config fields decodes the noisy sum without its noise
    // and ignores the control group
    const configOnly = await attestJob(
      { ...deps, model: { classes: 2, qualityClass: 1 } },
      job.jobId,
    );
    assert.equal(configOnly.reason, "OK");
    assert.equal(job.derived.result.qualityMet, false, "the package's error misses the 0.01 bound");
    assert.equal(
      configOnly.derived?.result.qualityMet,
      true,
      "the config-only model's error does not",
    );
    assert.notEqual(configOnly.value, job.value, "a config-only model derives another resultHash");
    const loaded = await jobModelOf(
      {
        chain: chainJobModelReads(env.pub, contracts),
        store,
        cohort: job.drawn.members,
        session: deps.session,
      },
      job.jobId,
    );
    assert.deepEqual(loaded.model, job.model, "every party derives the same model");
    assert.equal((await attestJob({ ...deps, model: loaded.model }, job.jobId)).value, job.value);

    // the role, with its inputs wired as relayers/attestor/index.ts wires them
    const relayers = await Promise.all(
      job.attestors.map(async (a, i) => {
        const queue = await ActionQueue.open(path.join(tmp, `attestor-${i}`));
        const role = new Attestor({
          publicClient: env.pub,
          wallet: life.attestorWallet(a),
          contracts,
          chainId,
          store,
          fetchTimeoutMs: 5_000,
          inputs: {
            cohort: async () => job.drawn.members,
            model: async (jobId) =>
              (
                await jobModelOf(
                  {
                    chain: chainJobModelReads(env.pub, contracts),
                    store,
                    cohort: job.drawn.members,
                    session: deps.session,
                  },
                  jobId,
                )
              ).model,
          },
        });
        const loop = testLoop(queue, role, log);
        return { queue, loop };
      }),
    );
    try {
      for (let t = 0; t < 2; t++)
        for (const r of relayers) await r.loop.tick(new AbortController().signal);
      for (const r of relayers)
        for (const a of await r.queue.list()) assert.equal(a.status, "succeeded", a.lastFailure);
    } finally {
      for (const r of relayers) await r.queue.close();
    }
    await env.send(life.aggregator, "ResultAttestation", "revealAggregate", [
      job.jobId,
      job.value,
      aggSalt,
    ]);
    if ((await env.read("JobMarket", "status", [job.jobId])) === JobStatus.Committed)
      await env.send(life.keeper, "ResultAttestation", "finalize", [job.jobId]);
    assert.equal(await env.read("JobMarket", "status", [job.jobId]), JobStatus.Attested);
    const att = await env.read<{ finalHash: string; agreeMask: number }>(
      "ResultAttestation",
      "attestationOf",
      [job.jobId],
    );
    assert.equal(att.finalHash, job.value, "the quorum attested the aggregator's value");
  });
});

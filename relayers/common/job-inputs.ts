/**
 * What the attestor and the reporter read about a job before replaying its transcript, each fetched once per job and
 * kept (a failed read is forgotten, so the next tick tries again): the cohort list the distributor published (the
 * replay checks it against the on-chain root and size) and the job's model from its package (`jobModelOf`).
 */
import type { Address } from "viem";
import type { ChainPublicClient } from "#sdk/chain/clients.ts";
import type { CohortMember } from "#sdk/chain/cohort.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import {
  chainJobModelReads,
  jobModelOf,
  publishedCohortOf,
  type JobModelContracts,
  type LoadedJobModel,
} from "#sdk/protocol/job-model.ts";
import type { JobModel } from "#sdk/protocol/job-result.ts";

/** `f` memoised per job id; a rejected promise is dropped from the cache. */
function perJob<T>(f: (jobId: bigint) => Promise<T>): (jobId: bigint) => Promise<T> {
  const cache = new Map<bigint, Promise<T>>();
  return (jobId) => {
    let known = cache.get(jobId);
    if (known === undefined) {
      known = f(jobId);
      known.catch(() => cache.delete(jobId));
      cache.set(jobId, known);
    }
    return known;
  };
}

export interface PublishedJobInputs {
  cohort(jobId: bigint): Promise<readonly CohortMember[]>;
  loadedModel(jobId: bigint): Promise<LoadedJobModel>;
  model(jobId: bigint): Promise<JobModel>;
}

export function publishedJobInputs(c: {
  publicClient: ChainPublicClient;
  contracts: JobModelContracts & { JobMarket: Address };
  store: ContentStore;
  fromBlock: bigint;
  chainId: number;
}): PublishedJobInputs {
  const cohort = perJob((jobId) =>
    publishedCohortOf(c.publicClient, c.contracts.JobMarket, c.store, jobId, c.fromBlock),
  );
  const reads = chainJobModelReads(c.publicClient, c.contracts, { fromBlock: c.fromBlock });
  const loadedModel = perJob(async (jobId) =>
    jobModelOf(
      {
        chain: reads,
        store: c.store,
        cohort: await cohort(jobId),
        session: { chainId: c.chainId, jobMarket: c.contracts.JobMarket },
      },
      jobId,
    ),
  );
  return { cohort, loadedModel, model: async (jobId) => (await loadedModel(jobId)).model };
}

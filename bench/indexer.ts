/**
 * `npm run bench:indexer` — the local graph host on the main job's data (docs/indexer.md):
 *
 * 1. the data: `npm start`'s prediction job (bench:e2e's machinery: chain, relayers, `--devices` device runners,
 *    growth epoch, auction, SecAgg, attestation, report, settlement, claims) on a `hardhat node`; or, with `--rpc` and
 *    `--manifest`, a chain that already holds it (e.g. `npm start -- --keep`);
 * 2. raw `eth_getLogs` throughput over the subgraph's range, with the indexer's own filter and batch size: the ceiling
 *    an indexer that did nothing with the logs would reach;
 * 3. indexing throughput: the same range through `GraphHost.syncToHead` (block fetch, the WebAssembly mappings, PGlite
 *    on disk as `dml-indexer` runs it), events (handler runs) per second, and its ratio to (2) — target ≥ 50%;
 * 4. GraphQL latency over HTTP on 127.0.0.1 for analyst queries (totals, job lists and pages with nested entities,
 *    filters, nested ordering, time travel, _meta): p50 / p95 per query and over all — target p95 ≤ 50 ms.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import path from "node:path";
import { Command } from "commander";
import { createPublicClient, http, type Hex } from "viem";
import { readManifest } from "#sdk/chain/manifest.ts";
import { GraphHost } from "../indexer/graph-host.ts";
import { sourcesFromManifest } from "../indexer/sources.ts";
import { runDemoJob } from "../script/demo-job.ts";
import { deployProtocol } from "../script/deploy.ts";
import { GOVERNANCE_GENESIS } from "../script/governance-demo.ts";
import { stopAllGracefully } from "../script/network/processes.ts";
import { ensureSubgraphBuild, SUBGRAPH_BUILD_DIR } from "../script/start/indexer.ts";
import { createChainPublicClient } from "#sdk/chain/clients.ts";
import { startChainNode, type ChainNode } from "./e2e/chain-node.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
/** The indexer's default batch (indexer/indexer.ts). */
const BATCH_BLOCKS = 2_000;

interface Query {
  name: string;
  query: string;
  variables?: Record<string, unknown>;
}

interface Latency {
  name: string;
  samples: number;
  p50: number;
  p95: number;
  max: number;
}

const quantile = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

function analystQueries(head: number, jobId: string | null): Query[] {
  const qs: Query[] = [
    {
      name: "protocol totals",
      query: `{ protocol(id: "1") { jobCount jobsSettled jobVolume fees protocolFees devicePayouts devicePayoutsClaimed devices emission staked slashed nodes } }`,
    },
    {
      name: "jobs, newest first, nested",
      query: `{ jobs(first: 100, orderBy: createdAt, orderDirection: desc) { id jobId status budget rewardPerDevice deviceCount customer { id } algorithm { id usePrice } cohort { root deviceCount } attestation { status attested } report { success participants payoutTotal } } }`,
    },
    {
      name: "payout claims by amount",
      query: `{ payoutClaims(first: 100, orderBy: amount, orderDirection: desc) { id amount account { id } job { id } } }`,
    },
    {
      name: "payout claims by job (nested orderBy)",
      query: `{ payoutClaims(first: 100, orderBy: job__jobId, where: { amount_gt: "0" }) { id amount device { id } } }`,
    },
    {
      name: "active stakes, largest first",
      query: `{ stakes(first: 100, orderBy: bonded, orderDirection: desc, where: { active: true }) { id role bonded locked unbonding node { id endpoint } } }`,
    },
    {
      name: "devices registered with a bond",
      query: `{ devices(first: 1000, where: { registered: true, bond_gt: "0" }, orderBy: registeredAt) { id bond priceFloor schemas } }`,
    },
    {
      name: "growth epochs with winners",
      query: `{ growthPoolEpoches(first: 50, orderBy: epoch) { id status budget perWinner claimed winners { account { id } amount } } }`,
    },
    {
      name: "daily snapshots",
      query: `{ dailySnapshots(first: 30, orderBy: dayStart, orderDirection: desc) { id dayStart jobCount fees dailyJobsSettled dailyDevicesRegistered staked } }`,
    },
    {
      name: "token transfers, or-filter",
      query: `{ tokenTransfers(first: 100, orderBy: blockNumber, orderDirection: desc, where: { or: [{ value_gt: "1000000000000000000000" }, { blockNumber_lt: "20" }] }) { id value from { id } to { id } } }`,
    },
    {
      name: "time travel: totals at half the chain",
      query: `query($b: Int!) { protocol(id: "1", block: { number: $b }) { jobCount staked devices } }`,
      variables: { b: Math.max(1, Math.floor(head / 2)) },
    },
    { name: "_meta", query: `{ _meta { block { number hash timestamp } hasIndexingErrors } }` },
  ];
  if (jobId !== null)
    qs.push({
      name: "job page (derived lists)",
      query: `query($id: ID!) { job(id: $id) { id status statusChanges(orderBy: blockNumber) { from to timestamp } bids { id price outcome } payoutClaims(first: 100) { account { id } amount } slashes { amount } } }`,
      variables: { id: jobId },
    });
  return qs;
}

async function post(url: string, q: Query): Promise<{ data?: unknown; errors?: unknown }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: q.query, ...(q.variables ? { variables: q.variables } : {}) }),
  });
  return (await res.json()) as { data?: unknown; errors?: unknown };
}

async function main(argv: string[]): Promise<void> {
  const o = new Command()
    .name("bench:indexer")
    .description(
      "Local graph host: events/s indexed beside raw eth_getLogs, GraphQL p50/p95 on the main job's data",
    )
    .option("--devices <n>", "devices of the prediction job that makes the data", "20")
    .option("--port <n>", "loopback port of the benchmark's chain", "8721")
    .option(
      "--rpc <url>",
      "index this chain instead (with --manifest): e.g. after npm start -- --keep",
    )
    .option("--manifest <file>", "its deployment manifest")
    .option("--samples <n>", "timed runs of each GraphQL query", "50")
    .option(
      "--data-dir <dir>",
      "where the run's data go",
      path.join(ROOT, ".data", "bench-indexer"),
    )
    .option("--json <file>", "also write the results as JSON")
    .parse(argv)
    .opts<{
      devices: string;
      port: string;
      rpc?: string;
      manifest?: string;
      samples: string;
      dataDir: string;
      json?: string;
    }>();
  const devices = Number(o.devices);
  const samples = Number(o.samples);
  if (!Number.isInteger(devices) || devices < 6 || devices > 1000)
    throw new Error(`--devices must be an integer in [6, 1000], got ${o.devices}`);
  if (!Number.isInteger(samples) || samples < 5)
    throw new Error(`--samples must be an integer ≥ 5, got ${o.samples}`);
  const port = Number(o.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw new Error(`--port must be an integer in [1, 65535], got ${o.port}`);
  if ((o.rpc === undefined) !== (o.manifest === undefined))
    throw new Error("--rpc and --manifest go together");
  const dir = path.resolve(o.dataDir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });

  let chain: ChainNode | null = null;
  let rpcUrl: string;
  let manifestFile: string;
  let dataMs = 0;
  try {
    if (o.rpc !== undefined && o.manifest !== undefined) {
      rpcUrl = o.rpc;
      manifestFile = path.resolve(o.manifest);
    } else {
      const t0 = performance.now();
      chain = await startChainNode(port, path.join(dir, "chain.log"));
      rpcUrl = chain.rpcUrl;
      const deployed = await deployProtocol({
        rpcUrl,
        config: { genesis: GOVERNANCE_GENESIS },
        manifestPath: path.join(dir, "deployment.json"),
        force: true,
      });
      manifestFile = deployed.manifestPath;
      console.log(`the data: the prediction job of npm start with ${devices} devices …`);
      await runDemoJob({
        rpcUrl,
        publicClient: await createChainPublicClient(rpcUrl),
        manifest: deployed.manifest,
        manifestFile,
        dataDir: dir,
        devices,
        fineTuning: false,
        operatorsUpFront: true,
        maxSkewSeconds: 3_600,
        // as bench:e2e: a loaded machine starts devices late; the data, not the session's deadline, is measured here
        roundTimeoutMs: Math.max(60_000, devices * 400),
        print: (l) => console.log(`  ${l}`),
      });
      await stopAllGracefully(); // the demo's relayers and devices; the chain stays
      dataMs = performance.now() - t0;
    }
    const manifest = readManifest(manifestFile);
    await ensureSubgraphBuild(manifestFile);
    const client = createPublicClient({ transport: http(rpcUrl) });
    const head = Number(await client.getBlockNumber());
    const host = await GraphHost.open({
      buildDir: SUBGRAPH_BUILD_DIR,
      rpcUrl,
      sources: sourcesFromManifest(manifest),
      dataDir: path.join(dir, "indexer"),
      port: 0,
    });
    try {
      // raw eth_getLogs: the indexer's filter and batch, logs counted, nothing else done
      const filter = host.runtime.logFilter();
      const topics = new Set(filter.topics0.map((t) => t.toLowerCase()));
      const from = host.runtime.startBlock();
      let rawLogs = 0;
      const r0 = performance.now();
      for (let b = from; b <= head; b += BATCH_BLOCKS) {
        const logs = await client.getLogs({
          ...(filter.addresses !== null ? { address: [...filter.addresses] } : {}),
          fromBlock: BigInt(b),
          toBlock: BigInt(Math.min(head, b + BATCH_BLOCKS - 1)),
        });
        rawLogs += logs.filter((l) => topics.has((l.topics[0] as Hex).toLowerCase())).length;
      }
      const rawMs = performance.now() - r0;

      const cpu0 = process.cpuUsage();
      const i0 = performance.now();
      const synced = await host.syncToHead();
      const indexMs = performance.now() - i0;
      const cpu = process.cpuUsage(cpu0);
      if (synced.kind !== "synced") throw new Error(`indexing stopped: ${JSON.stringify(synced)}`);
      const events = [...host.runtime.handlerRuns.values()].reduce((a, b) => a + b, 0);

      const jobs = (await post(host.queryUrl!, {
        name: "first job",
        query: `{ jobs(first: 1, orderBy: jobId) { id } }`,
      })) as { data?: { jobs?: { id: string }[] } };
      const queries = analystQueries(head, jobs.data?.jobs?.[0]?.id ?? null);
      const latencies: Latency[] = [];
      const all: number[] = [];
      for (const q of queries) {
        const first = await post(host.queryUrl!, q);
        if (first.errors !== undefined)
          throw new Error(`${q.name}: GraphQL errors ${JSON.stringify(first.errors)}`);
        for (let i = 0; i < 2; i++) await post(host.queryUrl!, q); // warm
        const times: number[] = [];
        for (let i = 0; i < samples; i++) {
          const t = performance.now();
          await post(host.queryUrl!, q);
          times.push(performance.now() - t);
        }
        times.sort((a, b) => a - b);
        all.push(...times);
        latencies.push({
          name: q.name,
          samples,
          p50: quantile(times, 0.5),
          p95: quantile(times, 0.95),
          max: times.at(-1)!,
        });
      }
      all.sort((a, b) => a - b);

      const rawRate = rawLogs / (rawMs / 1000);
      const eventRate = events / (indexMs / 1000);
      const results = {
        blocks: head - from + 1,
        dataSeconds: dataMs / 1000,
        raw: { logs: rawLogs, seconds: rawMs / 1000, logsPerSecond: rawRate },
        indexing: {
          events,
          seconds: indexMs / 1000,
          eventsPerSecond: eventRate,
          cpuSeconds: (cpu.user + cpu.system) / 1e6,
          ratioToRaw: eventRate / rawRate,
          /** Where the wall time went: waiting for logs and blocks, the mappings, the store's commits. */
          chainSeconds: host.indexer.timings.chainMs / 1000,
          mappingsSeconds: host.indexer.timings.mappingsMs / 1000,
          storeSeconds: host.indexer.timings.storeMs / 1000,
        },
        graphql: {
          p50: quantile(all, 0.5),
          p95: quantile(all, 0.95),
          queries: latencies,
        },
        load: loadavg()[0],
      };
      const f = (x: number, d = 1) => x.toFixed(d);
      console.log(
        `\nbench:indexer — blocks ${from}..${head} (${results.blocks}), load ${f(results.load ?? 0, 2)}` +
          (dataMs > 0 ? `, data made in ${f(dataMs / 1000)} s (${devices} devices)` : ""),
      );
      console.log(
        `  raw eth_getLogs   ${String(rawLogs).padStart(6)} logs in ${f(rawMs / 1000, 2).padStart(6)} s = ${f(rawRate, 0).padStart(7)} logs/s`,
      );
      console.log(
        `  indexed           ${String(events).padStart(6)} events in ${f(indexMs / 1000, 2).padStart(6)} s = ${f(eventRate, 0).padStart(7)} events/s ` +
          `(${f(100 * results.indexing.ratioToRaw)}% of raw; target ≥ 50%), CPU ${f(results.indexing.cpuSeconds, 2)} s`,
      );
      console.log(
        `  indexing's wall time: chain (logs, blocks) ${f(results.indexing.chainSeconds, 2)} s, mappings ` +
          `${f(results.indexing.mappingsSeconds, 2)} s (${f((1000 * results.indexing.mappingsSeconds) / Math.max(1, events), 2)} ms per event), ` +
          `store commits ${f(results.indexing.storeSeconds, 2)} s (${f((1000 * results.indexing.storeSeconds) / Math.max(1, results.blocks), 2)} ms per block of the range)`,
      );
      console.log(`\n  GraphQL over HTTP, ${samples} runs each        p50 ms   p95 ms   max ms`);
      for (const l of latencies)
        console.log(
          `  ${l.name.padEnd(40)} ${f(l.p50).padStart(7)}  ${f(l.p95).padStart(7)}  ${f(l.max).padStart(7)}`,
        );
      console.log(
        `  ${"all queries".padEnd(40)} ${f(results.graphql.p50).padStart(7)}  ${f(results.graphql.p95).padStart(7)}   (target p95 ≤ 50 ms)`,
      );
      if (o.json) await writeFile(path.resolve(o.json), JSON.stringify(results, null, 2));
    } finally {
      await host.close();
    }
  } finally {
    await stopAllGracefully();
    await chain?.stop();
  }
}

main(process.argv).then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);

/**
 * The dashboard in headless Debian Chromium (playwright-core, never a downloaded browser) against a running network
 * (`npm start -- --keep`'s endpoints): every page loads with no console error; the numbers shown equal GraphQL and
 * viem reads; the customer's report decrypts in the page with the right key file and is refused with a wrong one; a
 * full-page screenshot of each page is kept (docs/dashboard.md).
 *
 * Every number the dashboard shows carries `data-testid`, its raw value in `data-value` and its kind in
 * `data-format`; its text must be `format(kind, value)` (dashboard/src/numbers.ts). The relayers keep transacting
 * while this runs, so each comparison is retried until page and source agree (a few seconds at most).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import {
  createPublicClient,
  getAddress,
  http,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";
import { protocolAbi } from "#sdk/chain/contracts.ts";
import { readManifest, type Manifest } from "#sdk/chain/manifest.ts";
import { decryptReport, reportKeyPair } from "#sdk/crypto/report.ts";
import { bytesToHex } from "viem";
import { format, type NumberKind } from "../../dashboard/src/numbers.ts";

export const CHROMIUM = process.env.DML_CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-quic",
  "--disable-sync",
];

export interface DashboardTarget {
  dashboardUrl: string;
  graphqlUrl: string;
  rpcUrl: string;
  ipfsUrl: string;
  manifestFile: string;
  /** The customer's report key file npm start wrote. */
  keyFile: string;
  screenshotDir: string;
}

export interface DashboardCheckResult {
  pages: string[];
  screenshots: string[];
  numbersCompared: number;
  ms: number;
}

type Json = Record<string, unknown>;

async function gql(url: string, query: string): Promise<Json> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as { data?: Json; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join("; "));
  return body.data ?? {};
}

/** Mines one block (Hardhat/Anvil `evm_mine`) and returns its number. */
async function mine(rpcUrl: string): Promise<bigint> {
  const call = async (method: string): Promise<unknown> => {
    const res = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: [] }),
    });
    const body = (await res.json()) as { result?: unknown; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result;
  };
  await call("evm_mine");
  return BigInt(String(await call("eth_blockNumber")));
}

/** Retries `fn` until it stops throwing, for up to `ms`. */
async function eventually<T>(fn: () => Promise<T>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

interface Shown {
  value: string | null;
  format: string | null;
  text: string;
}

/** Every number on the page: testid → value, kind and text. */
async function numbers(page: Page): Promise<Map<string, Shown>> {
  const all = await page.$$eval("[data-testid]", (els) =>
    els.map((e) => ({
      id: e.getAttribute("data-testid") ?? "",
      value: e.getAttribute("data-value"),
      format: e.getAttribute("data-format"),
      text: (e.textContent ?? "").trim(),
    })),
  );
  return new Map(all.map((n) => [n.id, n]));
}

class Checker {
  compared = 0;
  readonly page: Page;
  constructor(page: Page) {
    this.page = page;
  }

  /** Every shown number's text is its value in its format. */
  async formats(): Promise<void> {
    for (const [id, n] of await numbers(this.page)) {
      if (n.value === null || n.format === null) continue;
      assert.equal(n.text, format(n.format as NumberKind, n.value), `${id}: text of ${n.value}`);
    }
  }

  /** The page shows `want` for each testid (retried: the page refreshes live and the sources move). */
  async equal(
    label: string,
    want: () => Promise<Record<string, bigint | number | string | null>>,
  ): Promise<void> {
    await eventually(async () => {
      const expected = await want();
      const shown = await numbers(this.page);
      for (const [id, v] of Object.entries(expected)) {
        const s = shown.get(id);
        assert.ok(s, `${label}: no [data-testid=${id}] on the page`);
        assert.equal(s.value, v === null ? null : v.toString(), `${label}: ${id}`);
      }
      this.compared += Object.keys(expected).length;
    });
  }
}

export async function checkDashboard(t: DashboardTarget): Promise<DashboardCheckResult> {
  const t0 = Date.now();
  assert.ok(existsSync(CHROMIUM), `Debian's chromium at ${CHROMIUM} (apt-get install chromium)`);
  const manifest: Manifest = readManifest(t.manifestFile);
  const pub: PublicClient = createPublicClient({ transport: http(t.rpcUrl) });
  const addrOf = (name: string): Address => {
    const c = manifest.contracts[name];
    assert.ok(c, `${name} in the manifest`);
    return c.address as Address;
  };
  const read = <T>(name: string, functionName: string, args: readonly unknown[] = []): Promise<T> =>
    pub.readContract({
      address: addrOf(name),
      abi: protocolAbi(name),
      functionName,
      args,
    }) as Promise<T>;
  const q = (query: string) => gql(t.graphqlUrl, query);

  await mkdir(t.screenshotDir, { recursive: true });
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const screenshots: string[] = [];
  const pages: string[] = [];
  let compared = 0;
  try {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => {
      // a navigation aborts the previous page's in-flight polls: not a failure of the page
      const why = r.failure()?.errorText ?? "";
      if (!why.includes("ERR_ABORTED")) errors.push(`request failed: ${r.url()} ${why}`);
    });
    const c = new Checker(page);

    const visit = async (name: string, hash: string): Promise<void> => {
      await page.goto(`${t.dashboardUrl}${hash}`);
      await page.waitForSelector(`main[data-page="${name}"][data-state="ready"]`, {
        timeout: 30_000,
      });
      assert.deepEqual(errors, [], `${hash}: console errors`);
      await c.formats();
      pages.push(hash);
    };
    const shot = async (name: string): Promise<void> => {
      const file = path.join(t.screenshotDir, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      screenshots.push(file);
    };

    // ------------------------------------------------------------ overview
    await visit("overview", "#/");
    const roles = ["Distributor", "Aggregator", "Attestor", "Reporter", "Refiner"];
    await c.equal("overview vs GraphQL and chain", async () => {
      const d =
        await q(`{ protocol(id: "1") { staked slashed jobCount devices emission fees jobsSettled }
        nodes(first: 1000) { id } growthPoolEpoches(first: 1000) { epoch } }`);
      const p = d.protocol as Record<string, string>;
      const nodes = (d.nodes as { id: string }[]).map((n) => getAddress(n.id));
      const byRole: Record<string, bigint> = {};
      for (const [i, role] of roles.entries()) {
        let sum = 0n;
        for (const n of nodes) {
          const s = await read<{ bonded: bigint; unbonding: bigint }>("NodeStaking", "stakeInfo", [
            n,
            i,
          ]);
          sum += s.bonded + s.unbonding;
        }
        byRole[`overview.stake.${role}`] = sum;
      }
      const growth: Record<string, bigint> = {};
      for (const { epoch } of d.growthPoolEpoches as { epoch: string }[]) {
        const e = BigInt(epoch);
        growth[`growth.${e}.schedule`] = await read<bigint>("GrowthPool", "emission", [e]);
        const info = await read<{ perWinner: bigint; claimedCount: bigint }>(
          "GrowthPool",
          "epochInfo",
          [e],
        );
        if (info.perWinner > 0n) growth[`growth.${e}.perWinner`] = info.perWinner;
        growth[`growth.${e}.claimCount`] = info.claimedCount;
      }
      assert.ok(Object.keys(growth).length > 0, "at least one growth epoch");
      return {
        "overview.staked": p.staked!,
        "overview.slashed": p.slashed!,
        "overview.devices": p.devices!,
        "overview.emission": p.emission!,
        "overview.fees": p.fees!,
        "overview.jobs.Settled": p.jobsSettled!,
        "overview.jobCount": await read<bigint>("JobMarket", "jobCount"),
        ...byRole,
        ...growth,
      };
    });
    // the header's live chain head is the chain's
    const head = await pub.getBlockNumber({ cacheTime: 0 });
    await eventually(async () => {
      const shown = BigInt((await numbers(page)).get("head.chain")?.value ?? "-1");
      assert.ok(shown >= head, `head.chain ${shown} ≥ ${head}`);
      assert.ok(shown <= (await pub.getBlockNumber({ cacheTime: 0 })));
    });
    // live refresh: a new block reaches the header and the page re-loads at it, with no reload of the page
    const mined = await mine(t.rpcUrl);
    await page.waitForFunction(
      `Number(document.querySelector("main")?.getAttribute("data-block") ?? -1) >= ${mined}`,
      undefined,
      { timeout: 30_000 },
    );
    assert.ok(BigInt((await numbers(page)).get("head.indexed")?.value ?? "-1") >= mined);
    await shot("overview");

    // ------------------------------------------------------------ jobs
    const jobs = (await q(`{ jobs(first: 1000, orderBy: jobId) { id } }`)).jobs as { id: string }[];
    assert.ok(jobs.length > 0, "at least one job");
    await visit("jobs", "#/jobs");
    await c.equal("jobs vs chain", async () => {
      const want: Record<string, bigint | number> = {};
      for (const { id } of jobs) {
        const j = await read<{ escrow: bigint; deviceCount: number }>("JobMarket", "getJob", [
          BigInt(id),
        ]);
        want[`jobs.${id}.escrow`] = j.escrow;
        if (j.deviceCount > 0) want[`jobs.${id}.deviceCount`] = j.deviceCount;
      }
      return want;
    });
    await shot("jobs");

    // ------------------------------------------------------------ one job
    const keyJson = JSON.parse(
      await (await import("node:fs/promises")).readFile(t.keyFile, "utf8"),
    ) as { jobId: string; secretKey: Hex };
    const jobId = keyJson.jobId;
    await visit("job", `#/job/${jobId}`);
    await c.equal("job vs GraphQL and chain", async () => {
      const d = (
        await q(`{ job(id: "${jobId}") { escrow payoutsClaimed payoutClaimCount deviceCount
          statusChanges(first: 100, orderBy: blockNumber) { transactionHash }
          report { participants transactionHash } split { devicePool protocolFee reporterFee } } }`)
      ).job as Json;
      const onChain = await read<{ escrow: bigint; deviceCount: number }>("JobMarket", "getJob", [
        BigInt(jobId),
      ]);
      const changes = d.statusChanges as { transactionHash: Hex }[];
      const gas: Record<string, bigint> = {};
      for (const [i, ch] of changes.entries())
        gas[`job.phase.${i}.gas`] = (
          await pub.getTransactionReceipt({ hash: ch.transactionHash })
        ).gasUsed;
      const split = d.split as Record<string, string>;
      const report = d.report as Record<string, string>;
      return {
        "job.escrow": onChain.escrow,
        "job.deviceCount": onChain.deviceCount,
        "job.payoutsClaimed": d.payoutsClaimed as string,
        "job.payoutClaimCount": d.payoutClaimCount as number,
        "job.participants": report.participants!,
        "job.split.devicePool": split.devicePool!,
        "job.split.protocolFee": split.protocolFee!,
        "job.split.reporterFee": split.reporterFee!,
        ...gas,
      };
    });
    await shot("job");

    // ------------------------------------------------------------ the customer's report: wrong key, then the right one
    const r = (
      (await q(`{ job(id: "${jobId}") { report { reportCid reportCommitment } } }`)).job as {
        report: { reportCid: string; reportCommitment: Hex };
      }
    ).report;
    const cipher = await fetch(`${t.ipfsUrl}/api/v0/cat?arg=${r.reportCid}`, { method: "POST" });
    const opened = decryptReport(
      Uint8Array.from(Buffer.from(keyJson.secretKey.slice(2), "hex")),
      new Uint8Array(await cipher.arrayBuffer()),
      r.reportCommitment,
    ) as {
      labels: string[];
      devices: number;
      records: number;
      adjusted?: ({ estimate: number; interval: number[] } | null)[];
      classifyAndCount: { estimate: number; interval: number[] }[];
    };
    await visit("report", `#/report/${jobId}`);
    const wrongKey = path.join(t.screenshotDir, "wrong-report-key.json");
    await writeFile(wrongKey, JSON.stringify({ secretKey: bytesToHex(reportKeyPair().secretKey) }));
    await page.setInputFiles('[data-testid="report.keyfile"]', wrongKey);
    await page.waitForSelector('[data-testid="report.state"][data-state="refused"]', {
      timeout: 30_000,
    });
    assert.equal(
      await page.getAttribute('[data-testid="report.refusal"]', "data-code"),
      "UNDECRYPTABLE",
    );
    assert.match(
      await page.innerText('[data-testid="report.refusal"]'),
      /does not open the report/,
    );
    assert.equal(
      await page.$('[data-testid="report.devices"]'),
      null,
      "nothing of the report is shown",
    );
    await shot("report-refused");
    await page.setInputFiles('[data-testid="report.keyfile"]', t.keyFile);
    await page.waitForSelector('[data-testid="report.state"][data-state="decrypted"]', {
      timeout: 30_000,
    });
    const want: Record<string, number> = {
      "report.devices": opened.devices,
      "report.records": opened.records,
    };
    for (const [i, label] of opened.labels.entries()) {
      const e = opened.adjusted?.[i] ?? opened.classifyAndCount[i]!;
      want[`report.${label}.estimate`] = e.estimate;
      want[`report.${label}.lo`] = e.interval[0]!;
      want[`report.${label}.hi`] = e.interval[1]!;
    }
    await c.equal("report vs the report decrypted here", async () => want);
    await c.formats();
    assert.deepEqual(errors, [], "no console error while decrypting");
    await shot("report");

    // ------------------------------------------------------------ marketplace
    await visit("marketplace", "#/marketplace");
    await c.equal("marketplace vs GraphQL", async () => {
      const algs = (
        await q(`{ algorithms(first: 1000) { id usePrice licencePrice uses licencesSold } }`)
      ).algorithms as Record<string, string>[];
      assert.ok(algs.length > 0);
      return Object.fromEntries(
        algs.flatMap((a) => [
          [`alg.${a.id}.usePrice`, a.usePrice!],
          [`alg.${a.id}.licencePrice`, a.licencePrice!],
          [`alg.${a.id}.uses`, a.uses!],
          [`alg.${a.id}.licencesSold`, a.licencesSold!],
        ]),
      );
    });
    await shot("marketplace");

    // ------------------------------------------------------------ fine-tuning
    await visit("finetuning", "#/finetuning");
    await c.equal("fine-tuning vs GraphQL, chain and IPFS", async () => {
      const bs = (
        await q(
          `{ bounties(first: 100) { id paidToTrainers roundList(first: 100) { id metric modelCid } } }`,
        )
      ).bounties as {
        id: string;
        paidToTrainers: string;
        roundList: { id: string; metric: string | null; modelCid: string | null }[];
      }[];
      assert.ok(bs.length > 0, "a bounty");
      const out: Record<string, string | bigint | null> = {};
      for (const b of bs) {
        const w = await read<{ rewardPool: bigint; trainerCount: number; attestorsPaid: bigint }>(
          "FineTuning",
          "getBounty",
          [BigInt(b.id)],
        );
        out[`bounty.${b.id}.rewardPool`] = w.rewardPool;
        out[`bounty.${b.id}.trainerCount`] = BigInt(w.trainerCount);
        out[`bounty.${b.id}.paidToAttestors`] = w.attestorsPaid;
        out[`bounty.${b.id}.paidToTrainers`] = b.paidToTrainers;
        for (const r of b.roundList) {
          out[`round.${r.id}.metric`] = r.metric;
          if (r.modelCid) {
            const m = (await (
              await fetch(`${t.ipfsUrl}/api/v0/cat?arg=${r.modelCid}/manifest.json`, {
                method: "POST",
              })
            ).json()) as { controlGroup?: { confusion: number[][] } };
            const conf = m.controlGroup?.confusion ?? [];
            const all = conf.flat().reduce((a, x) => a + x, 0);
            const right = conf.reduce((a, row, i) => a + (row[i] ?? 0), 0);
            out[`round.${r.id}.control`] =
              all === 0 ? null : (BigInt(right) * 10n ** 18n) / BigInt(all);
          }
        }
      }
      return out;
    });
    await shot("finetuning");

    // ------------------------------------------------------------ operators
    await visit("operators", "#/operators");
    await c.equal("operators vs chain", async () => {
      const stakes = (await q(`{ stakes(first: 1000) { id role node { id } locked } }`)).stakes as {
        id: string;
        role: string;
        node: { id: string };
        locked: string;
      }[];
      assert.ok(stakes.length > 0);
      const out: Record<string, bigint | string> = {};
      for (const s of stakes) {
        const w = await read<{ bonded: bigint; unbonding: bigint }>("NodeStaking", "stakeInfo", [
          getAddress(s.node.id),
          roles.indexOf(s.role),
        ]);
        out[`stake.${s.id}.bonded`] = w.bonded;
        out[`stake.${s.id}.unbonding`] = w.unbonding;
        out[`stake.${s.id}.locked`] = s.locked;
      }
      return out;
    });
    await shot("operators");

    // ------------------------------------------------------------ governance
    await visit("governance", "#/governance");
    await c.equal("governance vs chain", async () => {
      const ps = (await q(`{ proposals(first: 100) { id voteCount } }`)).proposals as {
        id: string;
        voteCount: number;
      }[];
      assert.ok(ps.length > 0, "a proposal");
      const out: Record<string, bigint | number> = {};
      for (const p of ps) {
        const [against, forVotes, abstain] = await read<readonly [bigint, bigint, bigint]>(
          "DMLGovernor",
          "proposalVotes",
          [BigInt(p.id)],
        );
        out[`proposal.${p.id}.for`] = forVotes;
        out[`proposal.${p.id}.against`] = against;
        out[`proposal.${p.id}.abstain`] = abstain;
        out[`proposal.${p.id}.voteCount`] = p.voteCount;
      }
      return out;
    });
    const states = await page.$$eval('[data-testid$=".state"]', (els) =>
      els.map((e) => e.textContent),
    );
    assert.ok(states.includes("Executed"), `an executed proposal among ${states.join(", ")}`);
    await shot("governance");

    assert.deepEqual(errors, [], "no console error on any page");
    compared = c.compared;
    await context.close();
  } finally {
    await browser.close();
  }
  return { pages, screenshots, numbersCompared: compared, ms: Date.now() - t0 };
}

/** The endpoints `npm start -- --keep` prints under "still serving": name → URL (or path). */
export function servingEndpoints(stdout: string): Map<string, string> {
  const at = stdout.lastIndexOf("still serving");
  assert.ok(at >= 0, "npm start printed what it serves");
  const out = new Map<string, string>();
  for (const line of stdout.slice(at).split("\n").slice(1)) {
    const m = /^ {2}(\S.*?)\s{2,}(\S+)\s*$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** The dashboard target from those endpoints. */
export function targetFrom(endpoints: Map<string, string>, screenshotDir: string): DashboardTarget {
  const get = (name: string): string => {
    const v = endpoints.get(name);
    assert.ok(v, `"${name}" among the endpoints: ${[...endpoints.keys()].join(", ")}`);
    return v;
  };
  return {
    dashboardUrl: get("dashboard"),
    graphqlUrl: get("GraphQL (subgraph)"),
    rpcUrl: get("chain JSON-RPC"),
    ipfsUrl: get("IPFS (Kubo RPC API)"),
    manifestFile: get("manifest"),
    keyFile: get("customer's report key"),
    screenshotDir,
  };
}

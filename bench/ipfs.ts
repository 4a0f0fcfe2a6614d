/**
 * IPFS daemon bench: add and get throughput through a real `dml-ipfs daemon` process (loopback RPC,
 * `KuboStore` as the relayers and devices use it), against embedded `HeliaStore` in-process as the
 * baseline, plus the daemon's peak RSS (VmHWM).
 *
 *   npm run bench:ipfs                       # 1 MiB x 20 and 100 KiB x 100
 *   npx tsx bench/ipfs.ts --big 20 --small 100 --concurrency 8
 *
 * A get uses a KuboStore with an empty cache, so every block crosses the RPC and is hash-checked;
 * adds are sequential unless --concurrency > 1 (then that many in flight, adds and gets alike).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { HeliaStore, KuboStore, type ContentStore } from "#sdk/ipfs/index.ts";

const program = new Command()
  .option("--big <n>", "number of 1 MiB objects", "20")
  .option("--small <n>", "number of 100 KiB objects", "100")
  .option("--concurrency <n>", "operations in flight", "1")
  .parse();
const opts = program.opts<{ big: string; small: string; concurrency: string }>();
const big = Number(opts.big);
const small = Number(opts.small);
const concurrency = Number(opts.concurrency);

const ROOT = resolve(import.meta.dirname, "..");
const MiB = 1024 * 1024;

async function pool<T, R>(items: readonly T[], f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, concurrency) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i] as T);
      }
    }),
  );
  return out;
}

interface Row {
  store: string;
  workload: string;
  op: string;
  ms: number;
  mibPerS: number;
  perObjectMs: number;
}

async function measure(
  label: string,
  writer: ContentStore,
  openReader: () => Promise<ContentStore>,
  workload: string,
  objects: Uint8Array[],
): Promise<Row[]> {
  const bytes = objects.reduce((a, o) => a + o.length, 0);
  let t = performance.now();
  const cids = await pool(objects, (o) => writer.addBytes(o));
  const addMs = performance.now() - t;
  const reader = await openReader();
  try {
    t = performance.now();
    const got = await pool(cids, (c) => reader.getBytes(c));
    const getMs = performance.now() - t;
    got.forEach((g, i) => {
      if (Buffer.compare(g, objects[i] as Uint8Array) !== 0) throw new Error("bench: bytes differ");
    });
    const row = (op: string, ms: number): Row => ({
      store: label,
      workload,
      op,
      ms: Math.round(ms),
      mibPerS: Math.round((bytes / MiB / (ms / 1000)) * 10) / 10,
      perObjectMs: Math.round((ms / objects.length) * 100) / 100,
    });
    return [row("add", addMs), row("get", getMs)];
  } finally {
    if (reader !== writer) await reader.close();
  }
}

async function vmHwmKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

const dir = await mkdtemp(join(tmpdir(), "dml-bench-ipfs-"));
const child = spawn(
  process.execPath,
  [join(ROOT, "ipfs/bin/dml-ipfs.mjs"), "daemon", "--dir", join(dir, "node"), "--port", "0"],
  { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
);
try {
  const url = await new Promise<string>((ok, fail) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)\n[^]*Daemon is ready/.exec(out);
      if (m?.[1]) ok(m[1]);
    });
    child.on("exit", (code) => fail(new Error(`daemon exited ${code}`)));
  });
  const pid = child.pid as number;
  const idleRss = await vmHwmKiB(pid);
  const workloads: [string, Uint8Array[]][] = [
    [`1 MiB x ${big}`, Array.from({ length: big }, () => new Uint8Array(randomBytes(MiB)))],
    [
      `100 KiB x ${small}`,
      Array.from({ length: small }, () => new Uint8Array(randomBytes(100 * 1024))),
    ],
  ];
  const rows: Row[] = [];
  let n = 0;
  for (const [name, objects] of workloads) {
    const writer = await KuboStore.open({ url, cacheDir: join(dir, `w${n}`) });
    rows.push(
      ...(await measure(
        "dml-ipfs (RPC)",
        writer,
        () => KuboStore.open({ url, cacheDir: join(dir, `r${n++}`) }),
        name,
        objects,
      )),
    );
    await writer.close();
    const helia = await HeliaStore.open({ dir: join(dir, `h${n++}`) });
    rows.push(
      ...(await measure("HeliaStore (in-process)", helia, async () => helia, name, objects)),
    );
    await helia.close();
  }
  const peakRss = await vmHwmKiB(pid);
  console.table(rows);
  console.log(
    `daemon RSS: idle ${(idleRss / 1024).toFixed(1)} MiB, peak ${(peakRss / 1024).toFixed(1)} MiB (VmHWM); ` +
      `concurrency ${concurrency}; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
  );
} finally {
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  await rm(dir, { recursive: true, force: true });
}

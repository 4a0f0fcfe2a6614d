import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { create } from "kubo-rpc-client";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import {
  ContentIntegrityError,
  ContentNotFoundError,
  HeliaStore,
  InvalidCidError,
  KuboStore,
} from "#sdk/ipfs/index.ts";
import { DAEMON_LOCK_FILE, IpfsDaemon, IpfsDaemonError } from "#sdk/ipfs/daemon.ts";
import { IpfsRpcServer, parseMultipart, RpcServerError } from "#sdk/ipfs/rpc-server.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const enc = new TextEncoder();
const big = Uint8Array.from({ length: 2_500_000 }, (_, i) => (i * 31 + (i >> 9)) & 0xff);
const files = [
  { path: "manifest.json", content: enc.encode('{"name":"spam","version":1}') },
  { path: "model.onnx", content: big },
  { path: "empty.bin", content: new Uint8Array(0) },
];

let dir: string;
let daemon: IpfsDaemon;
let reference: HeliaStore;
const opened: KuboStore[] = [];

async function kubo(url: string, name: string): Promise<KuboStore> {
  const s = await KuboStore.open({ url, cacheDir: join(dir, name), timeoutMs: 10_000 });
  opened.push(s);
  return s;
}

/** A raw POST to the RPC API: status, content type and body text. */
async function post(
  url: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: RequestInit["body"] } = {},
): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`${url}${path}`, { method: "POST", ...init });
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    text: await res.text(),
  };
}

function assertKuboError(r: { status: number; type: string; text: string }, status: number) {
  assert.equal(r.status, status, r.text);
  assert.match(r.type, /^application\/json/);
  const body = JSON.parse(r.text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ["Code", "Message", "Type"]);
  assert.equal(body.Type, "error");
  assert.equal(body.Code, status < 500 ? 1 : 0);
  assert.equal(typeof body.Message, "string");
  return body.Message as string;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "dml-rpc-"));
  daemon = await IpfsDaemon.start({ dir: join(dir, "node"), port: 0 });
  reference = await HeliaStore.open({ dir: join(dir, "reference") });
});
after(async () => {
  for (const s of opened) await s.close();
  await daemon.close();
  await reference.close();
  await rm(dir, { recursive: true, force: true });
});

describe("KuboStore against the dml-ipfs RPC server", () => {
  it("addBytes / getBytes round trip, with the CIDs HeliaStore computes", async () => {
    const store = await kubo(daemon.url, "c-bytes");
    for (const bytes of [enc.encode("hello"), big, new Uint8Array(0)]) {
      const cid = await store.addBytes(bytes);
      assert.equal(cid, await reference.addBytes(bytes));
      assert.deepEqual(await store.getBytes(cid), bytes);
    }
    // the multi-block file really is a DAG (root dag-pb over 1 MiB raw leaves), not one block
    const root = CID.parse(await store.addBytes(big));
    assert.equal(root.code, 0x70);
    assert.equal(root.version, 1);
  });

  it("addDirectory / getFile, with HeliaStore's directory CID", async () => {
    const store = await kubo(daemon.url, "c-dir");
    const cid = await store.addDirectory(files);
    assert.equal(cid, await reference.addDirectory(files));
    for (const f of files) assert.deepEqual(await store.getFile(cid, f.path), f.content);
    await assert.rejects(store.getFile(cid, "absent.txt"), ContentNotFoundError);
  });

  it("answers add with Kubo's ndjson lines (Name, Hash, Size as strings, root last)", async () => {
    const form = new FormData();
    form.append("file", new Blob([enc.encode("abc")]), "a.txt");
    form.append("file-1", new Blob([big]), "b.bin");
    const r = await post(
      daemon.url,
      "/api/v0/add?cid-version=1&wrap-with-directory=true&pin=true",
      {
        body: form,
      },
    );
    assert.equal(r.status, 200, r.text);
    const lines = r.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { Name: string; Hash: string; Size: string });
    assert.deepEqual(
      lines.map((l) => l.Name),
      ["a.txt", "b.bin", ""],
    );
    for (const l of lines) assert.deepEqual(Object.keys(l), ["Name", "Hash", "Size"]);
    assert.equal(lines[0]?.Size, "3"); // a raw leaf: its length
    assert.ok(Number(lines[1]?.Size) > big.length, "a DAG's cumulative size includes its nodes");
    const root = await reference.addDirectory([
      { path: "a.txt", content: enc.encode("abc") },
      { path: "b.bin", content: big },
    ]);
    assert.equal(lines[2]?.Hash, root);
  });

  it("serves block/put, block/get, cat and version to kubo-rpc-client", async () => {
    const client = create({ url: daemon.url });
    const block = enc.encode("a raw block");
    const cid = await client.block.put(block);
    assert.equal(cid.toString(), CID.createV1(0x55, await sha256.digest(block)).toString());
    assert.deepEqual(await client.block.get(cid), block);
    const added = await client.add(big, { cidVersion: 1, rawLeaves: true });
    const parts: Uint8Array[] = [];
    for await (const chunk of client.cat(added.cid)) parts.push(chunk);
    assert.deepEqual(new Uint8Array(Buffer.concat(parts)), big);
    const dirCid = await reference.addDirectory(files); // not on the daemon: cat must miss
    await assert.rejects(async () => {
      for await (const _ of client.cat(CID.parse(dirCid))) void _;
    }, /not available|could not find/);
    assert.equal((await client.version()).version, "0.1.0-dml");
  });

  it("a node returning tampered blocks is caught by KuboStore's verification", async () => {
    const store = await kubo(daemon.url, "c-origin");
    const fileCid = await store.addBytes(big);
    const dirCid = await store.addDirectory(files);
    const proxy = await tamperingProxy(daemon.url);
    try {
      const victim = await kubo(proxy.url, "c-victim");
      await assert.rejects(victim.getBytes(fileCid), ContentIntegrityError);
      await assert.rejects(victim.getFile(dirCid, "manifest.json"), ContentIntegrityError);
      assert.ok(proxy.tampered() >= 2, `tampered ${proxy.tampered()} blocks`);
      // an honest node on the same cache directory still serves the content afterwards
      const honest = await kubo(daemon.url, "c-victim-2");
      assert.deepEqual(await honest.getBytes(fileCid), big);
    } finally {
      await proxy.close();
    }
  });

  it("a malformed CID is a clear error, never a crash", async () => {
    const store = await kubo(daemon.url, "c-bad");
    await assert.rejects(store.getBytes("not-a-cid"), InvalidCidError);
    for (const arg of ["garbage", "bafy%00", "Qm", encodeURIComponent("z".repeat(2000))]) {
      const msg = assertKuboError(await post(daemon.url, `/api/v0/block/get?arg=${arg}`), 400);
      assert.match(msg, /invalid CID|invalid option arg/);
    }
    assertKuboError(await post(daemon.url, "/api/v0/block/get"), 400);
    assertKuboError(await post(daemon.url, "/api/v0/cat?arg=nope/file"), 400);
    // a well-formed CID of a block the node does not hold: Kubo's offline answer (500, Code 0)
    const absent = CID.createV1(0x55, await sha256.digest(enc.encode("absent")));
    const msg = assertKuboError(await post(daemon.url, `/api/v0/block/get?arg=${absent}`), 500);
    assert.match(msg, /not found locally/);
    await assert.rejects(store.getBytes(absent.toString()), ContentNotFoundError);
    // still serving
    assert.equal((await post(daemon.url, "/api/v0/version")).status, 200);
  });

  it("refuses what Kubo refuses: GET, browser origins, unknown commands, unsafe paths, options it cannot honour", async () => {
    assertKuboError(await post(daemon.url, "/api/v0/version", { method: "GET" }), 405);
    assertKuboError(
      await post(daemon.url, "/api/v0/version", { headers: { Origin: "https://evil.example" } }),
      403,
    );
    assertKuboError(await post(daemon.url, "/api/v0/pin/rm?arg=x"), 404);
    assertKuboError(await post(daemon.url, "/webui"), 404);
    const form = (name: string) => {
      const f = new FormData();
      f.append("file", new Blob([enc.encode("x")]), name);
      return f;
    };
    for (const name of ["../escape", "a/../../b", "/", "a//b", "a\\b"]) {
      const m = assertKuboError(
        await post(daemon.url, "/api/v0/add?wrap-with-directory=true", {
          body: form(encodeURIComponent(name)),
        }),
        400,
      );
      assert.match(m, /invalid path|file name/);
    }
    for (const q of ["only-hash=true", "hash=sha3-256", "chunker=size-262144", "trickle=true"]) {
      const m = assertKuboError(
        await post(daemon.url, `/api/v0/add?${q}`, { body: form("x") }),
        400,
      );
      assert.match(m, /unsupported|invalid option/);
    }
    assertKuboError(await post(daemon.url, "/api/v0/add?frobnicate=1", { body: form("x") }), 400);
    assertKuboError(await post(daemon.url, "/api/v0/add", { body: "not multipart" }), 400);
  });

  it("caps the request body (413) and keeps serving", async () => {
    const store = await HeliaStore.open({ dir: join(dir, "capped") });
    const server = await IpfsRpcServer.start({ store, port: 0, maxBodyBytes: 64 * 1024 });
    try {
      const f = new FormData();
      f.append("file", new Blob([new Uint8Array(200 * 1024)]), "big");
      assertKuboError(await post(server.url, "/api/v0/add", { body: f }), 413);
      // the same limit without a Content-Length: a chunked upload stopped while streaming
      const status = await chunkedPost(server.url, "/api/v0/add", 300 * 1024);
      assert.equal(status, 413);
      const small = new FormData();
      small.append("file", new Blob([enc.encode("fits")]), "small");
      assert.equal((await post(server.url, "/api/v0/add", { body: small })).status, 200);
    } finally {
      await server.close();
      await store.close();
    }
  });

  it("content survives a restart on the same directory; a second daemon on it is refused", async () => {
    const nodeDir = join(dir, "restart");
    const first = await IpfsDaemon.start({ dir: nodeDir, port: 0 });
    let fileCid: string;
    let dirCid: string;
    try {
      await assert.rejects(
        IpfsDaemon.start({ dir: nodeDir, port: 0 }),
        (e: unknown) => e instanceof IpfsDaemonError && e.code === "DIR_LOCKED",
      );
      const writer = await kubo(first.url, "c-w");
      fileCid = await writer.addBytes(big);
      dirCid = await writer.addDirectory(files);
    } finally {
      await first.close();
    }
    assert.equal(existsSync(join(nodeDir, DAEMON_LOCK_FILE)), false, "lock released");
    // a port already taken: a typed start failure that leaves no lock behind
    const port = Number(new URL(daemon.url).port);
    await assert.rejects(
      IpfsDaemon.start({ dir: nodeDir, port }),
      (e: unknown) => e instanceof IpfsDaemonError && e.code === "LISTEN_FAILED",
    );
    assert.equal(existsSync(join(nodeDir, DAEMON_LOCK_FILE)), false, "lock released on failure");
    const second = await IpfsDaemon.start({ dir: nodeDir, port: 0 });
    try {
      const reader = await kubo(second.url, "c-r"); // empty cache: every block comes from the node
      assert.deepEqual(await reader.getBytes(fileCid), big);
      assert.deepEqual(await reader.getFile(dirCid, "manifest.json"), files[0]?.content);
    } finally {
      await second.close();
    }
  });
});

describe("parseMultipart", () => {
  it("parses kubo-rpc-client framing and rejects truncated bodies", () => {
    const b = "XyZ";
    const body = Buffer.from(
      `--${b}\r\nContent-Disposition: form-data; name="file"; filename="a%20b"\r\n` +
        `Content-Type: application/octet-stream\r\n\r\nhello\r\n--${b}\r\n` +
        `Content-Disposition: form-data; name="dir-1"; filename="d"\r\n` +
        `Content-Type: application/x-directory\r\n\r\n\r\n--${b}--\r\n`,
    );
    const parts = parseMultipart(body, b, 10);
    assert.deepEqual(
      parts.map((p) => [p.fieldName, p.filename, p.contentType, Buffer.from(p.content).toString()]),
      [
        ["file", "a b", "application/octet-stream", "hello"],
        ["dir-1", "d", "application/x-directory", ""],
      ],
    );
    assert.throws(() => parseMultipart(body.subarray(0, 90), b, 10), RpcServerError);
    assert.throws(() => parseMultipart(body, b, 1), /more than 1 parts/);
  });
});

describe("dml-ipfs daemon (a real process)", () => {
  it("two KuboStores in the role of two processes exchange content through it; SIGTERM stops it cleanly", async () => {
    const nodeDir = join(dir, "process");
    const child = spawn(
      process.execPath,
      [join(ROOT, "ipfs/bin/dml-ipfs.mjs"), "daemon", "--dir", nodeDir, "--port", "0"],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      const url = await new Promise<string>((resolveUrl, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready: ${stdout}${stderr}`)), 60_000);
        child.stdout.on("data", () => {
          const m =
            /RPC API server listening on (http:\/\/127\.0\.0\.1:\d+)\n[^]*Daemon is ready/.exec(
              stdout,
            );
          if (m?.[1]) {
            clearTimeout(timer);
            resolveUrl(m[1]);
          }
        });
        void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      const alice = await kubo(url, "p-alice");
      const bob = await kubo(url, "p-bob");
      const fileCid = await alice.addBytes(big);
      assert.deepEqual(await bob.getBytes(fileCid), big);
      const dirCid = await bob.addDirectory(files);
      assert.equal(dirCid, await reference.addDirectory(files));
      assert.deepEqual(await alice.getFile(dirCid, "model.onnx"), big);
      assert.ok(existsSync(join(nodeDir, DAEMON_LOCK_FILE)));
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stdout, /Received SIGTERM, shutting down\nDaemon stopped\n$/);
    assert.equal(existsSync(join(nodeDir, DAEMON_LOCK_FILE)), false);
  });

  it("--help documents the command; an invalid option exits 2 with one line", async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string; err: string }>((r) => {
        const c = spawn(process.execPath, [join(ROOT, "ipfs/bin/dml-ipfs.mjs"), ...args], {
          cwd: ROOT,
        });
        let out = "";
        let err = "";
        c.stdout.on("data", (d: Buffer) => (out += d.toString()));
        c.stderr.on("data", (d: Buffer) => (err += d.toString()));
        c.on("exit", (code) => r({ code, out, err }));
      });
    const help = await run(["daemon", "--help"]);
    assert.equal(help.code, 0);
    for (const s of ["--dir <dir>", "--port <port>", "--host <ip>", "Examples:"])
      assert.ok(help.out.includes(s), s);
    const bad = await run(["daemon", "--dir", join(dir, "x"), "--port", "70000"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^dml-ipfs: .*invalid --port/);
    assert.equal(bad.err.trim().split("\n").length, 1);
  });
});

/** A proxy to `target` that flips one byte of every `block/get` answer (a lying node). */
async function tamperingProxy(
  target: string,
): Promise<{ url: string; tampered: () => number; close: () => Promise<void> }> {
  let tampered = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const upstream = await fetch(`${target}${req.url ?? "/"}`, {
          method: req.method ?? "POST",
          headers: { "content-type": req.headers["content-type"] ?? "application/octet-stream" },
          body: Buffer.concat(chunks),
        });
        const body = Buffer.from(await upstream.arrayBuffer());
        if (req.url?.startsWith("/api/v0/block/get") && upstream.ok && body.length > 0) {
          body[0] = (body[0] ?? 0) ^ 1;
          tampered += 1;
        }
        res.writeHead(upstream.status, {
          "content-type": upstream.headers.get("content-type") ?? "",
        });
        res.end(body);
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tampered: () => tampered,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** POSTs `size` bytes as a chunked multipart body (no Content-Length); resolves the status. */
function chunkedPost(url: string, path: string, size: number): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const req = request(`${url}${path}`, {
      method: "POST",
      headers: {
        "content-type": "multipart/form-data; boundary=B",
        "transfer-encoding": "chunked",
      },
    });
    req.on("response", (res) => {
      res.resume();
      resolveStatus(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.write('--B\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n');
    const chunk = Buffer.alloc(16 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      req.end("\r\n--B--\r\n");
    };
    pump();
  });
}

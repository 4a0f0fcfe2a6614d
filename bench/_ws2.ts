import { removeMasks } from "#sdk/secagg/unmask.ts";
import { X25519Secret } from "#sdk/secagg/x25519.ts";
const n = 700, D = 300, K = 155, m = Number(process.argv[2] ?? 16);
const sec = (i: number) => { const b = new Uint8Array(32); new DataView(b.buffer).setUint32(0, i + 1); b[31] = 0x40; return b; };
const publicKeys = Array.from({ length: n }, (_, i) => new X25519Secret(sec(i)).publicKey());
const work = { m, sessionIdBytes: new Uint8Array(32), selfSeeds: [], publicKeys,
  dropped: Array.from({ length: D }, (_, w) => ({ secret: sec(1000 + w), peers: Array.from({ length: K }, (_, j) => ({ key: (w * 7 + j) % n, sign: 1 as const })) })) };
for (const workers of [1, 2, 1, 2]) { const t = performance.now(); const s = await removeMasks(new Uint32Array(m), work, { workers }); console.log(workers, (performance.now() - t).toFixed(0), "ms", JSON.stringify(s)); }

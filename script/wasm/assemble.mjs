// Assembles a WebAssembly text file into the base64 string embedded in sdk/crypto/keccak.ts or sdk/secagg/simd-add.ts.
//   node script/wasm/assemble.mjs keccak.wat [--simd]
// Needs binaryen (a dev tool, not a project dependency: present in node_modules as a dependency of assemblyscript).
import binaryen from "binaryen";
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import process from "node:process";

const [file, flag] = process.argv.slice(2);
const mod = binaryen.parseText(readFileSync(file, "utf8"));
mod.setFeatures(
  flag === "--simd" ? binaryen.Features.MVP | binaryen.Features.SIMD128 : binaryen.Features.MVP,
);
if (!mod.validate()) throw new Error(`${file}: invalid module`);
if (flag !== "--simd") {
  binaryen.setOptimizeLevel(2);
  mod.optimize();
}
const bin = mod.emitBinary();
process.stdout.write(`${bin.length} bytes\n${Buffer.from(bin).toString("base64")}\n`);

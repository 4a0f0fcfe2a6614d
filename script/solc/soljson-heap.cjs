"use strict";
/**
 * The npm `solc` wasm compiler, with large inputs passed on the wasm heap.
 *
 * Hardhat drives soljson through `cwrap("solidity_compile", "string", ["string", ...])`. Emscripten's
 * ccall copies a "string" argument onto the wasm STACK (a few MiB), so a standard-JSON input larger than
 * the stack (a whole test suite's sources) crashes solc with "memory access out of bounds" (HHE908).
 * This module is a drop-in soljson replacement (`solidity.path` in hardhat.config.ts) that hands
 * `solidity_compile` a heap buffer instead; everything else is soljson unchanged.
 */
const soljson = require("solc/soljson.js");

function compileOnHeap(input, readCallback, context) {
  const size = soljson.lengthBytesUTF8(input) + 1;
  const ptr = soljson._malloc(size);
  if (ptr === 0) throw new Error(`solc: cannot allocate ${size} bytes for the compiler input`);
  try {
    soljson.stringToUTF8(input, ptr, size);
    const out = soljson._solidity_compile(ptr, readCallback ?? 0, context ?? 0);
    return soljson.UTF8ToString(out);
  } finally {
    soljson._free(ptr);
  }
}

module.exports = new Proxy(soljson, {
  get(target, prop, receiver) {
    if (prop === "cwrap") {
      return (name, returnType, argTypes) =>
        name === "solidity_compile" ? compileOnHeap : target.cwrap(name, returnType, argTypes);
    }
    return Reflect.get(target, prop, receiver);
  },
});

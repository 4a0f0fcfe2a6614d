"use strict";
/**
 * The npm `solc` wasm compiler, with large inputs passed on the wasm heap.
 *
 * Hardhat drives soljson through `cwrap("solidity_compile", "string", ["string", ...])`. Emscripten's
 * ccall copies a "string" argument onto the wasm STACK (a few MiB), so a standard-JSON input larger than
 * the stack (a whole test suite's sources) crashes solc with "memory access out of bounds" (HHE908).
 * This module is a drop-in soljson replacement (`solidity.path` in hardhat.config.ts) that hands
 * `solidity_compile` a heap buffer instead; everything else is soljson unchanged.
 *
 * One addition: a job that did not ask for opcode listings (the unoptimized test suites' job, whose listings would
 * not fit the compiler's 2 GiB: script/solc/output-hooks.ts) gets an empty `opcodes` in each bytecode object, because
 * EDR's build-info reader requires the field (its stack traces use the bytecode and source maps, not the listing).
 */
const soljson = require("solc/soljson.js");

/** solc's output JSON with `"opcodes":""` in every bytecode and deployedBytecode object. */
function withEmptyOpcodes(output) {
  return output
    .replaceAll('"bytecode":{', '"bytecode":{"opcodes":"",')
    .replaceAll('"deployedBytecode":{', '"deployedBytecode":{"opcodes":"",');
}

function compileOnHeap(input, readCallback, context) {
  const size = soljson.lengthBytesUTF8(input) + 1;
  const ptr = soljson._malloc(size);
  if (ptr === 0) throw new Error(`solc: cannot allocate ${size} bytes for the compiler input`);
  try {
    soljson.stringToUTF8(input, ptr, size);
    const out = soljson.UTF8ToString(
      soljson._solidity_compile(ptr, readCallback ?? 0, context ?? 0),
    );
    return input.includes('.opcodes"') ? out : withEmptyOpcodes(out);
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

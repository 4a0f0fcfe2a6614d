/**
 * The host functions graph-ts imports (graph-node's `runtime/wasm/src/module/instance.rs` link list), with the
 * semantics of `host_exports.rs`: every failure a mapping can cause is a DeterministicHostError. An import this host
 * does not implement (ipfs.*, ens.*, arweave.*, box.*, yaml.*…) still links, so that instantiation succeeds, and
 * fails the handler deterministically with "unsupported host function" if the mapping ever calls it.
 */
import { base58btc } from "multiformats/bases/base58";
import {
  bytesToHex,
  decodeFunctionResult,
  encodeFunctionData,
  hexToBytes,
  keccak256,
  parseAbiParameters,
  type AbiFunction,
  type AbiParameter,
  type Hex,
} from "viem";
import type { Entity, Value } from "../types.ts";
import { TypeId, type AscHeap } from "./asc-heap.ts";
import * as bd from "./big-decimal.ts";
import type { BlockState } from "./block-state.ts";
import { DeterministicHostError, RuntimeError, RuntimeErrorCode } from "./errors.ts";
import {
  decodeToken,
  encodeToken,
  fromViem,
  readEthValue,
  toViem,
  writeEthValue,
} from "./ethereum-value.ts";
import { JsonSyntaxError, parseJson } from "./json-text.ts";
import { writeJsonValue } from "./json-value.ts";
import { readBigDecimal, readEntity, writeBigDecimal, writeEntity } from "./store-value.ts";
import type { RpcOutcome } from "./sync-rpc.ts";

/** log.Level of graph-ts. */
export const LogLevel = { CRITICAL: 0, ERROR: 1, WARNING: 2, INFO: 3, DEBUG: 4 } as const;

export interface HostLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** Everything a trigger's host functions act on. */
export interface HostContext {
  heap(): AscHeap;
  readonly state: BlockState;
  readonly dataSourceName: string;
  readonly address: Uint8Array;
  readonly network: string;
  readonly context: Entity | null;
  readonly logger: HostLogger;
  /** A JSON-RPC request at the trigger's block (eth_call, eth_getBalance, eth_getCode). */
  rpc(
    method: "eth_call" | "eth_getBalance" | "eth_getCode",
    params: readonly unknown[],
  ): RpcOutcome;
  createDataSource(template: string, params: readonly string[], context: Entity | null): void;
}

type HostFn = (...args: never[]) => number | bigint | void;

const fail = (message: string): never => {
  throw new DeterministicHostError(message);
};

const bigIntArith =
  (f: (x: bigint, y: bigint) => bigint): ((ctx: HostContext) => (x: number, y: number) => number) =>
  (ctx) =>
  (x, y) => {
    const h = ctx.heap();
    return h.newBigInt(f(h.readBigInt(x), h.readBigInt(y)));
  };

const decArith =
  (
    f: (x: bd.BigDecimal, y: bd.BigDecimal) => bd.BigDecimal,
  ): ((ctx: HostContext) => (x: number, y: number) => number) =>
  (ctx) =>
  (x, y) => {
    const h = ctx.heap();
    return writeBigDecimal(h, f(readBigDecimal(h, x), readBigDecimal(h, y)));
  };

/** `name(type,…):(type,…)`, the signature graph-cli's generated bindings pass to ethereum.call. */
export function parseCallSignature(sig: string): AbiFunction {
  const open = sig.indexOf("(");
  let depth = 0;
  let close = -1;
  for (let i = open; i < sig.length; i++) {
    if (sig[i] === "(") depth++;
    else if (sig[i] === ")" && --depth === 0) {
      close = i;
      break;
    }
  }
  if (open <= 0 || close < 0) fail(`invalid function signature \`${sig}\``);
  const name = sig.slice(0, open);
  const inputs = sig.slice(open + 1, close);
  const rest = sig.slice(close + 1);
  const outputs =
    rest.startsWith(":(") && rest.endsWith(")")
      ? rest.slice(2, -1)
      : rest === ""
        ? ""
        : fail(`invalid function signature \`${sig}\``);
  const params = (s: string): AbiParameter[] => (s === "" ? [] : [...parseAbiParameters(s)]);
  return {
    type: "function",
    name,
    inputs: params(inputs),
    outputs: params(outputs),
    stateMutability: "view",
  };
}

// graph-node trims the NULs a fixed-size buffer leaves at the end
const TRAILING_NULS = new RegExp(`${String.fromCharCode(0)}+$`);
const REVERT = /revert|invalid opcode|out of gas|stack underflow|invalid jump/i;

/** Builds the import object of one instance from the module's own import list. */
export function hostImports(module: WebAssembly.Module, ctx: HostContext): WebAssembly.Imports {
  const str = (p: number) => ctx.heap().readString(p);
  const bytes = (p: number) => ctx.heap().readBytes(p);

  const impl: Record<string, HostFn> = {
    abort: (msg: number, file: number, line: number, column: number) => {
      const h = ctx.heap();
      const message = msg !== 0 ? `message: ${h.readString(msg)}` : "no message";
      let location = "an unknown location";
      if (file !== 0) {
        location = h.readString(file);
        if (line !== 0) location += `, line ${line}`;
        if (line !== 0 && column !== 0) location += `, column ${column}`;
      }
      fail(`Mapping aborted at ${location}, with ${message}`);
    },
    gas: () => undefined,

    // ── store ───────────────────────────────────────────────────────────────────────────────────────────────
    "store.get": (entity: number, id: number) => {
      const e = ctx.state.get(str(entity), str(id));
      return e ? writeEntity(ctx.heap(), e) : 0;
    },
    "store.get_in_block": (entity: number, id: number) => {
      const e = ctx.state.getInBlock(str(entity), str(id));
      return e ? writeEntity(ctx.heap(), e) : 0;
    },
    "store.loadRelated": (entity: number, id: number, field: number) => {
      const list = ctx.state.loadRelated(str(entity), str(id), str(field));
      const h = ctx.heap();
      return h.newArrayU32(
        TypeId.ArrayTypedMapStringStoreValue,
        list.map((e) => writeEntity(h, e)),
      );
    },
    "store.set": (entity: number, id: number, data: number) => {
      ctx.state.set(str(entity), str(id), readEntity(ctx.heap(), data));
    },
    "store.remove": (entity: number, id: number) => {
      ctx.state.remove(str(entity), str(id));
    },

    // ── log ─────────────────────────────────────────────────────────────────────────────────────────────────
    "log.log": (level: number, msg: number) => {
      const message = str(msg);
      const meta = { dataSource: ctx.dataSourceName };
      if (level === LogLevel.CRITICAL)
        fail(`Critical error logged in mapping with log message: ${message}`);
      if (level === LogLevel.ERROR) ctx.logger.error(meta, message);
      else if (level === LogLevel.WARNING) ctx.logger.warn(meta, message);
      else if (level === LogLevel.INFO) ctx.logger.info(meta, message);
      else ctx.logger.debug(meta, message);
    },

    // ── crypto ──────────────────────────────────────────────────────────────────────────────────────────────
    "crypto.keccak256": (p: number) => ctx.heap().newBytes(keccak256(bytes(p), "bytes")),

    // ── bigInt ──────────────────────────────────────────────────────────────────────────────────────────────
    "bigInt.plus": bigIntArith((x, y) => x + y)(ctx),
    "bigInt.minus": bigIntArith((x, y) => x - y)(ctx),
    "bigInt.times": bigIntArith((x, y) => x * y)(ctx),
    "bigInt.dividedBy": bigIntArith((x, y) =>
      y === 0n ? fail(`attempted to divide BigInt \`${x}\` by zero`) : x / y,
    )(ctx),
    "bigInt.mod": bigIntArith((x, y) =>
      y === 0n
        ? fail(`attempted to calculate the remainder of \`${x}\` with a divisor of zero`)
        : x % y,
    )(ctx),
    "bigInt.bitOr": bigIntArith((x, y) => x | y)(ctx),
    "bigInt.bitAnd": bigIntArith((x, y) => x & y)(ctx),
    "bigInt.pow": (x: number, exp: number) => {
      const h = ctx.heap();
      return h.newBigInt(h.readBigInt(x) ** BigInt(exp & 0xff));
    },
    "bigInt.leftShift": (x: number, bits: number) => {
      const h = ctx.heap();
      return h.newBigInt(h.readBigInt(x) << BigInt(bits & 0xff));
    },
    "bigInt.rightShift": (x: number, bits: number) => {
      const h = ctx.heap();
      return h.newBigInt(h.readBigInt(x) >> BigInt(bits & 0xff));
    },
    "bigInt.fromString": (s: number) => {
      const text = str(s);
      if (!/^[+-]?\d+$/.test(text)) fail(`failed to parse BigInt from string \`${text}\``);
      return ctx.heap().newBigInt(BigInt(text));
    },
    "bigInt.dividedByDecimal": (x: number, y: number) => {
      const h = ctx.heap();
      return writeBigDecimal(h, bd.dividedBy(bd.fromBigInt(h.readBigInt(x)), readBigDecimal(h, y)));
    },

    // ── bigDecimal ──────────────────────────────────────────────────────────────────────────────────────────
    "bigDecimal.plus": decArith(bd.plus)(ctx),
    "bigDecimal.minus": decArith(bd.minus)(ctx),
    "bigDecimal.times": decArith(bd.times)(ctx),
    "bigDecimal.dividedBy": decArith(bd.dividedBy)(ctx),
    "bigDecimal.equals": (x: number, y: number) => {
      const h = ctx.heap();
      return bd.equals(readBigDecimal(h, x), readBigDecimal(h, y)) ? 1 : 0;
    },
    "bigDecimal.toString": (p: number) => {
      const h = ctx.heap();
      return h.newString(bd.toString(readBigDecimal(h, p)));
    },
    "bigDecimal.fromString": (s: number) => writeBigDecimal(ctx.heap(), bd.fromString(str(s))),

    // ── typeConversion ──────────────────────────────────────────────────────────────────────────────────────
    "typeConversion.bytesToString": (p: number) =>
      ctx.heap().newString(new TextDecoder("utf-8").decode(bytes(p)).replace(TRAILING_NULS, "")),
    "typeConversion.bytesToHex": (p: number) => ctx.heap().newString(bytesToHex(bytes(p))),
    "typeConversion.bigIntToString": (p: number) => {
      const h = ctx.heap();
      return h.newString(h.readBigInt(p).toString());
    },
    "typeConversion.bigIntToHex": (p: number) => {
      const h = ctx.heap();
      const n = h.readBigInt(p);
      return h.newString(n === 0n ? "0x0" : `0x${(n < 0n ? -n : n).toString(16)}`);
    },
    "typeConversion.stringToH160": (p: number) => {
      const s = str(p);
      const hex = s.startsWith("0x") ? s.slice(2) : s;
      if (!/^[0-9a-fA-F]{40}$/.test(hex))
        fail(`Failed to convert string to Address/H160: '${s}': Invalid input length`);
      return ctx.heap().newBytes(hexToBytes(`0x${hex}`));
    },
    "typeConversion.bytesToBase58": (p: number) =>
      ctx.heap().newString(base58btc.baseEncode(bytes(p))),

    // ── json ────────────────────────────────────────────────────────────────────────────────────────────────
    "json.fromBytes": (p: number) => {
      const text = new TextDecoder("utf-8").decode(bytes(p));
      try {
        return writeJsonValue(ctx.heap(), parseJson(text));
      } catch (e) {
        if (e instanceof JsonSyntaxError)
          return fail(`Failed to parse JSON from byte array: ${e.message}`);
        throw e;
      }
    },
    "json.try_fromBytes": (p: number) => {
      const h = ctx.heap();
      const text = new TextDecoder("utf-8").decode(bytes(p));
      let node;
      try {
        node = parseJson(text);
      } catch (e) {
        if (!(e instanceof JsonSyntaxError)) throw e;
        return h.allocStruct(TypeId.ResultJsonValueBool, [0, h.newWrappedBool(true)]);
      }
      const value = h.allocStruct(TypeId.WrappedJsonValue, [writeJsonValue(h, node)]);
      return h.allocStruct(TypeId.ResultJsonValueBool, [value, 0]);
    },
    "json.toI64": (p: number) => {
      const s = str(p);
      if (!/^[+-]?\d+$/.test(s)) return fail(`JSON \`${s}\` cannot be parsed as i64`);
      const v = BigInt(s);
      if (v !== BigInt.asIntN(64, v)) return fail(`JSON \`${s}\` cannot be parsed as i64`);
      return v;
    },
    "json.toU64": (p: number) => {
      const s = str(p);
      if (!/^\+?\d+$/.test(s)) return fail(`JSON \`${s}\` cannot be parsed as u64`);
      const v = BigInt(s);
      if (v !== BigInt.asUintN(64, v)) return fail(`JSON \`${s}\` cannot be parsed as u64`);
      return BigInt.asIntN(64, v);
    },
    "json.toF64": (p: number) => {
      const s = str(p);
      const v = Number(s);
      if (s.trim() === "" || Number.isNaN(v)) return fail(`JSON \`${s}\` cannot be parsed as f64`);
      return v;
    },
    "json.toBigInt": (p: number) => {
      const s = str(p);
      if (!/^[+-]?\d+$/.test(s)) return fail(`JSON \`${s}\` is not a decimal string`);
      return ctx.heap().newBigInt(BigInt(s));
    },

    // ── ethereum ────────────────────────────────────────────────────────────────────────────────────────────
    "ethereum.encode": (p: number) => ctx.heap().newBytes(encodeToken(readEthValue(ctx.heap(), p))),
    "ethereum.decode": (types: number, data: number) => {
      const token = decodeToken(str(types), bytes(data));
      return token ? writeEthValue(ctx.heap(), token) : 0;
    },
    "ethereum.call": (p: number) => {
      const h = ctx.heap();
      // SmartContractCall (apiVersion ≥ 0.0.4): contractName, contractAddress, functionName, functionSignature, functionArgs
      const contractName = h.readString(h.field(p, 0));
      const address = bytesToHex(h.readBytes(h.field(p, 1)));
      const signature = h.readString(h.field(p, 3));
      const args = h.readArrayU32(h.field(p, 4)).map((a) => readEthValue(h, a));
      const fn = parseCallSignature(signature);
      let data: Hex;
      try {
        data = encodeFunctionData({ abi: [fn], functionName: fn.name, args: args.map(toViem) });
      } catch (e) {
        return fail(
          `Failed to encode the arguments of ${contractName}.${signature}: ${(e as Error).message}`,
        );
      }
      const out = ctx.rpc("eth_call", [{ to: address, data }]);
      if (!out.ok) {
        if (out.code === 3 || REVERT.test(out.message)) {
          ctx.logger.debug(
            { contract: contractName, function: signature, reason: out.message },
            "contract call reverted",
          );
          return 0;
        }
        throw new RuntimeError(
          RuntimeErrorCode.CALL_FAILED,
          `eth_call ${contractName}.${signature} failed: ${out.message} (code ${out.code})`,
        );
      }
      const result = out.result as Hex;
      if (fn.outputs.length > 0 && (result === "0x" || result === undefined)) return 0;
      let decoded: unknown;
      try {
        decoded = decodeFunctionResult({ abi: [fn], functionName: fn.name, data: result });
      } catch {
        return 0;
      }
      const values = fn.outputs.length === 1 ? [decoded] : (decoded as readonly unknown[]);
      return h.newArrayU32(
        TypeId.ArrayEthereumValue,
        fn.outputs.map((o, i) => writeEthValue(h, fromViem(o, values[i]))),
      );
    },
    "ethereum.getBalance": (p: number) => {
      const out = ctx.rpc("eth_getBalance", [bytesToHex(bytes(p))]);
      if (!out.ok)
        throw new RuntimeError(
          RuntimeErrorCode.CALL_FAILED,
          `eth_getBalance failed: ${out.message}`,
        );
      return ctx.heap().newBigInt(BigInt(out.result as string));
    },
    "ethereum.hasCode": (p: number) => {
      const out = ctx.rpc("eth_getCode", [bytesToHex(bytes(p))]);
      if (!out.ok)
        throw new RuntimeError(RuntimeErrorCode.CALL_FAILED, `eth_getCode failed: ${out.message}`);
      return ctx.heap().newWrappedBool((out.result as string).length > 2);
    },

    // ── dataSource ──────────────────────────────────────────────────────────────────────────────────────────
    "dataSource.address": () => ctx.heap().newBytes(ctx.address),
    "dataSource.network": () => ctx.heap().newString(ctx.network),
    "dataSource.context": () => writeEntity(ctx.heap(), ctx.context ?? new Map<string, Value>()),
    "dataSource.create": (name: number, params: number) => {
      const h = ctx.heap();
      ctx.createDataSource(
        h.readString(name),
        h.readArrayU32(params).map((s) => h.readString(s)),
        null,
      );
    },
    "dataSource.createWithContext": (name: number, params: number, context: number) => {
      const h = ctx.heap();
      ctx.createDataSource(
        h.readString(name),
        h.readArrayU32(params).map((s) => h.readString(s)),
        readEntity(h, context),
      );
    },
  };

  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    const ns = (imports[imp.module] ??= {});
    if (imp.kind !== "function")
      throw new DeterministicHostError(
        `the mapping imports ${imp.kind} ${imp.module}.${imp.name}, which no host provides`,
      );
    ns[imp.name] =
      impl[imp.name] ??
      (() =>
        fail(
          `unsupported host function \`${imp.name}\`: the local graph host does not implement it`,
        ));
  }
  return imports;
}

/**
 * Debug aid for gas work: `DML_TRACE=createJob,report npx hardhat test nodejs test/integration/job-lifecycle.test.ts`
 * prints, for each listed function sent through `ProtocolEnv.send`, the gas per opcode class from EDR's struct
 * logger (`DML_TRACE_SSTORE=1` also lists every storage access and the slot of each fresh write).
 */
import type { Hex, PublicClient } from "viem";

/** Debug aid (DML_TRACE=fn1,fn2): gas per opcode class of one transaction from the EDR struct logger. */
export async function traceGas(pub: PublicClient, hash: Hex, label: string): Promise<void> {
  const trace = (await pub.request({
    method: "debug_traceTransaction" as never,
    params: [
      hash,
      { disableMemory: true, disableStack: !process.env.DML_TRACE_SSTORE, disableStorage: true },
    ] as never,
  })) as { structLogs: { op: string; gasCost: number; depth: number; stack?: string[] }[] };
  const by = new Map<string, number>();
  const logs = trace.structLogs;
  if (process.env.DML_TRACE_SSTORE) {
    // Storage context per depth: CALL/STATICCALL switch to the callee, DELEGATECALL keeps the caller's.
    const ctx: string[] = [];
    const out: string[] = [];
    for (const l of logs) {
      ctx.length = l.depth;
      const here = ctx[l.depth - 1] ?? "tx.to";
      if (l.op === "CALL" || l.op === "STATICCALL" || l.op === "DELEGATECALL") {
        const target = `0x${(l.stack?.at(-2) ?? "").replace(/^0x/, "").slice(-40)}`;
        ctx[l.depth] = l.op === "DELEGATECALL" ? here : target;
      }
      if (l.op === "SSTORE" || l.op === "SLOAD")
        out.push(
          `${l.op === "SSTORE" ? "W" : "R"}${l.depth}:${l.gasCost}@${here.slice(0, 8)}` +
            (l.op === "SSTORE" && l.gasCost >= 20000
              ? `[${(l.stack?.at(-1) ?? "").slice(0, 12)}]`
              : ""),
        );
    }
    console.log(`  sstores ${label}: ${out.join(" ")}`);
  }
  for (let i = 0; i < logs.length; i++) {
    const l = logs[i]!;
    let cost = l.gasCost;
    // CALL-family gasCost includes the gas forwarded; charge only what the callee did not return.
    if (["CALL", "STATICCALL", "DELEGATECALL"].includes(l.op)) {
      const next = logs[i + 1];
      cost = next && next.depth > l.depth ? 2600 : l.gasCost;
      const key = `${l.op}@${l.depth}`;
      by.set(key, (by.get(key) ?? 0) + cost);
      continue;
    }
    const key = l.op.startsWith("LOG")
      ? "LOG"
      : ["SSTORE", "SLOAD", "KECCAK256"].includes(l.op)
        ? l.op
        : "other";
    by.set(key, (by.get(key) ?? 0) + cost);
  }
  console.log(
    `  trace ${label}: ${JSON.stringify(Object.fromEntries([...by.entries()].sort((a, b) => b[1] - a[1])))}`,
  );
}

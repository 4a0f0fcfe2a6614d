/**
 * Worker thread of {@link UnmaskPool}: for each unmask task (one slice of dropped clients), sums the slice's pairwise
 * masks into a fresh vector and transfers it back; for each verify task, answers one byte per signature check. Runs tasks until the pool terminates it; an exception is not caught, so
 * it ends the worker and the pool rejects that task (UNMASK_WORKER_FAILED) instead of waiting for an answer.
 */
import { parentPort } from "node:worker_threads";
import { accumulatePairwise } from "./unmask.ts";
import { scratchAccumulator } from "./prg.ts";
import { runChecks } from "./signature-batch.ts";
import type { UnmaskTask, VerifyTask } from "./unmask-pool.ts";

parentPort!.postMessage("ready"); // imports done: the pool counts this worker as started
parentPort!.on("message", (task: UnmaskTask | VerifyTask) => {
  if ("verify" in task) {
    const { ok, digests, counts } = runChecks(task.verify, task.domain);
    parentPort!.postMessage({ ok, digests, counts }, [ok.buffer, digests.buffer, counts.buffer]);
    return;
  }
  const acc = scratchAccumulator(task.m);
  accumulatePairwise(acc, task, task.dropped);
  const out = acc.words.slice();
  parentPort!.postMessage(out.buffer, [out.buffer]);
});

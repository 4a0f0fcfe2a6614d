/** Worker thread of {@link removeMasks}: sums one slice of pairwise masks and returns the vector (transferred). */
import { parentPort, workerData } from "node:worker_threads";
import { accumulatePairwise } from "./unmask.ts";
import type { DroppedMasks, UnmaskWork } from "./unmask.ts";

const data = workerData as Pick<UnmaskWork, "m" | "sessionIdBytes" | "publicKeys"> & {
  dropped: DroppedMasks[];
};
const acc = new Uint32Array(data.m);
accumulatePairwise(acc, data, data.dropped);
parentPort!.postMessage(acc.buffer, [acc.buffer]);

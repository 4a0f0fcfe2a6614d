/** Distributed differential privacy for SecAgg sums: exact discrete Gaussian noise and zCDP accounting. */
export * from "./errors.ts";
export * from "./random.ts";
export * from "./discrete-gaussian.ts";
export * from "./zcdp.ts";
export * from "./ddp.ts";
export * from "./spec.ts";

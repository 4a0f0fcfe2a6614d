#!/usr/bin/env node
// The `dml-device` bin: loads tsx's ESM hooks, then the TypeScript CLI (device-runner/cli.ts).
import process from "node:process";
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli.ts");
await main(process.argv.slice(2));

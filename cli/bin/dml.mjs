#!/usr/bin/env node
// The `dml` bin: loads tsx's ESM hooks, then the TypeScript CLI (cli/dml.ts).
import process from "node:process";
import { register } from "tsx/esm/api";

register();
const { main } = await import("../dml.ts");
await main(process.argv.slice(2));

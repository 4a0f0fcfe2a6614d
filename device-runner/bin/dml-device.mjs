#!/usr/bin/env node
// The `dml-device` bin: the TypeScript CLI (device-runner/cli.ts) through script/bin/load-ts.mjs.
import process from "node:process";
import { importTs } from "../../script/bin/load-ts.mjs";

const { main } = await importTs(import.meta.url, "../cli.ts");
await main(process.argv.slice(2));

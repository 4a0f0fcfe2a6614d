#!/usr/bin/env node
// The `dml` bin: the TypeScript CLI (cli/dml.ts) through script/bin/load-ts.mjs.
import process from "node:process";
import { importTs } from "../../script/bin/load-ts.mjs";

const { main } = await importTs(import.meta.url, "../dml.ts");
await main(process.argv.slice(2));

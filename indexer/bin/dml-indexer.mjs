#!/usr/bin/env node
// The `dml-indexer` bin: the TypeScript CLI (indexer/cli.ts) through script/bin/load-ts.mjs.
import process from "node:process";
import { importTs } from "../../script/bin/load-ts.mjs";

const { main } = await importTs(import.meta.url, "../cli.ts");
await main(process.argv.slice(2));

#!/usr/bin/env node
// The `dml-ipfs` bin: the TypeScript CLI (ipfs/cli.ts) through script/bin/load-ts.mjs.
import { importTs } from "../../script/bin/load-ts.mjs";

const { main } = await importTs(import.meta.url, "../cli.ts");
await main();

#!/usr/bin/env node
// The `dml-relayer` bin: the TypeScript CLI (relayers/cli.ts) through script/bin/load-ts.mjs.
import { importTs } from "../../script/bin/load-ts.mjs";

const { main, ROLES } = await importTs(import.meta.url, "../cli.ts");
await main(ROLES);

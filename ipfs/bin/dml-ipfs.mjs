#!/usr/bin/env node
// The `dml-ipfs` bin: loads tsx's ESM hooks, then the TypeScript CLI (ipfs/cli.ts).
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli.ts");
await main();

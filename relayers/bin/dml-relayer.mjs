#!/usr/bin/env node
// The `dml-relayer` bin: loads tsx's ESM hooks, then the TypeScript CLI (relayers/cli.ts).
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli.ts");
const { ROLES } = await import("../roles.ts");
await main(ROLES);

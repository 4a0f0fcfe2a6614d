/**
 * The roles `dml-relayer` runs. Each role lives in its own folder and registers itself here with one line: its
 * `index.ts` exports a `RoleDefinition` (name, help, config fields, reconcile and handlers).
 */
import type { FieldSpecs } from "./common/config.ts";
import type { RoleDefinition } from "./common/relayer.ts";
import { aggregatorRole } from "./aggregator/index.ts";
import { attestorRole } from "./attestor/index.ts";
import { distributorRole } from "./distributor/index.ts";
import { refinerRole } from "./refiner/index.ts";
import { reporterRole } from "./reporter/index.ts";
import { watcherRole } from "./watcher/index.ts";

export const ROLES: readonly RoleDefinition<FieldSpecs>[] = [
  aggregatorRole,
  attestorRole,
  distributorRole,
  refinerRole,
  reporterRole,
  watcherRole,
];

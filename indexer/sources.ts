/** The data sources' addresses and start blocks from a deployment manifest (script/deploy.ts output). */
import type { Manifest } from "#sdk/chain/manifest.ts";
import type { SourceOverride } from "./graph-host.ts";

/**
 * Contract name → its address (the proxy's for upgradeable contracts) and the block that created it. The subgraph
 * names its data sources after the contracts (subgraph/subgraph.template.yaml), so every data source finds its
 * contract here; names the subgraph does not have are ignored by the runtime.
 */
export function sourcesFromManifest(manifest: Manifest): ReadonlyMap<string, SourceOverride> {
  return new Map(
    Object.entries(manifest.contracts).map(([name, c]) => [
      name,
      { address: c.address, startBlock: c.blockNumber },
    ]),
  );
}

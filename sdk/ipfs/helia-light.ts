/**
 * Helia's light node without the rest of the `helia` package.
 *
 * `createHeliaLight` (no libp2p, no routers, no block brokers) lives in `helia`'s index, and that module also imports
 * `@helia/libp2p`, `@helia/bitswap` and `@helia/http` for `createHelia`: importing it cost ≈ 1.8 s of CPU, against
 * ≈ 0.3 s for the light node's own module (`dist/src/helia.js`, the class `createHeliaLight` instantiates), in every
 * process that opens a store (relayers, devices, the IPFS daemon). `helia` exports only its index, so the module is
 * reached by its file URL next to the resolved index; a `helia` without it (another layout) falls back to the index.
 */
import type { Helia } from "helia";

/** What `createHeliaLight` takes (the light node's own options). */
export type HeliaLightInit = NonNullable<Parameters<typeof import("helia").createHeliaLight>[0]>;

interface LightModule {
  Helia: new (init: HeliaLightInit & { name: string; version: string }) => Helia;
}

let loading: Promise<(init: HeliaLightInit) => Helia> | undefined;

async function load(): Promise<(init: HeliaLightInit) => Helia> {
  const index = import.meta.resolve("helia");
  try {
    const [light, info] = (await Promise.all([
      import(new URL("./helia.js", index).href),
      import(new URL("./version.js", index).href),
    ])) as [Partial<LightModule>, { name?: unknown; version?: unknown }];
    const Light = light.Helia;
    if (
      typeof Light === "function" &&
      typeof info.name === "string" &&
      typeof info.version === "string"
    ) {
      const { name, version } = info;
      return (init) => new Light({ name, version, ...init });
    }
  } catch {
    // another package layout: the index below has the same constructor
  }
  const { createHeliaLight } = await import("helia");
  return (init) => createHeliaLight(init);
}

/** `helia`'s `createHeliaLight`, loaded without the libp2p stack `createHelia` needs. */
export async function createHeliaLight(init: HeliaLightInit): Promise<Helia> {
  loading ??= load();
  return (await loading)(init);
}

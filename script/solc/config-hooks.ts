/**
 * Hardhat's `config` hooks for this project: per-file compiler overrides with equal settings share one compiler
 * configuration object.
 *
 * Hardhat merges the root files of a build profile into one compilation job per compiler configuration *object*
 * (a `Map` keyed by identity), and resolves every entry of `overrides` into a new object. So N files overridden
 * with the same settings became N jobs, each compiling the whole protocol again (the test suites: > 8 minutes
 * instead of ≈ 90 s). After resolution, equal overrides are made one object again, and merge as Hardhat intends.
 */
import type { ConfigHooks } from "hardhat/types/hooks";

/** `overrides` with every group of equal configurations (same JSON) replaced by the group's first object. */
export function shareEqualOverrides<T>(overrides: Record<string, T>): Record<string, T> {
  const byJson = new Map<string, T>();
  return Object.fromEntries(
    Object.entries(overrides).map(([source, config]) => {
      const key = JSON.stringify(config);
      const shared = byJson.get(key) ?? config;
      byJson.set(key, shared);
      return [source, shared];
    }),
  );
}

export default async (): Promise<Partial<ConfigHooks>> => ({
  resolveUserConfig: async (userConfig, resolveConfigurationVariable, next) => {
    const resolved = await next(userConfig, resolveConfigurationVariable);
    for (const profile of Object.values(resolved.solidity.profiles)) {
      profile.overrides = shareEqualOverrides(profile.overrides);
    }
    return resolved;
  },
});

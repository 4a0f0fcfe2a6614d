/** Picks the store from configuration: Kubo when `kuboUrl` is set, otherwise embedded Helia. */
import { z } from "zod";
import { HeliaStore } from "./helia-store.ts";
import { KuboStore } from "./kubo-store.ts";
import type { ContentStore } from "./store.ts";

export const contentStoreConfigSchema = z.object({
  /** Directory of the embedded Helia node's stores (with Kubo: the verified block cache). */
  heliaDir: z.string().min(1),
  /** Kubo RPC API URL (http/https); when set, Kubo is used instead of Helia. */
  kuboUrl: z.url({ protocol: /^https?$/ }).optional(),
  maxReadBytes: z.number().int().positive().optional(),
});
export type ContentStoreConfig = z.infer<typeof contentStoreConfigSchema>;

export async function openContentStore(config: ContentStoreConfig): Promise<ContentStore> {
  const c = contentStoreConfigSchema.parse(config);
  if (c.kuboUrl !== undefined) {
    return KuboStore.open({
      url: c.kuboUrl,
      cacheDir: c.heliaDir,
      ...(c.maxReadBytes ? { maxReadBytes: c.maxReadBytes } : {}),
    });
  }
  return HeliaStore.open({
    dir: c.heliaDir,
    ...(c.maxReadBytes ? { maxReadBytes: c.maxReadBytes } : {}),
  });
}

// The package bins' one loader of TypeScript: Node's own type stripping where it has it (Node ≥ 22.18; every file is
// erasable TypeScript), tsx's ESM hooks where it has not — an older Node, or the package installed under
// node_modules, where Node never strips types. Native stripping starts a CLI ≈ 1.5 s of CPU sooner than tsx.
import module from "node:module";
import process from "node:process";
import { URL } from "node:url";
import { bundledUrl } from "./bundle.mjs";

// Node's on-disk cache of compiled code (NODE_COMPILE_CACHE, else the system's temporary folder): ≈ 25% less start-up
// CPU once it holds the CLI's modules.
module.enableCompileCache?.();

// output piped into a reader that stops early (`dml-device --help | head`): end quietly, as Unix tools do
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

let hooks;

/**
 * Imports the TypeScript module `spec`, resolved against `base` (the bin's import.meta.url): its bundle with the
 * project modules it imports (script/bin/bundle.mjs), else the module itself.
 */
export async function importTs(base, spec) {
  const url = new URL(await bundledUrl(new URL(spec, base)));
  if (url.pathname.endsWith(".mjs")) return import(url.href);
  const native = Boolean(process.features.typescript) && !url.pathname.includes("/node_modules/");
  if (!native) {
    hooks ??= import("tsx/esm/api").then((m) => m.register());
    await hooks;
  }
  return import(url.href);
}

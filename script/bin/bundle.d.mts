/** Types of script/bin/bundle.mjs (the bins load it as plain JavaScript). */

/** Where bundles are kept: node_modules/.cache/dml-bin in the repository. */
export const BUNDLE_DIR: string;

/** The pointer file of `entry`'s bundle in `dir`. */
export function pointerFile(entry: string, dir?: string): string;

/**
 * The file to import for the TypeScript module `entry` (an absolute path): its bundle, fresh or rebuilt; `entry`
 * itself when bundling is off (DML_BUNDLE=0 in `env`), the module is under node_modules, or the bundle can be neither
 * read nor built.
 */
export function bundled(
  entry: string,
  options?: { dir?: string; env?: NodeJS.ProcessEnv },
): Promise<string>;

/** `bundled` for a file: URL. */
export function bundledUrl(url: URL | string): Promise<string>;

/** Moved to `sdk/fs/atomic.ts` (shared by the SDK and the device runner); kept so existing imports still work. */
export { readJsonFile, writeFileAtomic, writeJsonAtomic } from "#sdk/fs/atomic.ts";

/**
 * Test profiles. `npm test` (the default profile, what CI runs) leaves out the single-role process tests whose every
 * check the end-to-end test (test/e2e/prediction-job.test.ts) also makes on real processes: it SIGKILLs each of those
 * roles at each phase of one job. `npm run test:full` (DML_TEST_PROFILE=full) runs them too; they print the per-role
 * CPU, memory and trigger-to-transaction numbers docs/relayers.md quotes.
 */
export const fullProfile = process.env.DML_TEST_PROFILE === "full";

/** node:test's `skip` option: a reason outside the full profile, none inside it. */
export const fullProfileOnly = (coveredBy: string): string | false =>
  fullProfile ? false : `npm run test:full (covered in npm test by ${coveredBy})`;

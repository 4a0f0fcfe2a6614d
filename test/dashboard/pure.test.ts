/**
 * The dashboard's pure modules: the emission schedule rebuilt from GrowthPool's parameter events (each branch of
 * `setHalvingEpochs`), the report key file, and number formats. The whole pages run in the browser test
 * (test/e2e/dashboard-checks.ts), where the schedule is also compared with `GrowthPool.emission`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bytesToHex } from "viem";
import { reportKeyPair } from "#sdk/crypto/report.ts";
import { emissionAt, erasFrom } from "../../dashboard/src/emission.ts";
import { parseReportKey, ReportKeyError } from "../../dashboard/src/report-key.ts";
import { format } from "../../dashboard/src/numbers.ts";

const init = (e0: bigint, h: number) => ({
  event: "GrowthPoolInitialized",
  values: [
    "token=0x01",
    "staking=0x02",
    "cap=1000",
    `e0=${e0}`,
    "config.0=0",
    "config.1=3600",
    `config.2=${h}`,
  ],
});
const halving = (h: number, from: number, e0: bigint) => ({
  event: "HalvingEpochsUpdated",
  values: [`oldHalvingEpochs=1`, `newHalvingEpochs=${h}`, `fromEpoch=${from}`, `e0=${e0}`],
});

describe("dashboard: emission schedule", () => {
  it("halves e0 every H epochs from genesis", () => {
    const eras = erasFrom([init(800n, 4)]);
    assert.deepEqual(
      [0n, 3n, 4n, 7n, 8n, 12n].map((e) => emissionAt(eras, e)),
      [800n, 800n, 400n, 400n, 200n, 100n],
    );
    assert.equal(emissionAt(eras, 4n * 300n), 0n, "a shift of 256 or more is zero");
  });

  it("follows setHalvingEpochs: re-derived before genesis, H changed at an era's start, a new era otherwise", () => {
    assert.deepEqual(erasFrom([init(800n, 4), halving(8, 0, 400n)]), [
      { start: 0n, halvingEpochs: 8n, e0: 400n },
    ]);
    const eras = erasFrom([init(800n, 4), halving(2, 5, 400n), halving(3, 5, 400n)]);
    assert.deepEqual(eras, [
      { start: 0n, halvingEpochs: 4n, e0: 800n },
      { start: 5n, halvingEpochs: 3n, e0: 400n },
    ]);
    assert.deepEqual(
      [4n, 5n, 7n, 8n, 11n].map((e) => emissionAt(eras, e)),
      [400n, 400n, 400n, 200n, 100n],
    );
    assert.deepEqual(erasFrom([halving(2, 5, 1n)]), [], "nothing before the initialisation");
  });
});

describe("dashboard: report key file", () => {
  it("reads npm start's JSON and a bare hex key, and derives the job's public key", () => {
    const k = reportKeyPair();
    const secret = bytesToHex(k.secretKey);
    const json = parseReportKey(
      JSON.stringify({ jobId: "1", publicKey: k.publicKey, secretKey: secret }),
    );
    assert.equal(json.publicKey, k.publicKey);
    assert.deepEqual(json.secretKey, k.secretKey);
    assert.equal(parseReportKey(`${secret}\n`).publicKey, k.publicKey);
  });

  it("refuses what is not a key with KEY_FILE_INVALID", () => {
    for (const text of ["", "hello", "{", '{"secretKey":"0x12"}', `0x${"0".repeat(64)}`])
      assert.throws(
        () => parseReportKey(text),
        (e: unknown) => e instanceof ReportKeyError && e.code === "KEY_FILE_INVALID",
        text,
      );
  });
});

describe("dashboard: number formats", () => {
  it("DML truncated to 4 decimals and grouped; counts, percentages and shares", () => {
    assert.equal(format("dml", "246575342465753424657534"), "246,575.3424 DML");
    assert.equal(format("dml", "2000000000000000000"), "2 DML");
    assert.equal(format("dml", "-1500000000000000"), "-0.0015 DML");
    assert.equal(format("int", "1768235"), "1,768,235");
    assert.equal(format("count", "2812.7431640625"), "2,813");
    assert.equal(format("pct", "940400000000000000"), "94.04%");
    assert.equal(format("share", "0.31527"), "0.3153");
  });
});

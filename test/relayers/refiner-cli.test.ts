/**
 * `dml-relayer refiner` as an operator runs it: the role is registered, its help documents every flag, and the
 * round inputs it reads from files are checked (a missing file is "not ready", a malformed one a typed error, a
 * missing metric fails the reveal attempt).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { getAddress, type Hex } from "viem";
import { commonFields, flagName } from "../../relayers/common/config.ts";
import { RelayerError } from "../../relayers/common/errors.ts";
import { refinerFields } from "../../relayers/refiner/config.ts";
import { fileWork } from "../../relayers/refiner/file-work.ts";
import { selectGroups } from "../../relayers/refiner/Refiner.ts";

const exec = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, "../../relayers/bin/dml-relayer.mjs");
const A = "0x1111111111111111111111111111111111111111";
const B = "0x2222222222222222222222222222222222222222";
const SHA: Hex = `0x${"ab".repeat(32)}`;

let root: string;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), "dml-refiner-cli-"));
});
after(() => rm(root, { recursive: true, force: true }));

describe("dml-relayer refiner", () => {
  it("is listed, and its --help documents every flag with an example", async () => {
    const all = await exec(process.execPath, [BIN, "--help"]);
    assert.match(all.stdout, /refiner \[options\]\s+fine-tuning rounds/);
    const r = await exec(process.execPath, [BIN, "refiner", "--help"]);
    for (const key of Object.keys({ ...commonFields("refiner"), ...refinerFields }))
      assert.ok(r.stdout.includes(flagName(key)), `${key} in the help`);
    assert.match(r.stdout, /Examples:\n\s+DML_KEYSTORE_PASSWORD=… dml-relayer refiner --rpc-url/);
  });

  it("reads round inputs from files: not ready, parsed, malformed, metric pending", async () => {
    const work = fileWork(root);
    assert.equal(await work.groups(1n, 0), undefined, "no file: not ready");
    const input = {
      groups: [
        { group: 1, members: [B], samples: "10", gain: "-5" },
        { group: 0, members: [A.toLowerCase()], samples: "20", gain: "7" },
      ],
      candidate: { modelCid: "bafy-candidate", modelSha256: SHA },
    };
    await writeFile(path.join(root, "1-0.json"), JSON.stringify(input));
    const groups = await work.groups(1n, 0);
    assert.deepEqual(groups, [
      { group: 1, members: [getAddress(B)], samples: 10n, gain: -5n },
      { group: 0, members: [getAddress(A)], samples: 20n, gain: 7n },
    ]);
    assert.deepEqual(
      selectGroups(groups!).map((g) => g.group),
      [0],
      "only positive gains are kept",
    );
    assert.deepEqual(await work.buildCandidate(1n, 0, []), {
      modelCid: "bafy-candidate",
      modelSha256: SHA,
    });
    await assert.rejects(work.metric(1n, 0, { modelCid: "x", modelSha256: SHA }, "s"), /metric/);
    await writeFile(path.join(root, "1-0.json"), JSON.stringify({ ...input, metric: "850" }));
    assert.equal(await work.metric(1n, 0, { modelCid: "x", modelSha256: SHA }, "s"), 850n);
    await writeFile(
      path.join(root, "1-1.json"),
      JSON.stringify({ ...input, groups: [{ group: 0, members: [], samples: "1", gain: "1" }] }),
    );
    await assert.rejects(
      work.groups(1n, 1),
      (e) => e instanceof RelayerError && e.code === "CONFIG_FILE",
    );
  });
});

import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  apportion,
  htmlToText,
  loadCorpus,
  readCorpusCache,
  spamRatio,
  splitCorpus,
  type Email,
  type Split,
} from "#sdk/ml/index.ts";

let corpus: Email[];
let split: Split;

before(async () => {
  corpus = await loadCorpus();
  split = splitCorpus(corpus, { devices: 20 });
});

const ids = (emails: readonly Email[]): string[] => emails.map((e) => e.id);

describe("SpamAssassin corpus", () => {
  it("has 6,046 labelled, uniquely identified emails with text", () => {
    assert.equal(corpus.length, 6046);
    assert.equal(new Set(ids(corpus)).size, corpus.length);
    assert.equal(corpus.filter((e) => e.label === 1).length, 1896);
    assert.ok(corpus.filter((e) => e.subject.length + e.body.length > 0).length > 6000);
  });

  it("reads a valid JSONL cache and rejects a corrupt or missing one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dml-cache-"));
    try {
      const file = join(dir, "c.jsonl");
      const lines = corpus.slice(0, 3).map((e) => JSON.stringify(e));
      await writeFile(file, lines.join("\n") + "\n");
      assert.deepEqual(await readCorpusCache(file), corpus.slice(0, 3));
      await writeFile(file, [...lines, '{"id":"x","label":7}'].join("\n"));
      assert.equal(await readCorpusCache(file), undefined);
      await writeFile(file, [...lines, "{truncated"].join("\n"));
      assert.equal(await readCorpusCache(file), undefined);
      assert.equal(await readCorpusCache(join(dir, "missing.jsonl")), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("reduces HTML-only bodies to text", () => {
    assert.equal(
      htmlToText("<html><style>p{}</style><p>Buy&nbsp;NOW &amp; save</p><br><b>50&#37;</b></html>"),
      "Buy NOW & save\n50%",
    );
  });
});

describe("splitCorpus", () => {
  it("is deterministic for a seed and changes with the seed", () => {
    const again = splitCorpus(corpus, { devices: 20 });
    assert.deepEqual(ids(again.test), ids(split.test));
    assert.deepEqual(
      again.inboxes.map((i) => ids(i.emails)),
      split.inboxes.map((i) => ids(i.emails)),
    );
    const other = splitCorpus(corpus, { devices: 20, seed: "another seed" });
    assert.notDeepEqual(ids(other.test), ids(split.test));
  });

  it("partitions the corpus into disjoint parts of the configured sizes", () => {
    const parts = [
      split.test,
      split.control,
      split.developer,
      ...split.inboxes.map((i) => i.emails),
    ];
    const all = parts.flatMap(ids);
    assert.equal(all.length, corpus.length);
    assert.equal(new Set(all).size, corpus.length);
    assert.equal(split.test.length, Math.round(0.2 * corpus.length));
    assert.equal(split.control.length, Math.round(0.1 * corpus.length));
    assert.equal(split.developer.length, Math.round(0.03 * corpus.length));
    assert.equal(split.inboxes.length, 20);
    assert.ok(split.inboxes.every((i) => i.emails.length > 0));
  });

  it("gives inboxes non-IID spam ratios that follow their Beta draws", () => {
    const ratios = split.inboxes.map((i) => spamRatio(i.emails));
    const min = Math.min(...ratios);
    const max = Math.max(...ratios);
    assert.ok(max - min > 0.4, `ratios ${ratios.join(",")}`);
    const draws = split.inboxes.map((i) => i.drawnSpamRatio);
    assert.equal(new Set(draws).size, draws.length);
    // the inbox with the highest draw has the highest realised ratio (monotone allocation)
    assert.equal(ratios.indexOf(max), draws.indexOf(Math.max(...draws)));
  });

  it("fills every inbox even with as many devices as pooled emails", () => {
    const pool = corpus.length - 1209 - 605 - 181;
    const s = splitCorpus(corpus, { devices: pool });
    assert.ok(s.inboxes.every((i) => i.emails.length === 1));
    assert.throws(() => splitCorpus(corpus, { devices: pool + 1 }), RangeError);
  });

  it("rejects fractions that leave nothing for devices", () => {
    assert.throws(() =>
      splitCorpus(corpus, { testFraction: 0.5, controlFraction: 0.3, developerFraction: 0.2 }),
    );
  });
});

describe("apportion", () => {
  it("splits a total exactly, proportionally, with largest remainders", () => {
    assert.deepEqual(apportion(10, [1, 1, 1]), [4, 3, 3]);
    assert.deepEqual(apportion(7, [0.5, 0.25, 0.25]), [3, 2, 2]);
    assert.equal(
      apportion(1001, [0.3, 0.9, 0.01, 2]).reduce((a, b) => a + b, 0),
      1001,
    );
  });
});

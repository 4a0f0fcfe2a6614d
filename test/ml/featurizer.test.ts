import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_HASHED_BOW_PARAMS,
  getFeaturizer,
  hashedBowSpec,
  InvalidFeaturizerParamsError,
  knownFeaturizers,
  murmur3_32_utf8,
  tokenize,
  UnknownFeaturizerError,
} from "#sdk/ml/index.ts";

const bow = getFeaturizer(hashedBowSpec());
const bucket = (term: string): number => murmur3_32_utf8(term) % DEFAULT_HASHED_BOW_PARAMS.buckets;
const l2 = (v: Float32Array): number => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

describe("murmur3_32", () => {
  it("matches the reference MurmurHash3_x86_32 (seed 0) test vectors", () => {
    assert.equal(murmur3_32_utf8(""), 0);
    assert.equal(murmur3_32_utf8("hello"), 0x248bfa47);
    assert.equal(murmur3_32_utf8("The quick brown fox jumps over the lazy dog"), 0x2e4ff723);
    assert.equal(murmur3_32_utf8("abc"), 0xb3dd93fa);
    assert.equal(murmur3_32_utf8("hello", 1) === murmur3_32_utf8("hello"), false);
  });
});

describe("tokenize", () => {
  it("lowercases, splits on non letters/digits, keeps unicode letters and drops long tokens", () => {
    const long = "x".repeat(41);
    assert.deepEqual(tokenize(`Hello, WORLD! Café 42 ${long} ${"y".repeat(40)}`, 40, 100), [
      "hello",
      "world",
      "café",
      "42",
      "y".repeat(40),
    ]);
  });
  it("NFKC-normalises and stops after maxTokens", () => {
    assert.deepEqual(tokenize("ﬁne ﬁne ﬁne", 40, 2), ["fine", "fine"]);
  });
});

describe("text/hashed-bow@1", () => {
  it("is deterministic and independent of instances", () => {
    const text = "Win a FREE prize now!!! Click http://example.com/win";
    const a = bow.featurize(text);
    const b = getFeaturizer(hashedBowSpec()).featurize(text);
    assert.deepEqual(a, b);
  });

  it("produces L2-normalised vectors of dimension d with non-negative buckets in range", () => {
    for (const text of ["a", "hello world", "Subject: meeting\nSee you at 10am tomorrow, Bob"]) {
      const v = bow.featurize(text);
      assert.equal(v.length, 4096);
      assert.ok(Math.abs(l2(v) - 1) < 1e-6, `norm ${l2(v)}`);
      assert.ok(v.every((x) => x >= 0));
    }
  });

  it("sets exactly the unigram and bigram buckets with log1p(count) weights", () => {
    const v = bow.featurize("spam spam eggs");
    const expected = new Map<number, number>();
    for (const term of ["spam", "spam", "eggs", "spam spam", "spam eggs"]) {
      expected.set(bucket(term), (expected.get(bucket(term)) ?? 0) + 1);
    }
    const weights = new Map([...expected].map(([b, c]) => [b, Math.log1p(c)]));
    const norm = Math.sqrt([...weights.values()].reduce((a, w) => a + w * w, 0));
    const nonzero = [...v.keys()].filter((i) => v[i] !== 0);
    assert.deepEqual(
      nonzero.sort((x, y) => x - y),
      [...weights.keys()].sort((x, y) => x - y),
    );
    for (const [b, w] of weights) assert.ok(Math.abs((v[b] ?? 0) - w / norm) < 1e-6);
    assert.ok((v[bucket("spam eggs")] ?? 0) > 0, "bigram bucket present");
  });

  it("hashes the UTF-8 of non-ASCII unigrams and bigrams", () => {
    const max = "é".repeat(40); // 80 UTF-8 bytes: the longest kept token
    const v = bow.featurize(`Café 日本語 ${max} 🙂x`);
    const terms = ["café", "日本語", max, "x", "café 日本語", `日本語 ${max}`, `${max} x`];
    for (const term of terms) assert.ok((v[bucket(term)] ?? 0) > 0, `bucket of ${term}`);
    const nonzero = [...v.keys()].filter((i) => v[i] !== 0);
    assert.equal(nonzero.length, new Set(terms.map(bucket)).size);
  });

  it("unigram-only configuration has no bigram buckets", () => {
    const uni = getFeaturizer(hashedBowSpec({ ngramMax: 1 }));
    const v = uni.featurize("alpha beta");
    const nonzero = [...v.keys()].filter((i) => v[i] !== 0);
    assert.deepEqual(
      nonzero.sort((x, y) => x - y),
      [bucket("alpha"), bucket("beta")].sort((x, y) => x - y),
    );
  });

  it("maps empty or symbol-only text to the zero vector", () => {
    assert.equal(l2(bow.featurize("")), 0);
    assert.equal(l2(bow.featurize("!!! ??? ---")), 0);
  });

  it("honours the bucket count", () => {
    const small = getFeaturizer(hashedBowSpec({ buckets: 16 }));
    const v = small.featurize("the quick brown fox jumps over the lazy dog");
    assert.equal(v.length, 16);
    assert.equal(small.dim, 16);
  });
});

describe("featurizer registry", () => {
  it("lists text/hashed-bow@1", () => {
    assert.deepEqual(knownFeaturizers(), ["text/hashed-bow@1"]);
  });
  it("rejects an unknown id or version with UnknownFeaturizerError", () => {
    assert.throws(
      () => getFeaturizer({ id: "text/tfidf", version: 1, params: {} }),
      UnknownFeaturizerError,
    );
    assert.throws(
      () => getFeaturizer({ ...hashedBowSpec(), version: 2 }),
      (e: unknown) =>
        e instanceof UnknownFeaturizerError && /text\/hashed-bow" version 2/.test(e.message),
    );
  });
  it("rejects invalid or unknown params with InvalidFeaturizerParamsError", () => {
    assert.throws(() => getFeaturizer(hashedBowSpec({ buckets: 0 })), InvalidFeaturizerParamsError);
    assert.throws(
      () =>
        getFeaturizer({ ...hashedBowSpec(), params: { ...DEFAULT_HASHED_BOW_PARAMS, extra: 1 } }),
      InvalidFeaturizerParamsError,
    );
  });
});

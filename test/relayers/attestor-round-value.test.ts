/**
 * The round attestor's value on content alone (relayers/attestor/round-value.ts; Helia, ONNX Runtime, a real
 * reference-workload package): the honest value, and whose fault each unusable input is — the refiner's
 * (`ATTESTATION_INVALID`: missing or tampered package, a list of another round or with a non-canonical payout root,
 * a candidate with other labels) or the poster's (`SPLIT_INVALID`: missing or unparseable split, a split with labels
 * that are not the control group's); a broken candidate wins over a broken split.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { getAddress, type Hex } from "viem";
import {
  ATTESTATION_INVALID,
  attestedValue,
  buildRoundList,
  SPLIT_INVALID,
} from "#sdk/chain/finetuning.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import {
  buildClassifierPackage,
  getFeaturizer,
  hashedBowSpec,
  LABELS,
  loadCorpus,
  loadPackage,
  publishPackage,
  referenceManifestFields,
  splitCorpus,
  train,
  vectorize,
  type Email,
} from "#sdk/ml/index.ts";
import {
  accuracyMetric,
  encodeLabelledSet,
  type LabelledSet,
} from "#sdk/protocol/training-round.ts";
import { deriveRoundValue, type RoundInputs } from "../../relayers/attestor/round-value.ts";
import { localAccount } from "../../bench/fixture/protocol.ts";

const BUDGET = 90n * 10n ** 18n;
const MISSING = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"; // never added

describe("round attestor value: the metric on the split, and whose fault an unusable input is", () => {
  let store: HeliaStore;
  let tmp: string;
  let inputs: RoundInputs;
  let honestMetric: bigint;
  let sha: Hex;
  let payoutRoot: Hex;
  let otherLabelsCid: string;
  const add = (v: unknown) => store.addBytes(new TextEncoder().encode(JSON.stringify(v)));
  const set = (name: string, emails: readonly Email[], labels: string[] = [...LABELS]) => ({
    version: 1 as const,
    name,
    labels,
    records: emails.map((e) => ({ id: e.id, subject: e.subject, body: e.body, label: e.label })),
  });
  const derive = (over: Partial<RoundInputs>) =>
    deriveRoundValue({ store, fetchTimeoutMs: 2_000 }, { ...inputs, ...over });

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "dml-round-value-"));
    store = await HeliaStore.open({ dir: tmp });
    const corpus = splitCorpus(await loadCorpus());
    const featurizer = getFeaturizer(hashedBowSpec());
    const weights = train(
      vectorize(featurizer, [...corpus.developer, ...corpus.inboxes[0]!.emails]),
      LABELS.length,
      2,
      { learningRate: 1, l2: 1e-4, batchSize: 16, seed: "dml/round-value" },
    );
    const built = buildClassifierPackage(weights, referenceManifestFields("1.1.0"));
    const modelCid = await publishPackage(store, built.manifest, built.model);
    sha = `0x${built.manifest.modelSha256}`;
    const other = buildClassifierPackage(weights, {
      ...referenceManifestFields("1.1.0"),
      outputLabels: ["legit", "junk"],
    });
    otherLabelsCid = await publishPackage(store, other.manifest, other.model);
    const split: LabelledSet = set("split:0", corpus.test.slice(0, 120));
    const control: LabelledSet = set("control", corpus.control.slice(0, 50));
    const members = [0, 1, 2].map((i) => getAddress(localAccount(`rv-${i}`).address));
    const { list, payoutRoot: root } = buildRoundList({
      bountyId: 7n,
      round: 2,
      budget: BUDGET,
      groups: [{ members, samples: 300n }],
    });
    payoutRoot = root;
    inputs = {
      bountyId: 7n,
      round: 2,
      modelCid,
      listCid: await add(list),
      splitCid: await store.addBytes(encodeLabelledSet(split)),
      controlCid: await store.addBytes(encodeLabelledSet(control)),
      budget: BUDGET,
    };
    honestMetric = await accuracyMetric(await loadPackage(store, modelCid, sha), split);
  });

  after(async () => {
    await store?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("attests keccak(sha256(model.onnx), accuracy on the split, canonical payout root)", async () => {
    const v = await derive({});
    assert.equal(v.kind, "value");
    if (v.kind !== "value") return;
    assert.equal(v.modelSha256, sha);
    assert.equal(v.metric, honestMetric);
    assert.ok(honestMetric > 0n && honestMetric <= 10n ** 18n);
    assert.equal(v.payoutRoot, payoutRoot);
    assert.equal(v.value, attestedValue(sha, honestMetric, payoutRoot));
  });

  it("the refiner's faults: missing package, other round's list, tampered list, another budget", async () => {
    assert.equal((await derive({ modelCid: MISSING })).value, ATTESTATION_INVALID);
    assert.equal((await derive({ modelCid: "not-a-cid" })).value, ATTESTATION_INVALID);
    assert.equal((await derive({ listCid: MISSING })).value, ATTESTATION_INVALID);
    assert.equal((await derive({ round: 3 })).value, ATTESTATION_INVALID, "a list of round 2");
    assert.equal((await derive({ budget: BUDGET + 1n })).value, ATTESTATION_INVALID);
    const raw: unknown = JSON.parse(new TextDecoder().decode(await store.getBytes(inputs.listCid)));
    const tampered = { ...(raw as object), payoutRoot: `0x${"ab".repeat(32)}` };
    assert.equal((await derive({ listCid: await add(tampered) })).value, ATTESTATION_INVALID);
    assert.equal(
      (await derive({ listCid: await store.addBytes(new Uint8Array([1, 2, 3])) })).value,
      ATTESTATION_INVALID,
    );
  });

  it("the poster's faults: missing or unparseable split, labels that are not the control group's", async () => {
    const missing = await derive({ splitCid: MISSING });
    assert.equal(missing.kind, "split-invalid");
    assert.equal(missing.value, SPLIT_INVALID);
    assert.equal((await derive({ splitCid: await add({ version: 1 }) })).value, SPLIT_INVALID);
    const swapped = await store.addBytes(
      encodeLabelledSet({
        ...(JSON.parse(
          new TextDecoder().decode(await store.getBytes(inputs.splitCid)),
        ) as LabelledSet),
        labels: ["spam", "ham"],
      }),
    );
    assert.equal((await derive({ splitCid: swapped })).value, SPLIT_INVALID);
  });

  it("a candidate with other labels than the bounty's is the refiner's fault; it wins over a bad split", async () => {
    // the other-label package is listed with its own hash: the attestor computes the hash from the bytes
    const v = await derive({ modelCid: otherLabelsCid });
    assert.equal(v.kind, "invalid");
    assert.equal(v.value, ATTESTATION_INVALID);
    assert.equal(
      (await derive({ modelCid: MISSING, splitCid: MISSING })).value,
      ATTESTATION_INVALID,
      "a withheld split does not excuse a missing candidate",
    );
  });
});

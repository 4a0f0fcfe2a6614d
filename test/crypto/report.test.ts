/** Encrypted job reports (sdk/crypto/report.ts): ECIES to the customer's key, keccak256 commitment of the bytes. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keccak256 } from "viem";
import { decryptReport, encryptReport, ReportError, reportKeyPair } from "#sdk/crypto/report.ts";

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ReportError, String(e));
    return e.code;
  }
  return "returned";
};

describe("encrypted job report", () => {
  it("only the customer's key opens the committed bytes", () => {
    const customer = reportKeyPair();
    assert.match(customer.publicKey, /^0x0[23][0-9a-f]{64}$/);
    const report = { jobId: "7", records: 1234, spamShare: 0.2338 };
    const { ciphertext, commitment } = encryptReport(customer.publicKey, report);
    assert.equal(commitment, keccak256(ciphertext));
    const text = new TextDecoder().decode(ciphertext);
    assert.ok(!text.includes("spamShare") && !text.includes("1234"), "ciphertext hides the report");
    assert.deepEqual(decryptReport(customer.secretKey, ciphertext, commitment), report);
    // fresh ephemeral key each time: same report, different bytes
    assert.notEqual(encryptReport(customer.publicKey, report).commitment, commitment);

    const other = reportKeyPair();
    assert.equal(
      code(() => decryptReport(other.secretKey, ciphertext, commitment)),
      "UNDECRYPTABLE",
    );
    const tampered = ciphertext.slice();
    tampered[tampered.length - 1]! ^= 1;
    assert.equal(
      code(() => decryptReport(customer.secretKey, tampered, commitment)),
      "COMMITMENT_MISMATCH",
    );
    assert.equal(
      code(() => decryptReport(customer.secretKey, tampered, keccak256(tampered))),
      "UNDECRYPTABLE",
      "the AEAD refuses a tampered body even with a matching commitment",
    );
    assert.equal(
      code(() => encryptReport(`0x02${"00".repeat(32)}`, report)),
      "BAD_KEY",
    );
  });
});

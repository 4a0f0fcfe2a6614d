/**
 * sdk/chain/result: the attested `resultHash`, the reserved `INVALID` value and the job seed, checked against the
 * compiled contracts on EDR (`Settlement.resultHashOf`, `ResultAttestation.INVALID()`) and against hand-written
 * ABI encodings of the same formulas.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { network } from "hardhat";
import { encodeAbiParameters, keccak256, toHex, type Address, type Hex } from "viem";
import { linkBytecode, loadArtifact } from "#sdk/chain/artifacts.ts";
import {
  attestorSeed,
  INVALID,
  jobSeed,
  resultHash,
  ZERO_HASH,
  type JobResult,
} from "#sdk/chain/result.ts";
import { cohortScore } from "#sdk/chain/cohort.ts";

const h = (s: string): Hex => keccak256(toHex(s));

const CASES: JobResult[] = [
  {
    aggregateHash: h("agg"),
    payoutRoot: h("root"),
    payoutTotal: 14n * 10n ** 18n,
    participants: 7,
    qualityMet: true,
  },
  {
    aggregateHash: h("agg"),
    payoutRoot: ZERO_HASH,
    payoutTotal: 0n,
    participants: 5,
    qualityMet: false,
  },
  {
    aggregateHash: h("max"),
    payoutRoot: h("r"),
    payoutTotal: (1n << 96n) - 1n,
    participants: 2 ** 32 - 1,
    qualityMet: true,
  },
];

describe("sdk/chain/result: resultHash, INVALID and job seeds match the contracts", () => {
  let pub: Awaited<
    ReturnType<Awaited<ReturnType<typeof network.create>>["viem"]["getPublicClient"]>
  >;
  let settlement: Address;
  let attestation: Address;

  before(async () => {
    const conn = await network.create();
    pub = await conn.viem.getPublicClient();
    const [deployer] = await conn.viem.getWalletClients();
    const libraries: Record<string, Address> = {};
    const deploy = async (name: string, args: readonly unknown[]): Promise<Address> => {
      const art = loadArtifact(name);
      const hash = await deployer!.deployContract({
        abi: art.abi,
        bytecode: linkBytecode(art, libraries),
        args,
      } as never);
      const r = await pub.waitForTransactionReceipt({ hash });
      assert.ok(r.contractAddress, `${name} deployed`);
      return r.contractAddress;
    };
    // Implementations are enough: resultHashOf is pure and INVALID() a constant.
    settlement = await deploy("Settlement", ["0x000000000000000000000000000000000000dEaD"]);
    libraries.AttestationQuorum = await deploy("AttestationQuorum", []);
    attestation = await deploy("ResultAttestation", []);
  });

  it("resultHash equals Settlement.resultHashOf for success, failure and extreme values", async () => {
    for (const r of CASES) {
      const onChain = await pub.readContract({
        address: settlement,
        abi: loadArtifact("Settlement").abi,
        functionName: "resultHashOf",
        args: [r],
      });
      assert.equal(resultHash(r), onChain);
    }
    // every field is bound
    const base = resultHash(CASES[0]!);
    for (const changed of [
      { ...CASES[0]!, aggregateHash: h("other") },
      { ...CASES[0]!, payoutRoot: h("other") },
      { ...CASES[0]!, payoutTotal: CASES[0]!.payoutTotal + 1n },
      { ...CASES[0]!, participants: 8 },
      { ...CASES[0]!, qualityMet: false },
    ])
      assert.notEqual(resultHash(changed), base);
  });

  it("cohortScore equals ResultAttestation.cohortScore", async () => {
    for (const [i, device] of [
      "0x0000000000000000000000000000000000000001",
      "0x00000000000000000000000000000000DeaDBeef",
      "0xFFfFfFffFFfffFFfFFfFFFFFffFFFffffFfFFFfF",
    ].entries()) {
      const seed = h(`seed-${i}`);
      const onChain = await pub.readContract({
        address: attestation,
        abi: loadArtifact("ResultAttestation").abi,
        functionName: "cohortScore",
        args: [seed, device as Address],
      });
      assert.equal(cohortScore(seed, device as Address), onChain);
    }
  });

  it("INVALID equals ResultAttestation.INVALID()", async () => {
    const onChain = await pub.readContract({
      address: attestation,
      abi: loadArtifact("ResultAttestation").abi,
      functionName: "INVALID",
    });
    assert.equal(INVALID, onChain);
    assert.equal(INVALID, keccak256(toHex("dml.attestation.INVALID")));
  });

  it("jobSeed and attestorSeed are keccak256(abi.encode(seed, bytes32(tag), jobId))", () => {
    const epochSeed = h("block hash");
    const tag = (s: string): Hex => `0x${Buffer.from(s).toString("hex").padEnd(64, "0")}`;
    const expected = keccak256(
      encodeAbiParameters(
        [{ type: "bytes32" }, { type: "bytes32" }, { type: "uint256" }],
        [epochSeed, tag("dml.job"), 7n],
      ),
    );
    assert.equal(jobSeed(epochSeed, 7n), expected);
    assert.notEqual(jobSeed(epochSeed, 8n), expected);
    assert.equal(
      attestorSeed(expected, 7n),
      keccak256(
        encodeAbiParameters(
          [{ type: "bytes32" }, { type: "bytes32" }, { type: "uint256" }],
          [expected, tag("dml.attestors"), 7n],
        ),
      ),
    );
  });
});

/**
 * sdk/chain/contracts: `protocolContracts` gives viem contract instances typed by the generated ABIs (reads, writes
 * and events on the real DMLToken on EDR), made on first access; a contract the manifest lacks is a ManifestError.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { getAddress, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { protocolAbi, protocolContracts } from "#sdk/chain/contracts.ts";
import { ArtifactError, ManifestError } from "#sdk/chain/errors.ts";
import { parseManifest, type Manifest } from "#sdk/chain/manifest.ts";
import { tokenChain, type TokenChain } from "./helpers/token-chain.ts";

const ONE = 10n ** 18n;

describe("sdk/chain/contracts: typed protocol contracts", () => {
  let c: TokenChain;
  let manifest: Manifest;

  before(async () => {
    c = await tokenChain();
    manifest = parseManifest({
      version: 1,
      chainId: c.pub.chain.id,
      deployer: c.token,
      startBlock: 0,
      updatedAt: new Date().toISOString(),
      contracts: {
        DMLToken: { address: c.token, txHash: `0x${"11".repeat(32)}`, blockNumber: 1 },
      },
      steps: {},
    });
  });

  it("reads, writes and reads events through the typed instances", async () => {
    const { account, wallet } = await c.funded("typed", 5n * ONE);
    const contracts = protocolContracts({ public: c.pub, wallet }, manifest);
    const token = contracts.DMLToken;
    assert.equal(token.address, getAddress(c.token));
    const balance: bigint = await token.read.balanceOf([account.address]);
    assert.equal(balance, 5n * ONE);
    assert.equal(await token.read.symbol(), "DML");
    const to = privateKeyToAccount(keccak256(toHex("typed-to"))).address;
    const hash = await token.write.transfer([to, 2n * ONE]);
    const receipt = await c.pub.waitForTransactionReceipt({ hash });
    const events = await token.getEvents.Transfer(
      { from: account.address },
      { fromBlock: receipt.blockNumber, toBlock: receipt.blockNumber },
    );
    assert.equal(events.length, 1);
    assert.equal(events[0]!.args.to, to);
    assert.equal(events[0]!.args.value, 2n * ONE);
    assert.equal(await token.read.balanceOf([to]), 2n * ONE);
  });

  it("a contract the manifest lacks is a ManifestError on first use only; an unknown ABI is an ArtifactError", () => {
    const contracts = protocolContracts({ public: c.pub }, manifest);
    assert.throws(() => contracts.FineTuning, ManifestError);
    assert.ok(contracts.DMLToken.read);
    assert.throws(() => protocolAbi("TimelockController"), ArtifactError);
  });
});

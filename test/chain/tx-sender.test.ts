/**
 * sdk/chain/tx-sender on the EDR chain with the real DMLToken: one transaction in flight per signer with consecutive
 * nonces, reverts decoded to the contract's custom error (and nothing sent), a stuck transaction replaced at the
 * same nonce with bumped fees (only one of the two is ever mined), and a restarted sender (or a key used elsewhere)
 * handled by re-reading the pending count.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getAddress, keccak256, toHex, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { dmlTokenAbi } from "#sdk/chain/abi/index.ts";
import { TxError } from "#sdk/chain/errors.ts";
import { bumpFee, TxSender, type TxEvent } from "#sdk/chain/tx-sender.ts";
import { tokenChain, type TokenChain } from "./helpers/token-chain.ts";

const ONE = 10n ** 18n;
const addressOf = (s: string) => privateKeyToAccount(keccak256(toHex(s))).address;

describe("sdk/chain/tx-sender on EDR", () => {
  let c: TokenChain;

  before(async () => {
    c = await tokenChain();
  });
  after(async () => {
    await c.rpc("evm_setAutomine", [true]);
  });

  const balanceOf = (who: `0x${string}`) =>
    c.pub.readContract({
      address: c.token,
      abi: dmlTokenAbi,
      functionName: "balanceOf",
      args: [who],
    });
  const transfer = (to: `0x${string}`, amount: bigint) =>
    ({ address: c.token, abi: dmlTokenAbi, functionName: "transfer", args: [to, amount] }) as const;

  it("two concurrent sends from one signer get consecutive nonces, both mined", async () => {
    const { account, wallet } = await c.funded("concurrent", 10n * ONE);
    const sender = await TxSender.create({ publicClient: c.pub, walletClient: wallet });
    // a second sender of the same signer shares the queue
    const other = await TxSender.create({ publicClient: c.pub, walletClient: wallet });
    const start = await c.pub.getTransactionCount({ address: account.address });
    assert.equal(sender.nextNonce, start);
    const to = addressOf("concurrent-to");
    const [a, b, d] = await Promise.all([
      sender.send(transfer(to, ONE)),
      sender.send(transfer(to, 2n * ONE)),
      other.send(transfer(to, 3n * ONE)),
    ]);
    assert.deepEqual(
      [a.nonce, b.nonce, d.nonce],
      [start, start + 1, start + 2],
      "queued in call order, consecutive nonces",
    );
    for (const r of [a, b, d]) assert.equal(r.receipt.status, "success");
    assert.ok(a.receipt.blockNumber < b.receipt.blockNumber, "one in flight at a time");
    assert.equal(await balanceOf(to), 6n * ONE);
    assert.equal(await c.pub.getTransactionCount({ address: account.address }), start + 3);
  });

  it("a revert decodes to the contract's custom error with its args, and nothing is sent", async () => {
    const { account, wallet } = await c.funded("poor", ONE);
    const sender = await TxSender.create({ publicClient: c.pub, walletClient: wallet });
    const nonce = await c.pub.getTransactionCount({ address: account.address });
    const err = await sender.send(transfer(addressOf("x"), 5n * ONE)).then(
      () => assert.fail("should revert"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TxError);
    assert.equal(err.code, "TX_REVERTED");
    assert.equal(err.errorName, "ERC20InsufficientBalance");
    assert.deepEqual(err.errorArgs, [getAddress(account.address), ONE, 5n * ONE]);
    assert.equal(err.hashes.length, 0);
    assert.equal(
      await c.pub.getTransactionCount({ address: account.address, blockTag: "pending" }),
      nonce,
    );
    // a request that does not encode is refused before anything else (and is a type error at compile time)
    const bad = await sender
      // @ts-expect-error the amount is a uint256, not a string
      .send({ ...transfer(addressOf("x"), ONE), args: [addressOf("x"), "lots"] })
      .then(
        () => assert.fail("should not encode"),
        (e: unknown) => e,
      );
    assert.ok(bad instanceof TxError && bad.code === "TX_INVALID");
    // the sender still works afterwards, at the same nonce
    const ok = await sender.send(transfer(addressOf("x"), ONE / 2n));
    assert.equal(ok.nonce, nonce);
  });

  it("with automine off, a stuck transaction is replaced at the same nonce with ≥12.5% higher fees; only one is mined", async () => {
    const { account, wallet } = await c.funded("stuck", 10n * ONE);
    const to = addressOf("stuck-to");
    const events: TxEvent[] = [];
    await c.rpc("evm_setAutomine", [false]);
    try {
      const sender = await TxSender.create({
        publicClient: c.pub,
        walletClient: wallet,
        receiptTimeoutMs: 400,
        pollIntervalMs: 25,
        onEvent: (e) => {
          events.push(e);
          if (e.type === "replaced") void c.rpc("evm_mine");
        },
      });
      const r = await sender.send(transfer(to, 3n * ONE));
      const sent = events.filter((e) => e.type !== "mined");
      assert.deepEqual(
        sent.map((e) => e.type),
        ["sent", "replaced"],
      );
      const [first, second] = sent as [TxEvent, TxEvent];
      assert.equal(first.nonce, second.nonce, "same nonce");
      assert.ok(second.maxFeePerGas >= bumpFee(first.maxFeePerGas));
      assert.ok(second.maxFeePerGas * 1000n >= first.maxFeePerGas * 1125n);
      assert.ok(second.maxPriorityFeePerGas * 1000n >= first.maxPriorityFeePerGas * 1125n);
      assert.deepEqual(r.hashes, [first.hash, second.hash]);
      assert.equal(r.hash, second.hash, "the replacement is the one mined");
      const mined = await c.pub.getTransaction({ hash: second.hash });
      assert.equal(mined.maxFeePerGas, second.maxFeePerGas);
      // mine more: the original can never take effect
      await c.rpc("evm_mine");
      await c.rpc("evm_mine");
      await assert.rejects(c.pub.getTransactionReceipt({ hash: first.hash as Hex }));
      assert.equal(await balanceOf(to), 3n * ONE, "the transfer happened once");
      assert.equal(
        await c.pub.getTransactionCount({ address: account.address, blockTag: "pending" }),
        first.nonce + 1,
      );
    } finally {
      await c.rpc("evm_setAutomine", [true]);
    }
  });

  it("a sender restarted while its transaction is pending re-reads the nonce (pending count) and continues after it", async () => {
    const { account, wallet } = await c.funded("restart", 10n * ONE);
    const to = addressOf("restart-to");
    const start = await c.pub.getTransactionCount({ address: account.address });
    await c.rpc("evm_setAutomine", [false]);
    try {
      // the first process sends and "dies": it gives up waiting without replacing
      const first = await TxSender.create({
        publicClient: c.pub,
        walletClient: wallet,
        receiptTimeoutMs: 200,
        pollIntervalMs: 25,
        maxReplacements: 0,
      });
      const lost = await first.send(transfer(to, ONE)).then(
        () => assert.fail("not mined yet"),
        (e: unknown) => e,
      );
      assert.ok(lost instanceof TxError && lost.code === "TX_TIMEOUT");
      assert.equal(lost.nonce, start);
      // the restarted process reads the pending count: the stuck transaction's nonce is taken
      const restarted = await TxSender.create({
        publicClient: c.pub,
        walletClient: wallet,
        pollIntervalMs: 25,
        onEvent: (e) => {
          if (e.type === "sent") void c.rpc("evm_mine");
        },
      });
      assert.equal(restarted.nextNonce, start + 1);
      const r = await restarted.send(transfer(to, 2n * ONE));
      assert.equal(r.nonce, start + 1);
      assert.equal(await balanceOf(to), 3n * ONE, "both mined, once each");
    } finally {
      await c.rpc("evm_setAutomine", [true]);
    }
  });

  it("mined but reverted (the state changed after the simulation): TX_REVERTED naming the custom error", async () => {
    const { account, wallet } = await c.funded("raced", 2n * ONE);
    const to = addressOf("raced-to");
    await c.rpc("evm_setAutomine", [false]);
    try {
      // the whole balance leaves in a transaction still pending when the sender simulates on the latest state
      await wallet.writeContract({ ...transfer(to, 2n * ONE), gas: 100_000n });
      const sender = await TxSender.create({
        publicClient: c.pub,
        walletClient: wallet,
        pollIntervalMs: 25,
        onEvent: (e) => {
          if (e.type === "sent") void c.rpc("evm_mine");
        },
      });
      const err = await sender.send({ ...transfer(to, ONE), gas: 100_000n }).then(
        () => assert.fail("should revert when mined"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof TxError);
      assert.equal(err.code, "TX_REVERTED");
      assert.equal(err.errorName, "ERC20InsufficientBalance");
      assert.deepEqual(err.errorArgs, [getAddress(account.address), 0n, ONE]);
      assert.equal(err.hashes.length, 1);
      const receipt = await c.pub.getTransactionReceipt({ hash: err.hashes[0]! });
      assert.equal(receipt.status, "reverted");
      assert.equal(await balanceOf(to), 2n * ONE);
    } finally {
      await c.rpc("evm_setAutomine", [true]);
    }
  });

  it("at the fee cap no replacement is possible: TX_TIMEOUT with the one hash sent, which may still be mined", async () => {
    const { account, wallet } = await c.funded("capped", 2n * ONE);
    const to = addressOf("capped-to");
    const fees = await c.pub.estimateFeesPerGas();
    await c.rpc("evm_setAutomine", [false]);
    try {
      const sender = await TxSender.create({
        publicClient: c.pub,
        walletClient: wallet,
        receiptTimeoutMs: 200,
        pollIntervalMs: 25,
        maxFeePerGasCap: fees.maxFeePerGas,
      });
      const err = await sender.send(transfer(to, ONE)).then(
        () => assert.fail("not mined"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof TxError);
      assert.equal(err.code, "TX_TIMEOUT");
      assert.match(err.message, /fee cap/);
      assert.equal(err.hashes.length, 1, "no replacement above the cap");
      const tx = await c.pub.getTransaction({ hash: err.hashes[0]! });
      assert.ok(tx.maxFeePerGas! <= fees.maxFeePerGas);
      await c.rpc("evm_mine");
      assert.equal((await c.pub.getTransactionReceipt({ hash: err.hashes[0]! })).status, "success");
      assert.equal(await balanceOf(to), ONE);
      assert.equal(await c.pub.getTransactionCount({ address: account.address }), tx.nonce + 1);
    } finally {
      await c.rpc("evm_setAutomine", [true]);
    }
  });

  it("a signer without ETH for gas gets TX_INSUFFICIENT_FUNDS and nothing is mined", async () => {
    const { account, wallet } = await c.funded("no-gas", ONE);
    await c.conn.networkHelpers.setBalance(account.address, 0n);
    const sender = await TxSender.create({ publicClient: c.pub, walletClient: wallet });
    const err = await sender.send(transfer(addressOf("no-gas-to"), ONE)).then(
      () => assert.fail("cannot pay for gas"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TxError);
    assert.equal(err.code, "TX_INSUFFICIENT_FUNDS", String((err.cause as Error).message));
    assert.equal(await balanceOf(account.address), ONE);
    assert.equal(
      await c.pub.getTransactionCount({ address: account.address, blockTag: "pending" }),
      0,
    );
  });

  it("a key used behind the sender's back: the next send takes the chain's pending count, once", async () => {
    const { account, wallet } = await c.funded("stale", 10n * ONE);
    const to = addressOf("stale-to");
    const sender = await TxSender.create({ publicClient: c.pub, walletClient: wallet });
    const before = sender.nextNonce;
    // another process uses the key behind the sender's back
    const h = await wallet.writeContract(transfer(to, ONE));
    await c.pub.waitForTransactionReceipt({ hash: h });
    const r = await sender.send(transfer(to, ONE));
    assert.equal(r.nonce, (before as number) + 1);
    assert.equal(await c.pub.getTransactionCount({ address: account.address }), r.nonce + 1);
    assert.equal(await balanceOf(to), 2n * ONE, "each transfer once");
  });
});

/**
 * The one way to send a transaction. Per signer: one transaction in flight (a queue), the nonce read from the chain
 * (`pending` count) on start and before every transaction, every call simulated first (a revert becomes a
 * `TxError("TX_REVERTED")` naming the custom error, decoded against every protocol ABI, and nothing is sent), the
 * receipt awaited with a timeout, and a transaction not mined in time replaced at the SAME nonce with fees bumped
 * by at least 12.5% (capped by `maxFeePerGasCap`). Only one of the transactions sent for a call can be mined (they
 * share a nonce), so a call takes effect at most once.
 */
import {
  BaseError,
  encodeFunctionData,
  InsufficientFundsError,
  NonceTooHighError,
  NonceTooLowError,
  TransactionReceiptNotFoundError,
  type Abi,
  type Account,
  type Address,
  type Chain,
  type ContractFunctionArgs,
  type ContractFunctionName,
  type Hex,
  type TransactionReceipt,
} from "viem";
import type { ChainPublicClient, ChainWalletClient } from "./clients.ts";
import { decodeRevert, revertData } from "./contracts.ts";
import { TxError } from "./errors.ts";

/** Fee bump of a replacement, in per-mille: +12.5% (nodes require at least +10%). */
export const FEE_BUMP_PER_MILLE = 125n;

export interface TxSenderOptions {
  publicClient: ChainPublicClient;
  /** Signs and sends; its account is the signer unless `account` is given. */
  walletClient: ChainWalletClient;
  /** The signer, when the wallet client has no account of its own (or another one). */
  account?: Account;
  /** How long to wait for a receipt before replacing (ms). Default 60 s. */
  receiptTimeoutMs?: number;
  /** Replacements at the same nonce before giving up with TX_TIMEOUT. Default 3. */
  maxReplacements?: number;
  /** Never pay more than this per gas. Default 500 gwei. */
  maxFeePerGasCap?: bigint;
  /** Receipt polling interval (ms). Default: the public client's polling interval. */
  pollIntervalMs?: number;
  /** Extra ABI to decode reverts with (the protocol ABIs are always used). */
  errorAbi?: Abi;
  /** Told when receipt polling failed (the RPC, not the transaction) before a timeout; polling goes on. */
  onRpcError?: (err: unknown) => void;
  /** Progress events (sent, replaced, mined), e.g. for logs and metrics. */
  onEvent?: (event: TxEvent) => void;
}

export interface TxEvent {
  type: "sent" | "replaced" | "mined";
  hash: Hex;
  nonce: number;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

type WriteMutability = "nonpayable" | "payable";

/** A contract write, typed by its ABI (use the const ABIs of `sdk/chain/abi`). */
export interface TxRequest<
  abi extends Abi | readonly unknown[] = Abi,
  functionName extends ContractFunctionName<abi, WriteMutability> = ContractFunctionName<
    abi,
    WriteMutability
  >,
> {
  address: Address;
  abi: abi;
  functionName: functionName;
  args?: ContractFunctionArgs<abi, WriteMutability, functionName>;
  value?: bigint;
  /** Gas limit; estimated when absent. */
  gas?: bigint;
}

/** A mined, successful transaction. */
export interface TxResult {
  hash: Hex;
  nonce: number;
  receipt: TransactionReceipt;
  /** Every hash sent for this call (the mined one included), oldest first. */
  hashes: Hex[];
}

interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

const GWEI = 10n ** 9n;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** `x` raised by at least 12.5%, rounded up. */
export const bumpFee = (x: bigint): bigint =>
  x + (x * FEE_BUMP_PER_MILLE + 999n) / 1000n + (x === 0n ? 1n : 0n);

/** Shared by every sender of one signer in this process: one transaction in flight per signer. */
const queues = new Map<string, Promise<unknown>>();

export class TxSender {
  readonly address: Address;
  private readonly account: Account;
  private readonly chain: Chain;
  private nonce: number | undefined;
  private readonly key: string;
  private readonly timeoutMs: number;
  private readonly maxReplacements: number;
  private readonly cap: bigint;
  private readonly pollMs: number;

  private readonly opts: TxSenderOptions;

  private constructor(opts: TxSenderOptions) {
    this.opts = opts;
    this.account = opts.account ?? opts.walletClient.account;
    this.address = this.account.address;
    this.chain = opts.walletClient.chain ?? opts.publicClient.chain;
    this.key = `${this.chain.id}:${this.address.toLowerCase()}`;
    this.timeoutMs = opts.receiptTimeoutMs ?? 60_000;
    this.maxReplacements = opts.maxReplacements ?? 3;
    this.cap = opts.maxFeePerGasCap ?? 500n * GWEI;
    this.pollMs = opts.pollIntervalMs ?? Math.min(opts.publicClient.pollingInterval, 1_000);
  }

  /** A sender whose next nonce is the signer's `pending` transaction count on the chain. */
  static async create(opts: TxSenderOptions): Promise<TxSender> {
    const s = new TxSender(opts);
    await s.syncNonce();
    return s;
  }

  /** The nonce the next transaction will use (undefined while it must be re-read after a failure). */
  get nextNonce(): number | undefined {
    return this.nonce;
  }

  /** Re-reads the next nonce from the chain (`pending` count). */
  async syncNonce(): Promise<number> {
    this.nonce = await this.opts.publicClient.getTransactionCount({
      address: this.address,
      blockTag: "pending",
    });
    return this.nonce;
  }

  /**
   * Simulates, sends and waits for `req` after every earlier call of this signer has finished.
   * @throws TxError TX_INVALID (no such function, or arguments that do not encode), TX_REVERTED (simulation or receipt), TX_TIMEOUT, TX_UNDERPRICED, TX_INSUFFICIENT_FUNDS,
   *   NONCE_CONFLICT (another sender took the nonce twice in a row: nothing of this call was sent), TX_SEND.
   */
  send<
    const abi extends Abi | readonly unknown[],
    functionName extends ContractFunctionName<abi, WriteMutability>,
  >(req: TxRequest<abi, functionName>): Promise<TxResult> {
    const prev = queues.get(this.key) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(() => this.runOnce(req as unknown as TxRequest));
    const tail = run.catch(() => undefined);
    queues.set(this.key, tail);
    void tail.then(() => {
      if (queues.get(this.key) === tail) queues.delete(this.key);
    });
    return run;
  }

  /** Runs `req`; when another sender took the nonce before anything of ours was sent, starts over once. */
  private async runOnce(req: TxRequest): Promise<TxResult> {
    try {
      return await this.run(req);
    } catch (err) {
      if (err instanceof TxError && err.code === "NONCE_CONFLICT" && err.hashes.length === 0)
        return await this.run(req);
      throw err;
    }
  }

  private async run(req: TxRequest): Promise<TxResult> {
    const { publicClient: pub } = this.opts;
    let data: Hex;
    try {
      data = encodeFunctionData({
        abi: req.abi,
        functionName: req.functionName,
        args: req.args as readonly unknown[],
      });
    } catch (cause) {
      throw new TxError("TX_INVALID", `${req.functionName} does not encode against the ABI`, {
        cause,
      });
    }
    // `from` as a plain address: viem would otherwise re-prepare (nonce, fees) for a local account on every estimate
    const call = { account: this.address, to: req.address, data, value: req.value };
    try {
      await pub.call(call);
    } catch (err) {
      throw this.revertError(err, `${req.functionName} would revert`);
    }
    // The chain's pending count, read before every transaction: with one in flight per signer it is exact, and a
    // transaction sent with the same key by anything else (another tool, a restarted process) is accounted for.
    const nonce = await this.syncNonce();
    let gas = req.gas;
    if (gas === undefined) {
      try {
        gas = ((await pub.estimateGas(call)) * 6n) / 5n;
      } catch (err) {
        throw this.revertError(err, `${req.functionName} would revert`);
      }
    }
    let fees = this.clamp(await pub.estimateFeesPerGas());
    const hashes: Hex[] = [];
    try {
      for (let attempt = 0; ; attempt++) {
        const hash = await this.broadcast(
          { to: req.address, data, value: req.value, gas, nonce, ...fees },
          hashes,
        );
        if (hash) {
          hashes.push(hash);
          this.emit(attempt === 0 ? "sent" : "replaced", hash, nonce, fees);
        }
        const receipt = await this.waitAny(hashes, this.timeoutMs);
        if (receipt) return this.finish(req, receipt, nonce, hashes);
        if (attempt >= this.maxReplacements)
          throw new TxError(
            "TX_TIMEOUT",
            `${req.functionName} (nonce ${nonce}) not mined after ${attempt} replacements`,
            { nonce, hashes },
          );
        const next = await this.bumped(fees);
        if (!next)
          throw new TxError(
            "TX_TIMEOUT",
            `${req.functionName} (nonce ${nonce}) not mined at the fee cap ${this.cap}`,
            { nonce, hashes },
          );
        fees = next;
      }
    } catch (err) {
      // After any failure the chain is the only truth about the next nonce.
      this.nonce = undefined;
      throw err;
    }
  }

  /** Sends one signed transaction; undefined when the nonce was taken by one of `ours` (mined meanwhile). */
  private async broadcast(
    tx: { to: Address; data: Hex; value?: bigint; gas: bigint; nonce: number } & Fees,
    ours: Hex[],
  ): Promise<Hex | undefined> {
    const { walletClient: wallet, publicClient: pub } = this.opts;
    try {
      const { signTransaction } = this.account;
      if (this.account.type === "local" && signTransaction) {
        // Every field is known: sign here and send the raw bytes (no re-preparation round trips).
        const raw = await signTransaction({
          ...tx,
          chainId: this.chain.id,
          type: "eip1559",
        });
        return await pub.sendRawTransaction({ serializedTransaction: raw });
      }
      return await wallet.sendTransaction({
        ...tx,
        account: this.account,
        chain: this.chain,
        type: "eip1559",
      });
    } catch (err) {
      const e = err instanceof BaseError ? err : undefined;
      const text = `${err instanceof Error ? err.message : String(err)}`.toLowerCase();
      const is = (cls: typeof NonceTooLowError | typeof NonceTooHighError) =>
        e !== undefined && e.walk((x) => x instanceof cls) !== null;
      if (is(NonceTooLowError) || text.includes("nonce too low")) {
        if (ours.length > 0) return undefined; // one of ours was mined between the timeout and the replacement
        throw new TxError("NONCE_CONFLICT", `nonce ${tx.nonce} was used by another sender`, {
          nonce: tx.nonce,
          cause: err,
        });
      }
      if (is(NonceTooHighError))
        throw new TxError("NONCE_CONFLICT", `nonce ${tx.nonce} is ahead of the chain`, {
          nonce: tx.nonce,
          cause: err,
        });
      if (
        e?.walk((x) => x instanceof InsufficientFundsError) ||
        text.includes("insufficient funds") || // geth
        text.includes("enough funds") // EDR: "Sender doesn't have enough funds to send tx"
      )
        throw new TxError("TX_INSUFFICIENT_FUNDS", `${this.address} cannot pay for gas`, {
          nonce: tx.nonce,
          hashes: ours,
          cause: err,
        });
      if (text.includes("underpriced") || text.includes("fee too low"))
        throw new TxError("TX_UNDERPRICED", `the node refused the fees of nonce ${tx.nonce}`, {
          nonce: tx.nonce,
          hashes: ours,
          cause: err,
        });
      throw new TxError("TX_SEND", `sending nonce ${tx.nonce} failed`, {
        nonce: tx.nonce,
        hashes: ours,
        cause: err,
      });
    }
  }

  /** The receipt of whichever of `hashes` is mined first, or undefined after `timeoutMs`. */
  private async waitAny(hashes: Hex[], timeoutMs: number): Promise<TransactionReceipt | undefined> {
    const deadline = Date.now() + timeoutMs;
    let lastRpcError: unknown;
    for (;;) {
      for (const hash of hashes) {
        try {
          return await this.opts.publicClient.getTransactionReceipt({ hash });
        } catch (err) {
          // not mined yet, or the RPC failed this time: either way, ask again until the deadline
          if (!(err instanceof TransactionReceiptNotFoundError)) lastRpcError = err;
        }
      }
      if (Date.now() >= deadline) {
        if (lastRpcError !== undefined) this.opts.onRpcError?.(lastRpcError);
        return undefined;
      }
      await sleep(Math.min(this.pollMs, Math.max(1, deadline - Date.now())));
    }
  }

  private async finish(
    req: TxRequest,
    receipt: TransactionReceipt,
    nonce: number,
    hashes: Hex[],
  ): Promise<TxResult> {
    this.nonce = nonce + 1;
    this.emit("mined", receipt.transactionHash, nonce, {
      maxFeePerGas: receipt.effectiveGasPrice,
      maxPriorityFeePerGas: 0n,
    });
    if (receipt.status === "success")
      return { hash: receipt.transactionHash, nonce, receipt, hashes };
    // Passed simulation but reverted when mined: the transactions before it in its block changed the state. Replay it
    // on the state at the end of that block (ours changed nothing) to name the error.
    let decoded;
    try {
      await this.opts.publicClient.call({
        account: this.account,
        to: req.address,
        data: encodeFunctionData({
          abi: req.abi,
          functionName: req.functionName,
          args: req.args as readonly unknown[],
        }),
        value: req.value,
        blockNumber: receipt.blockNumber,
      });
    } catch (err) {
      const d = revertData(err);
      decoded = d ? decodeRevert(d, this.opts.errorAbi) : undefined;
    }
    throw new TxError(
      "TX_REVERTED",
      `${req.functionName} reverted in block ${receipt.blockNumber}${decoded ? `: ${decoded.errorName}` : ""}`,
      { errorName: decoded?.errorName, errorArgs: decoded?.args, nonce, hashes },
    );
  }

  private revertError(err: unknown, what: string): TxError {
    const data = revertData(err);
    const decoded = data ? decodeRevert(data, this.opts.errorAbi) : undefined;
    if (decoded)
      return new TxError("TX_REVERTED", `${what}: ${decoded.errorName}`, {
        errorName: decoded.errorName,
        errorArgs: decoded.args,
        cause: err,
      });
    const e = err instanceof BaseError ? err : undefined;
    if (e?.walk((x) => x instanceof InsufficientFundsError))
      return new TxError("TX_INSUFFICIENT_FUNDS", `${this.address} cannot pay`, { cause: err });
    const reason = e?.shortMessage ?? (err instanceof Error ? err.message : String(err));
    return new TxError("TX_REVERTED", `${what}: ${reason}`, { cause: err });
  }

  private clamp(f: Fees): Fees {
    const maxFeePerGas = f.maxFeePerGas > this.cap ? this.cap : f.maxFeePerGas;
    const prio = f.maxPriorityFeePerGas > maxFeePerGas ? maxFeePerGas : f.maxPriorityFeePerGas;
    return { maxFeePerGas, maxPriorityFeePerGas: prio };
  }

  /** Fees for a replacement: ≥ +12.5% on both, at least today's estimate; undefined when the cap forbids it. */
  private async bumped(old: Fees): Promise<Fees | undefined> {
    const now = await this.opts.publicClient.estimateFeesPerGas();
    const max = (a: bigint, b: bigint) => (a > b ? a : b);
    const maxFeePerGas = max(bumpFee(old.maxFeePerGas), now.maxFeePerGas);
    const maxPriorityFeePerGas = max(bumpFee(old.maxPriorityFeePerGas), now.maxPriorityFeePerGas);
    if (maxFeePerGas > this.cap) {
      if (bumpFee(old.maxFeePerGas) > this.cap) return undefined;
      return this.clamp({ maxFeePerGas: this.cap, maxPriorityFeePerGas });
    }
    return { maxFeePerGas, maxPriorityFeePerGas };
  }

  private emit(type: TxEvent["type"], hash: Hex, nonce: number, fees: Fees): void {
    this.opts.onEvent?.({ type, hash, nonce, ...fees });
  }
}

/**
 * Chain I/O of the demo's non-operator parties (script/demo-job.ts, script/finetune-demo.ts): named contract calls
 * that must succeed, one TxSender per signer, time moves on the dev chain, gas accounting. Wiring only.
 */
import { createTestClient, type Address } from "viem";
import { protocolAbi } from "#sdk/chain/contracts.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import { ChainError } from "#sdk/chain/errors.ts";
import type { Manifest } from "#sdk/chain/manifest.ts";
import { TxSender } from "#sdk/chain/tx-sender.ts";

export type Wallet = ChainWalletClient;

/** Chain I/O of the demo: named contract calls that must succeed, time moves, gas accounting. */
export class DemoChain {
  gasUsed = 0n;
  readonly pub: ChainPublicClient;
  readonly manifest: Manifest;
  readonly test: ReturnType<typeof createTestClient>;
  constructor(
    pub: ChainPublicClient,
    manifest: Manifest,
    test: ReturnType<typeof createTestClient>,
  ) {
    this.pub = pub;
    this.manifest = manifest;
    this.test = test;
  }

  addr(name: string): Address {
    const a = this.manifest.contracts[name]?.address;
    if (!a) throw new ChainError("START", `${name} is not in the deployment manifest`);
    return a;
  }

  read<T>(name: string, functionName: string, args: readonly unknown[] = []): Promise<T> {
    return this.pub.readContract({
      address: this.addr(name),
      abi: protocolAbi(name),
      functionName,
      args,
    }) as Promise<T>;
  }

  /** One TxSender per signer: nonces from the chain, reverts named, stuck transactions replaced. */
  private readonly senders = new Map<Address, Promise<TxSender>>();

  async send(w: Wallet, name: string, functionName: string, args: readonly unknown[]) {
    let sender = this.senders.get(w.account.address);
    if (!sender) {
      sender = TxSender.create({ publicClient: this.pub, walletClient: w });
      this.senders.set(w.account.address, sender);
    }
    const { receipt } = await (
      await sender
    ).send({ address: this.addr(name), abi: protocolAbi(name), functionName, args });
    this.gasUsed += receipt.gasUsed;
    return receipt;
  }

  async now(): Promise<bigint> {
    return (await this.pub.getBlock()).timestamp;
  }

  async warpTo(ts: bigint): Promise<void> {
    if ((await this.now()) >= ts) return;
    await this.test.setNextBlockTimestamp({ timestamp: ts });
    await this.test.mine({ blocks: 1 });
  }

  status(jobId: bigint): Promise<number> {
    return this.read<number>("JobMarket", "status", [jobId]);
  }
}

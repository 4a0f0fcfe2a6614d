/** Balances and transfers of the device account (ETH for gas, DML rewards). */
import { formatEther, formatUnits, type Address, type Hex } from "viem";
import { ERC20_ABI, type DeviceClients } from "./chain.ts";
import { DeviceError } from "./errors.ts";

export interface Balances {
  address: Address;
  eth: bigint;
  dml: bigint;
}

export async function balances(
  clients: Pick<DeviceClients, "publicClient">,
  token: Address,
  address: Address,
): Promise<Balances> {
  const [eth, dml] = await Promise.all([
    clients.publicClient.getBalance({ address }),
    clients.publicClient.readContract({
      address: token,
      abi: ERC20_ABI,
      functionName: "balanceOf",
      args: [address],
    }),
  ]);
  return { address, eth, dml };
}

export function formatBalances(b: Balances): string {
  return `${b.address}\n  ETH ${formatEther(b.eth)}\n  DML ${formatUnits(b.dml, 18)}`;
}

/** Transfers `amount` wei of ETH (`asset = "eth"`) or DML token wei. */
export async function transfer(
  clients: DeviceClients,
  opts: { asset: "eth" | "dml"; token: Address; to: Address; amount: bigint },
): Promise<Hex> {
  if (opts.amount <= 0n) throw new DeviceError("CHAIN", "amount must be positive");
  const { publicClient: pub, walletClient: wallet } = clients;
  try {
    let hash: Hex;
    if (opts.asset === "eth") {
      hash = await wallet.sendTransaction({ to: opts.to, value: opts.amount, chain: wallet.chain });
    } else {
      const { request } = await pub.simulateContract({
        address: opts.token,
        abi: ERC20_ABI,
        functionName: "transfer",
        args: [opts.to, opts.amount],
        account: wallet.account,
      });
      hash = await wallet.writeContract(request);
    }
    const receipt = await pub.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error("transaction reverted");
    return hash;
  } catch (e) {
    if (e instanceof DeviceError) throw e;
    throw new DeviceError(
      "CHAIN",
      `transfer failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
      { cause: e },
    );
  }
}

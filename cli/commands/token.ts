/** `dml token balance` and `dml keystore create|address`: the account itself. */
import type { Command } from "commander";
import { formatUnits, type Address, zeroAddress } from "viem";
import { tokenBalance } from "#sdk/chain/token.ts";
import { parsePrivateKey } from "#sdk/chain/clients.ts";
import * as arg from "../args.ts";
import { action, examples } from "../command.ts";

export function registerToken(program: Command): void {
  const token = program
    .command("token")
    .summary("DML balances")
    .description("The DML token (ERC20Votes).");
  const balance = token
    .command("balance")
    .description(
      "Show an account's DML balance, its voting power and delegate, and its gas balance (default: the keystore's account).",
    )
    .argument("[address]", "account (default: the keystore's address)", arg.address)
    .action(
      action<object, [Address | undefined]>(async (ctx, _o, who) => {
        const account = who ?? (await ctx.address());
        const b = await tokenBalance(await ctx.client(), await ctx.addr("DMLToken"), account);
        ctx.out.result(b, [
          `${account}: ${formatUnits(b.balance, 18)} DML, ${formatUnits(b.eth, 18)} ETH`,
          `  votes ${formatUnits(b.votes, 18)} (delegate ${b.delegate === zeroAddress ? "none: run dml gov delegate" : b.delegate})`,
        ]);
      }),
    );
  examples(balance, [
    "dml token balance",
    "dml token balance 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --json",
  ]);

  const ks = program
    .command("keystore")
    .summary("your signing key")
    .description("The account's key, kept as an encrypted v3 keystore (--keystore).");
  const create = ks
    .command("create")
    .description(
      "Write a new encrypted keystore at --keystore (a fresh random key, or --import-key-file); never overwrites one. " +
        "The password (DML_PASSWORD or --password-file) must have at least 8 characters.",
    )
    .option("--import-key-file <file>", "file holding a 32-byte hex private key to import")
    .option("--light-kdf", "cheap scrypt parameters (tests and throwaway keys only)")
    .action(
      action<{ importKeyFile?: string; lightKdf?: boolean }>(async (ctx, o) => {
        let importKey: `0x${string}` | undefined;
        if (o.importKeyFile !== undefined) {
          const { readFile } = await import("node:fs/promises");
          importKey = parsePrivateKey(
            await readFile(o.importKeyFile, "utf8"),
            `the key in ${o.importKeyFile}`,
          );
        }
        const { createKeystore, LIGHT_SCRYPT } = await import("#sdk/crypto/keystore.ts");
        const account = await createKeystore(ctx.opts.keystore, await ctx.password(), {
          ...(importKey ? { importKey } : {}),
          ...(o.lightKdf === true ? { scrypt: LIGHT_SCRYPT } : {}),
        });
        ctx.out.result(
          { address: account.address, keystore: ctx.opts.keystore },
          `${account.address} ${ctx.opts.keystore}`,
        );
      }),
    );
  examples(create, [
    "DML_PASSWORD=… dml --keystore ~/.dml/keystore.json keystore create",
    "dml --password-file ./pw keystore create --import-key-file ./key.hex",
  ]);
  const addr = ks
    .command("address")
    .description("Print the keystore's address (no password needed).")
    .action(
      action(async (ctx) => {
        const a = await ctx.address();
        ctx.out.result({ address: a }, a);
      }),
    );
  examples(addr, [
    "dml keystore address",
    "dml --keystore ./customer.json keystore address --json",
  ]);
}

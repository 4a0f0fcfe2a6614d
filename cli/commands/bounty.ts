/** `dml bounty fund|post|status`: fine-tuning bounties from the poster's side (PROTOCOL.md §5). */
import { open, readFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { formatUnits } from "viem";
import { dmlTokenAbi } from "#sdk/chain/abi/DMLToken.ts";
import { bountyInfo } from "#sdk/chain/bounties.ts";
import { algorithmInfo } from "#sdk/chain/marketplace.ts";
import { ensureAllowance } from "#sdk/chain/token.ts";
import { CliError } from "#sdk/cli/errors.ts";
import { withProgress } from "#sdk/cli/progress.ts";
import type { LabelledSet } from "#sdk/protocol/training-round.ts";
import * as arg from "../args.ts";
import { action, examples } from "../command.ts";

const dmlText = (wei: bigint) => `${formatUnits(wei, 18)} DML`;

/**
 * The poster's sdk modules, loaded when a bounty command runs: they pull in the ML stack (ONNX Runtime), seconds of
 * start-up every other command skips.
 */
async function poster() {
  const [bounty, round] = await Promise.all([
    import("#sdk/protocol/bounty.ts"),
    import("#sdk/protocol/training-round.ts"),
  ]);
  return { ...bounty, labelledSetSchema: round.labelledSetSchema };
}

async function readLabelledSet(file: string, flag: string): Promise<LabelledSet> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new CliError("INVALID_INPUT", `${flag} ${file}: not a readable JSON file`, { cause: e });
  }
  const { labelledSetSchema } = await poster();
  const r = labelledSetSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new CliError(
      "INVALID_INPUT",
      `${flag} ${file}: not a labelled set: ${i?.path.join(".") || "document"}: ${i?.message ?? "invalid"}`,
    );
  }
  return r.data;
}

interface PostOptions {
  algorithm: bigint;
  control: string;
  split: string[];
  reward: bigint;
  baseline: bigint;
  minGainBps: number;
  roundDuration: number;
  splitWindow: number;
  groupSize: number;
  secrets: string;
}

export function registerBounty(program: Command): void {
  const group = program
    .command("bounty")
    .summary("post and fund fine-tuning bounties")
    .description(
      "Fine-tuning bounties (FineTuning): a poster escrows a reward pool for trainers who improve an algorithm on a " +
        "public control group; each round is accepted on a hidden split the poster reveals after the refiner commits.",
    );

  const fund = group
    .command("fund")
    .description(
      "Approve FineTuning to take a reward pool of --amount DML from your balance (the pool is escrowed by `bounty " +
        "post`; FineTuning has no top-up, so funding is the allowance the next post draws from). Checks the balance.",
    )
    .requiredOption("--amount <dml>", "the reward pool (DML)", arg.dml)
    .action(
      action<{ amount: bigint }>(async (ctx, o) => {
        const client = await ctx.client();
        const token = await ctx.addr("DMLToken");
        const fineTuning = await ctx.addr("FineTuning");
        const sender = await ctx.sender();
        const balance = await client.readContract({
          address: token,
          abi: dmlTokenAbi,
          functionName: "balanceOf",
          args: [sender.address],
        });
        if (balance < o.amount)
          throw new CliError(
            "INSUFFICIENT_BALANCE",
            `${sender.address} holds ${dmlText(balance)}, less than ${dmlText(o.amount)}`,
          );
        const tx = await withProgress("approving the reward pool", ctx.progress, () =>
          sender.send({
            address: token,
            abi: dmlTokenAbi,
            functionName: "approve",
            args: [fineTuning, o.amount],
          }),
        );
        ctx.out.result(
          { account: sender.address, spender: fineTuning, allowance: o.amount, txHash: tx.hash },
          `FineTuning may now take ${dmlText(o.amount)} from ${sender.address}: ${tx.hash}`,
        );
      }),
    );
  examples(fund, ["dml bounty fund --amount 5000", "dml --json bounty fund --amount 5000"]);

  const post = group
    .command("post")
    .description(
      "Post a bounty: publishes the control group on IPFS, computes each round's hidden split CID and salt (kept in " +
        "--secrets, mode 0600, never overwritten: you need it and the split files to reveal each round), and escrows " +
        "--reward with createBounty (approving what the allowance lacks). One --split file per round.",
    )
    .requiredOption("--algorithm <id>", "the algorithm to fine-tune", arg.id)
    .requiredOption(
      "--control <file>",
      "the public control group (labelled set JSON: version, name, labels, records)",
    )
    .requiredOption(
      "--split <file>",
      "a hidden acceptance split (labelled set JSON), one per round, in round order",
      arg.collect(String),
    )
    .requiredOption("--reward <dml>", "the reward pool (DML)", arg.dml)
    .requiredOption(
      "--baseline <fraction>",
      "the base model's accuracy on split 0, which round 0 must beat (0..1)",
      arg.fraction,
    )
    .requiredOption(
      "--secrets <file>",
      "where to write the splits' CIDs and salts (refuses an existing file)",
    )
    .option("--min-gain-bps <n>", "minimum accuracy gain per round, in bps of 1.0", arg.int32, 10)
    .option(
      "--round-duration <duration>",
      "how long a round stays open for the refiner",
      arg.seconds,
      86_400,
    )
    .option(
      "--split-window <duration>",
      "time to reveal a split after the candidate commitment",
      arg.seconds,
      3_600,
    )
    .option(
      "--group-size <n>",
      "secure-aggregation group size (0 = the contract default, 8)",
      arg.int32,
      0,
    )
    .action(
      action<PostOptions>(async (ctx, o) => {
        const client = await ctx.client();
        await algorithmInfo(client, await ctx.addr("AlgorithmMarketplace"), o.algorithm);
        const control = await readLabelledSet(o.control, "--control");
        const splits = await Promise.all(o.split.map((f) => readLabelledSet(f, "--split")));
        const { sender, wallet } = await ctx.signer();
        // the secrets file is claimed first: a post never leaves a bounty whose salts were lost
        let fh;
        try {
          fh = await open(o.secrets, "wx", 0o600);
        } catch (e) {
          throw new CliError(
            (e as NodeJS.ErrnoException).code === "EEXIST" ? "INVALID_ARGUMENT" : "SECRETS_FILE",
            `--secrets ${o.secrets}: ${(e as NodeJS.ErrnoException).code === "EEXIST" ? "exists already (choose a new file)" : "cannot be created"}`,
          );
        }
        const store = await ctx.ipfs();
        // with Kubo, splits are hashed in a private local store so they are not announced before their reveal
        const splitStore =
          ctx.opts.ipfs === undefined
            ? store
            : await (
                await import("#sdk/ipfs/open.ts")
              ).openContentStore({ heliaDir: path.join(ctx.opts.ipfsDir, "private-splits") });
        try {
          const { prepareBounty, postBounty } = await poster();
          const prepared = await withProgress("publishing the control group", ctx.progress, () =>
            prepareBounty({
              store,
              splitStore,
              control,
              splits,
              algorithmId: o.algorithm,
              minGainBps: o.minGainBps,
              rewardPool: o.reward,
              roundDuration: o.roundDuration,
              splitWindow: o.splitWindow,
              baselineMetric: o.baseline,
              groupSize: o.groupSize,
            }),
          );
          const fineTuning = await ctx.addr("FineTuning");
          await fh.writeFile(
            `${JSON.stringify({ ...prepared.secrets, splitFiles: o.split.map((f) => path.resolve(f)) }, null, 2)}\n`,
          );
          await fh.sync();
          await ensureAllowance(sender, client, await ctx.addr("DMLToken"), fineTuning, o.reward);
          const bountyId = await withProgress("escrowing the bounty", ctx.progress, () =>
            postBounty({ publicClient: client, wallet, fineTuning }, prepared.input),
          );
          ctx.out.result(
            {
              bountyId,
              poster: sender.address,
              rewardPool: o.reward,
              rounds: prepared.input.rounds,
              controlCid: prepared.input.controlCid,
              splitRoot: prepared.input.splitRoot,
              secrets: o.secrets,
            },
            `bounty ${bountyId}: ${dmlText(o.reward)} over ${prepared.input.rounds} rounds on algorithm ${o.algorithm}; control group ${prepared.input.controlCid}; secrets in ${o.secrets}`,
          );
        } finally {
          await fh.close();
          if (splitStore !== store) await splitStore.close();
        }
      }),
    );
  examples(post, [
    "dml bounty post --algorithm 1 --control control.json --split split0.json --split split1.json \\\n      --reward 5000 --baseline 0.91 --secrets bounty-secrets.json",
  ]);

  const status = group
    .command("status")
    .description(
      "Show a bounty: poster, status, reward pool and what is reserved or refunded, rounds, trainers.",
    )
    .argument("<id>", "bounty id", arg.id)
    .action(
      action<object, [bigint]>(async (ctx, _o, id) => {
        const b = await bountyInfo(await ctx.client(), await ctx.addr("FineTuning"), id);
        ctx.out.result(b, [
          `bounty ${id}: ${b.status}, poster ${b.poster}, algorithm #${b.algorithmId} (now #${b.currentAlgorithmId})`,
          `  pool ${dmlText(b.rewardPool)} (reserved ${dmlText(b.reserved)}, refunded ${dmlText(b.refunded)}); round ${b.currentRound} of ${b.rounds}; ${b.trainerCount} trainers`,
          `  control group ${b.controlCid}`,
        ]);
      }),
    );
  examples(status, ["dml bounty status 1", "dml --json bounty status 1 | jq .rewardPool"]);
}

/** `dml gov propose|vote|queue|execute|status|delegate`: token holders govern the protocol (DMLGovernor + timelock). */
import type { Command } from "commander";
import { encodeFunctionData, formatUnits, type Abi, type Address, type Hex } from "viem";
import { protocolAbi } from "#sdk/chain/contracts.ts";
import type { DeployedContractName } from "#sdk/chain/contract-names.ts";
import { DEPLOYED_CONTRACTS } from "#sdk/chain/contract-names.ts";
import {
  castVote,
  delegateToSelf,
  execute,
  propose,
  proposalFromChain,
  proposalInfo,
  queue,
  singleCallProposal,
  upgradeProposal,
  VoteType,
  type Proposal,
  type ProposalInfo,
} from "#sdk/chain/governance.ts";
import { dmlTokenAbi } from "#sdk/chain/abi/DMLToken.ts";
import { CliError } from "#sdk/cli/errors.ts";
import { withProgress } from "#sdk/cli/progress.ts";
import * as arg from "../args.ts";
import { action, examples } from "../command.ts";
import type { Context } from "../context.ts";

const iso = (s: bigint) => (s === 0n ? "-" : new Date(Number(s) * 1000).toISOString());
const infoLines = (i: ProposalInfo) => [
  `proposal ${i.id}: ${i.state}`,
  `  voting ${iso(i.snapshot)} → ${iso(i.deadline)}${i.eta !== 0n ? `, executable from ${iso(i.eta)}` : ""}`,
  `  for ${formatUnits(i.votes.for, 18)}, against ${formatUnits(i.votes.against, 18)}, abstain ${formatUnits(i.votes.abstain, 18)} DML; quorum ${formatUnits(i.quorum, 18)}`,
];

/** `Contract.function` of the deployment, ABI-encoded with `args` (a JSON array). */
async function encodeCall(
  ctx: Context,
  call: string,
  argsJson: string,
): Promise<{ target: Address; calldata: Hex }> {
  const m = /^([A-Za-z0-9]+)\.([A-Za-z0-9_]+)$/.exec(call);
  if (!m) throw new CliError("INVALID_ARGUMENT", `--call: expected Contract.function, got ${call}`);
  const [, contract, fn] = m as unknown as [string, string, string];
  if (!(DEPLOYED_CONTRACTS as readonly string[]).includes(contract))
    throw new CliError(
      "INVALID_ARGUMENT",
      `--call: unknown contract ${contract} (one of ${DEPLOYED_CONTRACTS.join(", ")})`,
    );
  let args: unknown;
  try {
    args = JSON.parse(argsJson);
  } catch {
    args = undefined;
  }
  if (!Array.isArray(args))
    throw new CliError("INVALID_ARGUMENT", `--args: expected a JSON array, got ${argsJson}`);
  const abi: Abi = protocolAbi(contract);
  const item = abi.find((i) => i.type === "function" && i.name === fn);
  if (item === undefined || item.type !== "function")
    throw new CliError("INVALID_ARGUMENT", `--call: ${contract} has no function ${fn}`);
  try {
    const calldata = encodeFunctionData({
      abi: [item],
      functionName: fn,
      args: args.map((v, i) =>
        /^u?int/.test(item.inputs[i]?.type ?? "") ? BigInt(v as string) : v,
      ),
    });
    return { target: await ctx.addr(contract as DeployedContractName), calldata };
  } catch (e) {
    throw new CliError(
      "INVALID_ARGUMENT",
      `--args do not encode for ${contract}.${fn}: ${(e as Error).message.split("\n")[0]}`,
    );
  }
}

const SUPPORT = {
  for: VoteType.For,
  against: VoteType.Against,
  abstain: VoteType.Abstain,
} as const;

export function registerGov(program: Command): void {
  const group = program
    .command("gov")
    .summary("propose, vote, queue, execute")
    .description(
      "Governance (DMLGovernor + TimelockController): a proposal is a list of calls the timelock makes. It goes " +
        "propose → (voting delay) → vote → (voting period) → queue → (timelock delay) → execute. Votes count only " +
        "delegated balances: run `dml gov delegate` once before the proposals you want to vote on.",
    );

  const prop = group
    .command("propose")
    .description(
      "Submit a proposal of one call, given as a deployment contract's function (--call Contract.fn --args JSON), " +
        "as a proxy upgrade (--upgrade Contract --implementation addr), or raw (--target --calldata [--value]).",
    )
    .requiredOption("--description <text>", "what the proposal does (its hash is part of its id)")
    .option(
      "--call <Contract.function>",
      "a function of a deployed contract, e.g. AlgorithmMarketplace.setProtocolFeeBps",
    )
    .option(
      "--args <json>",
      "the call's arguments as a JSON array (integers as strings or numbers)",
      "[]",
    )
    .option("--upgrade <Contract>", "upgrade this proxy (with --implementation)")
    .option("--implementation <address>", "the new implementation (with --upgrade)", arg.address)
    .option("--target <address>", "raw call: the target", arg.address)
    .option("--calldata <hex>", "raw call: the calldata", arg.hexData)
    .addOption(
      arg.withDefault("--value <wei>", "raw call: wei sent with the call", arg.uint, 0n, "0"),
    )
    .action(
      action<{
        description: string;
        call?: string;
        args: string;
        upgrade?: string;
        implementation?: Address;
        target?: Address;
        calldata?: Hex;
        value: bigint;
      }>(async (ctx, o) => {
        const kinds = [o.call, o.upgrade, o.target].filter((x) => x !== undefined).length;
        if (kinds !== 1)
          throw new CliError(
            "INVALID_ARGUMENT",
            "give exactly one of --call, --upgrade or --target",
          );
        let p: Proposal;
        if (o.call !== undefined) {
          const c = await encodeCall(ctx, o.call, o.args);
          p = singleCallProposal({
            target: c.target,
            calldata: c.calldata,
            description: o.description,
          });
        } else if (o.upgrade !== undefined) {
          if (o.implementation === undefined)
            throw new CliError("INVALID_ARGUMENT", "--upgrade needs --implementation <address>");
          if (!(DEPLOYED_CONTRACTS as readonly string[]).includes(o.upgrade))
            throw new CliError("INVALID_ARGUMENT", `--upgrade: unknown contract ${o.upgrade}`);
          p = upgradeProposal({
            proxy: await ctx.addr(o.upgrade as DeployedContractName),
            implementation: o.implementation,
            description: o.description,
          });
        } else {
          if (o.calldata === undefined)
            throw new CliError("INVALID_ARGUMENT", "--target needs --calldata <hex>");
          p = singleCallProposal({
            target: o.target!,
            calldata: o.calldata,
            value: o.value,
            description: o.description,
          });
        }
        const governor = await ctx.addr("DMLGovernor");
        const sender = await ctx.sender();
        const r = await withProgress("submitting the proposal", ctx.progress, () =>
          propose(sender, governor, p),
        );
        const info = await proposalInfo(await ctx.client(), governor, r.id);
        ctx.out.result(
          {
            proposalId: r.id,
            proposer: sender.address,
            ...info,
            id: undefined,
            targets: p.targets,
            values: p.values,
            calldatas: p.calldatas,
            description: p.description,
            txHash: r.tx.hash,
          },
          [...infoLines(info), `  tx ${r.tx.hash}`],
        );
      }),
    );
  examples(prop, [
    `dml gov propose --description "DIP-7: protocol fee 2.5%" --call AlgorithmMarketplace.setProtocolFeeBps --args '[250]'`,
    `dml gov propose --description "DIP-8: upgrade JobMarket" --upgrade JobMarket --implementation 0x…`,
    `dml --json gov propose --description "grant" --target 0x… --calldata 0xa9059cbb… | jq -r .proposalId`,
  ]);

  const vote = group
    .command("vote")
    .description("Cast your vote on an Active proposal (your voting power at its snapshot counts).")
    .argument("<proposal-id>", "proposal id", arg.uint)
    .requiredOption("--support <choice>", "for, against or abstain")
    .action(
      action<{ support: string }, [bigint]>(async (ctx, o, id) => {
        const support = SUPPORT[o.support.toLowerCase() as keyof typeof SUPPORT];
        if (support === undefined)
          throw new CliError(
            "INVALID_ARGUMENT",
            `--support: expected for, against or abstain, got ${o.support}`,
          );
        const client = await ctx.client();
        const governor = await ctx.addr("DMLGovernor");
        const sender = await ctx.sender();
        const tx = await withProgress(`voting ${o.support} on ${id}`, ctx.progress, () =>
          castVote(sender, client, governor, id, support),
        );
        const info = await proposalInfo(client, governor, id);
        ctx.out.result(
          {
            proposalId: id,
            voter: sender.address,
            support: o.support.toLowerCase(),
            ...info,
            id: undefined,
            txHash: tx.hash,
          },
          [...infoLines(info), `  tx ${tx.hash}`],
        );
      }),
    );
  examples(vote, [
    "dml gov vote 4242… --support for",
    "dml --json gov vote 4242… --support against",
  ]);

  for (const [name, fn, what] of [
    ["queue", queue, "Queue a Succeeded proposal in the timelock (anyone may)."],
    [
      "execute",
      execute,
      "Execute a Queued proposal once its timelock delay has passed (anyone may).",
    ],
  ] as const) {
    const cmd = group
      .command(name)
      .description(`${what} The proposal's calls are read from its ProposalCreated log.`)
      .argument("<proposal-id>", "proposal id", arg.uint)
      .action(
        action<object, [bigint]>(async (ctx, _o, id) => {
          const client = await ctx.client();
          const governor = await ctx.addr("DMLGovernor");
          const p = await proposalFromChain(client, governor, id, await ctx.fromBlock());
          const sender = await ctx.sender();
          const tx = await withProgress(`${name} ${id}`, ctx.progress, () =>
            fn(sender, client, governor, p),
          );
          const info = await proposalInfo(client, governor, id);
          ctx.out.result({ proposalId: id, ...info, id: undefined, txHash: tx.hash }, [
            ...infoLines(info),
            `  tx ${tx.hash}`,
          ]);
        }),
      );
    examples(cmd, [`dml gov ${name} 4242…`, `dml --json gov ${name} 4242… | jq -r .state`]);
  }

  const status = group
    .command("status")
    .description("Show a proposal: state, voting window, timelock ETA, votes and quorum.")
    .argument("<proposal-id>", "proposal id", arg.uint)
    .action(
      action<object, [bigint]>(async (ctx, _o, id) => {
        const client = await ctx.client();
        const governor = await ctx.addr("DMLGovernor");
        const p = await proposalFromChain(client, governor, id, await ctx.fromBlock());
        const info = await proposalInfo(client, governor, id);
        ctx.out.result({ proposalId: id, ...info, id: undefined, ...p }, [
          ...infoLines(info),
          `  "${p.description}"`,
        ]);
      }),
    );
  examples(status, ["dml gov status 4242…", "dml --json gov status 4242… | jq -r .state"]);

  const delegate = group
    .command("delegate")
    .description(
      "Delegate your votes to yourself (default) or to --to: ERC20Votes counts only delegated balances.",
    )
    .option("--to <address>", "delegate to this account instead of yourself", arg.address)
    .action(
      action<{ to?: Address }>(async (ctx, o) => {
        const token = await ctx.addr("DMLToken");
        const sender = await ctx.sender();
        const tx = await withProgress("delegating", ctx.progress, () =>
          o.to === undefined
            ? delegateToSelf(sender, token)
            : sender.send({
                address: token,
                abi: dmlTokenAbi,
                functionName: "delegate",
                args: [o.to],
              }),
        );
        const to = o.to ?? sender.address;
        ctx.out.result(
          { account: sender.address, delegate: to, txHash: tx.hash },
          `${sender.address} delegates its votes to ${to}: ${tx.hash}`,
        );
      }),
    );
  examples(delegate, [
    "dml gov delegate",
    "dml gov delegate --to 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
  ]);
}

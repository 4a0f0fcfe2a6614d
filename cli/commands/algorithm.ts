/** `dml algorithm list|show|buy|publish`: the marketplace for customers and developers. */
import type { Command } from "commander";
import { formatUnits, type Hex } from "viem";
import {
  algorithmInfo,
  buyLicence,
  hasLicence,
  listAlgorithms,
  publishAlgorithm,
  type AlgorithmInfo,
} from "#sdk/chain/marketplace.ts";
import { withProgress } from "#sdk/cli/progress.ts";
import * as arg from "../args.ts";
import { action, examples } from "../command.ts";

const dmlText = (wei: bigint) => `${formatUnits(wei, 18)} DML`;
const line = (a: AlgorithmInfo) =>
  `#${a.id}  developer ${a.developer}  package ${a.packageCid}  use ${dmlText(a.usePrice)}  licence ${a.licencePrice === 0n ? "not for sale" : dmlText(a.licencePrice)}${a.parentId !== 0n ? `  child of #${a.parentId}` : ""}${a.deprecated ? "  (deprecated)" : ""}`;

export function registerAlgorithm(program: Command): void {
  const group = program
    .command("algorithm")
    .summary("list, inspect, buy and publish algorithms")
    .description(
      "The algorithm marketplace (AlgorithmMarketplace): customers buy licences, developers list algorithms.",
    );

  const list = group
    .command("list")
    .description(
      "List the marketplace's algorithms, oldest first (deprecated ones only with --all).",
    )
    .option(
      "--schema <id>",
      "only algorithms of this dataset schema (id like email/rfc822-v1, or its bytes32 hash)",
      arg.schema,
    )
    .option("--all", "include deprecated algorithms")
    .action(
      action<{ schema?: Hex; all?: boolean }>(async (ctx, o) => {
        const algorithms = await listAlgorithms(
          await ctx.client(),
          await ctx.addr("AlgorithmMarketplace"),
          {
            ...(o.schema ? { schema: o.schema } : {}),
            includeDeprecated: o.all === true,
          },
        );
        ctx.out.result(
          { algorithms },
          algorithms.length === 0 ? "no algorithms listed" : algorithms.map(line),
        );
      }),
    );
  examples(list, [
    "dml algorithm list",
    "dml algorithm list --schema email/rfc822-v1 --json | jq '.algorithms[].id'",
  ]);

  const show = group
    .command("show")
    .description(
      "Show one algorithm: developer, package CID and model sha256, prices, parent; and whether you hold its licence when a keystore exists.",
    )
    .argument("<id>", "algorithm id", arg.id)
    .action(
      action<object, [bigint]>(async (ctx, _o, id) => {
        const client = await ctx.client();
        const market = await ctx.addr("AlgorithmMarketplace");
        const a = await algorithmInfo(client, market, id);
        const me = await ctx.address().catch(() => undefined);
        const licensed = me === undefined ? undefined : await hasLicence(client, market, me, id);
        ctx.out.result({ ...a, ...(me ? { licensed, account: me } : {}) }, [
          line(a),
          `  schema ${a.schema}`,
          `  model sha256 ${a.modelSha256}`,
          ...(a.metadataCid ? [`  metadata ${a.metadataCid}`] : []),
          ...(me ? [`  ${me} ${licensed ? "holds" : "does not hold"} a licence`] : []),
        ]);
      }),
    );
  examples(show, ["dml algorithm show 1", "dml algorithm show 1 --json"]);

  const buy = group
    .command("buy")
    .description(
      "Buy a licence for an algorithm: the licence lets your jobs use it without paying per use. Approves exactly " +
        "the price when your allowance is short; never pays more than --max-price (default: the price read now). " +
        "Buying a licence you hold sends nothing.",
    )
    .argument("<id>", "algorithm id", arg.id)
    .option(
      "--max-price <dml>",
      "most you pay, in DML (default: the current licence price)",
      arg.dml,
    )
    .action(
      action<{ maxPrice?: bigint }, [bigint]>(async (ctx, o, id) => {
        const client = await ctx.client();
        const sender = await ctx.sender();
        const r = await withProgress(
          `buying a licence for algorithm ${id}`,
          ctx.progress,
          async () =>
            buyLicence(
              sender,
              client,
              { market: await ctx.addr("AlgorithmMarketplace"), token: await ctx.addr("DMLToken") },
              id,
              o.maxPrice,
            ),
        );
        ctx.out.result(
          {
            algorithmId: id,
            account: sender.address,
            price: r.price,
            alreadyLicensed: r.alreadyLicensed,
            txHash: r.tx?.hash ?? null,
            approvalTxHash: r.approval?.hash ?? null,
          },
          r.alreadyLicensed
            ? `${sender.address} already holds a licence for algorithm ${id}; nothing sent`
            : `licence for algorithm ${id} bought for ${dmlText(r.price)}: ${r.tx?.hash}`,
        );
      }),
    );
  examples(buy, [
    "DML_PASSWORD=… dml algorithm buy 1",
    "dml --password-file ./pw algorithm buy 3 --max-price 250 --json",
  ]);

  const publish = group
    .command("publish")
    .description(
      "List an algorithm as its developer: its IPFS package, the model's sha256, the schema and the prices.",
    )
    .requiredOption("--package-cid <cid>", "the package's IPFS CID (manifest.json + model.onnx)")
    .requiredOption("--sha256 <hex>", "sha256 of model.onnx (0x + 64 hex)", arg.bytes32)
    .addOption(
      arg.withDefault(
        "--schema <id>",
        "dataset schema id or bytes32 hash",
        arg.schema,
        arg.schema("email/rfc822-v1"),
        "email/rfc822-v1",
      ),
    )
    .addOption(arg.withDefault("--use-price <dml>", "price per job (DML)", arg.dml, 0n, "0"))
    .addOption(
      arg.withDefault(
        "--licence-price <dml>",
        "licence price (DML; 0 = no licence sold)",
        arg.dml,
        0n,
        "0",
      ),
    )
    .option("--parent <id>", "parent algorithm (a new version of it)", arg.id)
    .option("--metadata-cid <cid>", "IPFS CID of a description document")
    .action(
      action<{
        packageCid: string;
        sha256: Hex;
        schema: Hex;
        usePrice: bigint;
        licencePrice: bigint;
        parent?: bigint;
        metadataCid?: string;
      }>(async (ctx, o) => {
        const sender = await ctx.sender();
        const r = await withProgress("listing the algorithm", ctx.progress, async () =>
          publishAlgorithm(sender, await ctx.addr("AlgorithmMarketplace"), {
            packageCid: o.packageCid,
            modelSha256: o.sha256,
            schema: o.schema,
            usePrice: o.usePrice,
            licencePrice: o.licencePrice,
            ...(o.parent !== undefined ? { parentId: o.parent } : {}),
            ...(o.metadataCid !== undefined ? { metadataCid: o.metadataCid } : {}),
          }),
        );
        ctx.out.result(
          { algorithmId: r.id, txHash: r.tx.hash },
          `listed algorithm ${r.id}: ${r.tx.hash}`,
        );
      }),
    );
  examples(publish, [
    "dml algorithm publish --package-cid bafy… --sha256 0x… --use-price 5 --licence-price 100",
  ]);
}

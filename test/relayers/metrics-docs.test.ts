/**
 * docs/metrics.md and docs/grafana-dashboard.json against what a relayer really exposes: a `dml-relayer` process (the
 * common runtime with the test role `effect`) is scraped at /metrics; every metric it exposes is documented, every
 * documented metric exists, and every metric a dashboard query uses is one the relayer exposes. The dashboard is a
 * valid Grafana 10+ model: a Prometheus datasource variable that every panel and query uses, unique ids, a 24-column grid.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { killAll, startRelayer, waitFor } from "./helpers.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource: { type: string; uid: string } }[];
  gridPos: { x: number; y: number; w: number; h: number };
}
interface Dashboard {
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: {
    list: { name: string; type: string; query: unknown; datasource?: { uid: string } }[];
  };
}

let root: string;
let scraped: string;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), "dml-metrics-"));
  const d = (n: string) => path.join(root, n);
  const r = startRelayer([
    "effect",
    "--data-dir",
    d("data"),
    "--effects-file",
    d("effects"),
    "--trace-file",
    d("trace"),
    "--metrics-port",
    "0",
    "--tick-interval-ms",
    "50",
    "--retry-base-ms",
    "0",
    "--jobs",
    "2",
    "--fail-keys",
    "effect:2",
  ]);
  const url = await r.ready;
  await waitFor("both actions succeeded", async () =>
    /dml_relayer_actions\{[^}]*status="succeeded"[^}]*\} 2\b/.test(
      await (await fetch(`${url}/metrics`)).text(),
    ),
  );
  scraped = await (await fetch(`${url}/metrics`)).text();
  r.child.kill("SIGTERM");
  await r.exited;
});
after(async () => {
  killAll();
  await rm(root, { recursive: true, force: true });
});

/** `# TYPE name type` lines of a Prometheus exposition. */
const typesOf = (text: string): Map<string, string> =>
  new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));

/** The exposed metric a series name of a PromQL query refers to (`x_bucket` → histogram `x`). */
function baseMetric(name: string, types: Map<string, string>): string {
  for (const suffix of ["_bucket", "_sum", "_count"])
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (types.get(base) === "histogram" || types.get(base) === "summary") return base;
    }
  return name;
}

describe("relayer metrics: docs and Grafana dashboard", () => {
  it("every exposed metric is in docs/metrics.md, and every documented one is exposed", async () => {
    const types = typesOf(scraped);
    assert.ok(types.size > 30, `scraped ${types.size} metrics`);
    const doc = await readFile(path.join(ROOT, "docs/metrics.md"), "utf8");
    for (const name of types.keys()) assert.ok(doc.includes(`\`${name}\``), `${name} documented`);
    const documented = new Set([...doc.matchAll(/`(dml_[a-z0-9_]*[a-z0-9])`/g)].map((m) => m[1]!));
    for (const name of documented) assert.ok(types.has(name), `${name} (documented) is exposed`);
    // the type column says what the relayer says
    for (const [name, type] of types) {
      const row = new RegExp(`\\| \`${name}\`\\s*\\| ${type}\\s*\\|`);
      assert.match(doc, row, `${name} documented as a ${type}`);
    }
  });

  it("every series carries its role, the process metrics too", () => {
    const series = scraped.split("\n").filter((l) => l.startsWith("dml_relayer_"));
    assert.ok(series.length > 50);
    for (const s of series) assert.match(s, /role="effect"/, s);
  });

  it("the dashboard is a Grafana 10+ model whose queries use only metrics the relayer exposes", async () => {
    const dash = JSON.parse(
      await readFile(path.join(ROOT, "docs/grafana-dashboard.json"), "utf8"),
    ) as Dashboard;
    assert.ok(dash.schemaVersion >= 36, "Grafana 10+ schema");
    assert.ok(dash.uid && dash.title);
    const ds = dash.templating.list.find((v) => v.type === "datasource");
    assert.ok(ds, "a datasource variable");
    assert.equal(ds.query, "prometheus");
    const dsRef = `\${${ds.name}}`;
    const ids = new Set<number>();
    const types = typesOf(scraped);
    const used = new Set<string>();
    for (const p of dash.panels) {
      assert.ok(!ids.has(p.id), `panel id ${p.id} unique`);
      ids.add(p.id);
      assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the grid`);
      if (p.type === "row") continue;
      assert.equal(p.datasource?.uid, dsRef, `${p.title} uses the datasource variable`);
      assert.ok((p.targets ?? []).length > 0, `${p.title} has a query`);
      for (const t of p.targets ?? []) {
        assert.equal(t.datasource.uid, dsRef);
        const names = [...t.expr.matchAll(/\b(dml_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
        assert.ok(names.length > 0, `${p.title}: ${t.expr} queries a dml metric`);
        for (const n of names) {
          const base = baseMetric(n, types);
          assert.ok(types.has(base), `${p.title}: ${n} is exposed by the relayer`);
          used.add(base);
        }
        // balanced braces and parentheses: a typo would break the panel
        for (const [o, c] of [
          ["(", ")"],
          ["{", "}"],
          ["[", "]"],
        ] as const)
          assert.equal(
            t.expr.split(o).length,
            t.expr.split(c).length,
            `${p.title}: ${o}${c} balanced`,
          );
      }
    }
    // every relayer-specific metric has a panel
    for (const name of types.keys())
      if (!/^dml_relayer_(process|nodejs)_/.test(name))
        assert.ok(used.has(name), `the dashboard charts ${name}`);
    for (const v of dash.templating.list.filter((x) => x.type === "query"))
      assert.equal(v.datasource?.uid, dsRef, `variable ${v.name} uses the datasource variable`);
  });
});

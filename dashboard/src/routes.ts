/** The pages by route name (`#/<name>/<params…>`) and the navigation bar. */
import { page, type Page } from "./page.ts";
import { overview } from "./pages/overview.ts";
import { jobs } from "./pages/jobs.ts";
import { job } from "./pages/job.ts";
import { report } from "./pages/report.ts";
import { marketplace } from "./pages/marketplace.ts";
import { finetuning } from "./pages/finetuning.ts";
import { operators } from "./pages/operators.ts";
import { governance } from "./pages/governance.ts";

export const ROUTES: Record<string, Page<unknown>> = {
  overview: page(overview),
  jobs: page(jobs),
  job: page(job),
  report: page(report),
  marketplace: page(marketplace),
  finetuning: page(finetuning),
  operators: page(operators),
  governance: page(governance),
};

export const NAV: readonly (readonly [string, string])[] = [
  ["overview", "Network"],
  ["jobs", "Jobs"],
  ["marketplace", "Marketplace"],
  ["finetuning", "Fine-tuning"],
  ["operators", "Operators"],
  ["governance", "Governance"],
];

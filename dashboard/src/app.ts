/**
 * `<dml-app>`: header (indexed block and chain head), navigation, hash routing (`#/jobs`, `#/job/7`, …) and the live
 * refresh: the current page re-loads whenever the subgraph's indexed block moves.
 *
 * `main[data-state]` is `loading`, `ready` or `error`; `data-block` is the indexed block the page was loaded at.
 */
import { LitElement, html, type TemplateResult } from "lit";
import { loadConfig } from "./config.ts";
import { graphqlClient } from "./graphql.ts";
import { chainClient, watchHeads, type Heads } from "./live.ts";
import type { Page, PageContext } from "./page.ts";
import { num } from "./format.ts";
import { ROUTES, NAV } from "./routes.ts";

interface Route {
  name: string;
  params: string[];
}

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const name = parts[0] ?? "overview";
  return { name: name in ROUTES ? name : "notfound", params: parts.slice(1) };
}

export class DmlApp extends LitElement {
  static override properties = {
    route: { state: true },
    data: { state: true },
    error: { state: true },
    heads: { state: true },
    loadedBlock: { state: true },
    loading: { state: true },
  };
  declare route: Route;
  declare data: unknown;
  declare error: string | null;
  declare heads: Heads;
  declare loadedBlock: number | null;
  declare loading: boolean;
  #ctx: PageContext | null = null;
  #stop: (() => void) | undefined;
  #seq = 0;

  constructor() {
    super();
    this.route = parseRoute(window.location.hash);
    this.data = undefined;
    this.error = null;
    this.heads = { indexed: null, chain: null, error: null };
    this.loadedBlock = null;
    this.loading = true;
  }

  /** Light DOM: the page's styles apply and the tests query it directly. */
  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener("hashchange", this.#onHash);
    void this.#start();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener("hashchange", this.#onHash);
    this.#stop?.();
  }

  async #start(): Promise<void> {
    try {
      const config = await loadConfig();
      this.#ctx = { q: graphqlClient(config.graphql), config, chain: chainClient(config.rpc) };
      this.#stop = watchHeads(this.#ctx.q, this.#ctx.chain, config.pollMs, (h, changed) => {
        this.heads = h;
        if (changed) void this.#load(false);
      });
    } catch (e) {
      this.error = (e as Error).message;
      this.loading = false;
    }
  }

  #onHash = (): void => {
    this.route = parseRoute(window.location.hash);
    this.data = undefined;
    void this.#load(true);
  };

  async #load(fresh: boolean): Promise<void> {
    const ctx = this.#ctx;
    if (ctx === null) return;
    const page = ROUTES[this.route.name];
    if (page === undefined) {
      this.loading = false;
      return;
    }
    const seq = ++this.#seq;
    const block = this.heads.indexed;
    if (fresh) this.loading = true;
    try {
      const data = await page.load(ctx, this.route.params);
      if (seq !== this.#seq) return;
      this.data = data;
      this.error = null;
      this.loadedBlock = block;
    } catch (e) {
      if (seq !== this.#seq) return;
      this.error = (e as Error).message;
    } finally {
      if (seq === this.#seq) this.loading = false;
    }
  }

  #page(page: Page<unknown> | undefined): TemplateResult {
    if (this.error !== null) return html`<p class="error" role="alert">${this.error}</p>`;
    if (page === undefined) return html`<p class="error">no page “${this.route.name}”</p>`;
    if (this.loading || this.data === undefined || this.#ctx === null)
      return html`<p class="muted">loading…</p>`;
    return page.view(this.data, this.#ctx, this.route.params);
  }

  override render(): TemplateResult {
    const page = ROUTES[this.route.name];
    const state =
      this.error !== null ? "error" : this.loading || this.data === undefined ? "loading" : "ready";
    return html`
      <header>
        <a class="brand" href="#/">DML</a>
        <nav>
          ${NAV.map(
            ([name, label]) =>
              html`<a href="#/${name}" class=${this.route.name === name ? "active" : ""}
                >${label}</a
              >`,
          )}
        </nav>
        <span class="heads">
          indexed ${num("head.indexed", this.heads.indexed, "block")} · chain
          ${num("head.chain", this.heads.chain, "block")}
          ${this.heads.error ? html`<span class="error">${this.heads.error}</span>` : ""}
        </span>
      </header>
      <main data-page=${this.route.name} data-state=${state} data-block=${this.loadedBlock ?? ""}>
        <h1>${page?.title ?? "Not found"}</h1>
        ${this.#page(page)}
      </main>
    `;
  }
}
customElements.define("dml-app", DmlApp);

/**
 * `<dml-chart>`: a Chart.js chart in a lit element. `.config` is a Chart.js configuration; a new one updates the
 * chart in place (data and options) so live refreshes do not flicker.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Colors,
  DoughnutController,
  ArcElement,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from "chart.js";
import { LitElement, html, css } from "lit";

Chart.register(
  Colors,
  BarController,
  BarElement,
  CategoryScale,
  DoughnutController,
  ArcElement,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
);

export class DmlChart extends LitElement {
  static override properties = { config: { attribute: false } };
  static override styles = css`
    :host {
      display: block;
      position: relative;
      height: 260px;
    }
  `;
  declare config: ChartConfiguration | undefined;
  #chart: Chart | undefined;
  #type: string | undefined;

  override render() {
    return html`<canvas></canvas>`;
  }

  override updated(): void {
    if (this.config === undefined) return;
    const canvas = this.renderRoot.querySelector("canvas");
    if (canvas === null) return;
    const config: ChartConfiguration = {
      ...this.config,
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        ...this.config.options,
      },
    };
    if (this.#chart === undefined || this.#type !== config.type) {
      this.#chart?.destroy();
      this.#chart = new Chart(canvas, config);
      this.#type = config.type;
    } else {
      this.#chart.data = config.data;
      if (config.options) this.#chart.options = config.options;
      this.#chart.update("none");
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#chart?.destroy();
    this.#chart = undefined;
  }
}
customElements.define("dml-chart", DmlChart);

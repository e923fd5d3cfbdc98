// Charts: uPlot (the global `uPlot`, loaded before the app) with
// server-side downsampling.
/* global uPlot */
import { debounce, errorBox, h } from "./dom.js";
import { fmtNum, fmtTick, nf } from "./format.js";

export const PALETTE = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
  "#bcbd22",
  "#7f7f7f",
];

// uPlot with server-side downsampling; drag to zoom refetches the
// visible range at full resolution, double-click zooms back out.

/** EMA smoothing with debiasing (as TensorBoard), nulls kept. */
function smoothSeries(ys, w) {
  if (!w) return ys;
  const out = new Array(ys.length);
  let last = 0, n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y === null || y === undefined || !isFinite(y)) {
      out[i] = null;
      continue;
    }
    last = last * w + (1 - w) * y;
    n++;
    out[i] = last / (1 - Math.pow(w, n));
  }
  return out;
}

/**
 * A group of charts sharing an x range. `load(x0, x1, width)` returns
 * `[{ title, series: [{label, x, y, n, downsampled}] }]`, one per chart.
 */
export class ChartGroup {
  constructor(container, load) {
    this.container = container;
    this.loadFn = load;
    this.log = false;
    this.smooth = 0;
    this.range = null; // null: everything
    this.charts = []; // {el, plot, data, info}
    this.seq = 0;
    this.onLoaded = null;
    addEventListener("resize", debounce(() => this.resize(), 150));
  }

  width() {
    const first = this.container.querySelector(".chart");
    const w = first ? first.clientWidth : this.container.clientWidth;
    return Math.max(200, Math.min(w - 12, 2400));
  }

  async reload(range = this.range) {
    const seq = ++this.seq;
    let results;
    try {
      results = await this.loadFn(range, Math.max(100, this.width() - 60));
    } catch (e) {
      if (seq === this.seq) this.container.replaceChildren(errorBox(e));
      return;
    }
    if (seq !== this.seq) return; // a newer request won
    this.range = range;
    this.results = results;
    this.draw();
    this.onLoaded?.(results);
  }

  draw() {
    for (const c of this.charts) c.plot?.destroy();
    this.charts = [];
    this.container.replaceChildren();
    if (!this.results?.length) {
      this.container.append(h("p", { class: "muted" }, "Nothing to draw."));
      return;
    }
    for (const r of this.results) {
      const el = h("div", { class: "chart", "data-chart": r.title });
      const pts = r.series.reduce((a, s) => a + s.x.length, 0);
      const n = r.series.reduce((a, s) => a + s.n, 0);
      const ds = r.series.some((s) => s.downsampled);
      el.append(
        h(
          "div",
          { class: "chart-title" },
          r.title,
          h(
            "span",
            { class: "muted", title: "points drawn / points in range" },
            ds
              ? `${nf.format(pts)} of ${
                nf.format(n)
              } points (min/max per pixel)`
              : `${nf.format(n)} points`,
          ),
        ),
      );
      this.container.append(el);
      this.charts.push({ el, result: r });
    }
    const width = this.width();
    for (const c of this.charts) c.plot = this.makePlot(c, width);
  }

  makePlot(c, width) {
    const series = c.result.series;
    const prepared = series.map((s) => {
      let y = smoothSeries(s.y, this.smooth);
      if (this.log) y = y.map((v) => (v !== null && v > 0 ? v : null));
      return [s.x, y];
    });
    const data = prepared.length === 1
      ? [prepared[0][0], prepared[0][1]]
      : uPlot.join(prepared.map(([x, y]) => [x, y]));
    const opts = {
      width,
      height: 230,
      scales: {
        x: {
          time: false,
          ...(this.range ? { min: this.range[0], max: this.range[1] } : {}),
        },
        y: this.log ? { distr: 3, log: 10 } : {},
      },
      series: [
        { label: "step", value: (_u, v) => (v === null ? "" : fmtNum(v)) },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          spanGaps: true,
          points: { show: series.length === 1 && s.x.length < 60 },
          value: (_u, v) => (v === null ? "" : fmtNum(v)),
        })),
      ],
      axes: [{}, { size: 64, values: (_u, ticks) => ticks.map(fmtTick) }],
      legend: { live: true },
      cursor: {
        drag: { x: true, y: false, setScale: false },
        sync: { key: "sv" },
      },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const x0 = u.posToVal(u.select.left, "x");
            const x1 = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.reload([x0, x1]);
          },
        ],
      },
    };
    const plot = new uPlot(opts, data, c.el);
    plot.over.addEventListener("dblclick", () => this.reload(null));
    return plot;
  }

  resize() {
    const width = this.width();
    for (const c of this.charts) c.plot?.setSize({ width, height: 230 });
  }

  setLog(on) {
    this.log = on;
    this.draw();
  }

  setSmooth(w) {
    this.smooth = w;
    this.draw();
  }
}

export function chartToolbar(group, extra = []) {
  const smoothLabel = h("span", { class: "muted" }, "0");
  return h(
    "div",
    { class: "toolbar" },
    ...extra,
    h(
      "label",
      {},
      h("input", {
        type: "checkbox",
        "data-testid": "log-scale",
        onchange: (e) => group.setLog(e.target.checked),
      }),
      "log y",
    ),
    h(
      "label",
      {},
      "smoothing",
      h("input", {
        type: "range",
        min: "0",
        max: "0.99",
        step: "0.01",
        value: "0",
        "data-testid": "smoothing",
        oninput: (e) => {
          smoothLabel.textContent = e.target.value;
          group.setSmooth(Number(e.target.value));
        },
      }),
      smoothLabel,
    ),
    h("button", { onclick: () => group.reload(null) }, "Reset zoom"),
    h(
      "span",
      { class: "muted" },
      "Drag across a chart to zoom (refetches at full resolution); double-click to zoom out.",
    ),
  );
}

// The parallel-coordinates page: one SVG polyline per specimen (up to
// 1,000, the newest) across an axis per param key and one for a metric.
// Numeric params get a scale (log when they span 100× or more), others
// evenly spaced categories; a specimen without a key passes through "n/a"
// under that axis. Lines are coloured by the metric; hover names the
// specimen, a click opens it.
import { errorBox, h, main } from "../dom.js";
import { api } from "../api.js";
import { fmtNum, nf } from "../format.js";
import { noCatalogOr, setHash } from "../nav.js";
import { ramp, scale, suitsLog, svg } from "../svg.js";
import {
  chosenMetric,
  loadChoices,
  metricControls,
  metricLabel,
  scopeControls,
  scopeQuery,
  updater,
  varyingKeys,
} from "./param_views.js";

const H = 420, M = { t: 30, b: 56, side: 70 }, GAP = 150;
const BOTTOM = H - M.b, NA_Y = H - M.b + 24;
const DEFAULT_AXES = 8;

export async function parallelPage(params) {
  main.replaceChildren(h("h1", {}, "Parallel coordinates"));
  let choices;
  try {
    choices = await loadChoices(params);
  } catch (e) {
    main.append(noCatalogOr(e));
    return;
  }
  const update = updater("/parallel", params);
  main.append(h(
    "div",
    { class: "toolbar" },
    scopeControls(choices.tags, params, update),
  ));
  if (!choices.keys.length) {
    main.append(h(
      "p",
      { class: "muted", "data-testid": "parallel-count" },
      "No params among these specimens: record them (deno task create --param lr=3e-4), or widen the tag and prefix.",
    ));
    return;
  }
  const keys = chosenKeys(choices.keys, params);
  const metric = chosenMetric(choices.tables, params, true);
  const card = h("div", { class: "card" });
  main.append(card);
  card.append(
    h(
      "div",
      { class: "toolbar" },
      metricControls(choices.tables, metric, update, true),
    ),
    keyChecks(choices.keys, keys, update),
  );
  if (keys.length) await drawParallel(card, keys, metric, params);
}

/**
 * The keys in the URL, else those that vary among the specimens in scope
 * (most common first; a key every specimen shares, or one only a few have,
 * draws nothing worth seeing), else the most common ones.
 */
function chosenKeys(all, params) {
  const known = new Set(all.map((k) => k.key));
  const raw = params.get("keys");
  if (raw !== null) return raw.split(",").filter((k) => known.has(k));
  const varying = varyingKeys(all);
  const pool = varying.length
    ? varying
    : [...all].sort((a, b) => b.specimens - a.specimens);
  return pool.slice(0, DEFAULT_AXES).map((k) => k.key).sort();
}

function keyChecks(all, keys, update) {
  const toggle = (key, on) => {
    const next = on ? [...keys, key] : keys.filter((k) => k !== key);
    update({
      keys: all.map((k) => k.key).filter((k) => next.includes(k)).join(",") ||
        "",
    });
  };
  return h(
    "div",
    { class: "toolbar", "data-testid": "parallel-keys" },
    h("span", { class: "muted" }, "axes:"),
    all.map((k) =>
      h(
        "label",
        {},
        h("input", {
          type: "checkbox",
          checked: keys.includes(k.key),
          "aria-label": `axis ${k.key}`,
          onchange: (e) => toggle(k.key, e.target.checked),
        }),
        ` ${k.key}`,
      )
    ),
  );
}

async function drawParallel(card, keys, metric, params) {
  const q = scopeQuery(params, { keys: keys.join(",") });
  if (metric) { for (const [k, v] of Object.entries(metric)) q.set(k, v); }
  let data;
  try {
    data = await api(`/api/params/parallel?${q}`);
  } catch (e) {
    card.append(errorBox(e));
    return;
  }
  const hover = h("div", { class: "muted", "data-testid": "parallel-hover" });
  card.append(
    h("p", { "data-testid": "parallel-count" }, countText(data)),
    data.rows.length
      ? h("div", { class: "plot-wrap" }, parallelSvg(data, metric, hover))
      : h("p", { class: "muted" }, "Nothing to draw."),
    hover,
  );
}

function countText(data) {
  const n = data.rows.length;
  if (data.total > n) {
    return `${nf.format(data.total)} specimens matched; only the newest ${
      nf.format(n)
    } are shown (the limit is ${nf.format(data.limit)}).`;
  }
  return `${nf.format(n)} specimen${n === 1 ? "" : "s"}, one line each.`;
}

/**
 * An axis per key (and the metric): its label, its ticks, and `at(v)`, the
 * height of a value (NA_Y when absent).
 */
function makeAxes(data, metric) {
  const axes = data.axes.map((a, i) => {
    const vals = data.rows.map((r) => r.values[i]).filter((v) => v !== null);
    return a.kind === "number"
      ? numberAxis(a.key, vals)
      : categoryAxis(a.key, vals);
  });
  if (metric) {
    const ys = data.rows.map((r) => r.y).filter((v) => v !== null);
    axes.push(numberAxis(metricLabel(metric), ys));
  }
  return axes;
}

function numberAxis(label, vals) {
  if (!vals.length) return { label, ticks: [], at: () => NA_Y };
  const log = suitsLog(vals);
  const s = scale(vals, BOTTOM, M.t, log);
  return {
    label: log ? `${label} (log)` : label,
    ticks: s.ticks().map((t) => [s(t), fmtNum(t)]),
    at: (v) => v === null || v === undefined ? NA_Y : s(v),
  };
}

function categoryAxis(label, vals) {
  const cats = [...new Set(vals.map(String))].sort();
  const step = cats.length > 1 ? (BOTTOM - M.t) / (cats.length - 1) : 0;
  const pos = new Map(
    cats.map((
      c,
      i,
    ) => [c, cats.length > 1 ? BOTTOM - i * step : (BOTTOM + M.t) / 2]),
  );
  return {
    label,
    ticks: cats.map((c) => [pos.get(c), c]),
    at: (v) => v === null || v === undefined ? NA_Y : pos.get(String(v)),
  };
}

function axisEls(axis, x) {
  return [
    svg("line", { x1: x, x2: x, y1: M.t, y2: BOTTOM, class: "axis" }),
    svg("text", { x, y: M.t - 12, class: "label mid" }, axis.label),
    axis.ticks.map(([y, text]) => [
      svg("line", { x1: x - 4, x2: x, y1: y, y2: y, class: "axis" }),
      svg("text", { x: x - 6, y: y + 4, class: "tick end" }, text),
    ]),
    svg("text", { x: x - 6, y: NA_Y + 4, class: "tick end muted" }, "n/a"),
  ];
}

/** Colours by the metric, from blue (lowest) to red (highest). */
function colorScale(rows, metric) {
  const ys = rows.map((r) => r.y).filter((v) => v !== null && v !== undefined);
  if (!metric || !ys.length) return () => "#1f77b4";
  const lo = Math.min(...ys), hi = Math.max(...ys);
  return (y) =>
    y === null || y === undefined
      ? "#98a2b3"
      : ramp(hi > lo ? (y - lo) / (hi - lo) : 0.5);
}

function specimenLine(row, axes, xs, metric, color, hover) {
  const heights = [...row.values, ...(metric ? [row.y] : [])]
    .map((v, i) => axes[i].at(v));
  const what = `${row.id}: ${
    row.values.map((v, i) => `${axes[i].label} = ${v ?? "n/a"}`).join(", ")
  }${metric ? `, ${metricLabel(metric)} = ${fmtNum(row.y) || "n/a"}` : ""}`;
  return svg(
    "polyline",
    {
      points: heights.map((y, i) => `${xs[i]},${y}`).join(" "),
      stroke: color(row.y),
      "data-specimen": row.id,
      onmouseenter: () => hover.textContent = what,
      onclick: () => setHash(`/s/${encodeURIComponent(row.id)}`),
    },
    svg("title", {}, what),
  );
}

function parallelSvg(data, metric, hover) {
  const axes = makeAxes(data, metric);
  const xs = axes.map((_, i) => M.side + i * GAP);
  const width = M.side * 2 + (axes.length - 1) * GAP;
  const color = colorScale(data.rows, metric);
  return svg(
    "svg",
    {
      class: "plot parallel",
      viewBox: `0 0 ${width} ${H}`,
      width,
      height: H,
      "data-testid": "parallel",
    },
    svg(
      "g",
      { class: "lines" },
      data.rows.map((r) => specimenLine(r, axes, xs, metric, color, hover)),
    ),
    axes.map((a, i) => axisEls(a, xs[i])),
  );
}

// The scatter page: a final/min/max metric against a numeric param, one
// point per specimen (an SVG circle with data-specimen, linking to its
// page; hover names it), optionally coloured by a second param (a legend
// says how). It opens on something to see: a param that varies among the
// specimens in scope (tag, id prefix) and the metric most of those have.
import { errorBox, h, main } from "../dom.js";
import { api } from "../api.js";
import { fmtNum, nf } from "../format.js";
import { noCatalogOr } from "../nav.js";
import { ramp, scale, suitsLog, svg } from "../svg.js";
import {
  chosenMetric,
  keySelect,
  loadChoices,
  loadMetrics,
  metricControls,
  metricLabel,
  scopeControls,
  scopeQuery,
  updater,
  varyingKeys,
} from "./param_views.js";

const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

const W = 760, H = 420, M = { l: 70, r: 20, t: 16, b: 46 };

export async function scatterPage(params) {
  main.replaceChildren(h("h1", {}, "Scatter"));
  let choices;
  try {
    choices = await loadChoices();
  } catch (e) {
    main.append(noCatalogOr(e));
    return;
  }
  const update = updater("/scatter", params);
  const numeric = choices.keys.filter((k) => k.numeric > 0);
  const scope = h(
    "div",
    { class: "toolbar" },
    scopeControls(choices.tags, params, update),
  );
  main.append(scope);
  const varying = varyingKeys(choices.keys, true);
  const param = numeric.some((k) => k.key === params.get("param"))
    ? params.get("param")
    : (varying[0] ?? numeric[0])?.key;
  const tables = param
    ? await loadMetrics(params, param).catch(() => ({}))
    : {};
  const metric = param ? chosenMetric(tables, params) : null;
  if (!param || !metric) {
    main.append(h(
      "p",
      { class: "muted", "data-testid": "scatter-count" },
      !param
        ? "No numeric param among these specimens: record params (deno task create --param lr=3e-4), or widen the tag and prefix."
        : `No metric among the specimens with a numeric ${param}.`,
    ));
    return;
  }
  const others = varyingKeys(choices.keys).filter((k) => k.key !== param);
  const color = others.some((k) => k.key === params.get("color"))
    ? params.get("color")
    : null;
  const card = h("div", { class: "card" });
  main.append(card);
  card.append(h(
    "div",
    { class: "toolbar" },
    keySelect(
      "param",
      "scatter-param",
      numeric,
      param,
      (v) => update({ param: v, metric: null, table: null }),
    ),
    metricControls(tables, metric, update),
    h(
      "label",
      {},
      "colour by ",
      h(
        "select",
        {
          "aria-label": "colour by",
          "data-testid": "scatter-color",
          onchange: (e) => update({ color: e.target.value }),
        },
        h("option", { value: "" }, "(none)"),
        others.map((k) =>
          h("option", { value: k.key, selected: k.key === color }, k.key)
        ),
      ),
    ),
  ));
  await drawScatter(card, params, param, metric, color);
}

async function drawScatter(card, params, param, metric, color) {
  const q = scopeQuery(params, { param, ...metric, color });
  let data;
  try {
    data = await api(`/api/params/scatter?${q}`);
  } catch (e) {
    card.append(errorBox(e));
    return;
  }
  const xs = data.points.map((p) => p.x);
  const canLog = xs.length > 0 && Math.min(...xs) > 0;
  const log = canLog &&
    (params.get("logx") === "1" ||
      (params.get("logx") === null && suitsLog(xs)));
  const hover = h("div", { class: "muted", "data-testid": "scatter-hover" });
  card.append(
    h(
      "div",
      { class: "toolbar" },
      canLog ? logToggle(params, log) : null,
      h("span", { "data-testid": "scatter-count" }, countText(data)),
    ),
    data.points.length
      ? scatterSvg(data, param, metric, log, hover)
      : h("p", { class: "muted" }, "Nothing to draw."),
    data.color && data.points.length ? legend(data) : null,
    hover,
  );
}

/** How points are coloured: by a number (blue to red) or a category. */
function colorOf(data) {
  if (!data.color) return () => null;
  const cs = data.points.map((p) => p.c).filter((c) => c !== null);
  if (data.color_kind === "number") {
    // Log when the values span 100× or more (hidden 32…4096, lr 1e-4…1e-1).
    const t = suitsLog(cs) ? Math.log10 : (v) => v;
    const lo = Math.min(...cs.map(t)), hi = Math.max(...cs.map(t));
    const f = (c) =>
      c === null ? "#98a2b3" : ramp(hi > lo ? (t(c) - lo) / (hi - lo) : 0.5);
    f.range = [Math.min(...cs), Math.max(...cs)];
    return f;
  }
  const cats = [...new Set(cs.map(String))].sort();
  const f = (c) =>
    c === null ? "#98a2b3" : PALETTE[cats.indexOf(String(c)) % PALETTE.length];
  f.cats = cats;
  return f;
}

function legend(data) {
  const f = colorOf(data);
  const items = f.cats
    ? f.cats.slice(0, 20).map((c) => [f(c), c])
    : [[f(f.range[0]), `${fmtNum(f.range[0])} (low)`], [
      f(f.range[1]),
      `${fmtNum(f.range[1])} (high)`,
    ]];
  if (data.points.some((p) => p.c === null)) items.push(["#98a2b3", "n/a"]);
  return h(
    "div",
    { class: "legend", "data-testid": "scatter-legend" },
    h("span", { class: "muted" }, `${data.color}: `),
    items.map(([colour, text]) =>
      h(
        "span",
        { class: "legend-item" },
        h("span", { class: "swatch", style: `background:${colour}` }),
        String(text),
      )
    ),
  );
}

function countText(data) {
  const n = data.points.length;
  const other = data.non_numeric
    ? ` · ${
      nf.format(data.non_numeric)
    } with a non-numeric ${data.param} left out`
    : "";
  return `${nf.format(n)} point${n === 1 ? "" : "s"}${other}`;
}

function logToggle(params, on) {
  return h(
    "label",
    {},
    h("input", {
      type: "checkbox",
      checked: on,
      "data-testid": "log-x",
      onchange: (e) =>
        updater("/scatter", params)({ logx: e.target.checked ? "1" : "0" }),
    }),
    " log x",
  );
}

function axes(x, y, param, metric, log) {
  const out = [];
  for (const t of x.ticks()) {
    out.push(
      svg("line", { x1: x(t), x2: x(t), y1: M.t, y2: H - M.b, class: "grid" }),
      svg("text", { x: x(t), y: H - M.b + 16, class: "tick mid" }, fmtNum(t)),
    );
  }
  for (const t of y.ticks()) {
    out.push(
      svg("line", { x1: M.l, x2: W - M.r, y1: y(t), y2: y(t), class: "grid" }),
      svg("text", { x: M.l - 6, y: y(t) + 4, class: "tick end" }, fmtNum(t)),
    );
  }
  out.push(
    svg(
      "text",
      { x: (M.l + W - M.r) / 2, y: H - 6, class: "label mid" },
      `${param}${log ? " (log)" : ""}`,
    ),
    svg(
      "text",
      {
        x: 14,
        y: (M.t + H - M.b) / 2,
        class: "label mid",
        transform: `rotate(-90 14 ${(M.t + H - M.b) / 2})`,
      },
      metricLabel(metric),
    ),
  );
  return out;
}

function scatterSvg(data, param, metric, log, hover) {
  const x = scale(data.points.map((p) => p.x), M.l, W - M.r, log);
  const y = scale(data.points.map((p) => p.y), H - M.b, M.t);
  const colour = colorOf(data);
  const dots = data.points.map((p) => {
    const what = `${p.id}: ${param} = ${p.x}, ${metricLabel(metric)} = ${
      fmtNum(p.y)
    }${data.color ? `, ${data.color} = ${p.c ?? "n/a"}` : ""}`;
    return svg(
      "a",
      { href: `#/s/${encodeURIComponent(p.id)}` },
      svg(
        "circle",
        {
          cx: x(p.x),
          cy: y(p.y),
          r: 5,
          style: data.color ? `fill:${colour(p.c)}` : undefined,
          "data-specimen": p.id,
          "data-color": data.color ? String(p.c) : undefined,
          onmouseenter: () => hover.textContent = what,
        },
        svg("title", {}, what),
      ),
    );
  });
  return svg(
    "svg",
    {
      class: "plot scatter",
      viewBox: `0 0 ${W} ${H}`,
      width: W,
      height: H,
      "data-testid": "scatter",
    },
    axes(x, y, param, metric, log),
    dots,
  );
}

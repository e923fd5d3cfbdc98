// The scatter page: a final/min/max metric against a numeric param, one
// point per specimen (an SVG circle with data-specimen, linking to its
// page; hover names it).
import { errorBox, h, main } from "../dom.js";
import { api } from "../api.js";
import { fmtNum, nf } from "../format.js";
import { noCatalogOr } from "../nav.js";
import { scale, suitsLog, svg } from "../svg.js";
import {
  chosenMetric,
  keySelect,
  loadChoices,
  metricControls,
  metricLabel,
  updater,
} from "./param_views.js";

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
  const metric = chosenMetric(choices.tables, params);
  if (!numeric.length || !metric) {
    main.append(h(
      "p",
      { class: "muted" },
      numeric.length
        ? "No metric table in the vault to plot."
        : "No numeric param in the vault: record params (deno task create --param lr=3e-4) and index.",
    ));
    return;
  }
  const param = numeric.some((k) => k.key === params.get("param"))
    ? params.get("param")
    : numeric[0].key;
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
      (v) => update({ param: v }),
    ),
    metricControls(choices.tables, metric, update),
  ));
  await drawScatter(card, params, param, metric);
}

async function drawScatter(card, params, param, metric) {
  const q = new URLSearchParams({ param, ...metric });
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
    hover,
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
  const dots = data.points.map((p) => {
    const what = `${p.id}: ${param} = ${p.x}, ${metricLabel(metric)} = ${
      fmtNum(p.y)
    }`;
    return svg(
      "a",
      { href: `#/s/${encodeURIComponent(p.id)}` },
      svg(
        "circle",
        {
          cx: x(p.x),
          cy: y(p.y),
          r: 5,
          "data-specimen": p.id,
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

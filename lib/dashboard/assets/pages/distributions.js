// Histograms (imported from TensorBoard) as distributions over steps: nested
// quantile bands (min–max, 7–93 %, 16–84 %, 31–69 %) and the median, as
// TensorBoard's distribution view draws them. Plain SVG.
import { errorBox, h } from "../dom.js";
import { api } from "../api.js";
import { fmtNum, nf } from "../format.js";
import { scale, svg } from "../svg.js";

const W = 520, H = 220, M = { l: 56, r: 12, t: 10, b: 30 };

function area(steps, lo, hi, x, y) {
  const top = [], bottom = [];
  steps.forEach((s, i) => {
    if (lo[i] === null || hi[i] === null) return;
    top.push(`${x(s).toFixed(1)},${y(hi[i]).toFixed(1)}`);
    bottom.unshift(`${x(s).toFixed(1)},${y(lo[i]).toFixed(1)}`);
  });
  return top.length ? `M${top.join("L")}L${bottom.join("L")}Z` : "";
}

function chart(d) {
  const values = d.bands.flat().filter((v) => v !== null);
  if (!d.steps.length || !values.length) {
    return h("p", { class: "muted" }, d.issue ?? "Nothing to draw.");
  }
  const x = scale(d.steps, M.l, W - M.r);
  const y = scale(values, H - M.b, M.t);
  const n = d.bands.length;
  const bands = [];
  for (let k = 0; k < Math.floor(n / 2); k++) {
    bands.push(svg("path", {
      class: "band",
      d: area(d.steps, d.bands[k], d.bands[n - 1 - k], x, y),
      "fill-opacity": (0.15 + 0.17 * k).toFixed(2),
    }));
  }
  const mid = d.bands[Math.floor(n / 2)];
  const median = d.steps.map((s, i) =>
    mid[i] === null ? null : `${x(s).toFixed(1)},${y(mid[i]).toFixed(1)}`
  ).filter(Boolean);
  const ticks = [
    ...x.ticks().map((t) =>
      svg("text", { x: x(t), y: H - M.b + 16, class: "tick mid" }, fmtNum(t))
    ),
    ...y.ticks().flatMap((t) => [
      svg("line", { x1: M.l, x2: W - M.r, y1: y(t), y2: y(t), class: "grid" }),
      svg("text", { x: M.l - 6, y: y(t) + 4, class: "tick end" }, fmtNum(t)),
    ]),
    svg(
      "text",
      { x: (M.l + W - M.r) / 2, y: H - 2, class: "label mid" },
      "step",
    ),
  ];
  return svg(
    "svg",
    {
      class: "plot distribution",
      viewBox: `0 0 ${W} ${H}`,
      width: W,
      height: H,
      "data-testid": "distribution",
      "data-tag": d.tag,
      "data-steps": d.steps.length,
    },
    ticks,
    bands,
    svg("polyline", { class: "median", points: median.join(" ") }),
  );
}

/** The card of a specimen's histograms, filled once they are loaded. */
export function distributionsCard(id) {
  const body = h(
    "div",
    { class: "distributions" },
    h("p", { class: "muted" }, "Loading…"),
  );
  const card = h(
    "div",
    { class: "card", "data-testid": "histograms" },
    h(
      "h2",
      {},
      "Distributions ",
      h(
        "span",
        { class: "muted" },
        "histograms over steps: min–max, 7–93 %, 16–84 %, 31–69 % bands and the median",
      ),
    ),
    body,
  );
  api(`/api/specimens/${encodeURIComponent(id)}/histograms`).then((r) => {
    body.replaceChildren(
      ...r.histograms.map((d) =>
        h(
          "figure",
          { class: "dist", "data-histogram": d.tag },
          h(
            "figcaption",
            {},
            d.subrun && d.subrun !== "scalars" ? `${d.subrun}/${d.tag}` : d.tag,
            h(
              "span",
              { class: "muted" },
              ` · ${nf.format(d.total_steps)} steps${
                d.steps.length < d.total_steps
                  ? `, ${nf.format(d.steps.length)} drawn`
                  : ""
              }`,
            ),
          ),
          chart(d),
        )
      ),
    );
  }, (e) => body.replaceChildren(errorBox(e)));
  return card;
}

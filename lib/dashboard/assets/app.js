// The dashboard's browser side: hash routes for the catalog, a specimen,
// compare and the SQL console. Every value from the vault is put in the page
// as text (never as HTML), except field notes, which the server renders and
// sanitizes. Charts are uPlot (the global `uPlot`, loaded before this).
/* global uPlot */

const main = document.getElementById("main");
const PALETTE = [
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

// ---------------------------------------------------------------------------
// Small helpers

/** Creates an element: attributes (on* as listeners) and children (text or nodes). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "class") el.className = v;
    else if (k === "style") el.setAttribute("style", v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Tags shown per specimen at most; the rest are counted ("and N more"). */
const MAX_TAGS = 50;

/**
 * The first MAX_TAGS tags of a row, each rendered by `render`, then "and N
 * more" when the row has more (`tag_count` from the server, which sends
 * only the first ones).
 */
function tagList(row, render) {
  const tags = (row.tags ?? []).slice(0, MAX_TAGS);
  const total = Math.max(Number(row.tag_count ?? 0), row.tags?.length ?? 0);
  const out = tags.map(render);
  if (total > tags.length) {
    out.push(
      h("span", { class: "muted" }, ` and ${total - tags.length} more`),
    );
  }
  return out;
}

class ApiError extends Error {
  constructor(message, kind, status) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

async function api(path, init) {
  const res = await fetch(path, init);
  const type = res.headers.get("content-type") ?? "";
  const body = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    throw new ApiError(
      body?.error ?? String(body),
      body?.kind ?? "http",
      res.status,
    );
  }
  return body;
}

function errorBox(e) {
  return h("div", { class: "error", role: "alert" }, e.message ?? String(e));
}

const nf = new Intl.NumberFormat("en-US");
function fmtNum(v) {
  if (v === null || v === undefined) return "";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return nf.format(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6)
    ? v.toExponential(4)
    : v.toPrecision(6).replace(/\.?0+$/, "");
}
function fmtDate(v) {
  if (!v) return "";
  const d = new Date(v);
  return isNaN(d)
    ? String(v)
    : d.toISOString().replace("T", " ").slice(0, 16) + "Z";
}
function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}
function cellText(v) {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return { path, params: new URLSearchParams(query) };
}
function setHash(path, params, replace = false) {
  const q = params && [...params].length ? `?${params}` : "";
  const url = `#${path}${q}`;
  if (replace) history.replaceState(null, "", url);
  else location.hash = url;
}
function debounce(fn, ms) {
  let t;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}

// Specimens picked for comparison, kept across pages of this tab.
const picked = new Set(JSON.parse(sessionStorage.getItem("sv.picked") ?? "[]"));
function savePicked() {
  sessionStorage.setItem("sv.picked", JSON.stringify([...picked]));
}

// ---------------------------------------------------------------------------
// Charts: uPlot with server-side downsampling; drag to zoom refetches the
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
class ChartGroup {
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
      axes: [{}, { size: 64, values: (_u, ticks) => ticks.map(fmtNum) }],
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

function chartToolbar(group, extra = []) {
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

function curveUrl({ ids, columns, table, range, width }) {
  const p = new URLSearchParams({
    ids: ids.join(","),
    columns: columns.join(","),
    table,
    width: String(Math.round(width)),
  });
  if (range) {
    p.set("x0", String(range[0]));
    p.set("x1", String(range[1]));
  }
  return `/api/curves?${p}`;
}

// ---------------------------------------------------------------------------
// Catalog page

const FACET_LABELS = {
  domain: "domain",
  method: "method",
  model: "model",
  status: "status",
  tag: "tag",
};
const SORTABLE = [
  ["specimen_id", "id"],
  ["created", "created"],
  ["domain", "domain"],
  ["method", "method"],
  ["model", "model"],
  [null, "tags"],
  ["status", "status"],
  ["metrics_rows", "rows"],
];

async function catalogPage(params) {
  const pageSize = 100;
  const q = new URLSearchParams(params);
  q.set("limit", String(pageSize));
  let data;
  try {
    data = await api(`/api/catalog?${q}`);
  } catch (e) {
    main.replaceChildren(h("h1", {}, "Catalog"), noCatalogOr(e));
    return;
  }
  const update = (changes, replace = false) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === "" || v === undefined) next.delete(k);
      else next.set(k, v);
    }
    if (!("offset" in changes)) next.delete("offset");
    setHash("/", next, replace);
    if (replace) route();
  };
  const facetSelect = (key) => {
    const values = data.facets[key] ?? [];
    return h(
      "select",
      {
        "data-facet": key,
        "aria-label": key,
        onchange: (e) => update({ [key]: e.target.value }),
      },
      h("option", { value: "" }, `any ${FACET_LABELS[key]}`),
      values.map(([v, n]) =>
        h(
          "option",
          { value: v, selected: params.get(key) === v },
          `${v} (${nf.format(n)})`,
        )
      ),
    );
  };
  const search = h("input", {
    type: "search",
    placeholder: "Search id, description, tags, model…",
    value: params.get("q") ?? "",
    "aria-label": "search",
    oninput: debounce((e) => update({ q: e.target.value }, true), 300),
  });
  const sort = data.sort, order = data.order;
  const head = h(
    "tr",
    {},
    h("th", {}, ""),
    SORTABLE.map(([key, label]) =>
      h(
        "th",
        {
          class: key ? "sortable" + (key === "metrics_rows" ? " num" : "") : "",
          onclick: key
            ? () =>
              update({
                sort: key,
                order: sort === key && order === "desc" ? "asc" : "desc",
              })
            : null,
        },
        label,
        key === sort ? (order === "desc" ? " ▼" : " ▲") : "",
      )
    ),
  );
  const compareBtn = h("button", {
    class: "primary",
    "data-testid": "compare-picked",
  });
  const refreshCompare = () => {
    compareBtn.textContent = `Compare selected (${picked.size})`;
    compareBtn.disabled = picked.size === 0;
  };
  compareBtn.onclick = () =>
    setHash("/compare", new URLSearchParams({ ids: [...picked].join(",") }));
  refreshCompare();
  const rows = data.rows.map((r) =>
    h(
      "tr",
      { "data-id": r.specimen_id },
      h(
        "td",
        {},
        h("input", {
          type: "checkbox",
          "aria-label": `pick ${r.specimen_id}`,
          checked: picked.has(r.specimen_id),
          onchange: (e) => {
            if (e.target.checked) picked.add(r.specimen_id);
            else picked.delete(r.specimen_id);
            savePicked();
            refreshCompare();
          },
        }),
      ),
      h(
        "td",
        {},
        h(
          "a",
          { href: `#/s/${encodeURIComponent(r.specimen_id)}` },
          r.specimen_id,
        ),
        r.description ? h("div", { class: "muted" }, r.description) : null,
      ),
      h("td", {}, fmtDate(r.created)),
      h("td", {}, r.domain),
      h("td", {}, r.method),
      h("td", {}, r.model ?? ""),
      h(
        "td",
        {},
        tagList(
          r,
          (t) =>
            h("span", { class: "tag", onclick: () => update({ tag: t }) }, t),
        ),
      ),
      h(
        "td",
        {},
        h("span", { class: "status-pill" }, r.status ?? ""),
        r.issues
          ? h(
            "span",
            { class: "muted", title: "indexing issues" },
            ` ⚠ ${r.issues}`,
          )
          : null,
      ),
      h("td", { class: "num" }, fmtNum(r.metrics_rows)),
    )
  );
  const first = data.matched ? data.offset + 1 : 0;
  const last = data.offset + data.rows.length;
  const pager = h(
    "div",
    { class: "pager" },
    h("button", {
      disabled: data.offset === 0,
      onclick: () =>
        update({ offset: String(Math.max(0, data.offset - pageSize)) }),
    }, "← Prev"),
    h(
      "span",
      { "data-testid": "counts" },
      `${nf.format(first)}–${nf.format(last)} of ${
        nf.format(data.matched)
      } matching · ${nf.format(data.total)} specimens in the vault`,
    ),
    h("button", {
      disabled: last >= data.matched,
      onclick: () => update({ offset: String(data.offset + pageSize) }),
    }, "Next →"),
  );
  const filterIds = () => {
    const f = new URLSearchParams(params);
    f.delete("offset");
    setHash("/compare", new URLSearchParams({ filter: f.toString() }));
  };
  main.replaceChildren(
    h("h1", {}, "Catalog"),
    h(
      "div",
      { class: "card" },
      h(
        "div",
        { class: "filters" },
        search,
        ...["domain", "method", "model", "status", "tag"].map(facetSelect),
        h(
          "label",
          {},
          "from ",
          h("input", {
            type: "date",
            value: params.get("since") ?? "",
            onchange: (e) => update({ since: e.target.value }),
          }),
        ),
        h(
          "label",
          {},
          "to ",
          h("input", {
            type: "date",
            value: params.get("until") ?? "",
            onchange: (e) => update({ until: e.target.value }),
          }),
        ),
        h(
          "button",
          { onclick: () => setHash("/", new URLSearchParams()) },
          "Clear",
        ),
      ),
      h(
        "div",
        { class: "toolbar" },
        compareBtn,
        h("button", {
          onclick: filterIds,
          disabled: !data.matched,
          title: "Overlay the first 20 specimens that match these filters",
        }, "Compare matching (first 20)"),
        h("button", {
          onclick: () => {
            picked.clear();
            savePicked();
            route();
          },
        }, "Clear selection"),
      ),
      h(
        "table",
        { class: "grid", "data-testid": "catalog" },
        h("thead", {}, head),
        h("tbody", {}, rows),
      ),
      pager,
    ),
  );
  if (params.get("q")) {
    search.focus();
    search.setSelectionRange(search.value.length, search.value.length);
  }
}

function noCatalogOr(e) {
  if (e.kind === "no_catalog") {
    return h(
      "div",
      { class: "banner" },
      "No catalog yet. Run ",
      h("code", {}, "deno task index"),
      " in the vault; this page picks it up without a restart. ",
      h("button", { onclick: () => route() }, "Retry"),
    );
  }
  return errorBox(e);
}

// ---------------------------------------------------------------------------
// Specimen page

async function specimenPage(id) {
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  let d;
  try {
    d = await api(`/api/specimens/${encodeURIComponent(id)}`);
  } catch (e) {
    main.replaceChildren(h("h1", {}, id), noCatalogOr(e));
    return;
  }
  const s = d.specimen;
  const header = h(
    "div",
    { class: "card" },
    h("h1", { "data-testid": "specimen-id" }, s.specimen_id),
    h(
      "div",
      { class: "muted" },
      `${s.domain} / ${s.method}`,
      s.model ? ` · ${s.model}` : "",
      ` · ${s.status} · created ${fmtDate(s.created)}`,
    ),
    h(
      "div",
      {},
      tagList(
        s,
        (t) =>
          h("a", { class: "tag", href: `#/?tag=${encodeURIComponent(t)}` }, t),
      ),
    ),
    s.description ? h("p", {}, s.description) : null,
    s.issues?.length
      ? h(
        "div",
        { class: "banner" },
        h("strong", {}, "Indexing issues: "),
        h("ul", {}, s.issues.map((i) => h("li", {}, i))),
      )
      : null,
    h(
      "div",
      { class: "toolbar" },
      h("button", {
        onclick: () => {
          picked.add(s.specimen_id);
          savePicked();
          setHash(
            "/compare",
            new URLSearchParams({ ids: [...picked].join(",") }),
          );
        },
      }, "Add to compare"),
    ),
  );
  main.replaceChildren(header);

  // Metrics: one chart per column, a shared zoom.
  for (const t of d.metric_tables) {
    const numeric = (t.columns ?? []).filter((c) =>
      c.name !== "step" && /INT|FLOAT|DOUBLE|DECIMAL/.test(c.type)
    ).map((c) => c.name);
    const card = h(
      "div",
      { class: "card", "data-table": t.name },
      h(
        "h2",
        {},
        `Metrics: ${t.name} `,
        h("span", { class: "muted" }, `${nf.format(t.rows)} rows`),
      ),
    );
    main.append(card);
    if (t.issue) card.append(h("div", { class: "banner" }, t.issue));
    if (!numeric.length || !(t.columns ?? []).some((c) => c.name === "step")) {
      card.append(
        h(
          "p",
          { class: "muted" },
          "No numeric columns against a step column to draw.",
        ),
      );
      continue;
    }
    const shown = new Set(numeric.slice(0, 8));
    const chartsEl = h("div", { class: "charts" });
    const group = new ChartGroup(chartsEl, async (range, width) => {
      const cols = numeric.filter((c) => shown.has(c));
      if (!cols.length) return [];
      const r = await api(
        curveUrl({
          ids: [s.specimen_id],
          columns: cols,
          table: t.name,
          range,
          width,
        }),
      );
      return cols.map((c) => ({
        title: c,
        series: r.series.filter((x) => x.column === c).map((x) => ({
          ...x,
          label: c,
        })),
      })).filter((c) => c.series.length);
    });
    const toggles = h(
      "span",
      {},
      numeric.map((c) =>
        h(
          "label",
          {},
          h("input", {
            type: "checkbox",
            checked: shown.has(c),
            "data-metric": c,
            onchange: (e) => {
              if (e.target.checked) shown.add(c);
              else shown.delete(c);
              group.reload();
            },
          }),
          c,
        )
      ),
    );
    card.append(chartToolbar(group, [toggles]), chartsEl);
    group.reload(null);
  }

  if (d.tensors.length) main.append(tensorCard(s.specimen_id, d.tensors));

  if (d.notes_html !== null) {
    const notes = h("div", { class: "notes", "data-testid": "notes" });
    notes.innerHTML = d.notes_html; // rendered and sanitized by the server
    main.append(h("div", { class: "card" }, h("h2", {}, "Field notes"), notes));
  }

  const prov = s.provenance ?? {};
  main.append(
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Manifest and provenance"),
      h(
        "dl",
        { class: "meta" },
        h("dt", {}, "path"),
        h("dd", {}, s.path),
        h("dt", {}, "dependencies"),
        h(
          "dd",
          {},
          Object.entries(s.dependencies ?? {}).map(([k, v]) => `${k} ${v}`)
            .join(", ") || "none",
        ),
        prov.git ? [h("dt", {}, "git"), h("dd", {}, cellText(prov.git))] : null,
        prov.runtime
          ? [h("dt", {}, "runtime"), h("dd", {}, cellText(prov.runtime))]
          : null,
        h("dt", {}, "indexed"),
        h("dd", {}, fmtDate(s.indexed_at)),
      ),
      h(
        "details",
        {},
        h("summary", {}, "provenance"),
        h(
          "pre",
          { class: "json" },
          JSON.stringify(s.provenance ?? null, null, 2),
        ),
      ),
      h(
        "details",
        {},
        h("summary", {}, "artifacts"),
        h(
          "pre",
          { class: "json" },
          JSON.stringify(s.artifacts ?? null, null, 2),
        ),
      ),
      h(
        "details",
        {},
        h("summary", {}, "manifest"),
        h(
          "pre",
          { class: "json" },
          JSON.stringify(s.manifest ?? null, null, 2),
        ),
      ),
    ),
  );
}

// Viridis, 9 anchors, interpolated to 256 colors.
const VIRIDIS = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];
const LUT = (() => {
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (VIRIDIS.length - 1);
    const a = Math.floor(t), b = Math.min(a + 1, VIRIDIS.length - 1), f = t - a;
    for (let k = 0; k < 3; k++) {
      lut[i * 3 + k] = VIRIDIS[a][k] * (1 - f) + VIRIDIS[b][k] * f;
    }
  }
  return lut;
})();

function tensorCard(id, tensors) {
  const panel = h("div", { "data-testid": "tensor-panel" });
  const show = async (t) => {
    const shape = t.shape ?? [];
    const inputs = shape.map((n, axis) =>
      h("input", {
        type: "text",
        "data-axis": String(axis),
        title: `axis ${axis}: an index, or start:stop (0–${n})`,
      })
    );
    const status = h("span", { class: "muted" });
    const canvas = h("canvas", { class: "heatmap", "data-testid": "heatmap" });
    const bar = h("canvas", { class: "colorbar", width: 256, height: 1 });
    const barCtx = bar.getContext("2d");
    const barImg = barCtx.createImageData(256, 1);
    for (let i = 0; i < 256; i++) {
      barImg.data.set([LUT[i * 3], LUT[i * 3 + 1], LUT[i * 3 + 2], 255], i * 4);
    }
    barCtx.putImageData(barImg, 0, 0);
    const legend = h("div", { class: "muted" });
    const hover = h(
      "div",
      { class: "muted", "data-testid": "heatmap-hover" },
      " ",
    );
    const load = async (sel) => {
      status.textContent = "reading…";
      const p = new URLSearchParams();
      if (sel !== undefined) p.set("sel", sel);
      let r;
      try {
        r = await api(
          `/api/specimens/${encodeURIComponent(id)}/tensors/${
            encodeURIComponent(t.name)
          }?${p}`,
        );
      } catch (e) {
        status.replaceChildren(errorBox(e));
        return;
      }
      const parts = r.sel === "" ? [] : r.sel.split(",");
      parts.forEach((v, i) => (inputs[i].value = v));
      const bytes = Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0));
      const vals = new Float32Array(bytes.buffer);
      const [rows, cols] = r.shape;
      canvas.width = cols;
      canvas.height = rows;
      const scale = Math.max(1, Math.min(8, 900 / cols, 480 / rows));
      canvas.style.width = `${cols * scale}px`;
      canvas.style.height = `${rows * scale}px`;
      const ctx = canvas.getContext("2d");
      const img = ctx.createImageData(cols, rows);
      const lo = r.min ?? 0, span = (r.max ?? 1) - lo || 1;
      for (let i = 0; i < vals.length; i++) {
        const v = vals[i];
        const o = i * 4;
        if (!isFinite(v)) {
          img.data.set([255, 0, 255, 255], o);
          continue;
        }
        const k =
          Math.max(0, Math.min(255, Math.round(((v - lo) / span) * 255))) * 3;
        img.data[o] = LUT[k];
        img.data[o + 1] = LUT[k + 1];
        img.data[o + 2] = LUT[k + 2];
        img.data[o + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
      legend.textContent = `${rows}×${cols} of [${shape.join(", ")}] · min ${
        fmtNum(r.min)
      } · mean ${fmtNum(r.mean)} · max ${fmtNum(r.max)}`;
      status.textContent = "";
      const ranges = parts.map((p, i) => [i, p]).filter(([, p]) =>
        p.includes(":")
      );
      const starts = ranges.map(([, p]) => Number(p.split(":")[0]));
      canvas.onmousemove = (e) => {
        const rect = canvas.getBoundingClientRect();
        const c = Math.floor(((e.clientX - rect.left) / rect.width) * cols);
        const rr = Math.floor(((e.clientY - rect.top) / rect.height) * rows);
        if (c < 0 || c >= cols || rr < 0 || rr >= rows) return;
        const at = ranges.length === 2
          ? `[${rr + starts[0]}, ${c + starts[1]}]`
          : `[${c + (starts[0] ?? 0)}]`;
        hover.textContent = `${at} = ${fmtNum(vals[rr * cols + c])}`;
      };
    };
    const apply = () => load(inputs.map((i) => i.value.trim()).join(","));
    panel.replaceChildren(
      h("h2", {}, `Heatmap: ${t.name}`),
      h(
        "div",
        { class: "toolbar axis-inputs" },
        inputs.map((inp, axis) =>
          h("label", {}, `axis ${axis} (${shape[axis]})`, inp)
        ),
        h("button", { class: "primary", onclick: apply }, "Show slice"),
        status,
      ),
      h(
        "p",
        { class: "muted" },
        "Each axis takes an index or a range start:stop; two ranges make the heatmap (up to 512×512 values, read lazily: only the chunks the slice touches).",
      ),
      h(
        "div",
        { class: "heatmap-wrap" },
        canvas,
        h(
          "div",
          {},
          legend,
          h("div", {}, bar),
          h("div", { class: "muted" }, "low → high"),
          hover,
        ),
      ),
    );
    for (const inp of inputs) {
      inp.addEventListener("keydown", (e) => e.key === "Enter" && apply());
    }
    await load(undefined);
  };
  const table = h(
    "table",
    { class: "grid" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["name", "shape", "dtype", "chunks", "codecs", "bytes", ""].map((c) =>
          h("th", { class: c === "bytes" ? "num" : "" }, c)
        ),
      ),
    ),
    h(
      "tbody",
      {},
      tensors.map((t) =>
        h(
          "tr",
          {},
          h("td", {}, t.name),
          h("td", {}, `[${(t.shape ?? []).join(", ")}]`),
          h("td", {}, t.dtype ?? ""),
          h("td", {}, `[${(t.chunks ?? []).join(", ")}]`),
          h("td", {}, (t.codecs ?? []).join(" + ")),
          h("td", { class: "num" }, fmtBytes(t.bytes)),
          h("td", {}, h("button", { onclick: () => show(t) }, "Preview")),
        )
      ),
    ),
  );
  const card = h(
    "div",
    { class: "card" },
    h("h2", {}, "Tensors"),
    table,
    panel,
  );
  show(tensors[0]);
  return card;
}

// ---------------------------------------------------------------------------
// Compare page

async function comparePage(params) {
  let ids = (params.get("ids") ?? "").split(",").filter(Boolean);
  if (params.get("filter") !== null) {
    const f = new URLSearchParams(params.get("filter"));
    f.set("limit", "20");
    try {
      const r = await api(`/api/catalog?${f}`);
      ids = r.rows.map((x) => x.specimen_id);
    } catch (e) {
      main.replaceChildren(h("h1", {}, "Compare"), errorBox(e));
      return;
    }
    setHash("/compare", new URLSearchParams({ ids: ids.join(",") }), true);
  }
  const go = (next) => {
    const p = new URLSearchParams(params);
    p.delete("filter");
    for (const [k, v] of Object.entries(next)) {
      if (v) p.set(k, v);
      else p.delete(k);
    }
    setHash("/compare", p);
  };
  const addInput = h("input", {
    type: "search",
    placeholder: "Add a specimen: type part of an id…",
    list: "sv-ids",
    "aria-label": "add specimen",
  });
  const datalist = h("datalist", { id: "sv-ids" });
  addInput.addEventListener(
    "input",
    debounce(async () => {
      const v = addInput.value.trim();
      if (!v) return;
      const r = await api(
        `/api/catalog?${new URLSearchParams({
          q: v,
          limit: "20",
          sort: "specimen_id",
          order: "asc",
        })}`,
      ).catch(() => null);
      datalist.replaceChildren(
        ...(r?.rows ?? []).map((x) => h("option", { value: x.specimen_id })),
      );
    }, 200),
  );
  const add = () => {
    const v = addInput.value.trim();
    if (v && !ids.includes(v)) go({ ids: [...ids, v].join(",") });
  };
  addInput.addEventListener("keydown", (e) => e.key === "Enter" && add());
  const chips = h(
    "div",
    { class: "chips" },
    ids.map((id, i) =>
      h(
        "span",
        { class: "chip" },
        h("span", {
          class: "swatch",
          style: `background:${PALETTE[i % PALETTE.length]}`,
        }),
        h("a", { href: `#/s/${encodeURIComponent(id)}` }, id),
        h("button", {
          title: `remove ${id}`,
          onclick: () => go({ ids: ids.filter((x) => x !== id).join(",") }),
        }, "×"),
      )
    ),
  );
  const picker = h(
    "div",
    { class: "card" },
    h("h1", {}, "Compare"),
    h(
      "p",
      { class: "muted" },
      "Overlay one metric across specimens. Pick them in the catalog (checkboxes, or “Compare matching”), or add them here.",
    ),
    chips,
    h(
      "div",
      { class: "toolbar" },
      addInput,
      datalist,
      h("button", { onclick: add }, "Add"),
    ),
  );
  main.replaceChildren(picker);
  if (ids.length === 0) return;
  let cols;
  try {
    cols = await api(`/api/columns?ids=${encodeURIComponent(ids.join(","))}`);
  } catch (e) {
    main.append(errorBox(e));
    return;
  }
  const tables = Object.keys(cols.tables);
  if (!tables.length) {
    main.append(
      h("p", { class: "muted" }, "These specimens have no metric tables."),
    );
    return;
  }
  const table = tables.includes(params.get("table"))
    ? params.get("table")
    : tables[0];
  const metrics = cols.tables[table];
  const metric = metrics.some((m) => m.name === params.get("metric"))
    ? params.get("metric")
    : metrics[0]?.name;
  const card = h("div", { class: "card" });
  main.append(card);
  if (!metric) {
    card.append(
      h("p", { class: "muted" }, "No numeric metric column in this table."),
    );
    return;
  }
  const chartsEl = h("div", {
    class: "charts",
    style: "grid-template-columns: 1fr",
  });
  const group = new ChartGroup(chartsEl, async (range, width) => {
    const r = await api(
      curveUrl({ ids, columns: [metric], table, range, width }),
    );
    return [{
      title: `${metric} (${table})`,
      series: r.series.map((s) => ({ ...s, label: s.specimen_id })),
    }];
  });
  const metricSelect = h(
    "select",
    {
      "aria-label": "metric",
      "data-testid": "metric",
      onchange: (e) => go({ metric: e.target.value }),
    },
    metrics.map((m) =>
      h(
        "option",
        { value: m.name, selected: m.name === metric },
        `${m.name} (${m.specimens}/${ids.length})`,
      )
    ),
  );
  const tableSelect = tables.length > 1
    ? h("select", {
      "aria-label": "table",
      onchange: (e) => go({ table: e.target.value, metric: "" }),
    }, tables.map((t) => h("option", { value: t, selected: t === table }, t)))
    : null;
  const stats = h("div", { "data-testid": "summary" });
  card.append(
    chartToolbar(group, [
      h("label", {}, "metric ", metricSelect),
      tableSelect ? h("label", {}, "table ", tableSelect) : null,
    ]),
    chartsEl,
    h("h2", { style: "margin-top:14px" }, "Summary"),
    stats,
  );
  group.reload(null);
  try {
    const s = await api(
      `/api/summary?${new URLSearchParams({
        ids: ids.join(","),
        column: metric,
        table,
      })}`,
    );
    stats.append(
      h(
        "table",
        { class: "grid" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["specimen", "final step", "final", "min", "max", "points"].map((
              c,
              i,
            ) => h("th", { class: i ? "num" : "" }, c)),
          ),
        ),
        h(
          "tbody",
          {},
          s.rows.map((r) =>
            h(
              "tr",
              { "data-id": r.specimen_id },
              h(
                "td",
                {},
                h("span", {
                  class: "swatch",
                  style: `background:${
                    PALETTE[ids.indexOf(r.specimen_id) % PALETTE.length]
                  }`,
                }),
                h(
                  "a",
                  { href: `#/s/${encodeURIComponent(r.specimen_id)}` },
                  r.specimen_id,
                ),
              ),
              h("td", { class: "num" }, fmtNum(r.final_step)),
              h("td", { class: "num" }, fmtNum(r.final)),
              h("td", { class: "num" }, fmtNum(r.min)),
              h("td", { class: "num" }, fmtNum(r.max)),
              h("td", { class: "num" }, fmtNum(r.n)),
            )
          ),
        ),
      ),
      ...(s.missing.length
        ? [h(
          "p",
          { class: "muted" },
          `Not drawn: ${
            s.missing.map((m) => `${m.specimen_id} (${m.reason})`).join("; ")
          }`,
        )]
        : []),
    );
  } catch (e) {
    stats.append(errorBox(e));
  }
}

// ---------------------------------------------------------------------------
// SQL console

const EXAMPLES = [
  [
    "Specimens per method",
    "SELECT domain, method, count(*) AS specimens\nFROM catalog\nGROUP BY ALL\nORDER BY specimens DESC",
  ],
  [
    "Final loss per specimen",
    "SELECT specimen_id, arg_max(loss, step) AS final_loss, max(step) AS steps\nFROM metrics\nGROUP BY specimen_id\nORDER BY final_loss",
  ],
  [
    "Tensors",
    "SELECT specimen_id, name, shape, dtype, bytes\nFROM tensors\nORDER BY bytes DESC",
  ],
];

function sqlPage() {
  const editor = h("textarea", {
    class: "sql",
    spellcheck: "false",
    "aria-label": "SQL",
    "data-testid": "sql",
  });
  editor.value = localStorage.getItem("sv.sql") ??
    "SELECT specimen_id, created, domain, method, model, tags\nFROM catalog\nORDER BY created DESC\nLIMIT 100";
  const status = h("span", { class: "muted", "data-testid": "sql-status" });
  const out = h("div", {});
  const run = async () => {
    localStorage.setItem("sv.sql", editor.value);
    status.textContent = "running…";
    out.replaceChildren();
    let r;
    try {
      r = await api("/api/sql", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sql: editor.value }),
      });
    } catch (e) {
      status.textContent = "";
      out.replaceChildren(errorBox(e));
      return;
    }
    const shown = r.rows.slice(0, 1000);
    status.textContent = `${nf.format(r.rows.length)} row${
      r.rows.length === 1 ? "" : "s"
    }${
      r.truncated ? ` (stopped at the ${nf.format(r.row_limit)}-row limit)` : ""
    } in ${r.ms.toFixed(1)} ms${
      shown.length < r.rows.length
        ? `; showing the first ${nf.format(shown.length)}`
        : ""
    }`;
    out.replaceChildren(
      h(
        "div",
        { class: "result-wrap" },
        h(
          "table",
          { class: "grid", "data-testid": "sql-result" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              r.columns.map((c) => h("th", { title: c.type }, c.name)),
            ),
          ),
          h(
            "tbody",
            {},
            shown.map((row) =>
              h(
                "tr",
                {},
                row.map((v) =>
                  h(
                    "td",
                    { class: typeof v === "number" ? "num" : "" },
                    cellText(v),
                  )
                ),
              )
            ),
          ),
        ),
      ),
    );
  };
  const download = async () => {
    status.textContent = "preparing CSV…";
    try {
      const res = await fetch("/api/sql", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sql: editor.value, format: "csv" }),
      });
      if (!res.ok) throw new Error((await res.json()).error);
      const blob = await res.blob();
      const a = h("a", {
        href: URL.createObjectURL(blob),
        download: "query.csv",
      });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
      status.textContent = res.headers.get("x-truncated") === "true"
        ? `CSV stopped at the ${
          nf.format(Number(res.headers.get("x-row-limit")))
        }-row limit`
        : "CSV downloaded";
    } catch (e) {
      status.textContent = "";
      out.replaceChildren(errorBox(e));
    }
  };
  editor.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  });
  main.replaceChildren(
    h(
      "div",
      { class: "card" },
      h("h1", {}, "SQL"),
      h(
        "p",
        { class: "muted" },
        "Read-only DuckDB SQL on the catalog: catalog, metrics, exp_<id>, metric_tables, tensors. Queries stop at the time and row limits; writes and file access are refused.",
      ),
      h(
        "div",
        { class: "toolbar" },
        "Examples:",
        EXAMPLES.map(([label, q]) =>
          h("button", {
            onclick: () => {
              editor.value = q;
              run();
            },
          }, label)
        ),
      ),
      editor,
      h(
        "div",
        { class: "toolbar" },
        h("button", {
          class: "primary",
          onclick: run,
          "data-testid": "run-sql",
        }, "Run (Ctrl+Enter)"),
        h(
          "button",
          { onclick: download, "data-testid": "download-csv" },
          "Download CSV",
        ),
        status,
      ),
      out,
    ),
  );
  editor.focus();
}

// ---------------------------------------------------------------------------
// Router

async function refreshStatus() {
  const el = document.getElementById("status");
  try {
    const i = await api("/api/info");
    el.textContent = i.catalog.present
      ? `${nf.format(i.catalog.specimens)} specimen${
        i.catalog.specimens === 1 ? "" : "s"
      } · catalog built ${fmtDate(i.catalog.built_at)} · ${i.vault}`
      : `no catalog yet · ${i.vault}`;
  } catch {
    el.textContent = "server unreachable";
  }
}

async function route() {
  const { path, params } = parseHash();
  const section = path.startsWith("/s/")
    ? ""
    : path.startsWith("/compare")
    ? "compare"
    : path.startsWith("/sql")
    ? "sql"
    : "catalog";
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === section);
  }
  refreshStatus();
  if (path.startsWith("/s/")) {
    const id = decodeURIComponent(path.slice(3));
    document.title = `${id} · Specimen Vault`;
    return await specimenPage(id);
  }
  document.title = "Specimen Vault";
  if (section === "compare") return await comparePage(params);
  if (section === "sql") return sqlPage();
  return await catalogPage(params);
}

addEventListener("hashchange", () => route());
route();

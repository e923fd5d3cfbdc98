// The compare page: the chosen specimens' params side by side, and one
// metric's curves overlaid with its final/min/max per specimen.
import { debounce, errorBox, h, main } from "../dom.js";
import { api, curveUrl } from "../api.js";
import { fmtNum } from "../format.js";
import { setHash } from "../nav.js";
import { ChartGroup, chartToolbar, PALETTE } from "../plot.js";
import { paramsCard } from "./compare_params.js";

export async function comparePage(params) {
  const ids = await chosenIds(params);
  if (ids === null) return;
  const go = (next) => {
    const p = new URLSearchParams(params);
    p.delete("filter");
    for (const [k, v] of Object.entries(next)) {
      if (v) p.set(k, v);
      else p.delete(k);
    }
    setHash("/compare", p);
  };
  main.replaceChildren(selectionCard(ids, go));
  if (ids.length === 0) return;
  main.append(paramsCard(ids, params));
  await metricCard(ids, params, go);
}

/** The ids in the URL, or the first 20 matching its filter (null: failed). */
async function chosenIds(params) {
  const ids = (params.get("ids") ?? "").split(",").filter(Boolean);
  if (params.get("filter") === null) return ids;
  const f = new URLSearchParams(params.get("filter"));
  f.set("limit", "20");
  try {
    const r = await api(`/api/catalog?${f}`);
    const found = r.rows.map((x) => x.specimen_id);
    setHash("/compare", new URLSearchParams({ ids: found.join(",") }), true);
    return found;
  } catch (e) {
    main.replaceChildren(h("h1", {}, "Compare"), errorBox(e));
    return null;
  }
}

/** A search box suggesting ids as you type; Enter or "Add" adds one. */
function addSpecimenBar(ids, go) {
  const input = h("input", {
    type: "search",
    placeholder: "Add a specimen: type part of an id…",
    list: "sv-ids",
    "aria-label": "add specimen",
  });
  const datalist = h("datalist", { id: "sv-ids" });
  input.addEventListener(
    "input",
    debounce(async () => {
      const v = input.value.trim();
      if (!v) return;
      const q = { q: v, limit: "20", sort: "specimen_id", order: "asc" };
      const r = await api(`/api/catalog?${new URLSearchParams(q)}`)
        .catch(() => null);
      datalist.replaceChildren(
        ...(r?.rows ?? []).map((x) => h("option", { value: x.specimen_id })),
      );
    }, 200),
  );
  const add = () => {
    const v = input.value.trim();
    if (v && !ids.includes(v)) go({ ids: [...ids, v].join(",") });
  };
  input.addEventListener("keydown", (e) => e.key === "Enter" && add());
  return h(
    "div",
    { class: "toolbar" },
    input,
    datalist,
    h("button", { onclick: add }, "Add"),
  );
}

function selectionCard(ids, go) {
  const chips = ids.map((id, i) =>
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
  );
  return h(
    "div",
    { class: "card" },
    h("h1", {}, "Compare"),
    h(
      "p",
      { class: "muted" },
      "Compare params and overlay one metric across specimens. Pick them in the catalog (checkboxes, or “Compare matching”), or add them here.",
    ),
    h("div", { class: "chips" }, chips),
    addSpecimenBar(ids, go),
  );
}

/** The table and metric chosen in the URL, else the first ones. */
function chooseMetric(cols, params) {
  const tables = Object.keys(cols.tables);
  const table = tables.includes(params.get("table"))
    ? params.get("table")
    : tables[0];
  const metrics = cols.tables[table] ?? [];
  const metric = metrics.some((m) => m.name === params.get("metric"))
    ? params.get("metric")
    : metrics[0]?.name;
  return { tables, table, metrics, metric };
}

function metricSelects(ids, choice, go) {
  const { tables, table, metrics, metric } = choice;
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
  return [
    h("label", {}, "metric ", metricSelect),
    tableSelect ? h("label", {}, "table ", tableSelect) : null,
  ];
}

async function metricCard(ids, params, go) {
  let cols;
  try {
    cols = await api(`/api/columns?ids=${encodeURIComponent(ids.join(","))}`);
  } catch (e) {
    main.append(errorBox(e));
    return;
  }
  const choice = chooseMetric(cols, params);
  const { table, metric } = choice;
  if (!choice.tables.length || !metric) {
    const why = choice.tables.length
      ? "No numeric metric column in this table."
      : "These specimens have no metric tables.";
    main.append(h("div", { class: "card" }, h("p", { class: "muted" }, why)));
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
  const stats = h("div", { "data-testid": "summary" });
  main.append(h(
    "div",
    { class: "card" },
    chartToolbar(group, metricSelects(ids, choice, go)),
    chartsEl,
    h("h2", { style: "margin-top:14px" }, "Summary"),
    stats,
  ));
  group.reload(null);
  await fillSummary(stats, ids, metric, table);
}

async function fillSummary(stats, ids, metric, table) {
  try {
    const s = await api(
      `/api/summary?${new URLSearchParams({
        ids: ids.join(","),
        column: metric,
        table,
      })}`,
    );
    stats.append(summaryTable(s.rows, ids));
    if (s.missing.length) {
      const why = s.missing.map((m) => `${m.specimen_id} (${m.reason})`);
      stats.append(h("p", { class: "muted" }, `Not drawn: ${why.join("; ")}`));
    }
  } catch (e) {
    stats.append(errorBox(e));
  }
}

function summaryTable(rows, ids) {
  const heads = ["specimen", "final step", "final", "min", "max", "points"];
  const num = (v) => h("td", { class: "num" }, fmtNum(v));
  return h(
    "table",
    { class: "grid" },
    h(
      "thead",
      {},
      h("tr", {}, heads.map((c, i) => h("th", { class: i ? "num" : "" }, c))),
    ),
    h(
      "tbody",
      {},
      rows.map((r) =>
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
          [r.final_step, r.final, r.min, r.max, r.n].map(num),
        )
      ),
    ),
  );
}

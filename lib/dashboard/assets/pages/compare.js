// The compare page: overlaid curves of several specimens.
import { debounce, errorBox, h, main } from "../dom.js";
import { api, curveUrl } from "../api.js";
import { fmtNum } from "../format.js";
import { setHash } from "../nav.js";
import { ChartGroup, chartToolbar, PALETTE } from "../plot.js";

export async function comparePage(params) {
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

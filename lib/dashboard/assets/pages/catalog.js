// The catalog page: facets, search, sortable table, picking for compare.
import { debounce, h, main, tagList } from "../dom.js";
import { api } from "../api.js";
import { fmtDate, fmtNum, nf } from "../format.js";
import { noCatalogOr, picked, route, savePicked, setHash } from "../nav.js";

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

export async function catalogPage(params) {
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

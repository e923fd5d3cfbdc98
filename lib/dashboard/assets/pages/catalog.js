// The catalog page: facets, search, sortable table, param columns, picking
// for compare.
import { debounce, h, main, tagList } from "../dom.js";
import { api } from "../api.js";
import { fmtDate, fmtNum, nf } from "../format.js";
import { noCatalogOr, picked, route, savePicked, setHash } from "../nav.js";
import {
  paramCells,
  paramFilterRow,
  paramHeadCells,
  paramPicker,
} from "./catalog_params.js";
import {
  notesExcerpt,
  notesInput,
  resultCells,
  resultHeadCells,
  resultPicker,
} from "./catalog_results.js";
import { onCatalogChange } from "../live.js";

const PAGE_SIZE = 100;
// Updates the "Compare selected (N)" button of the page drawn last.
let refreshPicked = () => {};
const FACETS = ["domain", "method", "model", "status", "tag"];
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
  const q = new URLSearchParams(params);
  q.set("limit", String(PAGE_SIZE));
  let data, keys, tables;
  try {
    [data, keys, tables] = await Promise.all([
      api(`/api/catalog?${q}`),
      api("/api/params/keys").then((r) => r.keys, () => []),
      api("/api/params/metrics").then((r) => r.tables, () => ({})),
    ]);
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
  const search = searchInput(params, update);
  main.replaceChildren(
    h("h1", {}, "Catalog"),
    h(
      "div",
      { class: "card" },
      filterBar(data, params, update, search),
      selectionToolbar(data, params),
      paramPicker(keys, params, update),
      resultPicker(tables, params, update),
      catalogTable(data, params, update),
      pager(data, update),
    ),
  );
  if (params.get("q")) {
    search.focus();
    search.setSelectionRange(search.value.length, search.value.length);
  }
  // A new catalog (the server re-indexed): the rows again, unless typing.
  onCatalogChange(async () => {
    if (document.activeElement?.tagName === "INPUT") return;
    const y = scrollY;
    await catalogPage(params);
    scrollTo(0, y);
  });
}

function searchInput(params, update) {
  return h("input", {
    type: "search",
    placeholder: "Search id, description, tags, model…",
    value: params.get("q") ?? "",
    "aria-label": "search",
    oninput: debounce((e) => update({ q: e.target.value }, true), 300),
  });
}

function facetSelect(data, params, update, key) {
  return h(
    "select",
    {
      "data-facet": key,
      "aria-label": key,
      onchange: (e) => update({ [key]: e.target.value }),
    },
    h("option", { value: "" }, `any ${key}`),
    (data.facets[key] ?? []).map(([v, n]) =>
      h(
        "option",
        { value: v, selected: params.get(key) === v },
        `${v} (${nf.format(n)})`,
      )
    ),
  );
}

function dateInput(params, update, key, label) {
  return h(
    "label",
    {},
    `${label} `,
    h("input", {
      type: "date",
      value: params.get(key) ?? "",
      onchange: (e) => update({ [key]: e.target.value }),
    }),
  );
}

function filterBar(data, params, update, search) {
  return h(
    "div",
    { class: "filters" },
    search,
    notesInput(params, update),
    FACETS.map((key) => facetSelect(data, params, update, key)),
    dateInput(params, update, "since", "from"),
    dateInput(params, update, "until", "to"),
    h("button", {
      onclick: () => setHash("/", new URLSearchParams()),
    }, "Clear"),
  );
}

/** Compare the picked specimens or the first 20 matching; clear the picks. */
function selectionToolbar(data, params) {
  const compareBtn = h("button", {
    class: "primary",
    "data-testid": "compare-picked",
    onclick: () =>
      setHash("/compare", new URLSearchParams({ ids: [...picked].join(",") })),
  });
  const refresh = () => {
    compareBtn.textContent = `Compare selected (${picked.size})`;
    compareBtn.disabled = picked.size === 0;
  };
  refresh();
  refreshPicked = refresh;
  const compareMatching = () => {
    const f = new URLSearchParams(params);
    f.delete("offset");
    setHash("/compare", new URLSearchParams({ filter: f.toString() }));
  };
  return h(
    "div",
    { class: "toolbar" },
    compareBtn,
    h("button", {
      onclick: compareMatching,
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
  );
}

function headRow(data, params, update) {
  const { sort, order } = data;
  return h(
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
    paramHeadCells(params, data, update),
    resultHeadCells(data, update),
  );
}

function pickBox(id) {
  return h("input", {
    type: "checkbox",
    "aria-label": `pick ${id}`,
    checked: picked.has(id),
    onchange: (e) => {
      if (e.target.checked) picked.add(id);
      else picked.delete(id);
      savePicked();
      refreshPicked();
    },
  });
}

function catalogRow(r, params, update, data) {
  const tag = (t) =>
    h("span", { class: "tag", onclick: () => update({ tag: t }) }, t);
  return h(
    "tr",
    { "data-id": r.specimen_id },
    h("td", {}, pickBox(r.specimen_id)),
    h(
      "td",
      {},
      h(
        "a",
        { href: `#/s/${encodeURIComponent(r.specimen_id)}` },
        r.specimen_id,
      ),
      r.description ? h("div", { class: "muted" }, r.description) : null,
      notesExcerpt(r),
    ),
    h("td", {}, fmtDate(r.created)),
    h("td", {}, r.domain),
    h("td", {}, r.method),
    h("td", {}, r.model ?? ""),
    h("td", {}, tagList(r, tag)),
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
    paramCells(r, params),
    resultCells(r, data),
  );
}

function catalogTable(data, params, update) {
  return h(
    "table",
    { class: "grid", "data-testid": "catalog" },
    h(
      "thead",
      {},
      headRow(data, params, update),
      paramFilterRow(params, SORTABLE.length + 1, update),
    ),
    h("tbody", {}, data.rows.map((r) => catalogRow(r, params, update, data))),
  );
}

function pager(data, update) {
  const first = data.matched ? data.offset + 1 : 0;
  const last = data.offset + data.rows.length;
  return h(
    "div",
    { class: "pager" },
    h("button", {
      disabled: data.offset === 0,
      onclick: () =>
        update({ offset: String(Math.max(0, data.offset - PAGE_SIZE)) }),
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
      onclick: () => update({ offset: String(data.offset + PAGE_SIZE) }),
    }, "Next →"),
  );
}

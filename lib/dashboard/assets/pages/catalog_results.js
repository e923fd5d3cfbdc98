// The catalog's result columns (final, min and max of a chosen metric,
// sortable, with a range filter) and its field-notes search, all kept in
// the URL: result=loss&result_table=metrics&sort=result:final&result_min=…
import { debounce, h } from "../dom.js";
import { fmtNum } from "../format.js";

const STATS = ["final", "min", "max"];

/** The field-notes search box (`notes=`). */
export function notesInput(params, update) {
  return h("input", {
    type: "search",
    class: "notes-search",
    placeholder: "Search field notes…",
    value: params.get("notes") ?? "",
    "aria-label": "search field notes",
    "data-testid": "notes-search",
    oninput: debounce((e) => update({ notes: e.target.value }, true), 300),
  });
}

/**
 * The result picker: a metric column of any table (with how many specimens
 * have it), the statistic its range filter applies to, and the range.
 */
export function resultPicker(tables, params, update) {
  const chosen = params.get("result") ?? "";
  const table = params.get("result_table") ?? "metrics";
  const options = Object.entries(tables ?? {}).flatMap(([t, cols]) =>
    cols.map((c) => [
      `${t}\u0000${c.name}`,
      `${c.name}${t === "metrics" ? "" : ` (${t})`} · ${c.specimens}`,
    ])
  );
  const bound = (key, label) =>
    h("input", {
      type: "number",
      step: "any",
      placeholder: label,
      class: "range",
      "aria-label": `result ${label}`,
      "data-testid": `result-${label}`,
      value: params.get(key) ?? "",
      onchange: (e) => update({ [key]: e.target.value }),
    });
  return h(
    "div",
    { class: "toolbar", "data-testid": "result-picker" },
    h(
      "label",
      {},
      "result ",
      h(
        "select",
        {
          "aria-label": "result metric",
          "data-testid": "result-metric",
          onchange: (e) => {
            const [t, c] = e.target.value.split("\u0000");
            const sort = params.get("sort") ?? "";
            update({
              result: c ?? "",
              result_table: t && t !== "metrics" ? t : "",
              result_min: "",
              result_max: "",
              sort: !c && sort.startsWith("result:") ? "" : sort,
            });
          },
        },
        h("option", { value: "" }, "(none)"),
        options.map(([v, text]) =>
          h(
            "option",
            { value: v, selected: v === `${table}\u0000${chosen}` },
            text,
          )
        ),
      ),
    ),
    chosen
      ? [
        h(
          "select",
          {
            "aria-label": "result statistic filtered",
            "data-testid": "result-stat",
            onchange: (e) => update({ result_stat: e.target.value }),
          },
          STATS.map((s) =>
            h("option", {
              value: s,
              selected: (params.get("result_stat") ?? "final") === s,
            }, s)
          ),
        ),
        bound("result_min", "min"),
        "–",
        bound("result_max", "max"),
      ]
      : null,
  );
}

/** Header cells of the result columns, each sorting the catalog. */
export function resultHeadCells(data, update) {
  if (!data.result) return [];
  return STATS.map((s) => {
    const key = `result:${s}`;
    return h(
      "th",
      {
        class: "sortable num result",
        "data-result": s,
        onclick: () =>
          update({
            sort: key,
            order: data.sort === key && data.order === "asc" ? "desc" : "asc",
          }),
      },
      `${s} ${data.result.column}`,
      data.sort === key ? (data.order === "desc" ? " ▼" : " ▲") : "",
    );
  });
}

/** A row's result cells. */
export function resultCells(r, data) {
  if (!data.result) return [];
  return STATS.map((s) =>
    h("td", { class: "num result", "data-result": s }, fmtNum(r.result?.[s]))
  );
}

/** The notes excerpt under a row's description, when searching notes. */
export function notesExcerpt(r) {
  return r.notes_excerpt
    ? h("div", { class: "muted notes-excerpt" }, `notes: ${r.notes_excerpt}`)
    : null;
}

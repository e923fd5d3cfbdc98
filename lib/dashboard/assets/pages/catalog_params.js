// The catalog's param columns: a picker adding any param key as a column
// (kept in the URL as params=KEY,...), a sortable header per column
// (sort=param:KEY) and a filter per column: a value (param.KEY=VALUE) or a
// numeric range "lo..hi" (param_min.KEY, param_max.KEY).
import { h } from "../dom.js";

const NUM = String.raw`[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?`;
const RANGE = new RegExp(`^\\s*(${NUM})?\\s*\\.\\.\\s*(${NUM})?\\s*$`, "i");

/** The param keys shown as columns, from the URL. */
export function paramColumnKeys(params) {
  return (params.get("params") ?? "").split(",").filter(Boolean);
}

/**
 * The URL changes of a filter typed for `key`: "lo..hi" (either end may be
 * left out) is a numeric range, anything else a value, "" none.
 */
export function filterChanges(key, text) {
  const m = RANGE.exec(text);
  const ranged = m && (m[1] !== undefined || m[2] !== undefined);
  const value = text.trim();
  return {
    [`param.${key}`]: ranged ? null : value,
    [`param_min.${key}`]: ranged ? m[1] ?? null : null,
    [`param_max.${key}`]: ranged ? m[2] ?? null : null,
  };
}

/** The filter of `key` as typed: the value, or "lo..hi". */
function filterText(params, key) {
  const eq = params.get(`param.${key}`);
  if (eq !== null) return eq;
  const lo = params.get(`param_min.${key}`);
  const hi = params.get(`param_max.${key}`);
  return lo === null && hi === null ? "" : `${lo ?? ""}..${hi ?? ""}`;
}

/** The URL changes that drop the column `key`, its filter and its sort. */
function removeChanges(params, key) {
  const keys = paramColumnKeys(params).filter((k) => k !== key);
  return {
    params: keys.join(","),
    ...filterChanges(key, ""),
    ...(params.get("sort") === `param:${key}` ? { sort: null } : {}),
  };
}

/** A select of the param keys not yet shown, adding the chosen one. */
export function paramPicker(keys, params, update) {
  const shown = paramColumnKeys(params);
  const free = keys.filter((k) => !shown.includes(k.key));
  if (!keys.length) return null;
  return h(
    "label",
    {},
    "add param column ",
    h(
      "select",
      {
        "data-testid": "param-picker",
        "aria-label": "add param column",
        onchange: (e) =>
          e.target.value &&
          update({ params: [...shown, e.target.value].join(",") }),
      },
      h("option", { value: "" }, `${free.length} param keys…`),
      free.map((k) =>
        h(
          "option",
          { value: k.key },
          `${k.key} (${k.specimens}${k.numeric ? ", numeric" : ""})`,
        )
      ),
    ),
  );
}

/** One sortable header cell per param column, each with a remove button. */
export function paramHeadCells(params, data, update) {
  return paramColumnKeys(params).map((key) => {
    const sortKey = `param:${key}`;
    const on = data.sort === sortKey;
    return h(
      "th",
      { class: "sortable param-col", "data-param": key },
      h(
        "span",
        {
          onclick: () =>
            update({
              sort: sortKey,
              order: on && data.order === "desc" ? "asc" : "desc",
            }),
        },
        key,
        on ? (data.order === "desc" ? " ▼" : " ▲") : "",
      ),
      h("button", {
        class: "mini",
        title: `remove the column ${key}`,
        onclick: (e) => {
          e.stopPropagation();
          update(removeChanges(params, key));
        },
      }, "×"),
    );
  });
}

/** The header row of filters under the param columns (`before` cells first). */
export function paramFilterRow(params, before, update) {
  const keys = paramColumnKeys(params);
  if (!keys.length) return null;
  return h(
    "tr",
    { class: "param-filters" },
    h("th", { colspan: String(before) }, ""),
    keys.map((key) =>
      h(
        "th",
        {},
        h("input", {
          type: "text",
          "data-param-filter": key,
          "aria-label": `filter ${key}`,
          placeholder: "= value or lo..hi",
          value: filterText(params, key),
          onchange: (e) => update(filterChanges(key, e.target.value)),
        }),
      )
    ),
  );
}

/** A row's cells of the param columns. */
export function paramCells(row, params) {
  return paramColumnKeys(params).map((key) => {
    const v = row.params?.[key];
    return h(
      "td",
      {
        class: typeof v === "number" ? "num" : "",
        "data-param": key,
      },
      v === null || v === undefined ? "" : String(v),
    );
  });
}

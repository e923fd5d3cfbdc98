// What the scatter and parallel-coordinates pages share: the choice of a
// metric (table, column, statistic) kept in the URL, the param keys, and the
// scope (tag, id prefix) both draw from.
import { debounce, h } from "../dom.js";
import { api } from "../api.js";
import { setHash } from "../nav.js";

export const STATS = ["final", "min", "max"];

/** The scope of the URL (`tag`, `prefix`) as query parameters. */
export function scopeQuery(params, extra = {}) {
  const q = new URLSearchParams();
  for (const k of ["tag", "prefix"]) {
    if (params.get(k)) q.set(k, params.get(k));
  }
  for (const [k, v] of Object.entries(extra)) if (v) q.set(k, v);
  return q;
}

/**
 * The param keys of the specimens in scope, the numeric metric columns
 * (of those having `param`, when given) and the vault's tags.
 */
export async function loadChoices(params = new URLSearchParams(), param) {
  const [keys, metrics, catalog] = await Promise.all([
    api(`/api/params/keys?${scopeQuery(params)}`),
    api(`/api/params/metrics?${scopeQuery(params, { param })}`),
    api("/api/catalog?limit=1").catch(() => ({ facets: { tag: [] } })),
  ]);
  return {
    keys: keys.keys,
    tables: metrics.tables,
    tags: catalog.facets?.tag ?? [],
  };
}

/** The numeric metric columns of the specimens in scope having `param`. */
export async function loadMetrics(params, param) {
  return (await api(`/api/params/metrics?${scopeQuery(params, { param })}`))
    .tables;
}

/**
 * Keys that take two values or more in scope: most common first, or for an
 * x axis (`numericOnly`), the numeric ones taking the most values first (a
 * swept lr before a seed that takes two).
 */
export function varyingKeys(keys, numericOnly = false) {
  return keys.filter((k) => k.distinct > 1 && (!numericOnly || k.numeric > 1))
    .sort((a, b) =>
      (numericOnly
        ? b.distinct - a.distinct || b.numeric - a.numeric
        : b.specimens - a.specimens) || a.key.localeCompare(b.key)
    );
}

/** The tag and id-prefix filters. */
export function scopeControls(tags, params, update) {
  return [
    h(
      "label",
      {},
      "tag ",
      h(
        "select",
        {
          "aria-label": "tag",
          "data-testid": "scope-tag",
          onchange: (e) => update({ tag: e.target.value }),
        },
        h("option", { value: "" }, "any"),
        tags.map(([t, n]) =>
          h(
            "option",
            { value: t, selected: params.get("tag") === t },
            `${t} (${n})`,
          )
        ),
      ),
    ),
    h(
      "label",
      {},
      "id prefix ",
      h("input", {
        type: "search",
        value: params.get("prefix") ?? "",
        placeholder: "e.g. mlp_sweep_",
        "aria-label": "id prefix",
        "data-testid": "scope-prefix",
        oninput: debounce((e) => update({ prefix: e.target.value }), 400),
      }),
    ),
  ];
}

/** A function applying changes to the URL of `path` (null or "" removes). */
export function updater(path, params) {
  return (changes) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === undefined || v === "") next.delete(k);
      else next.set(k, v);
    }
    setHash(path, next);
  };
}

/**
 * The metric chosen in the URL (table, metric, stat), else the column most
 * of the specimens in scope have (`loss` first among equals; `tables` are
 * already those of the specimens in scope); null when there is none (or
 * `optional` and the URL says metric=none).
 */
export function chosenMetric(tables, params, optional = false) {
  const names = Object.keys(tables).filter((t) => tables[t].length);
  if (!names.length || (optional && params.get("metric") === "none")) {
    return null;
  }
  let table = names.includes(params.get("table")) ? params.get("table") : null;
  let wanted = params.get("metric");
  if (!table || !tables[table].some((c) => c.name === wanted)) {
    const best = names.flatMap((t) => tables[t].map((c) => ({ t, c })))
      .filter(({ t }) => !table || t === table)
      .sort((a, b) =>
        b.c.specimens - a.c.specimens ||
        Number(/loss/i.test(b.c.name)) - Number(/loss/i.test(a.c.name))
      )[0];
    table = best.t;
    wanted = best.c.name;
  }
  const metric = wanted;
  const stat = STATS.includes(params.get("stat"))
    ? params.get("stat")
    : "final";
  return { table, metric, stat };
}

function select(label, testid, options, value, onchange) {
  return h(
    "label",
    {},
    `${label} `,
    h(
      "select",
      { "aria-label": label, "data-testid": testid, onchange },
      options.map(([v, text]) =>
        h("option", { value: v, selected: v === value }, text)
      ),
    ),
  );
}

/** Selects of the metric's table, column and statistic. */
export function metricControls(tables, chosen, update, optional = false) {
  const names = Object.keys(tables).filter((t) => tables[t].length);
  const cols = chosen ? tables[chosen.table] : [];
  const none = optional ? [["none", "(none)"]] : [];
  return [
    names.length > 1
      ? select(
        "table",
        "metric-table",
        names.map((t) => [t, t]),
        chosen?.table,
        (e) => update({ table: e.target.value, metric: null }),
      )
      : null,
    select(
      "metric",
      "metric",
      [...none, ...cols.map((c) => [c.name, `${c.name} (${c.specimens})`])],
      chosen?.metric ?? "none",
      (e) => update({ metric: e.target.value }),
    ),
    chosen
      ? select(
        "statistic",
        "stat",
        STATS.map((s) => [s, s]),
        chosen.stat,
        (e) => update({ stat: e.target.value }),
      )
      : null,
  ];
}

/** A select of param keys, calling `onpick(key)` with the chosen one. */
export function keySelect(label, testid, keys, value, onpick) {
  return select(
    label,
    testid,
    keys.map((k) => [k.key, `${k.key} (${k.numeric}/${k.specimens} numeric)`]),
    value,
    (e) => onpick(e.target.value),
  );
}

/** The metric as a label: "final loss (metrics)". */
export function metricLabel(m) {
  return `${m.stat} ${m.metric}${m.table === "metrics" ? "" : ` (${m.table})`}`;
}

// What the scatter and parallel-coordinates pages share: the choice of a
// metric (table, column, statistic) kept in the URL, and the param keys.
import { h } from "../dom.js";
import { api } from "../api.js";
import { setHash } from "../nav.js";

export const STATS = ["final", "min", "max"];

/** The vault's param keys and numeric metric columns. */
export async function loadChoices() {
  const [keys, metrics] = await Promise.all([
    api("/api/params/keys"),
    api("/api/params/metrics"),
  ]);
  return { keys: keys.keys, tables: metrics.tables };
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
 * The metric chosen in the URL (table, metric, stat), else `loss` of
 * `metrics` or the first column; null when the vault has none (or
 * `optional` and the URL says metric=none).
 */
export function chosenMetric(tables, params, optional = false) {
  const names = Object.keys(tables).filter((t) => tables[t].length);
  if (!names.length || (optional && params.get("metric") === "none")) {
    return null;
  }
  const table = names.includes(params.get("table"))
    ? params.get("table")
    : names[0];
  const cols = tables[table].map((c) => c.name);
  const wanted = params.get("metric");
  const metric = cols.includes(wanted)
    ? wanted
    : cols.includes("loss")
    ? "loss"
    : cols[0];
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

/**
 * `GET /api/info` and `GET /api/catalog`: the vault and a page of the
 * catalog with its facets.
 *
 * @module
 */
import { MAX_BUCKETS, MAX_SERIES } from "./_curves.ts";
import { notesFilter, resultColumns } from "./_api_results.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import {
  type ApiContext,
  dateParam,
  intParam,
  listParam,
  MAX_TAGS,
} from "./_context.ts";

const CATALOG_SORTS = new Set([
  "specimen_id",
  "created",
  "domain",
  "method",
  "model",
  "status",
  "metrics_rows",
]);
const FACETS = ["domain", "method", "model", "status"] as const;
const PARAM_KEY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** `param_min.KEY=N` keeps leaves ≥ N, `param_max.KEY=N` those ≤ N. */
const RANGE_BOUNDS = [["param_min.", ">="], ["param_max.", "<="]] as const;
/** Param columns of one catalog page at most. */
export const MAX_PARAM_COLUMNS = 20;

function checkParamKey(key: string): string {
  if (!PARAM_KEY.test(key)) {
    throw new InvalidInputError(
      `Invalid param key ${
        JSON.stringify(key)
      }: use dotted names of [A-Za-z0-9_-], e.g. optimizer.name`,
    );
  }
  return key;
}

function rangeBound(name: string, value: string): number {
  const n = value.trim() === "" ? NaN : Number(value);
  if (!Number.isFinite(n)) {
    throw new InvalidInputError(
      `Invalid ${name}=${
        JSON.stringify(value)
      }: a range bound is a number, e.g. ${name}=1e-4`,
    );
  }
  return n;
}

/** The param part of a catalog query: columns, filters, ranges, sort key. */
interface ParamQuery {
  keys: string[];
  filters: [string, string][];
  ranges: [string, ">=" | "<=", number][];
  sortKey: string | null;
  /** Every key named, once: `pv<i>`/`pn<i>` are its value and number. */
  all: string[];
}

function parseParamQuery(url: URL, sort: string): ParamQuery {
  const keys = listParam(url, "params").map(checkParamKey);
  const filters: ParamQuery["filters"] = [];
  const ranges: ParamQuery["ranges"] = [];
  for (const [name, value] of url.searchParams) {
    if (name.startsWith("param.")) {
      filters.push([checkParamKey(name.slice("param.".length)), value]);
    }
    for (const [prefix, op] of RANGE_BOUNDS) {
      if (name.startsWith(prefix)) {
        const key = checkParamKey(name.slice(prefix.length));
        ranges.push([key, op, rangeBound(name, value)]);
      }
    }
  }
  const sortKey = sort.startsWith("param:")
    ? checkParamKey(sort.slice("param:".length))
    : null;
  const all = [
    ...new Set([
      ...keys,
      ...filters.map(([k]) => k),
      ...ranges.map(([k]) => k),
      ...(sortKey ? [sortKey] : []),
    ]),
  ];
  if (all.length > MAX_PARAM_COLUMNS) {
    throw new InvalidInputError(
      `Too many param columns: ${all.length}; the limit is ${MAX_PARAM_COLUMNS}`,
    );
  }
  return { keys, filters, ranges, sortKey, all };
}

/** Pushes the param filters and ranges of `q` onto `where`/`params`. */
function paramWhere(
  q: ParamQuery,
  where: string[],
  params: Record<string, unknown>,
) {
  q.filters.forEach(([k, v], j) => {
    const i = q.all.indexOf(k);
    const n = v.trim() === "" ? NaN : Number(v);
    params[`pf${j}`] = v;
    if (Number.isFinite(n)) {
      params[`pfn${j}`] = n;
      where.push(`(pv${i} = $pf${j} OR pn${i} = $pfn${j})`);
    } else where.push(`(pv${i} = $pf${j} AND pn${i} IS NULL)`);
  });
  q.ranges.forEach(([k, op, n], j) => {
    params[`pr${j}`] = n;
    where.push(`pn${q.all.indexOf(k)} ${op} $pr${j}`);
  });
}

/** A catalog row with its `pv<i>`/`pn<i>` columns folded into `params`. */
function shapeParamRow(
  q: ParamQuery,
  row: Record<string, unknown>,
): Record<string, unknown> {
  if (q.keys.length === 0) return row;
  const out: Record<string, unknown> = {};
  const values: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(row)) {
    if (!/^p[vn]\d+$/.test(name)) out[name] = v;
  }
  for (const k of q.keys) {
    const i = q.all.indexOf(k);
    const num = row[`pn${i}`];
    values[k] = num !== null && num !== undefined ? num : row[`pv${i}`] ?? null;
  }
  out.params = values;
  return out;
}

/**
 * The param columns of a catalog page: `params=lr,optimizer.name` adds them
 * (each row gets `params: { key: value }`, a number where the leaf is one),
 * `sort=param:KEY` sorts by one (numbers first by value, then text), and
 * `param.KEY=VALUE` keeps the rows whose leaf equals VALUE (as text, or as
 * a number when VALUE is one: `param.lr=3e-4` matches 0.0003), and
 * `param_min.KEY=N` / `param_max.KEY=N` keep the numeric leaves in a range
 * (bounds included; a text leaf or none is out of every range). Pushes its
 * filters onto `where`/`params`; returns the FROM, the extra SELECT list,
 * the ORDER BY and the row shaping.
 */
function paramColumns(
  url: URL,
  sort: string,
  where: string[],
  params: Record<string, unknown>,
) {
  const q = parseParamQuery(url, sort);
  const { all, keys } = q;
  paramWhere(q, where, params);
  const joins = all.map((k, i) => {
    params[`pk${i}`] = k;
    return `LEFT JOIN params pc${i} ON pc${i}.specimen_id = c.specimen_id AND pc${i}.key = $pk${i}`;
  });
  const cols = all.map((_, i) =>
    `pc${i}.value AS pv${i}, pc${i}.num AS pn${i}`
  );
  const si = q.sortKey === null ? -1 : all.indexOf(q.sortKey);
  return {
    keys,
    from: all.length === 0
      ? "catalog"
      : `(SELECT c.*, ${cols.join(", ")} FROM catalog c ${
        joins.join(" ")
      }) catalog`,
    select: keys.length
      ? `, ${
        keys.map((k) => `pv${all.indexOf(k)}, pn${all.indexOf(k)}`).join(", ")
      }`
      : "",
    order: (order: string) =>
      si < 0
        ? `${sort} ${order}`
        : `pn${si} ${order} NULLS LAST, pv${si} ${order}`,
    shape: (row: Record<string, unknown>) => shapeParamRow(q, row),
  };
}
const MAX_PAGE = 1000;

/** `GET /api/info`: the vault, the catalog's state, the limits. */
export async function info(ctx: ApiContext): Promise<unknown> {
  const base = {
    vault: ctx.catalog.paths.root,
    limits: {
      timeout_ms: ctx.limits.timeoutMs,
      sql_rows: ctx.sqlLimits.maxRows,
      csv_rows: ctx.csvMaxRows,
      max_series: MAX_SERIES,
      max_points_per_series: 2 * MAX_BUCKETS,
    },
    auto_index: ctx.autoIndex ?? null,
  };
  try {
    const gen = await ctx.catalog.current();
    return {
      ...base,
      catalog: {
        present: true,
        built_at: gen.info.built_at ?? null,
        specimens: Number(gen.info.specimens ?? 0),
      },
    };
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    return {
      ...base,
      catalog: { present: false, message: e.message },
    };
  }
}

function facets(ctx: ApiContext): Promise<unknown> {
  return ctx.catalog.memo("facets", async () => {
    const out: Record<string, [string, number][]> = {};
    for (const key of FACETS) {
      const r = await ctx.catalog.query(
        `SELECT ${key} AS v, count(*)::DOUBLE AS n FROM catalog WHERE ${key} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1`,
        undefined,
        { ...ctx.limits, maxRows: 500 },
      );
      out[key] = r.rows.map((row) => [String(row.v), Number(row.n)]);
    }
    const tags = await ctx.catalog.query(
      `SELECT t AS v, count(*)::DOUBLE AS n FROM (SELECT unnest(tags) AS t FROM catalog) GROUP BY 1 ORDER BY 2 DESC, 1`,
      undefined,
      { ...ctx.limits, maxRows: 500 },
    );
    out.tag = tags.rows.map((row) => [String(row.v), Number(row.n)]);
    const total = await ctx.catalog.query(
      "SELECT count(*)::DOUBLE AS n FROM catalog",
      undefined,
      { ...ctx.limits, maxRows: 1 },
    );
    return { facets: out, total: Number(total.rows[0].n) };
  });
}

/**
 * `GET /api/catalog`: one page of specimens matching the filters (q, domain,
 * method, model, status, tag, since, until, `param.KEY`, `param_min.KEY`,
 * `param_max.KEY`, `notes`, `result_min`, `result_max`), sorted (also by
 * `param:KEY` and `result:STAT`); the count that matches; the facets
 * (values and counts) of the whole catalog. `params=KEY,...` adds param
 * columns (see `paramColumns`), `result=COLUMN` result columns (see
 * `resultColumns`).
 */
export async function catalogPage(
  ctx: ApiContext,
  url: URL,
): Promise<unknown> {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  for (const key of FACETS) {
    const v = url.searchParams.get(key);
    if (v) {
      where.push(`${key} = $${key}`);
      params[key] = v;
    }
  }
  const tags = listParam(url, "tag");
  if (tags.length) {
    where.push("list_has_all(tags, $tags::VARCHAR[])");
    params.tags = tags;
  }
  // Curating filters (lib/curate): labels set after the run, the star.
  const labels = listParam(url, "label");
  if (labels.length) {
    where.push("list_has_all(labels, $labels::VARCHAR[])");
    params.labels = labels;
  }
  if (url.searchParams.get("starred") === "1") where.push("starred");
  const since = dateParam(url, "since", false);
  const until = dateParam(url, "until", true);
  if (since) {
    where.push("created >= $since");
    params.since = since;
  }
  if (until) {
    where.push("created < $until");
    params.until = until;
  }
  const terms = (url.searchParams.get("q") ?? "").toLowerCase().split(/\s+/)
    .filter(Boolean).slice(0, 10);
  terms.forEach((t, i) => {
    where.push(
      `contains(lower(concat_ws(' ', specimen_id, domain, method, model, status, description, array_to_string(tags, ' '))), $t${i})`,
    );
    params[`t${i}`] = t;
  });
  const sort = url.searchParams.get("sort") || "created";
  const pc = paramColumns(url, sort, where, params);
  if (
    !CATALOG_SORTS.has(sort) && !sort.startsWith("param:") &&
    !sort.startsWith("result:")
  ) {
    throw new InvalidInputError(
      `Invalid sort ${JSON.stringify(sort)}: sort by one of ${
        [...CATALOG_SORTS].join(", ")
      }, param:KEY, or result:final|min|max`,
    );
  }
  const rc = await resultColumns(ctx, url, sort, where, params);
  const excerpts = await notesFilter(ctx.notes, url, where, params);
  const from = rc.from(pc.from);
  const order = url.searchParams.get("order") || "desc";
  if (order !== "asc" && order !== "desc") {
    throw new InvalidInputError(
      `Invalid order ${JSON.stringify(order)}: use asc or desc`,
    );
  }
  const limit = intParam(url, "limit", 100, 1, MAX_PAGE);
  const offset = intParam(url, "offset", 0, 0, Number.MAX_SAFE_INTEGER);
  const filter = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const [page, count, all] = await Promise.all([
    ctx.catalog.query(
      `SELECT specimen_id, created, domain, method, model,
         tags[1:${MAX_TAGS}] AS tags, len(tags) AS tag_count, status, description,
         metrics_rows, len(issues) AS issues
         ${pc.select}${rc.select}
       FROM ${from} ${filter}
       ORDER BY ${(rc.order ?? pc.order)(order)} NULLS LAST, specimen_id
       LIMIT ${limit} OFFSET ${offset}`,
      params,
      { ...ctx.limits, maxRows: limit },
    ),
    ctx.catalog.query(
      `SELECT count(*)::DOUBLE AS n FROM ${from} ${filter}`,
      params,
      { ...ctx.limits, maxRows: 1 },
    ),
    facets(ctx),
  ]);
  const { facets: f, total } = all as {
    facets: unknown;
    total: number;
  };
  return {
    total,
    matched: Number(count.rows[0].n),
    offset,
    limit,
    sort,
    order,
    rows: page.rows.map((row) => {
      const out = rc.shape(pc.shape(row));
      if (excerpts) out.notes_excerpt = excerpts.get(String(row.specimen_id));
      return out;
    }),
    param_columns: pc.keys,
    result: rc.column === null ? null : { column: rc.column, table: rc.table },
    facets: f,
  };
}

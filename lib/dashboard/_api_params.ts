/**
 * `GET /api/params`, `/api/params/scatter` and `/api/params/parallel`: the
 * params of chosen specimens side by side, a metric against a numeric param
 * (one point per specimen), and rows for a parallel-coordinates view. Each
 * is one SQL over the catalog's `params`, `catalog` and metric union
 * tables, never a read per specimen.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";
import { validateReadableSpecimenId } from "../specimen/id.ts";
import { diffParams, type Params } from "../specimen/params.ts";
import { type ApiContext, intParam, listParam } from "./_context.ts";
import { numericMetricColumns } from "./_api.ts";
import { metricSql, type Stat, STATS } from "./_metric_stat.ts";

/** Specimens in one `GET /api/params` table at most. */
export const MAX_PARAMS_IDS = 100;
/** Specimens in one parallel-coordinates answer at most. */
export const MAX_PARALLEL = 1000;
/** Axes (param keys) of one parallel-coordinates answer at most. */
export const MAX_PARALLEL_KEYS = 32;
/** Points in one scatter answer at most. */
export const MAX_SCATTER = 100_000;

const PARAM_KEY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

function paramKey(raw: string | null, name: string): string {
  if (raw === null || raw === "") {
    throw new InvalidInputError(
      `No ${name} given: pass ${name}=KEY, a dotted param key such as lr or optimizer.name`,
    );
  }
  if (!PARAM_KEY.test(raw)) {
    throw new InvalidInputError(
      `Invalid param key ${
        JSON.stringify(raw)
      }: use dotted names of [A-Za-z0-9_-], e.g. optimizer.name`,
    );
  }
  return raw;
}

function statParam(url: URL): Stat {
  const raw = url.searchParams.get("stat") || "final";
  if (!(STATS as readonly string[]).includes(raw)) {
    throw new InvalidInputError(
      `Invalid stat ${JSON.stringify(raw)}: use final, min or max`,
    );
  }
  return raw as Stat;
}

/** The specimens a view covers: `tag=a,b` (all of them) and `prefix=`. */
interface Scope {
  tags: string[];
  prefix: string;
}

function scopeOf(url: URL): Scope {
  return {
    tags: listParam(url, "tag"),
    prefix: url.searchParams.get("prefix")?.trim() ?? "",
  };
}

/**
 * A SQL test of `col` (a specimen id) for the scope, its values put into
 * `params` as `$scope_tags`/`$scope_prefix`; `TRUE` for the whole vault.
 */
function scopeSql(
  scope: Scope,
  params: Record<string, unknown>,
  col = "specimen_id",
): string {
  const where: string[] = [];
  if (scope.tags.length) {
    params.scope_tags = scope.tags;
    where.push("list_has_all(tags, $scope_tags::VARCHAR[])");
  }
  if (scope.prefix) {
    params.scope_prefix = scope.prefix;
    where.push("starts_with(specimen_id, $scope_prefix)");
  }
  return where.length
    ? `${col} IN (SELECT specimen_id FROM catalog WHERE ${where.join(" AND ")})`
    : "TRUE";
}

/**
 * `GET /api/params/keys?tag=&prefix=`: every param key of the specimens in
 * scope (default: the vault) with how many specimens have it, how many of
 * those values are numbers, and how many distinct values it takes (a key
 * that never varies is no axis worth drawing).
 */
export async function paramKeys(ctx: ApiContext, url?: URL): Promise<unknown> {
  const scope = url ? scopeOf(url) : { tags: [], prefix: "" };
  return await ctx.catalog.memo(
    `param_keys:${JSON.stringify(scope)}`,
    async () => {
      const params: Record<string, unknown> = {};
      const r = await ctx.catalog.query(
        `SELECT key, count(*)::DOUBLE AS specimens, count(num)::DOUBLE AS numeric,
         count(DISTINCT value)::DOUBLE AS distinct_values
       FROM params WHERE ${scopeSql(scope, params)} GROUP BY key ORDER BY key`,
        params,
        { ...ctx.limits, maxRows: 100_000 },
      );
      return {
        keys: r.rows.map((row) => ({
          key: String(row.key),
          specimens: Number(row.specimens),
          numeric: Number(row.numeric),
          distinct: Number(row.distinct_values),
        })),
      };
    },
  );
}

/**
 * `GET /api/params/metrics?tag=&prefix=&param=`: the numeric metric columns
 * of every metric table, with how many specimens have each: of the
 * specimens in scope (having `param` with a number, when given), else of
 * the vault (the y a scatter or a parallel-coordinates view can take).
 */
export async function paramMetrics(
  ctx: ApiContext,
  url?: URL,
): Promise<unknown> {
  const scope = url ? scopeOf(url) : { tags: [], prefix: "" };
  const param = url?.searchParams.get("param") || null;
  if (param !== null) paramKey(param, "param");
  return await ctx.catalog.memo(
    `param_metrics:${JSON.stringify([scope, param])}`,
    async () => {
      if (!scope.tags.length && !scope.prefix && param === null) {
        return { tables: await numericMetricColumns(ctx, null) };
      }
      const params: Record<string, unknown> = {};
      const having = param === null
        ? ""
        : (params.key = param,
          " AND specimen_id IN (SELECT specimen_id FROM params WHERE key = $key AND num IS NOT NULL)");
      const r = await ctx.catalog.query(
        `SELECT specimen_id FROM catalog WHERE ${
          scopeSql(scope, params)
        }${having}`,
        params,
        { ...ctx.limits, maxRows: 1_000_000 },
      );
      const ids = r.rows.map((row) => String(row.specimen_id));
      return { tables: ids.length ? await numericMetricColumns(ctx, ids) : {} };
    },
  );
}

/**
 * `GET /api/params?ids=a,b`: every param key of the chosen specimens, each
 * with its value per specimen (`null` where absent, `absent` says which),
 * and `differs`.
 */
export async function paramsTable(
  ctx: ApiContext,
  url: URL,
): Promise<unknown> {
  const ids = listParam(url, "ids");
  if (ids.length === 0) {
    throw new InvalidInputError("No specimen given: pass ids=ID[,ID...]");
  }
  if (ids.length > MAX_PARAMS_IDS) {
    throw new InvalidInputError(
      `Too many specimens: ${ids.length}; the limit is ${MAX_PARAMS_IDS}`,
    );
  }
  for (const id of ids) validateReadableSpecimenId(id);
  const r = await ctx.catalog.query(
    "SELECT specimen_id, params::VARCHAR AS params FROM catalog WHERE specimen_id IN (SELECT unnest($ids::VARCHAR[]))",
    { ids },
    { ...ctx.limits, maxRows: MAX_PARAMS_IDS },
  );
  const found = new Map<string, Params>(
    r.rows.map((row) => [
      String(row.specimen_id),
      row.params === null ? {} : JSON.parse(String(row.params)),
    ]),
  );
  const present = ids.filter((id) => found.has(id));
  const rows = diffParams(
    present.map((id) => ({ id, params: found.get(id)! })),
  ).map((row) => ({
    key: row.key,
    values: row.values.map((v) => v === undefined ? null : v),
    absent: row.values.map((v) => v === undefined),
    differs: row.differs,
  }));
  return {
    ids: present,
    missing: ids.filter((id) => !found.has(id)),
    rows,
  };
}

/**
 * `GET /api/params/scatter?param=lr&metric=loss&stat=final|min|max&table=&color=&tag=&prefix=`:
 * one point `{ id, x, y }` per specimen in scope whose `param` is a number
 * and that has the metric, with `c`, its value of param `color` (a number,
 * text, or null where absent) when asked; `color_kind` says `number` (every
 * value a number) or `category`; `non_numeric` counts the specimens whose
 * `param` is not a number.
 */
export async function paramsScatter(
  ctx: ApiContext,
  url: URL,
): Promise<unknown> {
  const param = paramKey(url.searchParams.get("param"), "param");
  const metric = url.searchParams.get("metric") || "loss";
  const stat = statParam(url);
  const table = url.searchParams.get("table") || "metrics";
  const color = url.searchParams.get("color") || null;
  if (color !== null) paramKey(color, "color");
  const m = await metricSql(ctx, table, metric, stat);
  const scope = scopeOf(url);
  const params: Record<string, unknown> = { key: param };
  const inScope = scopeSql(scope, params);
  if (color !== null) params.color = color;
  const [points, other] = await Promise.all([
    ctx.catalog.query(
      `WITH p AS (SELECT specimen_id, num FROM params WHERE key = $key AND num IS NOT NULL AND ${inScope}),
       m AS (SELECT specimen_id, ${m.y} AS y FROM ${m.table}
             WHERE specimen_id IN (SELECT specimen_id FROM p) GROUP BY specimen_id)
       SELECT p.specimen_id AS id, p.num AS x, m.y AS y
         ${color === null ? "" : ", pc.value AS cv, pc.num AS cn"}
       FROM p JOIN m USING (specimen_id)
       ${
        color === null
          ? ""
          : "LEFT JOIN params pc ON pc.specimen_id = p.specimen_id AND pc.key = $color"
      }
       WHERE m.y IS NOT NULL ORDER BY id`,
      params,
      { ...ctx.limits, maxRows: MAX_SCATTER },
    ),
    ctx.catalog.query(
      `SELECT count(*)::DOUBLE AS n FROM params WHERE key = $key AND num IS NULL AND ${inScope}`,
      Object.fromEntries(
        Object.entries(params).filter(([k]) => k !== "color"),
      ),
      { ...ctx.limits, maxRows: 1 },
    ),
  ]);
  const numericColor = points.rows.every((p) => p.cv == null || p.cn != null);
  return {
    param,
    metric,
    stat,
    table,
    color,
    color_kind: color === null ? null : numericColor ? "number" : "category",
    points: points.rows.map((p) =>
      color === null ? p : {
        id: p.id,
        x: p.x,
        y: p.y,
        c: p.cv == null ? null : numericColor ? Number(p.cn) : String(p.cv),
      }
    ),
    non_numeric: Number(other.rows[0].n),
  };
}

/**
 * `GET /api/params/parallel?keys=lr,batch&metric=loss&stat=&table=&limit=&tag=&prefix=`:
 * for a parallel-coordinates view, the newest `limit` (≤ 1,000) specimens
 * in scope having any of `keys`, each `{ id, values: [one per key], y }`; a value is
 * the number for a numeric leaf, else its text (`null` where absent). `axes`
 * says per key whether every value is a number. Without `metric`, no `y`.
 */
export async function paramsParallel(
  ctx: ApiContext,
  url: URL,
): Promise<unknown> {
  const keys = listParam(url, "keys").map((k) => paramKey(k, "keys"));
  if (keys.length === 0) {
    throw new InvalidInputError(
      "No keys given: pass keys=KEY[,KEY...], e.g. keys=lr,batch",
    );
  }
  if (keys.length > MAX_PARALLEL_KEYS) {
    throw new InvalidInputError(
      `Too many keys: ${keys.length}; the limit is ${MAX_PARALLEL_KEYS}`,
    );
  }
  if (new Set(keys).size !== keys.length) {
    throw new InvalidInputError(
      `A key is given twice in keys=${keys.join(",")}`,
    );
  }
  const limit = intParam(url, "limit", MAX_PARALLEL, 1, MAX_PARALLEL);
  const metric = url.searchParams.get("metric") || null;
  const stat = statParam(url);
  const table = url.searchParams.get("table") || "metrics";
  const m = metric === null ? null : await metricSql(ctx, table, metric, stat);
  const params: Record<string, unknown> = { keys };
  const inScope = scopeSql(scopeOf(url), params, "c.specimen_id");
  const cols = keys.map((k, i) => {
    params[`k${i}`] = k;
    return `any_value(p.value) FILTER (WHERE p.key = $k${i}) AS v${i},
       bool_and(p.num IS NOT NULL) FILTER (WHERE p.key = $k${i}) AS n${i}`;
  });
  const r = await ctx.catalog.query(
    `WITH chosen AS (
       SELECT c.specimen_id, c.created FROM catalog c
       WHERE c.specimen_id IN (SELECT specimen_id FROM params WHERE list_contains($keys::VARCHAR[], key))
         AND ${inScope}),
     top AS (SELECT specimen_id, created FROM chosen ORDER BY created DESC, specimen_id LIMIT ${limit})
     ${
      m
        ? `, m AS (SELECT specimen_id, ${m.y} AS y FROM ${m.table}
             WHERE specimen_id IN (SELECT specimen_id FROM top) GROUP BY specimen_id)`
        : ""
    }
     SELECT t.specimen_id AS id, (SELECT count(*) FROM chosen)::DOUBLE AS total,
       ${m ? "any_value(m.y)" : "NULL::DOUBLE"} AS y, ${cols.join(",\n")}
     FROM top t
     LEFT JOIN params p ON p.specimen_id = t.specimen_id AND list_contains($keys::VARCHAR[], p.key)
     ${m ? "LEFT JOIN m ON m.specimen_id = t.specimen_id" : ""}
     GROUP BY t.specimen_id, t.created
     ORDER BY t.created DESC, t.specimen_id`,
    params,
    { ...ctx.limits, maxRows: MAX_PARALLEL },
  );
  const numeric = keys.map(() => true);
  const rows = r.rows.map((row) => ({
    id: String(row.id),
    values: keys.map((_, i) => {
      const v = row[`v${i}`];
      if (v === null || v === undefined) return null;
      if (row[`n${i}`] === true) return Number(v);
      numeric[i] = false;
      return String(v);
    }),
    ...(m ? { y: row.y as number | null } : {}),
  }));
  return {
    keys,
    axes: keys.map((key, i) => ({
      key,
      kind: numeric[i] ? "number" : "category",
    })),
    metric,
    stat: metric === null ? null : stat,
    table,
    total: r.rows.length ? Number(r.rows[0].total) : 0,
    limit,
    rows,
  };
}

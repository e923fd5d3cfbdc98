/**
 * `GET /api/info` and `GET /api/catalog`: the vault and a page of the
 * catalog with its facets.
 *
 * @module
 */
import { MAX_BUCKETS, MAX_SERIES } from "./_curves.ts";
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
 * method, model, status, tag, since, until), sorted; the count that
 * matches; the facets (values and counts) of the whole catalog.
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
  if (!CATALOG_SORTS.has(sort)) {
    throw new InvalidInputError(
      `Invalid sort ${JSON.stringify(sort)}: sort by one of ${
        [...CATALOG_SORTS].join(", ")
      }`,
    );
  }
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
       FROM catalog ${filter}
       ORDER BY ${sort} ${order} NULLS LAST, specimen_id
       LIMIT ${limit} OFFSET ${offset}`,
      params,
      { ...ctx.limits, maxRows: limit },
    ),
    ctx.catalog.query(
      `SELECT count(*)::DOUBLE AS n FROM catalog ${filter}`,
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
    rows: page.rows,
    facets: f,
  };
}

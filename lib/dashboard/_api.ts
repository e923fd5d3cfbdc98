/**
 * The dashboard's JSON API: one function per route, each taking the parsed
 * request and returning a plain value (or a `Response`). Every input is
 * checked before it reaches SQL or a path: ids by the id rule, names by the
 * artifact-name rule, everything else passed as a parameter or validated.
 *
 * @module
 */
import { fetchCurves, MAX_SERIES, summarizeColumn } from "./_curves.ts";
import { InvalidInputError } from "../errors.ts";
import { validateReadableSpecimenId } from "../specimen/id.ts";
import { type ApiContext, listParam, numberParam } from "./_context.ts";

export { type ApiContext, MAX_TAGS } from "./_context.ts";
export { catalogPage, info } from "./_api_catalog.ts";
export { specimen, tensor } from "./_api_specimen.ts";
export { sql } from "./_api_sql.ts";

/** `GET /api/columns?ids=&table=`: numeric metric columns across specimens. */
export async function columns(ctx: ApiContext, url: URL): Promise<unknown> {
  const ids = listParam(url, "ids");
  if (ids.length === 0) {
    throw new InvalidInputError("No specimen given: pass ids=ID[,ID...]");
  }
  if (ids.length > MAX_SERIES) {
    throw new InvalidInputError(
      `Too many specimens: ${ids.length}; the limit is ${MAX_SERIES}`,
    );
  }
  for (const id of ids) validateReadableSpecimenId(id);
  return { ids, tables: await numericMetricColumns(ctx, ids) };
}

/**
 * The numeric metric columns (but `step`) of each metric table, with how
 * many specimens have each: of the specimens `ids`, or of the whole vault
 * when `ids` is null. The table `metrics` comes first.
 */
export async function numericMetricColumns(
  ctx: ApiContext,
  ids: string[] | null,
): Promise<Record<string, { name: string; specimens: number }[]>> {
  const r = await ctx.catalog.query(
    `SELECT table_name, c.name AS column_name, any_value(c.type) AS type,
       count(DISTINCT specimen_id)::DOUBLE AS specimens
     FROM (SELECT specimen_id, name AS table_name, unnest(columns) AS c,
             generate_subscripts(columns, 1) AS pos
           FROM metric_tables
           WHERE source IS NOT NULL ${
      ids ? "AND specimen_id IN (SELECT unnest($ids::VARCHAR[]))" : ""
    })
     GROUP BY table_name, column_name
     ORDER BY table_name <> 'metrics', table_name, min(pos), column_name`,
    ids ? { ids } : undefined,
    { ...ctx.limits, maxRows: 10_000 },
  );
  const numeric =
    /^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL.*)$/;
  const tables: Record<string, { name: string; specimens: number }[]> = {};
  for (const row of r.rows) {
    const t = String(row.table_name);
    tables[t] ??= [];
    if (row.column_name !== "step" && numeric.test(String(row.type))) {
      tables[t].push({
        name: String(row.column_name),
        specimens: Number(row.specimens),
      });
    }
  }
  return tables;
}

/**
 * `GET /api/curves?ids=&columns=&table=&x0=&x1=&width=&full=`: downsampled
 * curves (see `_dashboard_curves.ts`).
 */
export async function curves(ctx: ApiContext, url: URL): Promise<unknown> {
  return await fetchCurves(ctx.catalog, {
    ids: listParam(url, "ids"),
    table: url.searchParams.get("table") || "metrics",
    columns: listParam(url, "columns"),
    x0: numberParam(url, "x0"),
    x1: numberParam(url, "x1"),
    width: numberParam(url, "width") ?? 800,
    full: url.searchParams.get("full") === "1",
  }, ctx.limits);
}

/** `GET /api/summary?ids=&column=&table=`: final/min/max per specimen. */
export async function summary(ctx: ApiContext, url: URL): Promise<unknown> {
  const column = url.searchParams.get("column") ?? "";
  return await summarizeColumn(ctx.catalog, {
    ids: listParam(url, "ids"),
    table: url.searchParams.get("table") || "metrics",
    column,
  }, ctx.limits);
}

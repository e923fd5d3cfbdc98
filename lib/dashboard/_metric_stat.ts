/**
 * A statistic (final, min, max) of a metric column per specimen, as SQL
 * over the catalog's union table of a metric table: shared by the params
 * views and the catalog's result columns.
 *
 * @module
 */
import { ident, metricsTableName } from "../duckdb/duckdb.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import type { ApiContext } from "./_context.ts";

/** The statistics a view can take. */
export const STATS = ["final", "min", "max"] as const;
/** A statistic of a metric column per specimen. */
export type Stat = typeof STATS[number];
const NUMERIC =
  /^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL.*)$/;

/**
 * The union table of metric table `name` and the SQL of `stat` of `column`
 * per specimen (`final`: the value at the highest step).
 */
export async function metricSql(
  ctx: ApiContext,
  name: string,
  column: string,
  stat: Stat,
): Promise<{ table: string; y: string }> {
  const table = metricsTableName(name);
  const r = await ctx.catalog.query(
    "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $t",
    { t: table },
    { ...ctx.limits, maxRows: 100_000 },
  );
  const types = new Map(
    r.rows.map((row) => [String(row.column_name), String(row.data_type)]),
  );
  if (types.size <= 1 && name !== "metrics") {
    throw new NotFoundError(
      `No metric table ${
        JSON.stringify(name)
      } in the catalog: see SELECT DISTINCT name FROM metric_tables`,
    );
  }
  const type = types.get(column);
  if (type === undefined || column === "specimen_id") {
    throw new InvalidInputError(
      `No metric column ${JSON.stringify(column)} in ${
        JSON.stringify(name)
      }: its columns are ${
        [...types.keys()].filter((c) => c !== "specimen_id").join(", ") ||
        "none yet"
      }`,
    );
  }
  if (!NUMERIC.test(type)) {
    throw new InvalidInputError(
      `Metric column ${JSON.stringify(column)} is ${type}, not a number`,
    );
  }
  const col = ident(column);
  if (stat === "final" && !types.has("step")) {
    throw new InvalidInputError(
      `${
        JSON.stringify(name)
      } has no "step" column, so stat=final has no meaning: use min or max`,
    );
  }
  const y = stat === "final"
    ? `arg_max(${col}, step) FILTER (WHERE ${col} IS NOT NULL)`
    : `${stat}(${col})`;
  return { table: ident(table), y: `(${y})::DOUBLE` };
}

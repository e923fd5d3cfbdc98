/**
 * The columns of a metric table in the catalog, and the checks
 * `VaultQuery.metricAcross` and `VaultQuery.compare` make on them before
 * they read a metric: the table exists, and has the column asked for.
 *
 * @module
 */
import { InvalidInputError, NotFoundError } from "../errors.ts";
import type { QueryParams, Row } from "./types.ts";

/** Runs read-only SQL on the catalog (as `VaultQuery.search`). */
export type Search = (sql: string, params?: QueryParams) => Promise<Row[]>;

/** The column names of catalog table `table` (none when there is no such table). */
export async function metricColumns(
  search: Search,
  table: string,
): Promise<string[]> {
  return (await search(
    "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $1",
    [table],
  )).map((r) => String(r.column_name));
}

/** The error for a metric table `name` the catalog lacks. */
export function noMetricTable(name: string | undefined): NotFoundError {
  return new NotFoundError(
    `No metric table ${
      JSON.stringify(name)
    } in the catalog: see SELECT DISTINCT name FROM metric_tables`,
  );
}

/**
 * Throws an {@linkcode InvalidInputError} when `column` is not a metric
 * column of `table` (whose columns are `columns`).
 */
export function checkMetricColumn(
  column: string,
  table: string,
  columns: string[],
): void {
  if (!columns.includes(column) || column === "specimen_id") {
    throw new InvalidInputError(
      `No metric column ${
        JSON.stringify(column)
      } in "${table}": its columns are ${
        columns.filter((c) => c !== "specimen_id").join(", ")
      }`,
    );
  }
}

/**
 * Staging rows in DuckDB: a temp table of VARCHAR columns filled through an
 * appender, then cast by one INSERT … SELECT.
 *
 * @module
 */
import { type DuckDBConnection, ident, literal } from "../duckdb/duckdb.ts";

export type Appender = Awaited<ReturnType<DuckDBConnection["createAppender"]>>;

/** A temp table of VARCHAR columns and an appender on it. */
export async function stage(
  c: DuckDBConnection,
  table: string,
  columns: string[],
): Promise<Appender> {
  await c.run(
    `CREATE OR REPLACE TEMP TABLE ${ident(table)} (${
      columns.map((n) => `${ident(n)} VARCHAR`).join(", ")
    })`,
  );
  return await c.createAppender(table, "main", "temp");
}

export function appendRow(appender: Appender, values: (string | null)[]) {
  for (const v of values) {
    if (v === null) appender.appendNull();
    else appender.appendVarchar(v);
  }
  appender.endRow();
}

/** The columns of `table` and their types, but `specimen_id`; undefined if no such table. */
export async function existingColumns(
  c: DuckDBConnection,
  table: string,
): Promise<Map<string, string> | undefined> {
  const rows = (await c.runAndReadAll(
    `SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ${
      literal(table)
    } ORDER BY column_index`,
  )).getRows() as [string, string][];
  if (rows.length === 0) return undefined;
  return new Map(rows.filter(([n]) => n !== "specimen_id"));
}

/** The first line of a (DuckDB) message. */
export function firstLine(text: string): string {
  return text.split("\n", 1)[0];
}

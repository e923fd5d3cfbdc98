/**
 * Results copied out of the catalog into a private in-memory DuckDB, to be
 * printed as DuckDB's text or written to Parquet (the catalog's own
 * connection may write no file).
 *
 * @module
 */
import {
  type ColumnInfo,
  type Database,
  duckdbMessage,
  ident,
  literal,
  openDatabase,
} from "../duckdb/duckdb.ts";
import { placeFile, tempPathFor } from "../_fs.ts";
import { InvalidInputError, VaultError } from "../errors.ts";
import type { DuckDBConnection, DuckDBResult } from "../duckdb/duckdb.ts";
import type { Row } from "./types.ts";

/** A result copied into its own in-memory DuckDB (table `result`). */
export interface Materialized {
  out: Database;
  columns: ColumnInfo[];
  /** The column names, made unique. */
  names: string[];
  rows: number;
}

/**
 * Copies `result`, with its column types, into table `result` (columns
 * named as the result's, made unique) of a new in-memory DuckDB.
 */
export async function copyToMemory(
  result: DuckDBResult,
): Promise<Materialized> {
  const out = await openDatabase(":memory:", {}, { privateTemp: true });
  try {
    const names = result.deduplicatedColumnNames();
    const types = result.columnTypes();
    const columns = result.columnNames().map((name, i) => ({
      name,
      type: result.columnLogicalType(i).alias ?? types[i].toString(),
    }));
    await out.connection.run(
      `CREATE TABLE result (${
        names.map((n, i) => `${ident(n)} ${types[i].toString()}`).join(", ")
      })`,
    );
    const appender = await out.connection.createAppender("result");
    let rows = 0;
    try {
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        appender.appendDataChunk(chunk);
        rows += chunk.rowCount;
      }
    } finally {
      appender.closeSync();
    }
    return { out, columns, names, rows };
  } catch (e) {
    out.close();
    throw e;
  }
}

/**
 * `result`'s rows with each value as DuckDB's own text (`CAST(x AS
 * VARCHAR)`), keyed by the column names made unique. The rows are copied
 * into a temp table on `c` itself (temp tables live in memory, so a
 * read-only catalog takes them too) and cast there: no second DuckDB to
 * open and close, which cost a fresh process more than the copy. The table
 * has an unguessable name and is dropped before this returns.
 */
export async function sqlTextRows(
  c: DuckDBConnection,
  result: DuckDBResult,
): Promise<{ columns: ColumnInfo[]; rows: Row[] }> {
  const names = result.deduplicatedColumnNames();
  const types = result.columnTypes();
  const columns = result.columnNames().map((name, i) => ({
    name,
    type: result.columnLogicalType(i).alias ?? types[i].toString(),
  }));
  const table = `sv_text_${crypto.randomUUID().replaceAll("-", "")}`;
  await c.run(
    `CREATE TEMP TABLE ${ident(table)} (${
      names.map((n, i) => `${ident(n)} ${types[i].toString()}`).join(", ")
    })`,
  );
  try {
    const appender = await c.createAppender(table, "main", "temp");
    try {
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        appender.appendDataChunk(chunk);
      }
    } finally {
      appender.closeSync();
    }
    const reader = await c.runAndReadAll(
      `SELECT ${
        names.map((n) => `CAST(${ident(n)} AS VARCHAR)`).join(", ")
      } FROM temp.main.${ident(table)} ORDER BY rowid`,
    );
    // Column by column: the client's row-wise read is several times slower.
    const values = reader.getColumns() as (string | null)[][];
    const rows: Row[] = new Array(reader.currentRowCount);
    for (let r = 0; r < rows.length; r++) {
      rows[r] = Object.fromEntries(names.map((k, i) => [k, values[i][r]]));
    }
    return { columns, rows };
  } finally {
    await c.run(`DROP TABLE IF EXISTS temp.main.${ident(table)}`);
  }
}

/**
 * Writes table `result` of `out` to a Parquet file at `path`, atomically
 * (temp file + rename); refuses to replace an existing file.
 */
export async function writeResultParquet(
  out: Database,
  path: string,
): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await out.connection.run(
      `COPY result TO ${literal(tmp)} (FORMAT parquet)`,
    );
    await placeFile(tmp, path, true);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new InvalidInputError(
        `Refusing to replace ${path}: it exists. Choose a new file name, or remove it first`,
        { cause: e },
      );
    }
    throw new VaultError(
      `Cannot write ${path}: ${duckdbMessage(e)}`,
      { cause: e },
    );
  }
}

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
import type { DuckDBResult } from "../duckdb/duckdb.ts";
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

/** The rows of table `result` with each value as DuckDB's own text. */
export async function sqlTextRows(
  out: Database,
  names: string[],
): Promise<Row[]> {
  const reader = await out.connection.runAndReadAll(
    `SELECT ${
      names.map((n) => `CAST(${ident(n)} AS VARCHAR)`).join(", ")
    } FROM result ORDER BY rowid`,
  );
  const keys = names;
  const rows = (reader.getRows() as (string | null)[][]).map((values) =>
    Object.fromEntries(keys.map((k, i) => [k, values[i]]))
  );
  return rows;
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

/**
 * Queries that stop at a time limit (`interrupt()`) and a size limit
 * (streamed, never read past the row or byte limit), and DuckDB's errors
 * turned into the dashboard's.
 *
 * @module
 */
import { jsonConverter } from "../duckdb/value_forms.ts";
import {
  cappedRows,
  type ColumnInfo,
  type DuckDBConnection,
  duckdbMessage,
  type DuckDBValueConverter,
  type JS,
  plainConverter,
  readCapped,
} from "../duckdb/duckdb.ts";
import {
  QueryRefusedError,
  QueryTimeoutError,
  ResultTooLargeError,
  SqlError,
  VaultError,
} from "../errors.ts";

/** Limits of one query. */
export interface QueryLimits {
  /** Stop (interrupt) the query after this many milliseconds. */
  timeoutMs: number;
  /** Return at most this many rows; `truncated` says when there were more. */
  maxRows: number;
  /**
   * Refuse a result whose values pass this many bytes (about its JSON
   * size) with a {@linkcode ResultTooLargeError}.
   * @default {33554432} ({@linkcode MAX_RESULT_BYTES}, 32 MiB)
   */
  maxBytes?: number;
}

/** The size limit of one dashboard result: 32 MiB of values. */
export const MAX_RESULT_BYTES = 32 * 1024 * 1024;

/** A query's result. */
export interface LimitedResult {
  columns: ColumnInfo[];
  rows: Record<string, unknown>[];
  /** Whether rows past `maxRows` were left unread. */
  truncated: boolean;
  /**
   * With the `values` option: the values column by column, and `rows`
   * empty. `"raw"`: as DuckDB gives them (DOUBLE and INTEGER as numbers,
   * VARCHAR as strings: the fastest); `"plain"`: as `rows` would hold them.
   */
  values?: unknown[][];
}

/** Limits, and how the result should come back. */
export type QueryOptions = QueryLimits & {
  /** Column by column instead of row objects: see {@linkcode LimitedResult.values}. */
  values?: "raw" | "plain" | "json";
};

export type Prepared = Awaited<ReturnType<DuckDBConnection["prepare"]>>;

/** Runs `work`, interrupting `connection` after `ms`: a QueryTimeoutError. */
export async function timed<T>(
  connection: DuckDBConnection,
  ms: number,
  work: () => Promise<T>,
  limitMs = ms,
): Promise<T> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    connection.interrupt();
  }, ms);
  try {
    return await work();
  } catch (e) {
    if (
      timedOut ||
      (!(e instanceof VaultError) &&
        /INTERRUPT|Interrupted/.test(duckdbMessage(e)))
    ) {
      throw new QueryTimeoutError(
        `Query stopped after ${
          seconds(limitMs)
        } (the dashboard's time limit): narrow it with WHERE or LIMIT, or run it with \`deno task query --timeout 0\` (no limit; its default is 60 s)`,
        { cause: e },
      );
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Streams `prepared` until `maxRows` + 1 rows or `maxBytes` of values,
 * interrupting it after `leftMs` (what is left of `limits.timeoutMs`).
 */
export async function limited(
  connection: DuckDBConnection,
  prepared: () => Prepared,
  limits: QueryOptions,
  leftMs: number,
): Promise<LimitedResult> {
  const maxBytes = limits.maxBytes ?? MAX_RESULT_BYTES;
  return await timed(connection, leftMs, async () => {
    let result;
    try {
      result = await prepared().stream();
    } catch (e) {
      if (/INTERRUPT|Interrupted/.test(duckdbMessage(e))) throw e;
      throw sqlError(e);
    }
    const columns: ColumnInfo[] = result.columnNames().map((name, i) => ({
      name,
      type: result.columnLogicalType(i).alias ??
        result.columnType(i).toString(),
    }));
    let read;
    try {
      read = await readCapped(result, {
        maxRows: limits.maxRows,
        maxBytes,
        tooBig: (bytes) =>
          new ResultTooLargeError(
            `The result passed ${mib(maxBytes)} (over ${
              mib(bytes)
            } read), the dashboard's limit for one result: narrow it with LIMIT, WHERE or fewer columns, or write it to a file with \`deno task query --format parquet --out FILE\``,
          ),
      }, converterFor(limits.values));
    } catch (e) {
      if (e instanceof VaultError) throw e;
      if (/INTERRUPT|Interrupted/.test(duckdbMessage(e))) throw e;
      throw sqlError(e);
    }
    if (limits.values) {
      return {
        columns,
        rows: [],
        truncated: read.truncated,
        values: read.columns,
      };
    }
    return { columns, rows: cappedRows(read), truncated: read.truncated };
  }, limits.timeoutMs);
}

/** The converter of a {@linkcode QueryOptions.values} mode (`null`: raw). */
function converterFor(
  values: QueryOptions["values"],
): DuckDBValueConverter<JS> | null {
  if (values === "raw") return null;
  return values === "json" ? jsonConverter : plainConverter;
}

function mib(bytes: number): string {
  return `${+(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}

export function sqlError(e: unknown): VaultError {
  if (e instanceof VaultError) return e;
  const message = duckdbMessage(e);
  if (message.startsWith("Permission Error")) {
    return new QueryRefusedError(
      `Refusing to open a file: the dashboard's SQL is read-only and every relation is inside the catalog (no file is needed). ${message}`,
      { cause: e },
    );
  }
  return new SqlError(message, { cause: e });
}

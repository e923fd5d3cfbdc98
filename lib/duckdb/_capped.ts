/**
 * Reading a DuckDB result up to a row and a byte limit, column by column,
 * without reading past the limit.
 *
 * @module
 */
import type {
  DuckDBResult,
  DuckDBValueConverter,
  JS,
} from "../_deps/duckdb_node_api.ts";
import { parseJson, plainConverter } from "./_convert.ts";

/**
 * About how many bytes `value` takes as text (JSON or CSV): strings by
 * length, numbers and the like as a few bytes, lists and objects as the
 * sum of their parts. Used to cap results before they outgrow a string.
 */
export function approxBytes(value: unknown): number {
  if (value === null || value === undefined) return 4;
  switch (typeof value) {
    case "string":
      return value.length + 2;
    case "number":
    case "boolean":
      return 8;
    case "bigint":
      return 20;
    case "object": {
      if (value instanceof Date) return 26;
      if (value instanceof Uint8Array) return Math.ceil(value.length * 4 / 3);
      let n = 2;
      if (Array.isArray(value)) {
        for (const v of value) n += approxBytes(v) + 1;
        return n;
      }
      const entries = Object.entries(value);
      if (entries.length === 0) return String(value).length;
      for (const [k, v] of entries) n += k.length + 4 + approxBytes(v);
      return n;
    }
    default:
      return 8;
  }
}

/** The most a result may hold before it is refused, and how it says so. */
export interface ResultCap {
  /** Rows kept; one more is read to tell that there were more. */
  maxRows: number;
  /** About how many bytes of values (see {@linkcode approxBytes}). */
  maxBytes: number;
  /** Makes the error when the values pass `maxBytes`. */
  tooBig: (bytes: number) => Error;
}

/** The columns of a streamed result, read under a {@linkcode ResultCap}. */
export interface CappedColumns {
  /** Column names, deduplicated (`a`, `a_1`). */
  names: string[];
  /** Values column by column, converted by `converter`. */
  columns: unknown[][];
  /** Whether rows past `maxRows` were left unread. */
  truncated: boolean;
}

/**
 * Reads `result` chunk by chunk, converting each with `converter` (JSON
 * columns then parsed; `null`: DuckDB's raw values, unparsed), until `cap.maxRows` + 1 rows; throws
 * `cap.tooBig()` once the values pass `cap.maxBytes`, before anything is
 * joined into one string.
 */
export async function readCapped(
  result: DuckDBResult,
  cap: ResultCap,
  converter: DuckDBValueConverter<JS> | null = plainConverter,
): Promise<CappedColumns> {
  const names = result.deduplicatedColumnNames();
  const json = names.map((_, i) =>
    result.columnLogicalType(i).alias === "JSON"
  );
  const columns: unknown[][] = names.map(() => []);
  let rows = 0;
  let bytes = 0;
  let truncated = false;
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const take = Math.min(chunk.rowCount, cap.maxRows - rows);
    if (take < chunk.rowCount) truncated = true;
    const values: unknown[][] = converter
      ? chunk.convertColumns(converter)
      : chunk.getColumns();
    for (let c = 0; c < values.length; c++) {
      const col = values[c];
      for (let r = 0; r < take; r++) {
        let v = col[r];
        if (converter && json[c] && typeof v === "string") v = parseJson(v);
        bytes += approxBytes(v);
        columns[c].push(v);
      }
      if (bytes > cap.maxBytes) throw cap.tooBig(bytes);
    }
    rows += take;
    if (truncated) break;
  }
  return { names, columns, truncated };
}

/** Row objects from {@linkcode CappedColumns}. */
export function cappedRows(read: CappedColumns): Record<string, unknown>[] {
  const n = read.columns[0]?.length ?? 0;
  const rows: Record<string, unknown>[] = new Array(n);
  for (let r = 0; r < n; r++) {
    const row: Record<string, unknown> = {};
    for (let c = 0; c < read.names.length; c++) {
      row[read.names[c]] = read.columns[c][r];
    }
    rows[r] = row;
  }
  return rows;
}

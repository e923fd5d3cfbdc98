/**
 * Private: query results as RFC 4180 CSV (used by `deno task query` and the
 * dashboard's download).
 *
 * @module
 */
import { toJson } from "../duckdb/duckdb.ts";

/**
 * One CSV field: NULL empty, an empty string `""` (as DuckDB's COPY writes
 * them), dates ISO-8601, lists and objects as JSON.
 */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (v === "") return '""';
  const s = v instanceof Date
    ? v.toISOString()
    : typeof v === "object"
    ? toJson(v)
    : String(v);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * CSV with a header line; lines end with LF, as DuckDB's `COPY … TO` and
 * pandas write them (`crlf`: with CRLF, as RFC 4180 has it).
 */
export function toCsv(
  names: string[],
  rows: unknown[][],
  options: { crlf?: boolean } = {},
): string {
  const end = options.crlf ? "\r\n" : "\n";
  const lines = [names.map(csvField).join(",")];
  for (const row of rows) lines.push(row.map(csvField).join(","));
  return lines.join(end) + end;
}

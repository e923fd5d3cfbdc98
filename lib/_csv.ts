/**
 * Private: query results as RFC 4180 CSV (used by `deno task query` and the
 * dashboard's download).
 *
 * @module
 */
import { toJson } from "./_duckdb.ts";

/** One CSV field: NULL empty, dates ISO-8601, lists and objects as JSON. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return "";
  const s = v instanceof Date
    ? v.toISOString()
    : typeof v === "object"
    ? toJson(v)
    : String(v);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** CSV with a header line and CRLF line ends. */
export function toCsv(names: string[], rows: unknown[][]): string {
  const lines = [names.map(csvField).join(",")];
  for (const row of rows) lines.push(row.map(csvField).join(","));
  return lines.join("\r\n") + "\r\n";
}

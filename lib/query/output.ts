/**
 * The text `deno task query` prints for a result: a table for people, CSV,
 * or a JSON array of row objects. One function, used by the task when it
 * runs the query itself and by the query server of `deno task serve` when
 * it runs it for the task, so both print the same bytes.
 *
 * @module
 */
import { toCsv } from "./csv.ts";
import { stringifyJsonRow } from "../duckdb/value_forms.ts";
import type { QueryResult, Row } from "./types.ts";

/** The text formats of {@linkcode formatQueryOutput}. */
export type TextFormat = "table" | "csv" | "json";

/**
 * The output text of `result`: `table` and `csv` want the values as
 * DuckDB's text (`RunOptions.values: "sql"`), `json` in JSON form
 * (`values: "json"`).
 *
 * @param crlf End CSV lines with CRLF instead of LF.
 * @example
 * ```ts
 * import { formatQueryOutput } from "./output.ts";
 * const result = { columns: [{ name: "n", type: "INTEGER" }], rows: [{ n: "1" }] };
 * console.assert(formatQueryOutput(result, "csv") === "n\n1\n");
 * console.assert(formatQueryOutput(result, "table").endsWith("(1 row)\n"));
 * ```
 */
export function formatQueryOutput(
  result: QueryResult,
  format: TextFormat,
  crlf = false,
): string {
  return format === "csv"
    ? resultCsv(result, crlf)
    : format === "json"
    ? toJsonText(result)
    : toTable(result);
}

const MAX_CELL = 60;

const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|BIGNUM|FLOAT|DOUBLE|DECIMAL\(\d+,\s*\d+\))$/;

function text(v: unknown): string {
  return v === null || v === undefined ? "NULL" : String(v);
}

/** A table for people: aligned columns, long cells cut, a row count. */
function toTable({ columns, rows }: QueryResult): string {
  const names = columns.map((c) => c.name);
  const keys = rows.length ? Object.keys(rows[0]) : names;
  const cells = rows.map((row) =>
    keys.map((k) => {
      const s = text(row[k]).replace(/\r?\n/g, "⏎");
      return s.length > MAX_CELL ? `${s.slice(0, MAX_CELL - 1)}…` : s;
    })
  );
  const numeric = columns.map((c) => NUMERIC.test(c.type));
  const widths = names.map((n, i) =>
    Math.max(n.length, ...cells.map((r) => r[i].length))
  );
  const line = (values: string[]) =>
    values.map((v, i) =>
      numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i])
    ).join("  ").trimEnd();
  const parts = [line(names), widths.map((w) => "─".repeat(w)).join("  ")];
  for (const r of cells) parts.push(line(r));
  parts.push(`(${rows.length} row${rows.length === 1 ? "" : "s"})`);
  return parts.join("\n") + "\n";
}

/** RFC 4180 CSV with a header; values as SQL text, NULL as empty. */
function resultCsv({ columns, rows }: QueryResult, crlf: boolean): string {
  const keys = rows.length ? Object.keys(rows[0]) : columns.map((c) => c.name);
  return toCsv(
    columns.map((c) => c.name),
    rows.map((row) => keys.map((k) => row[k])),
    { crlf },
  );
}

/** A JSON array of row objects, one per line. */
function toJsonText({ rows }: QueryResult): string {
  if (rows.length === 0) return "[]\n";
  return `[\n${rows.map((r: Row) => stringifyJsonRow(r)).join(",\n")}\n]\n`;
}

/**
 * `deno task query "SELECT ..."`: read-only SQL on the catalog, printed as a
 * table, CSV or JSON, or written to Parquet. See {@linkcode HELP}.
 *
 * @module
 */
import {
  assertOutsideSpecimens,
  parseTaskArgs,
  runMain,
  taskVault,
  userPath,
} from "../lib/cli/cli.ts";
import { toCsv } from "../lib/query/csv.ts";
import { stringifyJsonRow } from "../lib/duckdb/value_forms.ts";
import { atomicWriteFile, writeAll } from "../lib/_fs.ts";
import { InvalidInputError } from "../lib/errors.ts";
import {
  type QueryResult,
  type Row,
  VaultQuery,
} from "../lib/query/vault_query.ts";

// The output formats.
const FORMATS = ["table", "csv", "json", "parquet"] as const;

/** The task's help text. */
export const HELP = `Run read-only SQL (DuckDB) on the vault's catalog.

Usage:
  deno task query "SELECT ..." [--format table|csv|json|parquet] [--out FILE]
                               [--crlf] [--timeout SECONDS] [--vault DIR]
  echo "SELECT ..." | deno task query -

Options:
  --format F   table (default, for people), csv, json (an array of objects),
               or parquet (needs --out)
  --crlf       End CSV lines with CRLF (default LF, as DuckDB's COPY writes)
  --out FILE   Write the output to FILE instead of stdout
  --timeout S  Stop a query that runs longer than S seconds (default 60;
               0 means no limit)
  --vault DIR  The vault root (default: $SPECIMEN_VAULT, else the nearest folder
               at or above the working directory with a specimens/ folder)
  -h, --help   Show this help

Relations: catalog (one row per specimen: specimen_id, created, domain,
method, model, tags, status, path, description, dependencies, artifacts,
provenance, ...), metrics (every specimen's metric rows with specimen_id),
exp_<id> (one specimen's metrics), exp_<id>__<name> and metrics__<name>
(strata/<name>.parquet), metric_tables, tensors.

Values: table and csv print each value as DuckDB's own text (what
CAST(x AS VARCHAR) gives), at full precision: TIMESTAMP 2024-01-01
12:00:00.123456, TIMESTAMP_NS to the nanosecond, TIMESTAMPTZ with its
offset, DATE 2024-01-01, BLOB as \x00\xFF escapes, DECIMAL and big integers
exact, lists [1, 2], structs {'a': 1}, maps {k=1}. NULL prints as NULL in a
table and as an empty field in csv. json (an array of row objects) writes:
integers as numbers within ±(2^53-1), else as strings of their digits;
DECIMAL as a string ("1.25"); FLOAT/DOUBLE as numbers, NaN and infinities
as "nan", "inf", "-inf"; timestamps as ISO 8601 strings with their full
fraction ("2024-01-01T12:00:00.123456", with "+00:00" for TIMESTAMPTZ);
DATE "2024-01-01"; TIME, INTERVAL, UUID as their SQL text; BLOB as base64;
lists as arrays, structs as objects, maps as objects (string keys) or
[{"key", "value"}]; JSON columns as their JSON; NULL as null.

Examples:
  deno task query "SELECT * FROM catalog WHERE domain = 'interpretability'"
  deno task query "SELECT * FROM catalog WHERE array_contains(tags, 'gpt2')"
  deno task query "SELECT method, avg(loss) FROM metrics JOIN catalog USING (specimen_id) GROUP BY method"

Only SELECT queries run (SELECT, WITH, FROM, VALUES, TABLE, DESCRIBE), on a
read-only catalog, decided from DuckDB's parse of the SQL: table functions are
limited to row generators and catalog metadata (range, unnest, duckdb_tables,
pragma_table_info, ...), and the SQL may open no file. A result held in memory
is limited to 128 MiB (--format parquet --out FILE streams without a limit).

Exit codes: 0 success; 1 the SQL failed (DuckDB's message, with a caret under
the spot) or ran past the time limit; 2 invalid arguments, a writing statement
or a file access (refused); 4 no vault or no catalog (run deno task index).`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals, help } = parseTaskArgs(args, {
    format: { type: "string", short: "f", default: "table" },
    out: { type: "string", short: "o" },
    timeout: { type: "string" },
    vault: { type: "string" },
    crlf: { type: "boolean", default: false },
  }, { allowPositionals: true });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const format = values.format as string;
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new InvalidInputError(
      `Unknown format ${JSON.stringify(format)}: use one of ${
        FORMATS.join(", ")
      }`,
    );
  }
  const timeout = values.timeout === undefined
    ? undefined
    : Number(values.timeout);
  if (
    timeout !== undefined &&
    (values.timeout === "" || Number.isNaN(timeout) || timeout < 0)
  ) {
    throw new InvalidInputError(
      `Invalid --timeout ${
        JSON.stringify(values.timeout)
      }: give a number of seconds ≥ 0, e.g. --timeout 300 (0 means no limit)`,
    );
  }
  let out = values.out === undefined
    ? undefined
    : userPath(values.out as string);
  if (format === "parquet" && !out) {
    throw new InvalidInputError(
      "--format parquet writes a file: add --out FILE, e.g. --out result.parquet",
    );
  }
  let sql = positionals.join(" ");
  if (sql === "-" || (sql === "" && !Deno.stdin.isTerminal())) {
    sql = await new Response(Deno.stdin.readable).text();
  }
  if (sql.trim() === "") {
    throw new InvalidInputError(
      `Missing SQL: deno task query "SELECT * FROM catalog" (see --help)`,
    );
  }
  const paths = await taskVault(values.vault as string | undefined);
  if (out) out = await assertOutsideSpecimens(out, paths);
  using q = await VaultQuery.open({
    vault: paths.root,
    timeoutSeconds: timeout,
  });
  if (format === "parquet") {
    const rows = await q.writeParquet(sql, out!);
    console.log(`Wrote ${rows} row(s) to ${out}`);
    return 0;
  }
  const result = await q.run(sql, undefined, {
    values: format === "json" ? "json" : "sql",
  });
  const text = format === "csv"
    ? resultCsv(result, values.crlf as boolean)
    : format === "json"
    ? toJsonText(result)
    : toTable(result);
  const bytes = new TextEncoder().encode(text);
  if (out) {
    await atomicWriteFile(out, bytes, { createNew: true }).catch((e) => {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      throw new InvalidInputError(
        `Refusing to replace ${out}: it exists. Choose a new file name, or remove it first`,
      );
    });
  } else await writeAll(Deno.stdout, bytes);
  return 0;
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

if (import.meta.main) await runMain(main);

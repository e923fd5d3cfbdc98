/**
 * Generic tables: a CSV file (header line, one row per line) or a JSON Lines
 * file (one object per line) with a step column, as a fallback for every
 * tool without its own importer. Also the row-to-table helpers the Lightning,
 * Trainer and MLflow importers share.
 *
 * @module
 */
import { CorruptFileError, InvalidInputError } from "../errors.ts";
import { parsePythonJson } from "../formats/python_json.ts";
import { basename, parseCsv, resolve } from "./_deps.ts";
import {
  emptyRun,
  type ImportedColumn,
  type ImportedRun,
  type ImportedTable,
  readSourceFile,
} from "./model.ts";

/**
 * One parsed row: column name → number (a bigint for an integer past 2^53),
 * string, or null (empty).
 */
export type Row = Record<string, number | bigint | string | null>;

/** Options of {@linkcode parseCsvRows}. */
export interface ParseCsvOptions {
  /**
   * Keep every non-empty cell as its text, for {@linkcode rowsToTable} with
   * `textCells` to type each column whole (a string column keeps `007`).
   * @default false
   */
  raw?: boolean;
}

/**
 * Parses CSV text into rows keyed by the header. Cells that read as numbers
 * become numbers, empty cells null.
 *
 * @param text The file's text.
 * @param file Name used in messages.
 * @returns The header and the rows.
 * @throws {CorruptFileError} A row has more or fewer cells than the header,
 * or the CSV does not parse.
 * @example
 * ```ts
 * import { parseCsvRows } from "./table.ts";
 * const { rows } = parseCsvRows("step,loss\n0,1.5\n1,\n", "m.csv");
 * console.assert(rows[0].loss === 1.5 && rows[1].loss === null);
 * ```
 */
export function parseCsvRows(
  text: string,
  file: string,
  options: ParseCsvOptions = {},
): { header: string[]; rows: Row[] } {
  let records: string[][];
  try {
    records = parseCsv(text, { bom: true, skip_empty_lines: true });
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw new CorruptFileError(
      `Cannot read "${file}": ${err.message}${
        err.message.includes("Invalid Record Length")
          ? "; every row must have as many cells as the header (a ragged row), fix or remove that line"
          : ""
      }`,
      { cause: e },
    );
  }
  if (records.length === 0) {
    throw new CorruptFileError(
      `Cannot read "${file}": it is empty (no header line)`,
    );
  }
  const header = records[0];
  const rows: Row[] = [];
  for (let r = 1; r < records.length; r++) {
    const rec = records[r];
    const row: Row = {};
    for (let c = 0; c < header.length; c++) {
      row[header[c]] = options.raw
        ? (rec[c] === "" ? null : rec[c])
        : csvNumber(rec[c]);
    }
    rows.push(row);
  }
  return { header, rows };
}

/**
 * One CSV cell as a value: a number when it reads as one (also `inf`,
 * `-infinity`, `nan`), null when empty, else the text.
 *
 * @example
 * ```ts
 * import { csvCell } from "./table.ts";
 * console.assert(csvCell("1e-3") === 0.001 && csvCell("") === null);
 * console.assert(csvCell("warmup") === "warmup");
 * ```
 */
export function csvCell(s: string): number | string | null {
  if (s === "") return null;
  const t = s.trim();
  if (
    /^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|infinity|nan)$/i
      .test(t)
  ) {
    const low = t.toLowerCase().replace(/^\+/, "");
    if (low === "nan") return NaN;
    if (low === "inf" || low === "infinity") return Infinity;
    if (low === "-inf" || low === "-infinity") return -Infinity;
    return Number(t);
  }
  return s;
}

/**
 * {@linkcode csvCell}, but an integer past 2^53 is an exact bigint.
 *
 * @example
 * ```ts
 * import { csvNumber } from "./table.ts";
 * console.assert(csvNumber("1152921504606846977") === 1152921504606846977n);
 * ```
 */
export function csvNumber(s: string): number | bigint | string | null {
  const v = csvCell(s);
  if (
    typeof v === "number" && Number.isInteger(v) && !Number.isSafeInteger(v)
  ) {
    const t = s.trim().replace(/^\+/, "");
    if (/^-?\d+$/.test(t)) return BigInt(t);
  }
  return v;
}

/** Options of {@linkcode rowsToTable}. */
export interface RowsToTableOptions {
  /**
   * Cells are CSV text (`parseCsvRows` with `raw`): a column whose every
   * cell reads as a number is numeric, any other keeps each cell's text as
   * written.
   * @default false
   */
  textCells?: boolean;
  /** Hears of a column that mixes kinds, named. */
  warn?: (message: string) => void;
}

/**
 * Lays out rows as a table with a `stepColumn` step: every row kept, in
 * file order (a step is not a key: a repeated or backwards step, as a
 * restarted run or an appending logger writes, is a row of its own).
 * Numeric columns are DOUBLE, or INT64 (exact bigints) where every value is
 * an integer and one is past 2^53.
 *
 * @param name Table name.
 * @param rows Parsed rows.
 * @param columns Columns to keep, in order (the step column is left out).
 * @param stepColumn The step column's name.
 * @param file Name used in messages.
 * @param options See {@linkcode RowsToTableOptions}.
 * @returns The table.
 * @throws {CorruptFileError} A row's step is missing or not a non-negative
 * integer.
 * @example
 * ```ts
 * import { rowsToTable } from "./table.ts";
 * const t = rowsToTable("m", [{ step: 1, x: 2 }, { step: 0, x: null }], ["x"], "step", "f");
 * console.assert(t.step[0] === 1 && t.rows === 2);
 * ```
 */
export function rowsToTable(
  name: string,
  rows: Row[],
  columns: string[],
  stepColumn: string,
  file: string,
  options: RowsToTableOptions = {},
): ImportedTable {
  const n = rows.length;
  const step = new Float64Array(n);
  rows.forEach((row, i) => {
    let s = row[stepColumn];
    if (options.textCells && typeof s === "string") s = csvNumber(s);
    if (typeof s === "bigint" && s >= 0n) {
      options.warn?.(
        `"${file}" row ${i + 1}: step ${s} is beyond 2^53 and was rounded to ${
          Number(s)
        } (steps are doubles here; the exact value is lost)`,
      );
      s = Number(s);
    }
    if (typeof s !== "number" || !Number.isInteger(s) || s < 0) {
      throw new CorruptFileError(
        `Cannot read "${file}": row ${i + 1} has step ${
          typeof s === "bigint" ? String(s) : JSON.stringify(s ?? null)
        } in column "${stepColumn}"; steps must be non-negative integers`,
      );
    }
    step[i] = s;
  });
  const out = new Map<string, ImportedColumn>();
  for (const c of columns) {
    out.set(c, tableColumn(c, rows.map((r) => r[c] ?? null), options));
  }
  return { name, rows: n, step, columns: out };
}

function tableColumn(
  name: string,
  cells: (number | bigint | string | null)[],
  options: RowsToTableOptions,
): ImportedColumn {
  const n = cells.length;
  let values = cells;
  if (options.textCells) {
    const parsed = cells.map((v) => typeof v === "string" ? csvNumber(v) : v);
    if (parsed.every((v) => typeof v !== "string")) values = parsed;
    else return { kind: "string", values: cells as (string | null)[] };
  }
  if (values.every((v) => typeof v !== "string")) {
    if (values.some((v) => typeof v === "bigint")) {
      if (values.every((v) => v === null || Number.isInteger(Number(v)))) {
        return {
          kind: "int64",
          values: values.map((v) => v === null ? null : BigInt(v)),
        };
      }
      options.warn?.(
        `column "${name}" mixes integers beyond 2^53 with fractions: written as DOUBLE, so those integers are rounded`,
      );
    }
    const out = new Float64Array(n);
    const present = new Uint8Array(n);
    let all = true;
    values.forEach((v, i) => {
      if (v === null) all = false;
      else {
        out[i] = Number(v);
        present[i] = 1;
      }
    });
    return { kind: "number", values: out, present: all ? null : present };
  }
  return {
    kind: "string",
    values: values.map((v) => v === null ? null : String(v)),
  };
}

/** Options of {@linkcode importTable}. */
export interface TableImportOptions {
  /**
   * The column holding the step.
   * @default "step"
   */
  stepColumn?: string;
  /**
   * `csv` or `jsonl`; by default from the file's extension (`.jsonl`,
   * `.ndjson` are JSON Lines, anything else CSV).
   */
  format?: "csv" | "jsonl";
}

/**
 * Reads one CSV or JSON Lines file as a run with one table `metrics`. Needs
 * read permission.
 *
 * @param path The file.
 * @param options See {@linkcode TableImportOptions}.
 * @returns The run.
 * @throws {CorruptFileError} A ragged CSV row, a line that is not a JSON
 * object, a bad step.
 * @throws {InvalidInputError} The step column is not in the file.
 * @example
 * ```ts
 * import { importTable } from "./table.ts";
 * const f = await Deno.makeTempFile({ suffix: ".jsonl" });
 * await Deno.writeTextFile(f, '{"step":0,"loss":2}\n{"step":1,"loss":1}\n');
 * const run = await importTable(f);
 * console.assert(run.tables[0].rows === 2);
 * await Deno.remove(f);
 * ```
 */
export async function importTable(
  path: string,
  options: TableImportOptions = {},
): Promise<ImportedRun> {
  const abs = resolve(path);
  const name = basename(abs);
  const format = options.format ??
    (/\.(jsonl|ndjson)$/i.test(name) ? "jsonl" : "csv");
  const stepColumn = options.stepColumn ?? "step";
  const { bytes, file } = await readSourceFile(abs, name);
  const text = new TextDecoder().decode(bytes);
  let header: string[], rows: Row[];
  if (format === "csv") {
    ({ header, rows } = parseCsvRows(text, name, { raw: true }));
  } else ({ header, rows } = parseJsonLines(text, name));
  if (!header.includes(stepColumn)) {
    throw new InvalidInputError(
      `"${name}" has no column "${stepColumn}" (its columns: ${
        header.join(", ")
      }); name the step column with --step-column`,
    );
  }
  const run = emptyRun(format, format, abs, name, name.replace(/\.[^.]+$/, ""));
  run.sourceFiles.push({ ...file, path: name });
  run.tables.push(
    rowsToTable(
      "metrics",
      rows,
      header.filter((h) => h !== stepColumn),
      stepColumn,
      name,
      { textCells: format === "csv", warn: (m) => run.warnings.push(m) },
    ),
  );
  return run;
}

function parseJsonLines(
  text: string,
  file: string,
): { header: string[]; rows: Row[] } {
  const header: string[] = [];
  const seen = new Set<string>();
  const rows: Row[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    let obj: unknown;
    try {
      obj = parsePythonJson(line);
    } catch (e) {
      throw new CorruptFileError(
        `Cannot read "${file}": line ${i + 1} is not JSON (${
          (e as Error).message
        })`,
        { cause: e },
      );
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
      throw new CorruptFileError(
        `Cannot read "${file}": line ${
          i + 1
        } is not a JSON object; each line must be one {"step": ..., "metric": ...} object`,
      );
    }
    const row: Row = {};
    for (const [k, v] of Object.entries(obj)) {
      if (!seen.has(k)) {
        seen.add(k);
        header.push(k);
      }
      row[k] = v === null
        ? null
        : typeof v === "number" || typeof v === "bigint"
        ? v
        : typeof v === "boolean"
        ? (v ? 1 : 0)
        : typeof v === "string"
        ? v
        : stringifyJson(v);
    }
    rows.push(row);
  });
  return { header, rows };
}

/**
 * JSON text of a nested value; a bigint or a non-finite number, which JSON
 * cannot hold, becomes its text as a string (`"NaN"`, exact digits).
 */
function stringifyJson(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) =>
      typeof x === "bigint" || (typeof x === "number" && !Number.isFinite(x))
        ? String(x)
        : x,
  );
}

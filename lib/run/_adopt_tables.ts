/**
 * Private: output files that become metric tables. `.csv` and `.jsonl` are
 * read twice, streamed: once to check every line and settle each column's
 * type (a column with both numbers and text is text, as the CSV importer
 * does), once to log the rows through a `MetricsLogger`, whose parts keep
 * memory bounded. A `.parquet` the vault's reader can read (checked from its
 * footer: flat columns of supported types, codecs it decodes) is copied as
 * it is, streamed.
 *
 * @module
 */
import { NodeReadable, parseCsvStream } from "../_deps.ts";
import { CorruptFileError, InvalidInputError } from "../errors.ts";
import { csvCell } from "../importers/table.ts";
import { followJsonl } from "../bridge/jsonl_follow.ts";
import { readParquetFooter } from "../formats/parquet/footer.ts";
import { readableColumns } from "../formats/parquet/parquet.ts";
import type { LogRow, LogValue } from "../metrics_log/logger.ts";
import type { ArtifactRecord } from "../specimen/manifest_types.ts";

/**
 * Opens the output file again, checked to be the same file (see
 * `_adopt_open.ts`); each pass reads through its own handle, which the
 * pass closes.
 */
export type Reopen = () => Promise<Deno.FsFile>;

/** Where a table's rows go: a metrics logger. */
export interface RowSink {
  log(row: LogRow): void;
}

type Kind = "number" | "string" | "boolean";

/**
 * What the first pass learnt: each column's kind, and the row count. A
 * number column whose every value is a whole number is INT64 (the native
 * logger's rule); one holding a whole number beyond 2^53 is logged as
 * bigints, exactly. A column mixing such a number with fractions cannot be
 * exact: it is DOUBLE and named in `rounded`.
 */
export interface TablePlan {
  kinds: Map<string, Kind>;
  rows: number;
  /** Number columns holding a value that is not a whole number. */
  fractions: Set<string>;
  /** Number columns holding a whole number beyond 2^53. */
  wide: Set<string>;
  /** Columns whose values are rounded (DOUBLE): recorded as `rounded_columns`. */
  rounded: Set<string>;
}

function newPlan(): TablePlan {
  return {
    kinds: new Map(),
    rows: 0,
    fractions: new Set(),
    wide: new Set(),
    rounded: new Set(),
  };
}

/** Settles `rounded`: wide columns that also hold fractions. */
function settle(plan: TablePlan): TablePlan {
  for (const c of plan.wide) {
    if (plan.fractions.has(c) && plan.kinds.get(c) === "number") {
      plan.rounded.add(c);
    }
  }
  return plan;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A CSV cell: as the CSV importer reads it (`csvCell`), but a whole number
 * beyond 2^53 that fits 64 bits as a bigint, exact.
 */
function cellValue(text: string): number | bigint | string | null {
  const v = csvCell(text);
  if (typeof v === "number" && !Number.isSafeInteger(v)) {
    const t = text.trim();
    if (/^[+-]?\d+$/.test(t)) {
      const b = BigInt(t);
      if (b >= INT64_MIN && b <= INT64_MAX) return b;
    }
  }
  return v;
}

/**
 * Records column `key`, refusing a blank name, a second column of the same
 * name, or one that differs only in case (SQL cannot tell them apart).
 */
function checkKey(seen: Map<string, string>, key: string, file: string): void {
  if (key.trim() === "") {
    throw new InvalidInputError(
      `Cannot adopt "${file}": a column name is blank; name every column`,
    );
  }
  const folded = key.toLowerCase();
  const other = seen.get(folded);
  if (other === key) {
    throw new InvalidInputError(
      `Cannot adopt "${file}": two columns are named "${key}"; rename one`,
    );
  }
  if (other !== undefined) {
    throw new InvalidInputError(
      `Cannot adopt "${file}": columns "${other}" and "${key}" differ only in case, which SQL cannot tell apart; rename one`,
    );
  }
  seen.set(folded, key);
}

function kindOf(v: unknown): Kind | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "number" || typeof v === "bigint") return "number";
  if (typeof v === "boolean") return "boolean";
  return "string";
}

function merge(plan: TablePlan, key: string, v: unknown): void {
  const k = kindOf(v);
  if (k === null) return;
  const { kinds } = plan;
  const prev = kinds.get(key);
  if (prev === undefined) kinds.set(key, k);
  else if (prev !== k) kinds.set(key, "string");
  if (typeof v === "bigint") plan.wide.add(key);
  else if (typeof v === "number") {
    if (!Number.isInteger(v)) plan.fractions.add(key);
    // A JSON number already rounded by the reader: say so.
    else if (!Number.isSafeInteger(v)) plan.rounded.add(key);
  }
}

/** A value as its column's kind: a mixed column holds text. */
function asKind(plan: TablePlan, key: string, v: unknown): LogValue {
  const kind = plan.kinds.get(key);
  if (v === null || v === undefined || kind === undefined) return null;
  if (kind === "number" && plan.wide.has(key)) {
    // Exact bigints, unless the column also holds fractions (rounded).
    return plan.fractions.has(key) ? Number(v) : BigInt(v as number | bigint);
  }
  if (kind === "string") {
    return typeof v === "string"
      ? v
      : typeof v === "object"
      ? JSON.stringify(v)
      : String(v);
  }
  return v as LogValue;
}

// ---- CSV ----

async function* csvRecords(open: Reopen, file: string) {
  // The stream owns the file: it closes it at its end, or when cancelled
  // (destroying `src` below). Closing the file under a read in flight (a
  // consumer that stops early) rejected that read with nobody to catch it.
  const f = await open();
  const src = NodeReadable.from(f.readable);
  const parser = src.pipe(
    parseCsvStream({ bom: true, skip_empty_lines: true }),
  );
  try {
    for await (const rec of parser) yield rec as string[];
  } catch (e) {
    const message = (e as Error).message;
    throw new CorruptFileError(
      `Cannot adopt "${file}" as a table: ${message}${
        /Invalid Record Length/i.test(message)
          ? "; every row must have as many cells as the header"
          : ""
      }`,
      { cause: e },
    );
  } finally {
    parser.destroy();
    src.destroy();
  }
}

/** First pass over a CSV file: its header, column kinds and rows. */
export async function planCsv(
  open: Reopen,
  file: string,
): Promise<TablePlan> {
  const plan = newPlan();
  let header: string[] | undefined;
  for await (const rec of csvRecords(open, file)) {
    if (!header) {
      header = rec;
      const seen = new Map<string, string>();
      for (const h of header) checkKey(seen, h, file);
      continue;
    }
    let any = false;
    rec.forEach((text, c) => {
      const v = cellValue(text);
      if (v !== null) any = true;
      merge(plan, header![c], v);
    });
    if (any) plan.rows++;
  }
  if (!header) {
    throw new CorruptFileError(
      `Cannot adopt "${file}" as a table: it is empty (no header line)`,
    );
  }
  return settle(plan);
}

/** Second pass: logs every row of the CSV file into `sink`. */
export async function logCsv(
  open: Reopen,
  file: string,
  plan: TablePlan,
  sink: RowSink,
): Promise<void> {
  let header: string[] | undefined;
  for await (const rec of csvRecords(open, file)) {
    if (!header) {
      header = rec;
      continue;
    }
    const row: Record<string, LogValue> = {};
    let any = false;
    rec.forEach((text, c) => {
      const v = asKind(plan, header![c], cellValue(text));
      if (v !== null) any = true;
      row[header![c]] = v;
    });
    if (any) sink.log(row);
  }
}

// ---- JSON Lines ----

async function* jsonlObjects(open: Reopen, file: string) {
  // The file is complete (its writer exited): read it once to its end.
  const handle = await open();
  for await (
    const batch of followJsonl(file, {
      maxBadLines: Number.MAX_SAFE_INTEGER,
      file: handle,
    })
  ) {
    const p = batch.problems[0];
    if (p) {
      throw new CorruptFileError(
        `Cannot adopt "${file}" as a table: line ${p.line}: ${p.message}; every line must be one JSON object`,
      );
    }
    for (const r of batch.rows) yield r.value;
  }
}

/** First pass over a JSON Lines file: column kinds and rows. */
export async function planJsonl(
  open: Reopen,
  file: string,
): Promise<TablePlan> {
  const plan = newPlan();
  const seen = new Map<string, string>();
  for await (const obj of jsonlObjects(open, file)) {
    let any = false;
    for (const [k, v] of Object.entries(obj)) {
      if (seen.get(k.toLowerCase()) !== k) checkKey(seen, k, file);
      if (v !== null) any = true;
      merge(plan, k, v);
    }
    if (any) plan.rows++;
  }
  return settle(plan);
}

/** Second pass: logs every object of the JSON Lines file into `sink`. */
export async function logJsonl(
  open: Reopen,
  file: string,
  plan: TablePlan,
  sink: RowSink,
): Promise<void> {
  for await (const obj of jsonlObjects(open, file)) {
    const row: Record<string, LogValue> = {};
    let any = false;
    for (const [k, v] of Object.entries(obj)) {
      const value = asKind(plan, k, v);
      if (value !== null) any = true;
      row[k] = value;
    }
    if (any) sink.log(row);
  }
}

// ---- Parquet ----

/**
 * Checks that the Parquet file at `path` (inside `root`, no link followed)
 * is one the vault reads; returns its record's fields but `bytes` (the
 * caller copies it through its open handle).
 */
export async function checkParquet(
  path: string,
  root: string,
  file: string,
): Promise<Partial<ArtifactRecord>> {
  const metadata = await readParquetFooter(path, {
    root,
    what: "output",
    noFollow: true,
  });
  const columns = readableColumns(metadata, file).map((c) => ({
    name: c.name,
    type: c.type,
  }));
  return { columns, rows: Number(metadata.num_rows) };
}

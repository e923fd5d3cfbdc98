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

/** What the first pass learnt: each column's kind, and the row count. */
export interface TablePlan {
  kinds: Map<string, Kind>;
  rows: number;
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
  if (typeof v === "number") return "number";
  if (typeof v === "boolean") return "boolean";
  return "string";
}

function merge(kinds: Map<string, Kind>, key: string, v: unknown): void {
  const k = kindOf(v);
  if (k === null) return;
  const prev = kinds.get(key);
  if (prev === undefined) kinds.set(key, k);
  else if (prev !== k) kinds.set(key, "string");
}

/** A value as its column's kind: a mixed column holds text. */
function asKind(v: unknown, kind: Kind | undefined): LogValue {
  if (v === null || v === undefined || kind === undefined) return null;
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
  const kinds = new Map<string, Kind>();
  let header: string[] | undefined;
  let rows = 0;
  for await (const rec of csvRecords(open, file)) {
    if (!header) {
      header = rec;
      const seen = new Map<string, string>();
      for (const h of header) checkKey(seen, h, file);
      continue;
    }
    let any = false;
    rec.forEach((text, c) => {
      const v = csvCell(text);
      if (v !== null) any = true;
      merge(kinds, header![c], v);
    });
    if (any) rows++;
  }
  if (!header) {
    throw new CorruptFileError(
      `Cannot adopt "${file}" as a table: it is empty (no header line)`,
    );
  }
  return { kinds, rows };
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
      const v = asKind(csvCell(text), plan.kinds.get(header![c]));
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
  const kinds = new Map<string, Kind>();
  const seen = new Map<string, string>();
  let rows = 0;
  for await (const obj of jsonlObjects(open, file)) {
    let any = false;
    for (const [k, v] of Object.entries(obj)) {
      if (seen.get(k.toLowerCase()) !== k) checkKey(seen, k, file);
      if (v !== null) any = true;
      merge(kinds, k, v);
    }
    if (any) rows++;
  }
  return { kinds, rows };
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
      const value = asKind(v, plan.kinds.get(k));
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

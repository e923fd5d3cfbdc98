/**
 * The in-memory model of one run read from another tool's files: tables of
 * metrics keyed by an integer step, histograms, texts, params and tags, and
 * the source files with their SHA-256. Every importer returns
 * {@linkcode ImportedRun}s; turning one into a specimen is done elsewhere.
 *
 * @module
 */
import { createHash } from "./_deps.ts";
import type { SourceTree } from "./_source_tree.ts";
import {
  dedupe,
  isAscending,
  lowerBound,
  mergeUnique,
  sameSteps,
  unionSteps,
} from "./_steps.ts";

/** The formats the importers read. */
export type ImportKind =
  | "tensorboard"
  | "lightning"
  | "hf-trainer"
  | "mlflow"
  | "csv"
  | "jsonl"
  | "wandb"
  | "optuna";

/** A JSON-like value: what params hold. */
export type ParamValue =
  | string
  | number
  | boolean
  | null
  | ParamValue[]
  | { [key: string]: ParamValue };

/**
 * A numeric column: `values[i]` is row `i`'s value unless `present` is given
 * and `present[i]` is 0 (then the cell is null and `values[i]` is 0).
 */
export interface NumberColumn {
  kind: "number";
  values: Float64Array;
  /** Null mask (1 = a value); `null` when every row has a value. */
  present: Uint8Array | null;
}

/** A text column (generic csv/jsonl only); `null` marks an empty cell. */
export interface StringColumn {
  kind: "string";
  values: (string | null)[];
}

/**
 * A whole-number column kept exact: every value an integer as the tool wrote
 * it (some beyond 2^53, where a double would round them); written as INT64.
 */
export interface Int64Column {
  kind: "int64";
  values: (bigint | null)[];
}

/** One column of an {@linkcode ImportedTable}. */
export type ImportedColumn = NumberColumn | StringColumn | Int64Column;

/** A metric table: rows with a step each, and columns. */
export interface ImportedTable {
  /** Table name, unique within the run (e.g. `scalars`, `train`, `eval`). */
  name: string;
  /** Number of rows. */
  rows: number;
  /**
   * Integer-valued steps, one per row, in the source's order (a step may
   * repeat or go back: a step is not a key). Doubles: exact up to 2^53.
   */
  step: Float64Array;
  /** Every row's exact step, when one is past 2^53 (then written instead). */
  exactStep?: bigint[];
  /** Columns by name, in a stable order; `step` is not among them. */
  columns: Map<string, ImportedColumn>;
}

/** One histogram tag: a row per step, bucket edges per row. */
export interface ImportedHistogram {
  /** Table (sub-run) the histogram belongs to, as in {@linkcode ImportedTable.name}. */
  table: string;
  tag: string;
  steps: Float64Array;
  wallTimes: Float64Array;
  min: Float64Array;
  max: Float64Array;
  num: Float64Array;
  sum: Float64Array;
  sumSquares: Float64Array;
  /** Right edges of the buckets of each row (`bucket_limit`). */
  bucketLimits: Float64Array[];
  /** Counts of the buckets of each row (`bucket`). */
  bucketCounts: Float64Array[];
}

/** Text logged under one tag. */
export interface ImportedText {
  table: string;
  tag: string;
  entries: { step: number; wallTime: number | null; text: string[] }[];
}

/** A file the importer read, for provenance and re-import detection. */
export interface SourceFile {
  /** Path relative to the run's `sourcePath` (`/` separators). */
  path: string;
  bytes: number;
  sha256: string;
}

/** A run read from another tool's files. */
export interface ImportedRun {
  kind: ImportKind;
  /** The tool that wrote the files (e.g. `tensorboard`, `lightning`). */
  tool: string;
  /** The tool's version where the files say it, else null. */
  toolVersion: string | null;
  /** Absolute path of the run's folder (or file). */
  sourcePath: string;
  /** The run's id in its tool (a relative path where the tool has no ids). */
  sourceRunId: string;
  /** A human name for the run. */
  name: string;
  /** The run's own start and end, where the files say them. */
  startTime: Date | null;
  endTime: Date | null;
  tables: ImportedTable[];
  histograms: ImportedHistogram[];
  texts: ImportedText[];
  params: Record<string, ParamValue>;
  tags: Record<string, string>;
  /**
   * Facts about the source that are neither metrics nor params (a Trainer's
   * state, TensorBoard's file version and hparams metric tags, ...).
   */
  sourceInfo: Record<string, ParamValue>;
  /** Every file read, its path relative to `sourcePath`. */
  sourceFiles: SourceFile[];
  /** Problems read past (a truncated last record, skipped corrupt records). */
  warnings: string[];
  /**
   * Files kept as they are (`strata/files/`), e.g. a W&B run's media (the
   * absolute `path`) or TensorBoard images (their `bytes`); `source` names
   * each relative to `sourcePath`.
   */
  files?: { path: string; source: string; bytes?: Uint8Array }[];
}

/** A growable float64 array: the importers' way to collect a series. */
export class F64Builder {
  #buf: Float64Array;
  length = 0;
  constructor(capacity = 16) {
    this.#buf = new Float64Array(capacity);
  }
  /** Appends one value. */
  push(v: number): void {
    if (this.length === this.#buf.length) {
      const next = new Float64Array(this.#buf.length * 2);
      next.set(this.#buf);
      this.#buf = next;
    }
    this.#buf[this.length++] = v;
  }
  /** Makes room for `n` more values without growing again. */
  reserve(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    const next = new Float64Array(this.length + n);
    next.set(this.view());
    this.#buf = next;
  }
  /** Value `i` (no bounds check). */
  at(i: number): number {
    return this.#buf[i];
  }
  /** The values so far, as a view (no copy). */
  view(): Float64Array {
    return this.#buf.subarray(0, this.length);
  }
}

/** One column's points before they are laid out as a table. */
export interface Series {
  name: string;
  steps: Float64Array;
  values: Float64Array;
}

/**
 * Lays out series as one table keyed by step: each series a column, a step
 * missing from a series a null. A step repeated within a series keeps its
 * last value.
 *
 * @param name Table name.
 * @param series Columns with their steps (any order).
 * @returns The table, steps ascending.
 * @example
 * ```ts
 * import { columnToArray, tableFromSeries } from "./model.ts";
 * const t = tableFromSeries("m", [
 *   { name: "loss", steps: new Float64Array([0, 1, 2]), values: new Float64Array([3, 2, 1]) },
 *   { name: "acc", steps: new Float64Array([2]), values: new Float64Array([0.5]) },
 * ]);
 * console.assert(t.rows === 3 && columnToArray(t.columns.get("acc")!)[0] === null);
 * ```
 */
export function tableFromSeries(name: string, series: Series[]): ImportedTable {
  const step = unionSteps(series.map((s) => s.steps));
  const rows = step.length;
  const columns = new Map<string, ImportedColumn>();
  // One buffer for every column's values and one for the null masks: a
  // table of 10,000 columns is two allocations, not 20,000.
  const allValues = new Float64Array(rows * series.length);
  const allPresent = new Uint8Array(rows * series.length);
  series.forEach((s, k) => {
    const values = allValues.subarray(k * rows, (k + 1) * rows);
    if (s.steps.length === rows && sameSteps(s.steps, step)) {
      values.set(s.values);
      columns.set(s.name, { kind: "number", values, present: null });
      return;
    }
    const present = allPresent.subarray(k * rows, (k + 1) * rows);
    const ascending = isAscending(s.steps);
    let row = 0;
    for (let i = 0; i < s.steps.length; i++) {
      const st = s.steps[i];
      if (ascending) {
        while (step[row] < st) row++;
      } else row = lowerBound(step, st);
      values[row] = s.values[i];
      present[row] = 1;
    }
    let all = true;
    for (let i = 0; i < rows && all; i++) all = present[i] === 1;
    columns.set(s.name, {
      kind: "number",
      values,
      present: all ? null : present,
    });
  });
  return { name, rows, step, columns };
}

/** Options of {@linkcode tablesFromSeries}. */
export interface TablesFromSeriesOptions {
  /**
   * Cells (rows × columns) a table may hold beyond 4 per point before the
   * next series starts a new table.
   * @default 1_000_000
   */
  slackCells?: number;
}

/**
 * Like {@linkcode tableFromSeries}, but keeps memory proportional to the
 * points: series whose steps barely overlap (10,000 tags each logged at its
 * own steps) would make a table of mostly nulls, so a series that would push
 * a table past 4 cells per point (plus `slackCells`) starts a new table,
 * named `<name>_2`, `<name>_3`, …. Usual logs (tags sharing one step grid,
 * a sparser eval tag) stay one table.
 *
 * @example
 * ```ts
 * import { tablesFromSeries } from "./model.ts";
 * const series = Array.from({ length: 4 }, (_, k) => ({
 *   name: `t${k}`, steps: new Float64Array([k]), values: new Float64Array([k]),
 * }));
 * console.assert(tablesFromSeries("s", series, { slackCells: 4 }).length === 2);
 * ```
 */
export function tablesFromSeries(
  name: string,
  series: Series[],
  options: TablesFromSeriesOptions = {},
): ImportedTable[] {
  const slack = options.slackCells ?? 1_000_000;
  const ordered = series.map((s) => ({
    s,
    steps: isAscending(s.steps) ? s.steps : dedupe(s.steps.slice().sort()),
  }));
  const groups: Series[][] = [];
  let group: Series[] = [];
  let union: Float64Array = new Float64Array(0);
  let points = 0;
  for (const { s, steps } of ordered) {
    const next = group.length === 0 ? dedupe(steps) : mergeUnique(union, steps);
    const cells = next.length * (group.length + 1);
    if (group.length > 0 && cells > 4 * (points + s.steps.length) + slack) {
      groups.push(group);
      group = [];
      union = dedupe(steps);
      points = 0;
    } else union = next;
    group.push(s);
    points += s.steps.length;
  }
  if (group.length) groups.push(group);
  return groups.map((g, i) =>
    tableFromSeries(i === 0 ? name : `${name}_${i + 1}`, g)
  );
}

/**
 * A column as a plain array with `null` for missing cells.
 *
 * @example
 * ```ts
 * import { columnToArray } from "./model.ts";
 * const col = { kind: "number" as const, values: new Float64Array([1, 0]), present: new Uint8Array([1, 0]) };
 * console.assert(columnToArray(col)[1] === null);
 * ```
 */
export function columnToArray(
  col: ImportedColumn,
): (number | string | bigint | null)[] {
  if (col.kind === "string" || col.kind === "int64") return col.values.slice();
  const out: (number | null)[] = new Array(col.values.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = col.present && col.present[i] === 0 ? null : col.values[i];
  }
  return out;
}

/** The non-null points of one numeric column. */
export interface ColumnPoints {
  steps: number[];
  values: number[];
}

/**
 * The (step, value) pairs of a numeric column where it is not null.
 *
 * @example
 * ```ts
 * import { columnPoints, tableFromSeries } from "./model.ts";
 * const t = tableFromSeries("t", [{ name: "x", steps: new Float64Array([5]), values: new Float64Array([1]) }]);
 * console.assert(columnPoints(t, "x").steps[0] === 5);
 * ```
 */
export function columnPoints(table: ImportedTable, name: string): ColumnPoints {
  const col = table.columns.get(name);
  if (!col || col.kind !== "number") {
    throw new RangeError(
      `Table "${table.name}" has no numeric column "${name}"`,
    );
  }
  const steps: number[] = [], values: number[] = [];
  for (let i = 0; i < table.rows; i++) {
    if (col.present && col.present[i] === 0) continue;
    steps.push(table.step[i]);
    values.push(col.values[i]);
  }
  return { steps, values };
}

/**
 * One histogram as a dense step × bucket matrix over the union of the bucket
 * edges of every row (writers keep only the non-empty buckets of a fixed
 * family, so rows differ in their edges). A row's count goes to the bucket
 * with the same right edge.
 *
 * @returns `edges` (ascending right edges) and `counts` (row-major,
 * `steps.length × edges.length`).
 * @example
 * ```ts
 * import { denseHistogram } from "./model.ts";
 * const h = {
 *   table: "scalars", tag: "w", steps: new Float64Array([0, 1]), wallTimes: new Float64Array(2),
 *   min: new Float64Array(2), max: new Float64Array(2), num: new Float64Array(2),
 *   sum: new Float64Array(2), sumSquares: new Float64Array(2),
 *   bucketLimits: [new Float64Array([1, 2]), new Float64Array([2, 3])],
 *   bucketCounts: [new Float64Array([4, 5]), new Float64Array([6, 7])],
 * };
 * const d = denseHistogram(h);
 * console.assert(d.edges.length === 3 && d.counts[3 + 2] === 7);
 * ```
 */
export function denseHistogram(
  h: ImportedHistogram,
): { edges: Float64Array; counts: Float64Array } {
  const edges = unionSteps(h.bucketLimits.map((l) => l.slice().sort()));
  const counts = new Float64Array(h.steps.length * edges.length);
  for (let r = 0; r < h.steps.length; r++) {
    const lim = h.bucketLimits[r], cnt = h.bucketCounts[r];
    for (let i = 0; i < lim.length; i++) {
      counts[r * edges.length + lowerBound(edges, lim[i])] += cnt[i];
    }
  }
  return { edges, counts };
}

/**
 * Reads a file and records it as a {@linkcode SourceFile} (SHA-256 of its
 * bytes). Needs read permission.
 *
 * @param path Absolute path.
 * @param relPath Path recorded (relative to the import's source).
 * @param tree The folder being imported: opened through it, a link that
 * leads out and a FIFO or device are refused (`UnsafeFileError`).
 * @returns The bytes and the record.
 * @example
 * ```ts
 * import { readSourceFile } from "./model.ts";
 * const tmp = await Deno.makeTempFile();
 * await Deno.writeTextFile(tmp, "abc");
 * const { file } = await readSourceFile(tmp, "x");
 * console.assert(file.sha256.startsWith("ba7816bf"));
 * await Deno.remove(tmp);
 * ```
 */
export async function readSourceFile(
  path: string,
  relPath: string,
  tree?: SourceTree,
): Promise<{ bytes: Uint8Array; file: SourceFile }> {
  const bytes = await readWhole(path, tree);
  return { bytes, file: sourceFileOf(bytes, relPath) };
}

/**
 * The file's bytes as of its size when opened (a log still being written is
 * read up to there). Reads into one buffer of that size: `Deno.readFile`
 * took 2.4× the CPU time here on a 45 MB event file.
 */
async function readWhole(
  path: string,
  tree?: SourceTree,
): Promise<Uint8Array> {
  using file = tree ? await tree.open(path) : await Deno.open(path);
  const size = (await file.stat()).size;
  const buf = new Uint8Array(size);
  let filled = 0;
  while (filled < size) {
    const n = await file.read(buf.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled === size ? buf : buf.subarray(0, filled);
}

/** The {@linkcode SourceFile} record of bytes already read. */
export function sourceFileOf(bytes: Uint8Array, relPath: string): SourceFile {
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  return { path: relPath, bytes: bytes.length, sha256 };
}

/** An empty run of `kind`, to be filled by an importer. */
export function emptyRun(
  kind: ImportKind,
  tool: string,
  sourcePath: string,
  sourceRunId: string,
  name: string,
): ImportedRun {
  return {
    kind,
    tool,
    toolVersion: null,
    sourcePath,
    sourceRunId,
    name,
    startTime: null,
    endTime: null,
    tables: [],
    histograms: [],
    texts: [],
    params: {},
    tags: {},
    sourceInfo: {},
    sourceFiles: [],
    warnings: [],
  };
}

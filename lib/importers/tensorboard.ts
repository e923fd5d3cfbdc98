/**
 * Reads TensorBoard event files (`events.out.tfevents.*`): TFRecord framing,
 * then the `Event` / `Summary` protobuf messages, decoded by field number with
 * `@bufbuild/protobuf`'s `BinaryReader` (no generated code, and no object per
 * event on the scalar path).
 *
 * @module
 */
import { CorruptFileError, NotFoundError } from "../errors.ts";
import { BinaryReader, join, relative, sep } from "./_deps.ts";
import {
  emptyRun,
  F64Builder,
  type ImportedColumn,
  type ImportedHistogram,
  type ImportedRun,
  type ImportedTable,
  type ImportedText,
  type ParamValue,
  readSourceFile,
  type Series,
  type SourceFile,
  tablesFromSeries,
} from "./model.ts";
import { readRecords } from "./tfrecord.ts";

/** Event files are named so by every writer (TF, tensorboardX, torch). */
export const EVENT_FILE_PATTERN: RegExp = /^events\.out\.tfevents\./;

/** Options of {@linkcode importTensorBoard}. */
export interface TensorBoardOptions {
  /**
   * Skip records whose CRC does not match, or that do not decode, and report
   * them in the run's warnings, instead of failing.
   * @default false
   */
  skipCorrupt?: boolean;
}

/** A logical run: a folder with event files and its sub-run folders. */
export interface TensorBoardRunLayout {
  /** Absolute path of the run's folder. */
  dir: string;
  /** Sub-run folders holding event files, relative to `dir` (`""` = itself). */
  subruns: string[];
}

/**
 * Finds the TensorBoard runs under `root`: a folder holding event files is a
 * run, and folders below it holding event files are its sub-runs (what
 * `add_scalars` and `add_hparams` write). Needs read permission.
 *
 * @param root A log directory or one run's folder.
 * @returns The runs, ordered by path.
 * @example
 * ```ts
 * import { findTensorBoardRuns } from "./tensorboard.ts";
 * const dir = await Deno.makeTempDir();
 * console.assert((await findTensorBoardRuns(dir)).length === 0);
 * await Deno.remove(dir);
 * ```
 */
export async function findTensorBoardRuns(
  root: string,
): Promise<TensorBoardRunLayout[]> {
  const withEvents: string[] = [];
  async function walk(dir: string) {
    let has = false;
    const subdirs: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && EVENT_FILE_PATTERN.test(e.name)) has = true;
      else if (e.isDirectory) subdirs.push(e.name);
    }
    if (has) withEvents.push(dir);
    for (const d of subdirs.sort()) await walk(join(dir, d));
  }
  await walk(root);
  const runs: TensorBoardRunLayout[] = [];
  for (const dir of withEvents) {
    const owner = runs.find((r) => dir.startsWith(r.dir + sep));
    if (owner) owner.subruns.push(toPosix(relative(owner.dir, dir)));
    else runs.push({ dir, subruns: [""] });
  }
  return runs;
}

/**
 * Reads every TensorBoard run under `root` (see
 * {@linkcode findTensorBoardRuns}). Scalars (`simple_value` and the tensor
 * form of `torch.utils.tensorboard`) become one table per sub-run, a column
 * per tag plus `wall_time`; histograms, texts and hparams are kept. Needs
 * read permission.
 *
 * @param root A log directory or one run's folder.
 * @param options See {@linkcode TensorBoardOptions}.
 * @returns One run per logical run.
 * @throws {NotFoundError} No event file under `root`.
 * @throws {CorruptFileError} A file is not an event file, a record fails its
 * CRC or does not decode (unless `skipCorrupt`).
 * @example
 * ```ts
 * import { importTensorBoard } from "./tensorboard.ts";
 * const dir = await Deno.makeTempDir();
 * try {
 *   await importTensorBoard(dir);
 * } catch (e) {
 *   console.assert((e as Error).name === "NotFoundError");
 * }
 * await Deno.remove(dir);
 * ```
 */
export async function importTensorBoard(
  root: string,
  options: TensorBoardOptions = {},
): Promise<ImportedRun[]> {
  const layouts = await findTensorBoardRuns(root);
  if (layouts.length === 0) {
    throw new NotFoundError(
      `No TensorBoard run under "${root}": no file named events.out.tfevents.* in it or its subfolders; point the import at a log directory`,
    );
  }
  const runs: ImportedRun[] = [];
  for (const layout of layouts) runs.push(await readRun(root, layout, options));
  return runs;
}

async function readRun(
  root: string,
  layout: TensorBoardRunLayout,
  options: TensorBoardOptions,
): Promise<ImportedRun> {
  const id = toPosix(relative(root, layout.dir)) || basenameOf(layout.dir);
  const run = emptyRun("tensorboard", "tensorboard", layout.dir, id, id);
  const subrunInfo: Record<string, ParamValue> = {};
  const hparamMetrics: string[] = [];
  let first = Infinity, last = -Infinity;
  for (const sub of layout.subruns) {
    const dir = sub ? join(layout.dir, sub) : layout.dir;
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && EVENT_FILE_PATTERN.test(e.name)) names.push(e.name);
    }
    names.sort();
    const acc = new SubrunAccumulator();
    const files: SourceFile[] = [];
    let records = 0;
    for (const name of names) {
      const rel = sub ? `${sub}/${name}` : name;
      const { bytes, file } = await readSourceFile(join(dir, name), rel);
      files.push(file);
      run.sourceFiles.push(file);
      records += decodeEventFile(bytes, rel, acc, options, run.warnings);
    }
    first = Math.min(first, acc.firstWall);
    last = Math.max(last, acc.lastWall);
    const tableName = sub === "" ? "scalars" : sub;
    addSubrun(run, acc, tableName);
    if (acc.hparams) Object.assign(run.params, acc.hparams);
    hparamMetrics.push(...acc.hparamMetrics);
    subrunInfo[sub] = {
      table: tableName,
      event_files: files.map((f) => f.path),
      file_version: acc.fileVersion,
      event_records: records,
      plugins: Object.fromEntries(
        acc.entries.filter((e) => e.plugin !== null).map((
          e,
        ) => [e.name, e.plugin]),
      ),
    };
  }
  if (Number.isFinite(first)) run.startTime = new Date(first * 1000);
  if (Number.isFinite(last)) run.endTime = new Date(last * 1000);
  run.sourceInfo = { subruns: subrunInfo, hparam_metrics: hparamMetrics };
  return run;
}

/**
 * The usual case in one pass: points come in non-decreasing step order (a
 * writer logs step by step), so each new step is the next row. Returns null
 * when they do not, or when the table would be mostly nulls (then
 * {@linkcode tablesFromSeries} splits it).
 */
function flatTable(acc: SubrunAccumulator, name: string): ImportedTable | null {
  const s = acc.pointStep.view(), tags = acc.pointTag.view();
  const vals = acc.pointValue.view(), walls = acc.pointWall.view();
  const n = s.length;
  let rows = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0 && s[i] < s[i - 1]) return null;
    if (i === 0 || s[i] !== s[i - 1]) rows++;
  }
  const colOf = new Int32Array(acc.entries.length).fill(-1);
  const names: string[] = [];
  for (const e of acc.entries) {
    if (e.points > 0) {
      colOf[e.index] = names.length;
      names.push(e.name);
    }
  }
  const cols = names.length;
  if (rows * cols > 4 * n + 1_000_000) return null;
  const step = new Float64Array(rows);
  const wall = new Float64Array(rows).fill(-Infinity);
  const values = new Float64Array(rows * cols);
  const present = new Uint8Array(rows * cols);
  let r = -1;
  for (let i = 0; i < n; i++) {
    if (r < 0 || s[i] !== step[r]) step[++r] = s[i];
    const cell = colOf[tags[i]] * rows + r;
    values[cell] = vals[i];
    present[cell] = 1;
    if (walls[i] > wall[r]) wall[r] = walls[i];
  }
  const columns = new Map<string, ImportedColumn>([["wall_time", {
    kind: "number",
    values: wall,
    present: null,
  }]]);
  names.forEach((tag, c) => {
    const mask = present.subarray(c * rows, (c + 1) * rows);
    let all = true;
    for (let i = 0; i < rows && all; i++) all = mask[i] === 1;
    columns.set(tag, {
      kind: "number",
      values: values.subarray(c * rows, (c + 1) * rows),
      present: all ? null : mask,
    });
  });
  return { name, rows, step, columns };
}

function addSubrun(run: ImportedRun, acc: SubrunAccumulator, table: string) {
  const flat = acc.pointStep.length > 0 ? flatTable(acc, table) : null;
  if (flat) run.tables.push(flat);
  else addSortedTables(run, acc, table);
  for (const e of acc.entries) {
    if (e.hist) run.histograms.push(e.hist.build(table, e.name));
    if (e.texts) run.texts.push({ table, tag: e.name, entries: e.texts });
  }
}

/** Tables from points in any order: grouped by tag, then laid out by step. */
function addSortedTables(
  run: ImportedRun,
  acc: SubrunAccumulator,
  table: string,
) {
  // Group the flat point columns by tag (a counting sort: stable, so each
  // tag keeps file order) into views of one buffer per column.
  const tagOf = acc.pointTag.view(), n = tagOf.length;
  const offsets = new Float64Array(acc.entries.length + 1);
  for (const e of acc.entries) offsets[e.index + 1] = e.points;
  for (let i = 1; i < offsets.length; i++) offsets[i] += offsets[i - 1];
  const fill = offsets.slice(0, -1);
  const steps = new Float64Array(n), values = new Float64Array(n);
  const walls = new Float64Array(n);
  const srcStep = acc.pointStep.view(), srcValue = acc.pointValue.view();
  const srcWall = acc.pointWall.view();
  for (let i = 0; i < n; i++) {
    const o = fill[tagOf[i]]++;
    steps[o] = srcStep[i];
    values[o] = srcValue[i];
    walls[o] = srcWall[i];
  }
  const series: (Series & { walls: Float64Array })[] = [];
  for (const e of acc.entries) {
    if (e.points === 0) continue;
    const a = offsets[e.index], b = offsets[e.index + 1];
    series.push({
      name: e.name,
      steps: steps.subarray(a, b),
      values: values.subarray(a, b),
      walls: walls.subarray(a, b),
    });
  }
  const scalarEntries = series;
  for (const t of tablesFromSeries(table, series)) {
    // wall_time of a row: the latest wall time of any point at that step.
    const wall = new Float64Array(t.rows).fill(-Infinity);
    for (const e of scalarEntries) {
      if (!t.columns.has(e.name)) continue;
      const steps = e.steps, walls = e.walls;
      let row = 0;
      for (let i = 0; i < steps.length; i++) {
        if (t.step[row] !== steps[i]) row = indexOf(t.step, steps[i]);
        if (walls[i] > wall[row]) wall[row] = walls[i];
      }
    }
    const wcol = new Map<string, ImportedColumn>([["wall_time", {
      kind: "number",
      values: wall,
      present: null,
    }]]);
    for (const [k, v] of t.columns) wcol.set(k, v);
    t.columns = wcol;
    run.tables.push(t);
  }
}

function indexOf(a: Float64Array, v: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class HistAccumulator {
  steps = new F64Builder(8);
  walls = new F64Builder(8);
  min = new F64Builder(8);
  max = new F64Builder(8);
  num = new F64Builder(8);
  sum = new F64Builder(8);
  sumSquares = new F64Builder(8);
  limits: Float64Array[] = [];
  counts: Float64Array[] = [];
  build(table: string, tag: string): ImportedHistogram {
    return {
      table,
      tag,
      steps: this.steps.view(),
      wallTimes: this.walls.view(),
      min: this.min.view(),
      max: this.max.view(),
      num: this.num.view(),
      sum: this.sum.view(),
      sumSquares: this.sumSquares.view(),
      bucketLimits: this.limits,
      bucketCounts: this.counts,
    };
  }
}

class TagEntry {
  /** Scalar points of this tag. */
  points = 0;
  hist: HistAccumulator | null = null;
  texts: ImportedText["entries"] | null = null;
  plugin: string | null = null;
  constructor(
    readonly name: string,
    readonly bytes: Uint8Array,
    readonly index: number,
  ) {}
}

const TAG_CACHE_SIZE = 4096;

/** Everything read from one sub-run's event files. */
class SubrunAccumulator {
  entries: TagEntry[] = [];
  // Scalar points of every tag, in file order: four flat columns, so that
  // neither an event nor a tag allocates (10,000 tags are 4 arrays, not 30,000).
  pointTag = new F64Builder(1024);
  pointStep = new F64Builder(1024);
  pointValue = new F64Builder(1024);
  pointWall = new F64Builder(1024);
  byName = new Map<string, TagEntry>();
  /** Direct-mapped cache by hash of the tag's bytes (skips UTF-8 decoding). */
  byHash: (TagEntry | undefined)[] = new Array(TAG_CACHE_SIZE);
  byFullHash = new Map<number, TagEntry>();
  hparams: Record<string, ParamValue> | null = null;
  hparamMetrics: string[] = [];
  fileVersion: string | null = null;
  firstWall = Infinity;
  lastWall = -Infinity;
}

// Decoding state shared by the functions below (one file at a time), so the
// scalar path allocates nothing per event.
let buf: Uint8Array = new Uint8Array(0);
let reader = new BinaryReader(buf);
let acc = new SubrunAccumulator();
let subEnd = 0;
const utf8 = new TextDecoder("utf-8", { fatal: false });

/** Decodes one event file into `into`; returns its event count. */
function decodeEventFile(
  bytes: Uint8Array,
  file: string,
  into: SubrunAccumulator,
  options: TensorBoardOptions,
  warnings: string[],
): number {
  buf = bytes;
  reader = new BinaryReader(bytes);
  acc = into;
  // The smallest scalar record is 39 bytes (framing 16, wall time 9, step 2,
  // summary and value headers 6, a 1-byte tag, the float 5): reserving
  // bytes/39 points up front spares the copies of growing (memory stays
  // below the file's size).
  const most = Math.ceil(bytes.length / 39);
  acc.pointTag.reserve(most);
  acc.pointStep.reserve(most);
  acc.pointValue.reserve(most);
  acc.pointWall.reserve(most);
  let events = 0;
  const result = readRecords(bytes, file, (start, end) => {
    try {
      decodeEvent(start, end);
      events++;
    } catch (e) {
      const msg = `the record at byte ${
        start - 12
      } does not decode as an Event protobuf (${(e as Error).message})`;
      if (!options.skipCorrupt) {
        throw new CorruptFileError(
          `Cannot read "${file}": ${msg}; pass --skip-corrupt to skip such records and import the rest`,
          { cause: e },
        );
      }
      warnings.push(`"${file}": ${msg}, skipped`);
    }
  }, { skipCorrupt: options.skipCorrupt });
  for (const s of result.skipped) warnings.push(s.message);
  if (result.truncated) warnings.push(result.truncated.message);
  return events;
}

function fail(what: string): never {
  throw new RangeError(what);
}

/** Reads a length prefix; returns the start, sets `subEnd`; checks bounds. */
function lengthDelimited(end: number): number {
  const len = reader.uint32();
  const start = reader.pos;
  subEnd = start + len;
  if (subEnd > end) fail(`a field of ${len} bytes runs past its message`);
  reader.pos = subEnd;
  return start;
}

function skipField(wireType: number, end: number) {
  if (wireType === 2) {
    lengthDelimited(end);
    return;
  }
  if (wireType > 5 || wireType === 3 || wireType === 4) {
    fail(`wire type ${wireType} is not valid here`);
  }
  reader.skip(wireType);
  if (reader.pos > end) fail("a field runs past its message");
}

function readInt64(): number {
  let n = 0;
  while (n < 10 && buf[reader.pos + n] & 0x80) n++;
  if (n < 4) return reader.uint32();
  return Number(reader.int64());
}

function decodeEvent(start: number, end: number) {
  reader.pos = start;
  let wall = 0, step = 0, sStart = -1, sEnd = 0;
  while (reader.pos < end) {
    const t = reader.uint32();
    const f = t >>> 3, wt = t & 7;
    if (f === 1 && wt === 1) wall = reader.double();
    else if (f === 2 && wt === 0) step = readInt64();
    else if (f === 5 && wt === 2) {
      sStart = lengthDelimited(end);
      sEnd = subEnd;
    } else if (f === 3 && wt === 2) {
      const s = lengthDelimited(end);
      acc.fileVersion = utf8.decode(buf.subarray(s, subEnd));
    } else if (f === 0) fail("field number 0");
    else skipField(wt, end);
  }
  if (reader.pos !== end) fail("the last field runs past the record");
  if (wall < acc.firstWall) acc.firstWall = wall;
  if (wall > acc.lastWall) acc.lastWall = wall;
  if (sStart < 0) return;
  reader.pos = sStart;
  while (reader.pos < sEnd) {
    const t = reader.uint32();
    if (t === 10) {
      const vStart = lengthDelimited(sEnd);
      const vEnd = subEnd;
      decodeValue(vStart, vEnd, step, wall);
      reader.pos = vEnd;
    } else if (t >>> 3 === 0) fail("field number 0");
    else skipField(t & 7, sEnd);
  }
}

const SIMPLE = 1, HISTO = 2, TENSOR = 3;

function decodeValue(start: number, end: number, step: number, wall: number) {
  reader.pos = start;
  let tagStart = -1, tagEnd = 0, kind = 0, simple = 0;
  let dStart = 0, dEnd = 0, mStart = -1, mEnd = 0;
  while (reader.pos < end) {
    const t = reader.uint32();
    const f = t >>> 3, wt = t & 7;
    if (f === 1 && wt === 2) {
      tagStart = lengthDelimited(end);
      tagEnd = subEnd;
    } else if (f === 2 && wt === 5) {
      simple = reader.float();
      kind = SIMPLE;
    } else if ((f === 5 || f === 8) && wt === 2) {
      dStart = lengthDelimited(end);
      dEnd = subEnd;
      kind = f === 5 ? HISTO : TENSOR;
    } else if (f === 9 && wt === 2) {
      mStart = lengthDelimited(end);
      mEnd = subEnd;
    } else if (f === 0) fail("field number 0");
    else skipField(wt, end);
  }
  if (reader.pos !== end) fail("a summary value runs past its end");
  if (tagStart < 0) return;
  const entry = intern(tagStart, tagEnd);
  if (mStart >= 0) decodeMetadata(entry, mStart, mEnd);
  if (kind === SIMPLE) {
    addPoint(entry, step, simple, wall);
  } else if (kind === HISTO) {
    decodeHistogram(entry, dStart, dEnd, step, wall);
  } else if (kind === TENSOR) {
    decodeTensorValue(entry, dStart, dEnd, step, wall);
  }
}

function addPoint(entry: TagEntry, step: number, value: number, wall: number) {
  entry.points++;
  acc.pointTag.push(entry.index);
  acc.pointStep.push(step);
  acc.pointValue.push(value);
  acc.pointWall.push(wall);
}

function sameBytes(entry: TagEntry, start: number, end: number): boolean {
  const b = entry.bytes;
  if (b.length !== end - start) return false;
  for (let i = 0; i < b.length; i++) if (b[i] !== buf[start + i]) return false;
  return true;
}

/**
 * The tag whose name is `buf[start, end)`, found by a hash of its bytes so
 * that a known tag costs no UTF-8 decoding: a direct-mapped cache first, then
 * a map by full hash, then (new tag or hash collision) by decoded name.
 */
function intern(start: number, end: number): TagEntry {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  const slot = h & (TAG_CACHE_SIZE - 1);
  const hit = acc.byHash[slot];
  if (hit !== undefined && sameBytes(hit, start, end)) return hit;
  let entry = acc.byFullHash.get(h);
  if (entry === undefined || !sameBytes(entry, start, end)) {
    const name = utf8.decode(buf.subarray(start, end));
    entry = acc.byName.get(name);
    if (!entry) {
      entry = new TagEntry(name, buf.slice(start, end), acc.entries.length);
      acc.byName.set(name, entry);
      acc.entries.push(entry);
    }
    if (!acc.byFullHash.has(h)) acc.byFullHash.set(h, entry);
  }
  acc.byHash[slot] = entry;
  return entry;
}

function decodeMetadata(entry: TagEntry, start: number, end: number) {
  reader.pos = start;
  let pStart = -1, pEnd = 0;
  while (reader.pos < end) {
    const t = reader.uint32();
    if (t === 10) {
      pStart = lengthDelimited(end);
      pEnd = subEnd;
    } else skipField(t & 7, end);
  }
  if (pStart < 0) return;
  reader.pos = pStart;
  let plugin = "", cStart = -1, cEnd = 0;
  while (reader.pos < pEnd) {
    const t = reader.uint32();
    if (t === 10) {
      const s = lengthDelimited(pEnd);
      plugin = utf8.decode(buf.subarray(s, subEnd));
    } else if (t === 18) {
      cStart = lengthDelimited(pEnd);
      cEnd = subEnd;
    } else skipField(t & 7, pEnd);
  }
  if (plugin) entry.plugin = plugin;
  if (plugin === "hparams" && cStart >= 0) decodeHParams(cStart, cEnd);
}

function decodeHistogram(
  entry: TagEntry,
  start: number,
  end: number,
  step: number,
  wall: number,
) {
  reader.pos = start;
  let min = 0, max = 0, num = 0, sum = 0, sumSquares = 0;
  const limits: number[] = [], counts: number[] = [];
  while (reader.pos < end) {
    const t = reader.uint32();
    const f = t >>> 3, wt = t & 7;
    if (f >= 1 && f <= 5 && wt === 1) {
      const v = reader.double();
      if (f === 1) min = v;
      else if (f === 2) max = v;
      else if (f === 3) num = v;
      else if (f === 4) sum = v;
      else sumSquares = v;
    } else if ((f === 6 || f === 7) && (wt === 1 || wt === 2)) {
      const out = f === 6 ? limits : counts;
      if (wt === 1) out.push(reader.double());
      else {
        const s = lengthDelimited(end);
        const e = subEnd;
        reader.pos = s;
        while (reader.pos < e) out.push(reader.double());
      }
    } else skipField(wt, end);
  }
  if (limits.length !== counts.length) {
    fail(
      `a histogram has ${limits.length} bucket limits but ${counts.length} counts`,
    );
  }
  const h = entry.hist ??= new HistAccumulator();
  h.steps.push(step);
  h.walls.push(wall);
  h.min.push(min);
  h.max.push(max);
  h.num.push(num);
  h.sum.push(sum);
  h.sumSquares.push(sumSquares);
  h.limits.push(Float64Array.from(limits));
  h.counts.push(Float64Array.from(counts));
}

// TensorProto dtypes (tensorboard/compat/proto/types.proto).
const DT_FLOAT = 1, DT_DOUBLE = 2, DT_INT32 = 3, DT_STRING = 7, DT_INT64 = 9;

interface Tensor {
  dtype: number;
  shape: number[];
  numbers: number[];
  strings: string[];
}

function decodeTensor(start: number, end: number): Tensor {
  const out: Tensor = { dtype: 0, shape: [], numbers: [], strings: [] };
  let cStart = -1, cEnd = 0;
  reader.pos = start;
  while (reader.pos < end) {
    const t = reader.uint32();
    const f = t >>> 3, wt = t & 7;
    if (f === 1 && wt === 0) out.dtype = reader.uint32();
    else if (f === 2 && wt === 2) {
      const s = lengthDelimited(end);
      const e = subEnd;
      reader.pos = s;
      while (reader.pos < e) {
        const dt = reader.uint32();
        if (dt === 18) {
          const ds = lengthDelimited(e);
          const de = subEnd;
          reader.pos = ds;
          let size = 0;
          while (reader.pos < de) {
            const tt = reader.uint32();
            if (tt === 8) size = readInt64();
            else skipField(tt & 7, de);
          }
          out.shape.push(size);
        } else skipField(dt & 7, e);
      }
      reader.pos = e;
    } else if (f === 4 && wt === 2) {
      cStart = lengthDelimited(end);
      cEnd = subEnd;
    } else if (f === 8 && wt === 2) {
      const s = lengthDelimited(end);
      out.strings.push(utf8.decode(buf.subarray(s, subEnd)));
    } else if ((f === 5 || f === 6 || f === 7 || f === 10) && wt !== 2) {
      out.numbers.push(readNumber(f, wt));
    } else if (f === 5 || f === 6 || f === 7 || f === 10) {
      const s = lengthDelimited(end);
      const e = subEnd;
      reader.pos = s;
      while (reader.pos < e) out.numbers.push(readNumber(f, f === 6 ? 1 : 5));
      reader.pos = e;
    } else skipField(wt, end);
  }
  if (cStart >= 0 && out.numbers.length === 0) {
    const view = new DataView(
      buf.buffer,
      buf.byteOffset + cStart,
      cEnd - cStart,
    );
    const size = out.dtype === DT_DOUBLE || out.dtype === DT_INT64 ? 8 : 4;
    for (let o = 0; o + size <= view.byteLength; o += size) {
      out.numbers.push(
        out.dtype === DT_DOUBLE
          ? view.getFloat64(o, true)
          : out.dtype === DT_INT64
          ? Number(view.getBigInt64(o, true))
          : out.dtype === DT_INT32
          ? view.getInt32(o, true)
          : view.getFloat32(o, true),
      );
    }
  }
  return out;
}

function readNumber(field: number, wt: number): number {
  if (field === 5) return reader.float();
  if (field === 6) return reader.double();
  if (field === 7) return reader.int32();
  if (wt === 0 || field === 10) return readInt64();
  return fail(`wire type ${wt} for field ${field}`);
}

function decodeTensorValue(
  entry: TagEntry,
  start: number,
  end: number,
  step: number,
  wall: number,
) {
  const plugin = entry.plugin;
  if (plugin === "hparams") return;
  const t = decodeTensor(start, end);
  if (plugin === "text" || (plugin === null && t.dtype === DT_STRING)) {
    (entry.texts ??= []).push({ step, wallTime: wall, text: t.strings });
    return;
  }
  if (
    plugin === "histograms" && t.shape.length === 2 && t.shape[1] === 3
  ) {
    const k = t.shape[0];
    const h = entry.hist ??= new HistAccumulator();
    const limits = new Float64Array(k), counts = new Float64Array(k);
    let num = 0;
    for (let i = 0; i < k; i++) {
      limits[i] = t.numbers[3 * i + 1];
      counts[i] = t.numbers[3 * i + 2];
      num += counts[i];
    }
    h.steps.push(step);
    h.walls.push(wall);
    h.min.push(k ? t.numbers[0] : 0);
    h.max.push(k ? t.numbers[3 * k - 2] : 0);
    h.num.push(num);
    h.sum.push(NaN);
    h.sumSquares.push(NaN);
    h.limits.push(limits);
    h.counts.push(counts);
    return;
  }
  if (
    (plugin === "scalars" || plugin === null) && t.numbers.length === 1 &&
    t.shape.every((d) => d === 1) &&
    (t.dtype === DT_FLOAT || t.dtype === DT_DOUBLE || t.dtype === DT_INT32 ||
      t.dtype === DT_INT64)
  ) {
    addPoint(entry, step, t.numbers[0], wall);
  }
}

// --- hparams plugin (tensorboard/plugins/hparams/plugin_data.proto) ---

function decodeHParams(start: number, end: number) {
  const saved = reader.pos;
  reader.pos = start;
  while (reader.pos < end) {
    const t = reader.uint32();
    if (t === 18) { // experiment
      const s = lengthDelimited(end);
      decodeExperiment(s, subEnd);
    } else if (t === 26) { // session_start_info
      const s = lengthDelimited(end);
      decodeSessionStart(s, subEnd);
    } else skipField(t & 7, end);
  }
  reader.pos = saved;
}

function decodeExperiment(start: number, end: number) {
  const after = end;
  reader.pos = start;
  while (reader.pos < end) {
    const t = reader.uint32();
    if (t === 42) { // metric_infos
      const s = lengthDelimited(end);
      const e = subEnd;
      reader.pos = s;
      while (reader.pos < e) {
        const mt = reader.uint32();
        if (mt === 10) { // name: MetricName
          const ns = lengthDelimited(e);
          const ne = subEnd;
          reader.pos = ns;
          let group = "", tag = "";
          while (reader.pos < ne) {
            const nt = reader.uint32();
            if (nt === 10 || nt === 18) {
              const xs = lengthDelimited(ne);
              const v = utf8.decode(buf.subarray(xs, subEnd));
              if (nt === 10) group = v;
              else tag = v;
            } else skipField(nt & 7, ne);
          }
          acc.hparamMetrics.push(group ? `${group}/${tag}` : tag);
        } else skipField(mt & 7, e);
      }
      reader.pos = e;
    } else skipField(t & 7, end);
  }
  reader.pos = after;
}

function decodeSessionStart(start: number, end: number) {
  reader.pos = start;
  const hp: Record<string, ParamValue> = acc.hparams ?? {};
  while (reader.pos < end) {
    const t = reader.uint32();
    if (t === 10) { // map entry
      const s = lengthDelimited(end);
      const e = subEnd;
      reader.pos = s;
      let key = "";
      let value: ParamValue = null;
      while (reader.pos < e) {
        const et = reader.uint32();
        if (et === 10) {
          const ks = lengthDelimited(e);
          key = utf8.decode(buf.subarray(ks, subEnd));
        } else if (et === 18) {
          const vs = lengthDelimited(e);
          const ve = subEnd;
          value = decodeStructValue(vs, ve);
          reader.pos = ve;
        } else skipField(et & 7, e);
      }
      hp[key] = value;
      reader.pos = e;
    } else skipField(t & 7, end);
  }
  acc.hparams = hp;
}

/** google.protobuf.Value (struct.proto). */
function decodeStructValue(start: number, end: number): ParamValue {
  reader.pos = start;
  let value: ParamValue = null;
  while (reader.pos < end) {
    const t = reader.uint32();
    const f = t >>> 3;
    if (f === 1 && (t & 7) === 0) {
      reader.uint32();
      value = null;
    } else if (f === 2 && (t & 7) === 1) value = reader.double();
    else if (f === 3 && (t & 7) === 2) {
      const s = lengthDelimited(end);
      value = utf8.decode(buf.subarray(s, subEnd));
    } else if (f === 4 && (t & 7) === 0) value = reader.bool();
    else if ((f === 5 || f === 6) && (t & 7) === 2) {
      const s = lengthDelimited(end);
      const e = subEnd;
      value = f === 5 ? decodeStruct(s, e) : decodeList(s, e);
      reader.pos = e;
    } else skipField(t & 7, end);
  }
  return value;
}

function decodeStruct(start: number, end: number): ParamValue {
  const out: Record<string, ParamValue> = {};
  reader.pos = start;
  while (reader.pos < end) {
    const t = reader.uint32();
    if (t !== 10) {
      skipField(t & 7, end);
      continue;
    }
    const s = lengthDelimited(end);
    const e = subEnd;
    reader.pos = s;
    let key = "";
    let value: ParamValue = null;
    while (reader.pos < e) {
      const et = reader.uint32();
      if (et === 10) {
        const ks = lengthDelimited(e);
        key = utf8.decode(buf.subarray(ks, subEnd));
      } else if (et === 18) {
        const vs = lengthDelimited(e);
        const ve = subEnd;
        value = decodeStructValue(vs, ve);
        reader.pos = ve;
      } else skipField(et & 7, e);
    }
    out[key] = value;
    reader.pos = e;
  }
  return out;
}

function decodeList(start: number, end: number): ParamValue {
  const out: ParamValue[] = [];
  reader.pos = start;
  while (reader.pos < end) {
    const t = reader.uint32();
    if (t === 10) {
      const s = lengthDelimited(end);
      const e = subEnd;
      out.push(decodeStructValue(s, e));
      reader.pos = e;
    } else skipField(t & 7, end);
  }
  return out;
}

function toPosix(p: string): string {
  return sep === "/" ? p : p.split(sep).join("/");
}

function basenameOf(p: string): string {
  const parts = p.split(sep).filter(Boolean);
  return parts[parts.length - 1] ?? p;
}

/**
 * Tables of a TensorBoard sub-run from its scalar points (one pass when
 * steps come in order, grouped by tag otherwise), plus its histograms and
 * texts. Private to the TensorBoard importer.
 *
 * @module
 */
import type { SubrunAccumulator } from "./_event_accumulator.ts";
import { lowerBound } from "./_steps.ts";
import {
  type ImportedColumn,
  type ImportedRun,
  type ImportedTable,
  type Series,
  tablesFromSeries,
} from "./model.ts";

/**
 * The usual case in one pass, rows in file order: a point starts a new row
 * when its step differs from the point before, or when its tag already has
 * a value in the current row (a tag logged twice at one step). So a
 * repeated step, a step going back, or a restart's second event file
 * overlapping the first keep every point (as TensorBoard's own
 * EventAccumulator does): a step is not a key. Returns null when the table
 * would be mostly nulls (then {@linkcode tablesFromSeries} splits it).
 */
function flatTable(acc: SubrunAccumulator, name: string): ImportedTable | null {
  const s = acc.pointStep.view(), tags = acc.pointTag.view();
  const vals = acc.pointValue.view(), walls = acc.pointWall.view();
  const n = s.length;
  const lastRow = new Float64Array(acc.entries.length).fill(-1);
  const rowOf = new Float64Array(n);
  const exact = acc.exactSteps;
  let rows = 0;
  for (let i = 0; i < n; i++) {
    const newStep = i === 0 || s[i] !== s[i - 1] ||
      (exact.size > 0 && exact.get(i) !== exact.get(i - 1));
    if (newStep || lastRow[tags[i]] === rows - 1) rows++;
    lastRow[tags[i]] = rows - 1;
    rowOf[i] = rows - 1;
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
  for (let i = 0; i < n; i++) {
    const r = rowOf[i];
    step[r] = s[i];
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
  const table: ImportedTable = { name, rows, step, columns };
  if (exact.size > 0) {
    const steps = new Array<bigint>(rows);
    for (let i = 0; i < n; i++) {
      steps[rowOf[i]] = exact.get(i) ?? BigInt(s[i]);
    }
    table.exactStep = steps;
  }
  return table;
}

export function addSubrun(
  run: ImportedRun,
  acc: SubrunAccumulator,
  table: string,
) {
  const flat = acc.pointStep.length > 0 ? flatTable(acc, table) : null;
  if (flat) run.tables.push(flat);
  else addSortedTables(run, acc, table);
  for (const e of acc.entries) {
    if (e.hist) run.histograms.push(e.hist.build(table, e.name));
    if (e.texts) run.texts.push({ table, tag: e.name, entries: e.texts });
    for (const img of e.images ?? []) {
      const where = table === "scalars" ? "" : `${table}/`;
      (run.files ??= []).push({
        path: "",
        source: `images/${where}${e.name}/step_${img.step}.${
          imageExt(img.bytes)
        }`,
        bytes: img.bytes,
      });
    }
    if (e.dropped > 0) {
      run.warnings.push(
        `${table}: tag "${e.name}"${
          e.plugin ? ` (plugin ${e.plugin})` : ""
        }: ${e.dropped} value(s) not imported (read are scalars, histograms, text, HParams and images)`,
      );
    }
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
  if (acc.exactSteps.size > 0) {
    run.warnings.push(
      `${table}: ${acc.exactSteps.size} point(s) have steps past 2^53, and this sparse sub-run is laid out by step as doubles: those steps are rounded`,
    );
  }
  for (const e of series) {
    const sorted = e.steps.slice().sort();
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i] === sorted[i - 1]) {
        run.warnings.push(
          `${table}: tag "${e.name}" logs step ${
            sorted[i]
          } more than once, and its sparse table is laid out by step: the later value at a step is kept`,
        );
        break;
      }
    }
  }
  for (const t of tablesFromSeries(table, series)) {
    // wall_time of a row: the latest wall time of any point at that step.
    const wall = new Float64Array(t.rows).fill(-Infinity);
    for (const e of scalarEntries) {
      if (!t.columns.has(e.name)) continue;
      const steps = e.steps, walls = e.walls;
      let row = 0;
      for (let i = 0; i < steps.length; i++) {
        if (t.step[row] !== steps[i]) row = lowerBound(t.step, steps[i]);
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

/** An encoded image's file extension, from its first bytes. */
function imageExt(b: Uint8Array): string {
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    return "png";
  }
  if (b[0] === 0xff && b[1] === 0xd8) return "jpg";
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return "gif";
  return "bin";
}

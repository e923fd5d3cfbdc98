/**
 * Reads an MLflow file store (`mlruns/`, tracking URI `file:./mlruns`):
 * `<experiment_id>/meta.yaml`, and per run `<experiment_id>/<run_id>/`
 * `meta.yaml`, `params/<key>`, `tags/<key>` (the value is the file's text)
 * and `metrics/<key>` (lines `timestamp value step`). Keys with `/` are
 * nested folders. Written from MLflow's file-store layout (its FileStore
 * source), not from files MLflow wrote: no fixture could be made here.
 *
 * The store is walked and read through a {@linkcode SourceTree}: a link that
 * leads out of the folder being imported is refused, naming it; a FIFO,
 * device or socket is skipped with a warning. Metric files are streamed
 * (one 64 KiB read at a time), and one over {@linkcode MAX_METRIC_FILE_BYTES}
 * is refused before it is read.
 *
 * @module
 */
import {
  CorruptFileError,
  InvalidInputError,
  NotFoundError,
} from "../errors.ts";
import { createHash, join, parseYaml } from "./_deps.ts";
import {
  emptyRun,
  F64Builder,
  type ImportedRun,
  type Series,
  type SourceFile,
  sourceFileOf,
  tableFromSeries,
} from "./model.ts";
import { SourceTree } from "./_source_tree.ts";

/**
 * The largest metric file read: about 6 million lines of
 * `timestamp value step`, whose three columns take 24 bytes a line once
 * parsed. MLflow's own file store slows to a crawl long before.
 */
export const MAX_METRIC_FILE_BYTES = 256 * 1024 * 1024;
/** The largest `meta.yaml`, param or tag file read (MLflow caps values at 6,000 characters; tags at 8,000). */
export const MAX_TEXT_FILE_BYTES = 1024 * 1024;

/** Folders under an experiment that are not runs. */
const NOT_RUNS = new Set(["tags", "datasets", "traces"]);
/** Folders under the store root that are not experiments. */
const NOT_EXPERIMENTS = new Set([".trash", "models"]);
/** MLflow's RunStatus enum as stored in meta.yaml. */
const STATUS: Record<number, string> = {
  1: "RUNNING",
  2: "SCHEDULED",
  3: "FINISHED",
  4: "FAILED",
  5: "KILLED",
};

/** An experiment folder and its run folders, as {@linkcode findMlflowRuns} gives them. */
export interface MlflowExperimentLayout {
  dir: string;
  runs: string[];
}

/**
 * Finds the experiments and runs of a file store: `root` may be the store
 * (`mlruns/`), one experiment's folder, or one run's folder. Needs read
 * permission.
 *
 * @example
 * ```ts
 * import { findMlflowRuns } from "./mlflow.ts";
 * const dir = await Deno.makeTempDir();
 * console.assert((await findMlflowRuns(dir)).length === 0);
 * await Deno.remove(dir);
 * ```
 */
export async function findMlflowRuns(
  root: string,
): Promise<MlflowExperimentLayout[]> {
  return (await findLayouts(root)).layouts;
}

/** The layouts of {@linkcode findMlflowRuns}, and the tree they are in. */
async function findLayouts(
  root: string,
): Promise<{ tree: SourceTree; layouts: MlflowExperimentLayout[] }> {
  const tree = await SourceTree.open(root);
  const isRun = async (d: string, t: SourceTree) =>
    await t.kind(join(d, "meta.yaml")) === "file" &&
    (await t.list(d)).dirs.some((n) =>
      ["metrics", "params", "tags"].includes(n)
    );
  if (await isRun(root, tree)) {
    // A run folder: its experiment's meta.yaml is one folder up.
    const exp = join(root, "..");
    const up = await SourceTree.open(exp);
    up.warnings.push(...tree.warnings);
    return { tree: up, layouts: [{ dir: exp, runs: [root] }] };
  }
  const runsOf = async (exp: string) => {
    const runs: string[] = [];
    for (const d of (await tree.list(exp)).dirs) {
      if (
        !NOT_RUNS.has(d) &&
        await tree.kind(join(exp, d, "meta.yaml")) === "file"
      ) {
        runs.push(join(exp, d));
      }
    }
    return runs;
  };
  if (await tree.kind(join(root, "meta.yaml")) === "file") {
    const runs = await runsOf(root);
    return { tree, layouts: runs.length ? [{ dir: root, runs }] : [] };
  }
  const layouts: MlflowExperimentLayout[] = [];
  for (const d of (await tree.list(root)).dirs) {
    if (NOT_EXPERIMENTS.has(d)) continue;
    const exp = join(root, d);
    if (await tree.kind(join(exp, "meta.yaml")) !== "file") continue;
    const runs = await runsOf(exp);
    if (runs.length) layouts.push({ dir: exp, runs });
  }
  return { tree, layouts };
}

/**
 * Reads every run of an MLflow file store. Metrics become one table
 * `metrics` keyed by step, a column per key, and `timestamp_ms` (the latest
 * timestamp logged at that step); params become params (strings, as MLflow stores them); tags become tags,
 * with `mlflow.runName` and the experiment's name as `mlflow.experimentName`;
 * meta.yaml gives the start and end time. Needs read permission.
 *
 * @param root `mlruns/`, an experiment folder, or a run folder.
 * @returns One run per MLflow run.
 * @throws {NotFoundError} No run under `root`.
 * @throws {CorruptFileError} A meta.yaml that does not parse, a metric line
 * without exactly three fields, a value or step that is not a number.
 * @example
 * ```ts
 * import { importMlflow } from "./mlflow.ts";
 * const dir = await Deno.makeTempDir();
 * try {
 *   await importMlflow(dir);
 * } catch (e) {
 *   console.assert((e as Error).name === "NotFoundError");
 * }
 * await Deno.remove(dir);
 * ```
 */
export async function importMlflow(root: string): Promise<ImportedRun[]> {
  const { tree, layouts } = await findLayouts(root);
  if (layouts.length === 0) {
    const skipped = tree.warnings.length
      ? ` (${tree.warnings.join("; ")})`
      : "";
    throw new NotFoundError(
      `No MLflow run under "${root}"${skipped}: expected a file store (mlruns/<experiment_id>/<run_id>/meta.yaml); point the import at the mlruns folder`,
    );
  }
  const runs: ImportedRun[] = [];
  for (const exp of layouts) {
    const expMeta = await readYamlMaybe(tree, join(exp.dir, "meta.yaml"));
    for (const dir of exp.runs) {
      const run = await readRun(tree, dir, expMeta);
      // What the walk skipped so far, said with the run it was found in.
      run.warnings.push(...tree.warnings.splice(0));
      runs.push(run);
    }
  }
  return runs;
}

/**
 * A small file's bytes through `tree` (links out refused, FIFOs never
 * opened), refused over `max` bytes, and its record.
 */
async function readSmall(
  tree: SourceTree,
  path: string,
  rel: string,
  max = MAX_TEXT_FILE_BYTES,
): Promise<{ text: string; file: SourceFile }> {
  using f = await tree.open(path);
  const size = (await f.stat()).size;
  if (size > max) throw tooLarge(path, size, max);
  const buf = new Uint8Array(size);
  let filled = 0;
  while (filled < size) {
    const n = await f.read(buf.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  const bytes = buf.subarray(0, filled);
  return {
    text: new TextDecoder().decode(bytes),
    file: sourceFileOf(bytes, rel),
  };
}

function tooLarge(path: string, size: number, max: number) {
  return new InvalidInputError(
    `Cannot import "${path}": it holds ${size} bytes, more than the ${max} an MLflow ${
      max === MAX_METRIC_FILE_BYTES ? "metric" : "meta, param or tag"
    } file may (is it the right file?)`,
  );
}

async function readYamlMaybe(
  tree: SourceTree,
  path: string,
): Promise<Record<string, unknown> | null> {
  const kind = await tree.kind(path);
  if (kind === undefined) return null;
  if (kind === "dir") return null;
  return parseMeta((await readSmall(tree, path, "meta.yaml")).text, path);
}

function parseMeta(text: string, shown: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = parseYaml(text);
  } catch (e) {
    throw new CorruptFileError(
      `Cannot read "${shown}": it is not YAML (${(e as Error).message})`,
      { cause: e },
    );
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new CorruptFileError(
      `Cannot read "${shown}": expected a mapping of run fields (run_id, start_time, ...)`,
    );
  }
  return v as Record<string, unknown>;
}

async function readRun(
  tree: SourceTree,
  dir: string,
  expMeta: Record<string, unknown> | null,
): Promise<ImportedRun> {
  const files: SourceFile[] = [];
  const read = async (rel: string) => {
    const r = await readSmall(tree, join(dir, ...rel.split("/")), rel);
    files.push(r.file);
    return r.text;
  };
  const meta = parseMeta(await read("meta.yaml"), join(dir, "meta.yaml"));
  const runId = String(
    meta.run_id ?? meta.run_uuid ?? dir.split(/[\\/]/).pop(),
  );
  const run = emptyRun("mlflow", "mlflow", dir, runId, runId);
  for (const rel of await tree.filesDeep(join(dir, "params"))) {
    run.params[rel] = await read(`params/${rel}`);
  }
  for (const rel of await tree.filesDeep(join(dir, "tags"))) {
    run.tags[rel] = await read(`tags/${rel}`);
  }
  const runName = typeof meta.run_name === "string" && meta.run_name
    ? meta.run_name
    : run.tags["mlflow.runName"];
  if (runName) {
    run.name = runName;
    run.tags["mlflow.runName"] = runName;
  }
  if (expMeta && typeof expMeta.name === "string") {
    run.tags["mlflow.experimentName"] = expMeta.name;
  }
  const series: Series[] = [];
  const times: Series[] = [];
  for (const key of await tree.filesDeep(join(dir, "metrics"))) {
    const path = join(dir, "metrics", ...key.split("/"));
    const { steps, values, ts, file } = await readMetricFile(tree, path, key);
    files.push(file);
    series.push({ name: key, steps, values });
    times.push({ name: key, steps, values: ts });
  }
  if (series.length) {
    const t = tableFromSeries("metrics", series);
    const stamp = new Float64Array(t.rows);
    const tt = tableFromSeries("t", times);
    for (const col of tt.columns.values()) {
      if (col.kind !== "number") continue;
      for (let i = 0; i < t.rows; i++) {
        if ((!col.present || col.present[i]) && col.values[i] > stamp[i]) {
          stamp[i] = col.values[i];
        }
      }
    }
    t.columns = new Map([
      ["timestamp_ms", { kind: "number", values: stamp, present: null }],
      ...t.columns,
    ]);
    run.tables.push(t);
  }
  if (typeof meta.start_time === "number") {
    run.startTime = new Date(meta.start_time);
  }
  if (typeof meta.end_time === "number") run.endTime = new Date(meta.end_time);
  run.sourceInfo = {
    experiment_id: String(meta.experiment_id ?? ""),
    experiment_name: expMeta && typeof expMeta.name === "string"
      ? expMeta.name
      : null,
    status: typeof meta.status === "number"
      ? STATUS[meta.status] ?? String(meta.status)
      : typeof meta.status === "string"
      ? meta.status
      : null,
    lifecycle_stage: typeof meta.lifecycle_stage === "string"
      ? meta.lifecycle_stage
      : null,
    user_id: typeof meta.user_id === "string" ? meta.user_id : null,
  };
  run.sourceFiles = files;
  return run;
}

/**
 * One metric file, streamed: its steps, values and timestamps, and its
 * record (SHA-256 over the bytes as read). Memory is the three columns, 24
 * bytes a line, and one 64 KiB buffer.
 */
async function readMetricFile(
  tree: SourceTree,
  path: string,
  key: string,
): Promise<
  {
    steps: Float64Array;
    values: Float64Array;
    ts: Float64Array;
    file: SourceFile;
  }
> {
  using f = await tree.open(path);
  const size = (await f.stat()).size;
  if (size > MAX_METRIC_FILE_BYTES) {
    throw tooLarge(path, size, MAX_METRIC_FILE_BYTES);
  }
  const steps = new F64Builder(), values = new F64Builder();
  const ts = new F64Builder();
  const hash = createHash("sha256");
  const decoder = new TextDecoder();
  const buf = new Uint8Array(64 * 1024);
  let bytes = 0, lineNo = 0, rest = "";
  const take = (line: string) => {
    lineNo++;
    if (line.trim() === "") return;
    const parts = line.trim().split(" ");
    const where = `"${path}" line ${lineNo}`;
    if (parts.length !== 3) {
      throw new CorruptFileError(
        `Cannot read ${where}: ${
          JSON.stringify(line.slice(0, 200))
        } has ${parts.length} field(s); an MLflow metric line is "timestamp value step" (a line without a step cannot be placed in a step-keyed table)`,
      );
    }
    const t = Number(parts[0]), step = Number(parts[2]);
    const v = parseFloatLike(parts[1]);
    if (
      !Number.isInteger(t) || !Number.isInteger(step) ||
      Number.isNaN(v) && !/nan/i.test(parts[1])
    ) {
      throw new CorruptFileError(
        `Cannot read ${where}: ${
          JSON.stringify(line.slice(0, 200))
        } is not "timestamp value step" with an integer timestamp and step`,
      );
    }
    steps.push(step);
    values.push(v);
    ts.push(t);
  };
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    bytes += n;
    // A file that grows while read is read up to its size when opened.
    if (bytes > MAX_METRIC_FILE_BYTES) {
      throw tooLarge(path, bytes, MAX_METRIC_FILE_BYTES);
    }
    hash.update(buf.subarray(0, n));
    const text = rest + decoder.decode(buf.subarray(0, n), { stream: true });
    const lines = text.split("\n");
    rest = lines.pop()!;
    if (rest.length > 64 * 1024) {
      throw new CorruptFileError(
        `Cannot read "${path}" line ${
          lineNo + 1
        }: it runs past 65536 characters; an MLflow metric line is "timestamp value step"`,
      );
    }
    for (const line of lines) take(line);
  }
  rest += decoder.decode();
  if (rest !== "") take(rest);
  return {
    steps: steps.view(),
    values: values.view(),
    ts: ts.view(),
    file: { path: `metrics/${key}`, bytes, sha256: hash.digest("hex") },
  };
}

function parseFloatLike(s: string): number {
  const low = s.toLowerCase();
  if (low === "nan") return NaN;
  if (low === "inf" || low === "infinity") return Infinity;
  if (low === "-inf" || low === "-infinity") return -Infinity;
  const n = Number(s);
  return s.trim() === "" ? NaN : n;
}

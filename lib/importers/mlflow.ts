/**
 * Reads an MLflow file store (`mlruns/`, tracking URI `file:./mlruns`):
 * `<experiment_id>/meta.yaml`, and per run `<experiment_id>/<run_id>/`
 * `meta.yaml`, `params/<key>`, `tags/<key>` (the value is the file's text)
 * and `metrics/<key>` (lines `timestamp value step`). Keys with `/` are
 * nested folders. Written from MLflow's file-store layout (its FileStore
 * source), not from files MLflow wrote: no fixture could be made here.
 *
 * @module
 */
import { CorruptFileError, NotFoundError } from "../errors.ts";
import { join, parseYaml } from "./_deps.ts";
import {
  emptyRun,
  F64Builder,
  type ImportedRun,
  readSourceFile,
  type Series,
  type SourceFile,
  tableFromSeries,
} from "./model.ts";

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

async function isFile(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isFile;
  } catch {
    return false;
  }
}

async function listDirs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isDirectory) out.push(e.name);
  return out.sort();
}

/** Every file below `dir`, as `/`-joined paths relative to it. */
async function listFilesDeep(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return out;
    throw e;
  }
  for (const e of entries.sort((a, b) => a.name < b.name ? -1 : 1)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await listFilesDeep(join(dir, e.name), rel));
    else if (e.isFile) out.push(rel);
  }
  return out;
}

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
  const isRun = async (d: string) =>
    await isFile(join(d, "meta.yaml")) &&
    (await Array.fromAsync(Deno.readDir(d))).some((e) =>
      e.isDirectory && ["metrics", "params", "tags"].includes(e.name)
    );
  if (await isRun(root)) {
    return [{ dir: join(root, ".."), runs: [root] }];
  }
  const runsOf = async (exp: string) => {
    const runs: string[] = [];
    for (const d of await listDirs(exp)) {
      if (!NOT_RUNS.has(d) && await isFile(join(exp, d, "meta.yaml"))) {
        runs.push(join(exp, d));
      }
    }
    return runs;
  };
  if (await isFile(join(root, "meta.yaml"))) {
    const runs = await runsOf(root);
    return runs.length ? [{ dir: root, runs }] : [];
  }
  const out: MlflowExperimentLayout[] = [];
  for (const d of await listDirs(root)) {
    if (NOT_EXPERIMENTS.has(d)) continue;
    const exp = join(root, d);
    if (!await isFile(join(exp, "meta.yaml"))) continue;
    const runs = await runsOf(exp);
    if (runs.length) out.push({ dir: exp, runs });
  }
  return out;
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
  const layouts = await findMlflowRuns(root);
  if (layouts.length === 0) {
    throw new NotFoundError(
      `No MLflow run under "${root}": expected a file store (mlruns/<experiment_id>/<run_id>/meta.yaml); point the import at the mlruns folder`,
    );
  }
  const runs: ImportedRun[] = [];
  for (const exp of layouts) {
    const expMeta = await readYamlMaybe(join(exp.dir, "meta.yaml"));
    for (const dir of exp.runs) runs.push(await readRun(dir, expMeta));
  }
  return runs;
}

async function readYamlMaybe(
  path: string,
): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  return parseMeta(text, path);
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
  dir: string,
  expMeta: Record<string, unknown> | null,
): Promise<ImportedRun> {
  const files: SourceFile[] = [];
  const read = async (rel: string) => {
    const r = await readSourceFile(join(dir, ...rel.split("/")), rel);
    files.push(r.file);
    return new TextDecoder().decode(r.bytes);
  };
  const meta = parseMeta(await read("meta.yaml"), join(dir, "meta.yaml"));
  const runId = String(
    meta.run_id ?? meta.run_uuid ?? dir.split(/[\\/]/).pop(),
  );
  const run = emptyRun("mlflow", "mlflow", dir, runId, runId);
  for (const rel of await listFilesDeep(join(dir, "params"))) {
    run.params[rel] = await read(`params/${rel}`);
  }
  for (const rel of await listFilesDeep(join(dir, "tags"))) {
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
  for (const key of await listFilesDeep(join(dir, "metrics"))) {
    const text = await read(`metrics/${key}`);
    const steps = new F64Builder(),
      values = new F64Builder(),
      ts = new F64Builder();
    text.split("\n").forEach((line, i) => {
      if (line.trim() === "") return;
      const parts = line.trim().split(" ");
      const where = `"${join(dir, "metrics", ...key.split("/"))}" line ${
        i + 1
      }`;
      if (parts.length !== 3) {
        throw new CorruptFileError(
          `Cannot read ${where}: ${
            JSON.stringify(line)
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
            JSON.stringify(line)
          } is not "timestamp value step" with an integer timestamp and step`,
        );
      }
      steps.push(step);
      values.push(v);
      ts.push(t);
    });
    series.push({ name: key, steps: steps.view(), values: values.view() });
    times.push({ name: key, steps: steps.view(), values: ts.view() });
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

function parseFloatLike(s: string): number {
  const low = s.toLowerCase();
  if (low === "nan") return NaN;
  if (low === "inf" || low === "infinity") return Infinity;
  if (low === "-inf" || low === "-infinity") return -Infinity;
  const n = Number(s);
  return s.trim() === "" ? NaN : n;
}

/**
 * Reads TensorBoard event files (`events.out.tfevents.*`): TFRecord framing,
 * then the `Event` / `Summary` protobuf messages, decoded by field number with
 * `@bufbuild/protobuf`'s `BinaryReader` (no generated code, and no object per
 * event on the scalar path).
 *
 * @module
 */
import { NotFoundError } from "../errors.ts";
import { join, relative, sep } from "./_deps.ts";
import { SubrunAccumulator } from "./_event_accumulator.ts";
import { decodeEventFile } from "./_event_decode.ts";
import { addSubrun } from "./_event_tables.ts";
import {
  emptyRun,
  type ImportedRun,
  type ParamValue,
  readSourceFile,
  type SourceFile,
} from "./model.ts";
import { SourceTree } from "./_source_tree.ts";

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
  return (await findRuns(root)).runs;
}

/** The runs under `root`, and the tree they were found in. */
async function findRuns(root: string) {
  const tree = await SourceTree.open(root);
  const withEvents: string[] = [];
  await tree.walkDirs(root, (dir, { files }) => {
    if (files.some((n) => EVENT_FILE_PATTERN.test(n))) withEvents.push(dir);
  });
  const runs: TensorBoardRunLayout[] = [];
  for (const dir of withEvents) {
    const owner = runs.find((r) => dir.startsWith(r.dir + sep));
    if (owner) owner.subruns.push(toPosix(relative(owner.dir, dir)));
    else runs.push({ dir, subruns: [""] });
  }
  return { tree, runs };
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
  const { tree, runs: layouts } = await findRuns(root);
  if (layouts.length === 0) {
    throw new NotFoundError(
      `No TensorBoard run under "${root}": no file named events.out.tfevents.* in it or its subfolders; point the import at a log directory`,
    );
  }
  const runs: ImportedRun[] = [];
  for (const layout of layouts) {
    const run = await readRun(root, layout, options, tree);
    run.warnings.push(...tree.warnings.splice(0));
    runs.push(run);
  }
  return runs;
}

async function readRun(
  root: string,
  layout: TensorBoardRunLayout,
  options: TensorBoardOptions,
  tree: SourceTree,
): Promise<ImportedRun> {
  const id = toPosix(relative(root, layout.dir)) || basenameOf(layout.dir);
  const run = emptyRun("tensorboard", "tensorboard", layout.dir, id, id);
  const subrunInfo: Record<string, ParamValue> = {};
  const hparamMetrics: string[] = [];
  let first = Infinity, last = -Infinity;
  for (const sub of layout.subruns) {
    const dir = sub ? join(layout.dir, sub) : layout.dir;
    const names = (await tree.list(dir)).files.filter((n) =>
      EVENT_FILE_PATTERN.test(n)
    );
    const acc = new SubrunAccumulator();
    const files: SourceFile[] = [];
    let records = 0;
    for (const name of names) {
      const rel = sub ? `${sub}/${name}` : name;
      const { bytes, file } = await readSourceFile(join(dir, name), rel, tree);
      files.push(file);
      run.sourceFiles.push(file);
      records += decodeEventFile(bytes, rel, acc, options, run.warnings);
    }
    first = Math.min(first, acc.firstWall);
    last = Math.max(last, acc.lastWall);
    const tableName = subrunTable(sub, acc, subrunInfo);
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
 * The table of a sub-run: `scalars` for the run's own folder; `hparams`
 * (`hparams_2`, … when called again) for the folder PyTorch's
 * `add_hparams` names after the time (`1796609848.667723/`), so that the
 * table has one name in every run; else the folder's name.
 */
function subrunTable(
  sub: string,
  acc: SubrunAccumulator,
  taken: Record<string, ParamValue>,
): string {
  if (sub === "") return "scalars";
  const isHparams = /^\d+(\.\d+)?$/.test(sub) &&
    (acc.hparams !== null || acc.hparamMetrics.length > 0);
  if (!isHparams) return sub;
  const used = new Set(
    Object.values(taken).map((i) => (i as { table: string }).table),
  );
  let name = "hparams";
  for (let n = 2; used.has(name); n++) name = `hparams_${n}`;
  return name;
}

function toPosix(p: string): string {
  return sep === "/" ? p : p.split(sep).join("/");
}

function basenameOf(p: string): string {
  const parts = p.split(sep).filter(Boolean);
  return parts[parts.length - 1] ?? p;
}

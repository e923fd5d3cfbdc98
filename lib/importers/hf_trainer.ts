/**
 * Reads Hugging Face `transformers.Trainer` output and checkpoint folders
 * (`trainer_state.json`, with `training_args.json`, `config.json` and the
 * `*_results.json` files where present).
 *
 * @module
 */
import { CorruptFileError, NotFoundError } from "../errors.ts";
import { join, relative, sep } from "./_deps.ts";
import {
  emptyRun,
  type ImportedRun,
  type ParamValue,
  readSourceFile,
  type SourceFile,
} from "./model.ts";
import { type Row, rowsToTable } from "./table.ts";
import { parsePythonJson } from "../formats/python_json.ts";
import { toParamValue } from "./_param_values.ts";
import { importTensorBoard } from "./tensorboard.ts";
import { SourceTree } from "./_source_tree.ts";

/**
 * Finds every folder under `root` (or `root` itself) holding
 * `trainer_state.json`: a Trainer output folder and each of its checkpoints.
 * Needs read permission.
 *
 * @example
 * ```ts
 * import { findTrainerRuns } from "./hf_trainer.ts";
 * const dir = await Deno.makeTempDir();
 * console.assert((await findTrainerRuns(dir)).length === 0);
 * await Deno.remove(dir);
 * ```
 */
export async function findTrainerRuns(root: string): Promise<string[]> {
  return (await findRuns(root)).dirs;
}

/** The run folders under `root`, and the tree they were found in. */
async function findRuns(root: string) {
  const tree = await SourceTree.open(root);
  const dirs: string[] = [];
  await tree.walkDirs(root, (dir, { files }) => {
    if (files.includes("trainer_state.json")) dirs.push(dir);
  });
  return { tree, dirs };
}

/**
 * Reads every Trainer run under `root`. `log_history` becomes a `train`
 * table (entries with `loss`), an `eval` table (entries with `eval_*` keys)
 * and a `summary` table (the rest, e.g. the closing `train_runtime` entry),
 * each keyed by `step`. `training_args.json` and `config.json` become params
 * (`training_args`, `model_config`); the rest of the trainer state and the
 * `*_results.json` files go to `sourceInfo`. Needs read permission.
 *
 * @param root A Trainer output folder, a checkpoint, or above.
 * @returns One run per folder holding `trainer_state.json`.
 * @throws {NotFoundError} No `trainer_state.json` under `root`.
 * @throws {CorruptFileError} A JSON file does not parse, or
 * `trainer_state.json` has no `log_history` list.
 * @example
 * ```ts
 * import { importTrainer } from "./hf_trainer.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/trainer_state.json`, JSON.stringify({
 *   global_step: 1, log_history: [{ step: 1, loss: 0.5, epoch: 0.1 }],
 * }));
 * const [run] = await importTrainer(dir);
 * console.assert(run.tables[0].name === "train");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function importTrainer(root: string): Promise<ImportedRun[]> {
  const { tree, dirs } = await findRuns(root);
  if (dirs.length === 0) {
    throw new NotFoundError(
      `No Hugging Face Trainer run under "${root}": no trainer_state.json in it or its subfolders; point the import at the Trainer's output_dir or a checkpoint-N folder`,
    );
  }
  const runs: ImportedRun[] = [];
  for (const dir of dirs) {
    const run = await readRun(root, dir, tree);
    run.warnings.push(...tree.warnings.splice(0));
    runs.push(run);
  }
  return runs;
}

async function readJson(
  tree: SourceTree,
  dir: string,
  name: string,
  shown: string,
  files: SourceFile[],
  required: boolean,
): Promise<unknown> {
  let read;
  try {
    read = await readSourceFile(join(dir, name), name, tree);
  } catch (e) {
    if (!required && e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  files.push(read.file);
  try {
    return parsePythonJson(new TextDecoder().decode(read.bytes));
  } catch (e) {
    throw new CorruptFileError(
      `Cannot read "${shown}": it is not JSON (${(e as Error).message})`,
      { cause: e },
    );
  }
}

/** The training arguments trainer_state.json repeats at its top. */
const STATE_ARGS = [
  "train_batch_size",
  "num_train_epochs",
  "max_steps",
  "logging_steps",
  "eval_steps",
  "save_steps",
];

/**
 * The Trainer writes its arguments only as the pickle `training_args.bin`
 * (never read: unpickling runs code). Its TensorBoard callback logs them as
 * JSON text (`args`) under `runs/`: taken whole from there; else the few
 * that `trainer_state.json` repeats at its top.
 */
async function trainingArgsFromLogs(
  dir: string,
  state: Record<string, ParamValue>,
  run: ImportedRun,
): Promise<void> {
  const note = (m: string) => run.warnings.push(`training args: ${m}`);
  const logs = join(dir, "runs");
  const hasLogs = await Deno.stat(logs).then((i) => i.isDirectory, () => false);
  if (hasLogs) {
    for (const tb of await importTensorBoard(logs)) {
      const text = tb.texts.find((t) => /^args(\/text_summary)?$/.test(t.tag))
        ?.entries[0]?.text[0];
      if (text === undefined) continue;
      try {
        run.params.training_args = toParamValue(
          parsePythonJson(text),
          "training_args",
          note,
        );
      } catch {
        continue;
      }
      run.sourceFiles.push(
        ...tb.sourceFiles.map((f) => ({
          ...f,
          path: `runs/${tb.sourceRunId}/${f.path}`.replace(/\/+/g, "/"),
        })),
      );
      run.sourceInfo.training_args_from =
        `the "args" text of the TensorBoard log runs/${tb.sourceRunId}`;
      return;
    }
  }
  const top: Record<string, ParamValue> = {};
  for (const k of STATE_ARGS) if (k in state) top[k] = state[k];
  if (Object.keys(top).length) {
    run.params.training_args = top;
    run.sourceInfo.training_args_from =
      "the top of trainer_state.json (training_args.bin, a pickle, is not read)";
  }
}

function isObject(v: unknown): v is Record<string, ParamValue> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

async function readRun(
  root: string,
  dir: string,
  tree: SourceTree,
): Promise<ImportedRun> {
  const id = relative(root, dir).split(sep).join("/") ||
    dir.split(sep).filter(Boolean).pop()!;
  const shown = (name: string) => id ? `${id}/${name}` : name;
  const run = emptyRun("hf-trainer", "transformers", dir, id, id);
  const state = await readJson(
    tree,
    dir,
    "trainer_state.json",
    shown("trainer_state.json"),
    run.sourceFiles,
    true,
  );
  if (!isObject(state) || !Array.isArray(state.log_history)) {
    throw new CorruptFileError(
      `Cannot read "${
        shown("trainer_state.json")
      }": it has no "log_history" list; is it a transformers Trainer state (written by Trainer.save_state() or a checkpoint)?`,
    );
  }
  const train: Row[] = [], evals: Row[] = [], summary: Row[] = [];
  state.log_history.forEach((entry, i) => {
    if (!isObject(entry)) {
      throw new CorruptFileError(
        `Cannot read "${
          shown("trainer_state.json")
        }": log_history[${i}] is not an object`,
      );
    }
    const row: Row = {};
    for (const [k, v] of Object.entries(entry)) {
      row[k] = typeof v === "number" || typeof v === "string" ||
          typeof v === "bigint"
        ? v
        : v === null
        ? null
        : JSON.stringify(v);
    }
    if ("loss" in row) train.push(row);
    else if (Object.keys(row).some((k) => k.startsWith("eval_"))) {
      evals.push(row);
    } else summary.push(row);
  });
  const file = shown("trainer_state.json");
  for (
    const [name, rows] of [["train", train], ["eval", evals], [
      "summary",
      summary,
    ]] as const
  ) {
    if (rows.length === 0) continue;
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((c) =>
      c !== "step"
    );
    run.tables.push(rowsToTable(name, rows, cols, "step", file));
  }
  const { log_history: _, ...rest } = state;
  run.sourceInfo.trainer_state = rest;
  const args = await readJson(
    tree,
    dir,
    "training_args.json",
    shown("training_args.json"),
    run.sourceFiles,
    false,
  );
  if (args !== undefined) run.params.training_args = args as ParamValue;
  else await trainingArgsFromLogs(dir, rest, run);
  const config = await readJson(
    tree,
    dir,
    "config.json",
    shown("config.json"),
    run.sourceFiles,
    false,
  );
  if (config !== undefined) run.params.model_config = config as ParamValue;
  if (isObject(config) && typeof config.transformers_version === "string") {
    run.toolVersion = config.transformers_version;
  }
  for (
    const name of [
      "train_results.json",
      "eval_results.json",
      "all_results.json",
    ]
  ) {
    const v = await readJson(
      tree,
      dir,
      name,
      shown(name),
      run.sourceFiles,
      false,
    );
    if (v !== undefined) run.sourceInfo[name] = v as ParamValue;
  }
  if (isObject(args) && typeof args.run_name === "string") {
    run.name = args.run_name;
  }
  return run;
}

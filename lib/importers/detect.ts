/**
 * Tells which importer a path needs, and runs it.
 *
 * @module
 */
import {
  InvalidInputError,
  NotFoundError,
  UnsafeFileError,
  UnsupportedFormatError,
} from "../errors.ts";
import { resolve } from "./_deps.ts";
import { importTrainer } from "./hf_trainer.ts";
import { importLightning } from "./lightning.ts";
import { importMlflow } from "./mlflow.ts";
import type { ImportedRun, ImportKind } from "./model.ts";
import { importOptuna } from "./optuna.ts";
import { importTable } from "./table.ts";
import { EVENT_FILE_PATTERN, importTensorBoard } from "./tensorboard.ts";
import { describeFile, isOptunaFile } from "./_sniff.ts";
import { importWandb, WANDB_FILE_PATTERN } from "./wandb.ts";
import { SourceTree } from "./_source_tree.ts";

/** Every kind, as the CLI names them. */
export const IMPORT_KINDS: readonly ImportKind[] = [
  "tensorboard",
  "lightning",
  "hf-trainer",
  "mlflow",
  "csv",
  "jsonl",
  "wandb",
  "optuna",
];

/** How deep {@linkcode detectKind} looks below the path. */
const MAX_DEPTH = 6;

/**
 * Tells the kind of a path: a `.csv` / `.jsonl` file, or a folder holding
 * (at any depth up to 6) event files (`tensorboard`), `trainer_state.json`
 * (`hf-trainer`), `metrics.csv` (`lightning`), an MLflow run's
 * `meta.yaml` beside `metrics/` (`mlflow`) or a W&B `run-*.wandb` file
 * (`wandb`); a `.wandb` file is `wandb`, an Optuna SQLite or journal file
 * `optuna`. Needs read permission.
 *
 * @param path A file or folder.
 * @returns The kind.
 * @throws {NotFoundError} The path does not exist.
 * @throws {InvalidInputError} Nothing recognised, or several kinds found.
 * @example
 * ```ts
 * import { detectKind } from "./detect.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/trainer_state.json`, "{}");
 * console.assert(await detectKind(dir) === "hf-trainer");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function detectKind(path: string): Promise<ImportKind> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `Cannot import "${path}": no such file or folder`,
      );
    }
    throw e;
  }
  notSpecial(path, info);
  if (info.isFile) {
    if (/\.(jsonl|ndjson)$/i.test(path)) return "jsonl";
    if (/\.csv$/i.test(path)) return "csv";
    if (/\.wandb$/i.test(path)) return "wandb";
    if (await isOptunaFile(path)) return "optuna";
    if (EVENT_FILE_PATTERN.test(path.split(/[\\/]/).pop()!)) {
      throw new InvalidInputError(
        `"${path}" is an event file: import its folder (the TensorBoard run) instead`,
      );
    }
    throw new UnsupportedFormatError(
      `Cannot import "${path}": ${await describeFile(
        path,
      )}. Supported: a folder of TensorBoard, Lightning, HF Trainer, MLflow or W&B runs; a .csv or .jsonl table; a W&B run-*.wandb file; an Optuna SQLite or journal file (or name the kind: ${
        IMPORT_KINDS.join(", ")
      })`,
    );
  }
  const found = new Set<ImportKind>();
  const tree = await SourceTree.open(path);
  await tree.walkDirs(path, (_, { files, dirs }, depth) => {
    let meta = false;
    for (const name of files) {
      if (EVENT_FILE_PATTERN.test(name)) found.add("tensorboard");
      else if (name === "trainer_state.json") found.add("hf-trainer");
      else if (name === "metrics.csv") found.add("lightning");
      else if (name === "meta.yaml") meta = true;
      else if (WANDB_FILE_PATTERN.test(name)) found.add("wandb");
    }
    if (meta && dirs.some((n) => ["metrics", "params", "tags"].includes(n))) {
      found.add("mlflow");
    }
    return depth < MAX_DEPTH;
  });
  if (found.size === 1) return [...found][0];
  if (found.size === 0) {
    throw new NotFoundError(
      `No run found in "${path}": no TensorBoard event file, trainer_state.json, Lightning metrics.csv, MLflow run or W&B run-*.wandb file in it or its subfolders; name the kind and path of what to import (${
        IMPORT_KINDS.join(", ")
      })`,
    );
  }
  throw new InvalidInputError(
    `"${path}" holds runs of several kinds (${
      [...found].join(", ")
    }); name the kind to import`,
  );
}

/** Options of {@linkcode importRuns}. */
export interface ImportRunsOptions {
  /** TensorBoard and W&B: skip corrupt records instead of failing. @default false */
  skipCorrupt?: boolean;
  /** csv/jsonl: the step column. @default "step" */
  stepColumn?: string;
  /** optuna: the study to import. @default every study in the file */
  study?: string;
}

/**
 * Reads the runs at `path` with the importer for `kind` (detected when
 * omitted). Needs read permission.
 *
 * @param kind A kind, or undefined to detect it.
 * @param path A file or folder.
 * @param options See {@linkcode ImportRunsOptions}.
 * @returns The runs read.
 * @example
 * ```ts
 * import { importRuns } from "./detect.ts";
 * const f = await Deno.makeTempFile({ suffix: ".csv" });
 * await Deno.writeTextFile(f, "step,loss\n0,1\n");
 * const [run] = await importRuns(undefined, f);
 * console.assert(run.kind === "csv");
 * await Deno.remove(f);
 * ```
 */
export async function importRuns(
  kind: ImportKind | undefined,
  path: string,
  options: ImportRunsOptions = {},
): Promise<ImportedRun[]> {
  const abs = resolve(path);
  const k = kind ?? await detectKind(abs);
  const info = await Deno.stat(abs).catch((e) => {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `Cannot import "${path}": no such file or folder`,
      );
    }
    throw e;
  });
  notSpecial(path, info);
  const wantsFile = k === "csv" || k === "jsonl" || k === "optuna";
  if (info.isFile !== wantsFile && k !== "wandb") {
    throw new InvalidInputError(
      `Cannot import "${path}" as ${k}: it is a ${
        info.isFile ? "file" : "folder"
      }; ${k} imports read a ${wantsFile ? "file" : "folder"}${
        wantsFile ? "" : " (for a TensorBoard event file, its run folder)"
      }`,
    );
  }
  if (k === "csv") await checkCsvWidth(abs);
  switch (k) {
    case "tensorboard":
      return await importTensorBoard(abs, { skipCorrupt: options.skipCorrupt });
    case "lightning":
      return await importLightning(abs);
    case "hf-trainer":
      return await importTrainer(abs);
    case "mlflow":
      return await importMlflow(abs);
    case "wandb":
      return await importWandb(abs, { skipCorrupt: options.skipCorrupt });
    case "optuna":
      return await importOptuna(abs, { study: options.study });
    case "csv":
    case "jsonl":
      return [
        await importTable(abs, { format: k, stepColumn: options.stepColumn }),
      ];
    default:
      throw new InvalidInputError(
        `Unknown import kind ${JSON.stringify(k)}: valid kinds are ${
          IMPORT_KINDS.join(", ")
        }`,
      );
  }
}

/** Refuses a path that is neither a file nor a folder (a FIFO would block the read). */
function notSpecial(path: string, info: Deno.FileInfo) {
  if (info.isFile || info.isDirectory) return;
  const what = info.isFifo
    ? "a FIFO (named pipe)"
    : info.isCharDevice || info.isBlockDevice
    ? "a device"
    : info.isSocket
    ? "a socket"
    : "not a regular file";
  throw new UnsafeFileError(
    `Cannot import "${path}": it is ${what}, not a file or folder; import the file the tool wrote`,
  );
}

/**
 * The widest table an import writes (step included): TensorBoard runs of
 * 10,000 tags import; a CSV of 100,000 columns took 26 s and 660 MB to
 * write as one table (and 270 MB to parse). The same limit as the loggers'
 * `MAX_COLUMNS` (lib/metrics_log/options.ts, a layer above this one).
 */
export const MAX_IMPORT_TABLE_COLUMNS = 16_384;

/**
 * Refuses a CSV whose header line has more than
 * {@linkcode MAX_IMPORT_TABLE_COLUMNS} fields before it is parsed (commas
 * counted in the first 1 MiB; a quoted comma counts too, which only errs
 * towards refusing a header of more than 16,000 commas).
 */
async function checkCsvWidth(path: string) {
  using f = await Deno.open(path);
  const buf = new Uint8Array(1024 * 1024);
  let n = 0;
  for (;;) {
    const got = await f.read(buf.subarray(n));
    if (got === null || (n += got) === buf.length) break;
  }
  let commas = 0;
  for (let i = 0; i < n && buf[i] !== 10; i++) if (buf[i] === 44) commas++;
  if (commas + 1 > MAX_IMPORT_TABLE_COLUMNS) {
    throw new InvalidInputError(
      `Cannot import "${path}": its header has ${
        commas + 1
      } columns or more, more than the ${MAX_IMPORT_TABLE_COLUMNS} an imported table may; split the file into narrower ones`,
    );
  }
}

/**
 * Importers: read runs that other tools left on disk (TensorBoard event
 * files, Lightning `CSVLogger`, Hugging Face `Trainer` state, an MLflow file
 * store, W&B offline runs, Optuna studies, any CSV / JSON Lines table) into
 * one in-memory model,
 * {@linkcode ImportedRun}.
 *
 * @example
 * ```ts
 * import { importRuns } from "./mod.ts";
 * const f = await Deno.makeTempFile({ suffix: ".jsonl" });
 * await Deno.writeTextFile(f, '{"step":0,"loss":2}\n');
 * const [run] = await importRuns("jsonl", f);
 * console.assert(run.tables[0].columns.has("loss"));
 * await Deno.remove(f);
 * ```
 *
 * @module
 */
export { detectKind, IMPORT_KINDS, importRuns } from "./detect.ts";
export type { ImportRunsOptions } from "./detect.ts";
export { findTrainerRuns, importTrainer } from "./hf_trainer.ts";
export { findLightningRuns, importLightning } from "./lightning.ts";
export { findMlflowRuns, importMlflow } from "./mlflow.ts";
export type { MlflowExperimentLayout } from "./mlflow.ts";
export { importOptuna } from "./optuna.ts";
export type { OptunaOptions } from "./optuna.ts";
export {
  findWandbRuns,
  importWandb,
  WANDB_FILE_PATTERN,
  wandbRunFromBytes,
} from "./wandb.ts";
export type { WandbReadStats } from "./wandb.ts";
export {
  columnPoints,
  columnToArray,
  denseHistogram,
  tableFromSeries,
} from "./model.ts";
export type {
  ColumnPoints,
  ImportedColumn,
  ImportedHistogram,
  ImportedRun,
  ImportedTable,
  ImportedText,
  ImportKind,
  Int64Column,
  NumberColumn,
  ParamValue,
  Series,
  SourceFile,
  StringColumn,
} from "./model.ts";
export { importTable, parseCsvRows } from "./table.ts";
export type { Row, TableImportOptions } from "./table.ts";
export {
  EVENT_FILE_PATTERN,
  findTensorBoardRuns,
  importTensorBoard,
} from "./tensorboard.ts";
export type {
  TensorBoardOptions,
  TensorBoardRunLayout,
} from "./tensorboard.ts";
export { maskedCrc32c, readRecords } from "./tfrecord.ts";
export type { ReadRecordsOptions, ReadRecordsResult } from "./tfrecord.ts";

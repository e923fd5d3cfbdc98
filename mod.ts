/**
 * Specimen Vault: a local-first, queryable archive of ML research experiments.
 *
 * Each experiment is a specimen, a folder `specimens/<id>/` written once:
 * `manifest.msgpack`, `protocol.ts`, `field_notes.md` and `strata/` with
 * metrics in Parquet and tensors in Zarr v3.
 *
 * Inside a protocol, write results through {@linkcode SpecimenStorage}:
 *
 * @example
 * ```ts
 * import { createSpecimen, SpecimenStorage } from "specimen-vault";
 *
 * const vault = await Deno.makeTempDir();
 * const { dir } = await createSpecimen({
 *   vault,
 *   id: "mod_example",
 *   domain: "interpretability",
 *   method: "sae_analysis",
 *   tags: ["gpt2", "layer_12"],
 * });
 * const storage = await SpecimenStorage.open(dir);
 * await storage.writeMetrics({ step: [0, 1, 2], loss: [2.1, 1.4, 0.9] });
 * await storage.writeTensor("activations", new Float32Array(3 * 4), { shape: [3, 4] });
 * console.assert((await storage.readTensor("activations", [1])).shape[0] === 4);
 * await Deno.remove(vault, { recursive: true });
 * ```
 *
 * @module
 */
export {
  ChildProcessError,
  CorruptFileError,
  ImmutableArtifactError,
  InvalidInputError,
  NotFoundError,
  SpecimenExistsError,
  UnsafeFileError,
  UnsupportedFormatError,
  VaultError,
} from "./lib/errors.ts";
export { TAXONOMY, validateTaxonomy } from "./lib/specimen/taxonomy.ts";
export {
  isReadableSpecimenId,
  isSpecimenId,
  MAX_SPECIMEN_ID_LENGTH,
  READABLE_SPECIMEN_ID_PATTERN,
  SPECIMEN_ID_PATTERN,
  validateReadableSpecimenId,
  validateSpecimenId,
} from "./lib/specimen/id.ts";
export {
  type ArtifactRecord,
  decodeManifest,
  encodeManifest,
  type Manifest,
  MANIFEST_FILE,
  readManifest,
  validateManifest,
} from "./lib/specimen/manifest.ts";
export {
  CATALOG_FILE,
  findVault,
  SPECIMENS_DIR,
  VAULT_ENV,
  type VaultPaths,
  vaultPaths,
} from "./lib/vault.ts";
export {
  type CreatedSpecimen,
  createSpecimen,
  type CreateSpecimenOptions,
  normalizeTags,
} from "./lib/specimen/create.ts";
export {
  createSweep,
  type CreateSweepOptions,
} from "./lib/specimen/create_sweep.ts";
export {
  diffParams,
  mergeParams,
  type Params,
  type ParamValue,
  parseParamArgs,
  validateParams,
} from "./lib/specimen/params.ts";
export {
  expandSweep,
  MAX_SWEEP_COMBINATIONS,
  sweepIds,
  sweepSuffix,
} from "./lib/specimen/sweep.ts";
export {
  ARTIFACT_NAME_PATTERN,
  READABLE_ARTIFACT_NAME_PATTERN,
  SpecimenStorage,
  STRATA_DIR,
  type TensorWriter,
  validateArtifactName,
  type WriteMetricsOptions,
} from "./lib/run/storage.ts";
export { runProtocol, type RunProtocolOptions } from "./lib/run/protocol.ts";
export type { ExecOptions, ExecProblem, ExecResult } from "./lib/run/exec.ts";
export type {
  ChildEnvironment,
  ExecutableInfo,
  GpuInfo,
  PythonInfo,
  TorchInfo,
  Unavailable,
} from "./lib/bridge/child_env.ts";
export {
  adoptOutputs,
  AdoptOutputsError,
  type AdoptOutputsOptions,
  type AdoptReport,
  type AdoptTarget,
  type ArtifactPlacement,
} from "./lib/run/adopt_outputs.ts";
export {
  findPython,
  type FindPythonOptions,
  type FoundPython,
} from "./lib/bridge/find_python.ts";
export type {
  ColumnValues,
  MetricColumns,
  ReadColumn,
} from "./lib/formats/parquet/parquet.ts";
export type {
  DType,
  ReadOptions,
  Selection,
  TensorData,
  TensorInfo,
  TensorOptions,
  TensorSlice,
} from "./lib/formats/zarr/zarr.ts";
export {
  captureProvenance,
  type CaptureProvenanceOptions,
  findDenoConfig,
  type GitState,
  PROTOCOL_FILE,
  type Provenance,
} from "./lib/run/provenance.ts";
export {
  assertWritable,
  computeSeal,
  readSeal,
  type Seal,
  SEAL_LISTING,
  sealableFiles,
  sealDigest,
  type SealedFile,
  sealListing,
  type SealListingRule,
  type SealOptions,
  sealSpecimen,
  STATUS_ACTIVE,
  STATUS_FAILED,
  STATUS_RUNNING,
  STATUS_SEALED,
  UNSEALED_FILES,
} from "./lib/specimen/seal.ts";
export {
  assertRunnable,
  type BatchRunRow,
  beginRun,
  type BeginRunOptions,
  type ExecRecord,
  finishRun,
  newRunId,
  pendingSpecimens,
  RUN_ID_ENV,
  type RunOutcome,
  type RunRecord,
  type RunResult,
  RUNS_DIR,
  runSpecimen,
  type RunSpecimenOptions,
  runSpecimens,
  type RunStatus,
  validateSeeds,
} from "./lib/run/run.ts";
export {
  type SpecimenVerification,
  type VerifyProgress,
  verifySpecimen,
  type VerifyState,
  verifyVault,
  type VerifyVaultOptions,
} from "./lib/specimen/verify.ts";
export {
  type FlushInfo,
  type LogRow,
  type LogValue,
  MetricsLogger,
  type MetricsLoggerInit,
  type MetricsLoggerOptions,
} from "./lib/metrics_log/logger.ts";
export {
  type CompactedLog,
  compactLog,
  type CompactLogOptions,
  listMetricTables,
  LOG_LOCK_FILE,
  type MetricTable,
  partFileName,
  PARTS_SUFFIX,
  readMetricTable,
  repairLogs,
  type RepairReport,
} from "./lib/metrics_log/table.ts";
export {
  encodeTypedMetrics,
  type TypedMetricColumn,
} from "./lib/formats/parquet/parquet.ts";
export type {
  DecodedMetrics,
  EncodeMetricsOptions,
  ParquetColumnInfo,
  ReadColumnInfo,
} from "./lib/formats/parquet/parquet.ts";
export {
  createDashboard,
  type Dashboard,
  type DashboardOptions,
  isLoopbackHost,
  type RunningDashboard,
  serveDashboard,
  type ServeDashboardOptions,
} from "./lib/dashboard/server.ts";
export {
  CATALOG_SCHEMA_VERSION,
  INDEX_LOCK_FILE,
  type IndexOptions,
  type IndexProgress,
  type IndexReport,
  indexVault,
} from "./lib/catalog/index_vault.ts";
export {
  type ColumnInfo,
  type CompareOptions,
  type CompareResult,
  type MetricAcrossOptions,
  type MetricSummary,
  type QueryParams,
  type QueryResult,
  type Row,
  type SpecimenFilter,
  VaultQuery,
  type VaultQueryOptions,
} from "./lib/query/vault_query.ts";
export {
  changeLabels,
  type ChangeLabelsOptions,
  type CurateOutcome,
  type DiscardOptions,
  discardSpecimens,
  emptyTrash,
  type EmptyTrashOptions,
  type EmptyTrashReport,
  idsWhere,
  type LabelChange,
  type LabelResult,
  listTrash,
  readLabelsFile,
  type RestoreOptions,
  restoreSpecimens,
  TRASH_DIR,
  type TrashEntry,
} from "./lib/curate/mod.ts";
export {
  LABELS_FILE,
  type LabelsFile,
  parseLabels,
} from "./lib/specimen/labels.ts";
export { SpecimenBusyError } from "./lib/errors.ts";
export {
  type AdoptProgress,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_SPLIT_MAX_BYTES,
} from "./lib/run/adopt_outputs.ts";
export type { ExecLeftBehind } from "./lib/run/exec.ts";
export { sealAsIs, type SealAsIsOptions } from "./lib/run/seal_as_is.ts";
export { STATUS_INTERRUPTED } from "./lib/specimen/seal.ts";
export {
  checkParams,
  type CheckParamsOptions,
  nearestKey,
  type ParamProblem,
  paramProblems,
  paramType,
} from "./lib/specimen/param_check.ts";
export {
  readVaultTaxonomy,
  type Taxonomy,
  VAULT_CONFIG_FILE,
} from "./lib/specimen/taxonomy.ts";
export {
  addRemote,
  findRemote,
  type NamedRemote,
  type Origin,
  type PulledSpecimen,
  type PullOptions,
  pullSpecimens,
  type PushedSpecimen,
  type PushOptions,
  pushSpecimens,
  readOrigin,
  readRemotes,
  RemoteAccessError,
  type RemoteConfig,
  RemoteError,
  type RemoteStatus,
  remoteStatus,
  removeRemote,
  type TransferProgress,
} from "./lib/remote/mod.ts";

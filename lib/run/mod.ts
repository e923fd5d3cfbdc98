/**
 * Runs: what a protocol writes through ({@linkcode SpecimenStorage}), how a
 * run is entered ({@linkcode runProtocol}) and recorded (`beginRun`,
 * `finishRun`, {@linkcode runSpecimen} for `deno task run`), and the
 * provenance captured with it.
 *
 * @example
 * ```ts
 * import { newRunId, validateSeeds } from "./mod.ts";
 * console.assert(newRunId(new Date(0)) === "1970-01-01T00-00-00.000Z");
 * validateSeeds({ torch: 1 }); // throws on a seed that is not an integer or text
 * ```
 *
 * @module
 */
export {
  ARTIFACT_NAME_PATTERN,
  READABLE_ARTIFACT_NAME_PATTERN,
  SpecimenStorage,
  STRATA_DIR,
  type TensorWriter,
  validateArtifactName,
  type WriteMetricsOptions,
} from "./storage.ts";
export { runProtocol, type RunProtocolOptions } from "./protocol.ts";
export { sealAsIs, type SealAsIsOptions } from "./seal_as_is.ts";
export {
  captureProvenance,
  type CaptureProvenanceOptions,
  findDenoConfig,
  type GitState,
  LIBRARY_CONFIG,
  PROTOCOL_FILE,
  type Provenance,
} from "./provenance.ts";
export {
  assertRunnable,
  beginRun,
  type BeginRunOptions,
  finishRun,
  newRunId,
  RUN_ID_ENV,
  type RunOutcome,
  type RunRecord,
  type RunResult,
  RUNS_DIR,
  runSpecimen,
  type RunSpecimenOptions,
  type RunStatus,
  validateSeeds,
} from "./run.ts";
export {
  execChild,
  type ExecHost,
  type ExecLeftBehind,
  type ExecOptions,
  type ExecResult,
} from "./exec.ts";
export {
  adoptOutputs,
  AdoptOutputsError,
  type AdoptOutputsOptions,
  type AdoptProgress,
  type AdoptReport,
  type AdoptTarget,
  type ArtifactPlacement,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_SPLIT_MAX_BYTES,
  FILES_DIR,
  mediaType,
} from "./adopt_outputs.ts";

/**
 * Run records: every run of a protocol is recorded in its manifest (`runs`:
 * start, end, duration, exit status, command line, logs) with the
 * provenance of the machine and code it ran on. A successful run seals the
 * specimen; a failed one is kept and marked `failed`, never passed off as a
 * success.
 *
 * {@linkcode runSpecimen} runs a protocol as a child process, tees its
 * stdout and stderr live to the terminal and to `runs/<run id>/`, and
 * records the outcome (`deno task run`). `runProtocol` records direct
 * `deno run` runs with {@linkcode beginRun} and {@linkcode finishRun}.
 *
 * @module
 */
export { LIBRARY_CONFIG } from "./provenance.ts";
export type {
  ExecRecord,
  RunRecord,
  RunStatus,
} from "../specimen/manifest_types.ts";
export {
  assertRunnable,
  beginRun,
  type BeginRunOptions,
  finishRun,
  newRunId,
  RUN_ID_ENV,
  type RunOutcome,
  RUNS_DIR,
  validateSeeds,
} from "./run_record.ts";
export {
  type BatchRunRow,
  pendingSpecimens,
  type RunResult,
  runSpecimen,
  type RunSpecimenOptions,
  runSpecimens,
} from "./run_specimen.ts";

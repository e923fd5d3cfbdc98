/**
 * `storage.exec`: runs a child process (any language) for a specimen, feeds
 * the JSON lines it appends to `SPECIMEN_METRICS` into the crash-safe
 * logger, and adopts what it leaves in `SPECIMEN_OUTPUTS` into `strata/`.
 *
 * STUB: the interface is fixed; the implementation lands with issue 14.
 *
 * @module
 */
import type { Params } from "../specimen/params.ts";
import type { MetricsLogger } from "../metrics_log/logger.ts";
import type { AdoptReport, AdoptTarget } from "./adopt_outputs.ts";

/** Options for `SpecimenStorage.exec`. */
export interface ExecOptions {
  /** The child's working directory. @default the specimen folder */
  cwd?: string;
  /** Extra environment variables for the child (on top of this process's). */
  env?: Record<string, string>;
  /** Echo the child's stdout and stderr live to this process's. @default true */
  echo?: boolean;
  /** The table rows without `_table` go to. @default "metrics" */
  table?: string;
  /** Bad lines tolerated before the run fails. @default 100 */
  maxBadLines?: number;
  /** Adopt `SPECIMEN_OUTPUTS` into `strata/` after the child exits. @default true */
  adopt?: boolean;
  /** Throw `ChildProcessError` when the child fails. @default true */
  check?: boolean;
}

/** What `SpecimenStorage.exec` returns. */
export interface ExecResult {
  /** The command as run, executable first. */
  command: string[];
  /** Exit code (null when a signal ended it). */
  code: number | null;
  /** The signal that ended it, e.g. `"SIGKILL"`, else null. */
  signal: string | null;
  /** True when the child exited with code 0. */
  success: boolean;
  /** Wall time in milliseconds. */
  durationMs: number;
  /** JSON lines ingested, per table. */
  rows: Record<string, number>;
  /** Lines reported and skipped. */
  badLines: number;
  /** What was adopted from `SPECIMEN_OUTPUTS`. */
  adopted: AdoptReport;
}

/** What the exec machinery needs from a specimen's storage. */
export interface ExecHost extends AdoptTarget {
  /** The specimen id. */
  readonly id: string;
  /** Absolute path of the specimen folder. */
  readonly dir: string;
  /** The specimen's params. */
  readonly params: Params;
  /** A crash-safe logger for table `name`. */
  logger(name: string): Promise<MetricsLogger>;
}

/**
 * Runs `command` for the specimen `host` (see `SpecimenStorage.exec`).
 *
 * @example
 * ```ts ignore
 * const result = await execChild(storage, ["python3", "train.py"]);
 * console.log(result.code, result.rows);
 * ```
 */
export function execChild(
  _host: ExecHost,
  _command: string[],
  _options: ExecOptions = {},
): Promise<ExecResult> {
  return Promise.reject(new Error("storage.exec is not implemented yet"));
}

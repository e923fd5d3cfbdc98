/**
 * The options and results of `storage.exec` (see exec.ts): their types, the
 * exec machinery's defaults, and the checking of a call's options.
 *
 * @module
 */
import { resolve } from "../_deps.ts";
import { InvalidInputError } from "../errors.ts";
import type { Params } from "../specimen/params.ts";
import { validateArtifactName } from "../specimen/artifact_name.ts";
import type {
  MetricsLogger,
  MetricsLoggerOptions,
} from "../metrics_log/logger.ts";
import { MAX_BAD_LINES } from "../bridge/jsonl_follow.ts";
import type { AdoptReport, AdoptTarget } from "./adopt_outputs.ts";
import type { ExecProblem } from "./_exec_ingest.ts";

/** Options for `SpecimenStorage.exec`. */
export interface ExecOptions {
  /**
   * The child's working directory; a relative path is taken from the
   * specimen folder. @default the specimen folder
   */
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
  /**
   * How long processes the child left running in its process group (a
   * background writer started with `&`) may go on after it exits, still
   * followed, before the group is sent SIGTERM (then SIGKILL). Nothing is
   * sealed while they run. @default 5000 (ms)
   */
  groupGraceMs?: number;
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
  /** 1, 2, … : which exec of the run this was (names its logs). */
  index: number;
  /** The stdout log, relative to the specimen folder. */
  stdout: string;
  /** The stderr log, relative to the specimen folder. */
  stderr: string;
  /** The lines skipped (bad lines, then a torn last line), in order. */
  problems: ExecProblem[];
  /** Whether the last line had no newline (ignored). */
  tornLine: boolean;
  /**
   * Processes the child left in its process group when it exited (their
   * rows up to their end are kept), and whether they had to be stopped;
   * null when it left none.
   */
  leftBehind: ExecLeftBehind | null;
}

/** Processes an exec's child left in its process group (`ExecResult.leftBehind`). */
export interface ExecLeftBehind {
  /** Their pids, as seen after the child exited. */
  pids: number[];
  /** Whether they were stopped after `groupGraceMs` (else they ended on their own). */
  stopped: boolean;
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
  logger(
    name: string,
    options?: MetricsLoggerOptions,
  ): Promise<MetricsLogger>;
}

/**
 * Bytes of `SPECIMEN_METRICS` read at a time. Smaller than the follower's
 * default: each read's parsed rows live until the next, and larger batches
 * outlive V8's young generation and grow the heap. Logging 6M lines (726 MB)
 * peaked at 206 MB RSS with 256 KiB reads, 155 MB with 64 KiB, for the same
 * CPU time.
 */
export const CHUNK_BYTES = 64 * 1024;
/**
 * Rows per part of the tables a child logs: half the logger's default,
 * which took about 15 MB off the peak RSS of logging 6M lines (139 against
 * 153 MB), for twice as many parts to compact.
 */
export const FLUSH_ROWS = 32_768;
/** How long processes a child left in its group may go on after it exits. */
export const GROUP_GRACE_MS = 5000;
/** How long a child gets between SIGTERM and SIGKILL when it is stopped. */
export const KILL_GRACE_MS = 2000;

/** `ExecOptions` checked, with their defaults filled in. */
export interface Checked {
  cwd: string;
  table: string;
  maxBad: number;
  echo: boolean;
  adopt: boolean;
  check: boolean;
  env: Record<string, string>;
  groupGraceMs: number;
}

/** Checks `command` and `options`; throws `InvalidInputError` on a bad one. */
export function checkOptions(
  host: ExecHost,
  command: string[],
  options: ExecOptions,
): Checked {
  if (
    !Array.isArray(command) || command.length === 0 ||
    command.some((a) => typeof a !== "string") || command[0] === ""
  ) {
    throw new InvalidInputError(
      `storage.exec needs a command as an array of strings, executable first, e.g. ["python3", "train.py"]; got ${
        JSON.stringify(command)
      }`,
    );
  }
  const maxBad = options.maxBadLines ?? MAX_BAD_LINES;
  if (!Number.isInteger(maxBad) || maxBad < 0) {
    throw new InvalidInputError(
      `maxBadLines must be a whole number ≥ 0, got ${maxBad}`,
    );
  }
  const grace = options.groupGraceMs ?? GROUP_GRACE_MS;
  if (!Number.isFinite(grace) || grace < 0) {
    throw new InvalidInputError(
      `groupGraceMs must be a number of milliseconds ≥ 0, got ${grace}`,
    );
  }
  const table = options.table ?? "metrics";
  validateArtifactName(table);
  return {
    cwd: resolve(host.dir, options.cwd ?? "."),
    table,
    maxBad,
    echo: options.echo ?? true,
    adopt: options.adopt ?? true,
    check: options.check ?? true,
    groupGraceMs: options.groupGraceMs ?? GROUP_GRACE_MS,
    env: options.env ?? {},
  };
}

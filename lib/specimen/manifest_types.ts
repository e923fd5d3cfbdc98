/**
 * The manifest's schema: every type stored in `manifest.msgpack`, including
 * the parts that run records, seals and provenance fill in. They live here,
 * with the manifest, so that the code writing those parts imports the
 * schema and never the other way round.
 *
 * @module
 */

import type { ChildEnvironment } from "../bridge/child_env.ts";
import type { Params } from "./params.ts";

/** What the manifest records about one artifact under `strata/`. */
export interface ArtifactRecord {
  /** Path relative to the specimen folder, e.g. `strata/metrics.parquet`. */
  path: string;
  /** `"parquet"` or `"zarr"` (others may follow). */
  format: string;
  /** When it was written (ISO-8601 UTC). */
  created?: string;
  /** Parquet: column names and their Parquet types. */
  columns?: { name: string; type: string }[];
  /** Parquet: number of rows. */
  rows?: number;
  /** Zarr: the array's shape. */
  shape?: number[];
  /** Zarr: the array's data type, e.g. `float32`. */
  dtype?: string;
  /** Zarr: the chunk shape. */
  chunks?: number[];
  /** Zarr: codec names in order. */
  codecs?: string[];
  /** Bytes on disk. */
  bytes?: number;
  [key: string]: unknown;
}

/** A specimen's metadata. */
export interface Manifest {
  specimen_id: string;
  /** ISO-8601 timestamp; written in UTC, read with any offset. */
  created: string;
  taxonomy: { domain: string; method: string };
  status: string;
  artifacts: Record<string, ArtifactRecord>;
  tags: string[];
  model: string | null;
  description: string | null;
  dependencies: Record<string, string>;
  /** The specimen this one was derived from (`deno task create --from`). */
  parent?: string;
  /**
   * The run's configuration: nested records of numbers, strings, booleans,
   * null and lists, checked by `validateParams` (absent in older manifests).
   */
  params?: Params;
  /**
   * The dotted keys of `params` that differ from the parent's
   * (`deno task create --from PARENT --param k=v`, or a sweep).
   */
  params_changed?: string[];
  /**
   * The dotted keys of `params` set on purpose although neither the parent
   * nor the protocol's declared params have them (`create --new-param`):
   * exempt from the check of params against the known ones.
   */
  params_new?: string[];
  /**
   * A committed example of the tool's: `deno task run --all-pending` passes
   * it over; it runs only when named.
   */
  example?: boolean;
  /** Seeds the protocol declared (`runProtocol(..., { seeds })`). */
  seeds?: Record<string, number | string>;
  /**
   * Where the results came from: the latest run's machine, code, packages
   * (a manifest from elsewhere may carry another shape under this key).
   */
  provenance?: Provenance | Record<string, unknown>;
  /** Every run of the protocol, oldest first. */
  runs?: RunRecord[];
  /** The SHA-256 and size of every sealed file (set when status is `sealed`). */
  seal?: Seal;
  [key: string]: unknown;
}

/** How a run ended. */
export type RunStatus = "running" | "succeeded" | "failed" | "interrupted";

/** One run, as recorded in the manifest's `runs` list. */
export interface RunRecord {
  /** The run id: its start time, safe as a folder name (`2026-11-26T12-00-00.000Z`). */
  id: string;
  /** `"deno task run"` (logs captured) or `"deno run"` (the protocol run directly). */
  via: "deno task run" | "deno run";
  /**
   * `running`, then `succeeded`, `failed`, or `interrupted` (stopped by the
   * user with SIGINT/SIGTERM/SIGHUP, or the runner died).
   */
  status: RunStatus;
  /** Start (ISO-8601 UTC). */
  started: string;
  /** End (ISO-8601 UTC), null while running or when interrupted. */
  ended: string | null;
  /** Wall-clock duration in milliseconds. */
  duration_ms: number | null;
  /** The protocol's exit code (null if unknown or killed by a signal). */
  exit_code: number | null;
  /** The signal that ended it, e.g. `"SIGINT"`, or null. */
  signal: string | null;
  /** Why it failed, when known (uncaught error, sealing failure). */
  error: string | null;
  /** The command line, as run from `cwd`. */
  command: string[];
  /** The working directory of the run. */
  cwd: string | null;
  /** Process id of the process that records the run. */
  pid: number;
  /** The host it runs on. */
  hostname: string | null;
  /** SHA-256 of `protocol.ts` when the run started. */
  protocol_sha256: string | null;
  /** Git commit of the vault repository. */
  git_commit: string | null;
  /** Whether the repository had changes outside this specimen. */
  git_dirty: boolean | null;
  /** The stdout log, relative to the specimen (null for direct runs). */
  stdout: string | null;
  /** The stderr log, relative to the specimen (null for direct runs). */
  stderr: string | null;
  /** Whether this run's results were sealed. */
  sealed: boolean;
  /**
   * What this failed or interrupted run had written under `strata/`, moved
   * by the next run to `dir` (`runs/<id>/strata`): the artifact records
   * with their new paths, and the names of the entries (files, folders)
   * moved. Nothing is deleted.
   */
  partial_results?: {
    dir: string;
    artifacts: Record<string, ArtifactRecord>;
    entries: string[];
  };
  /**
   * Where `deno task run` logged the run's system metrics (CPU, memory,
   * GPU of its process tree): `strata/system.parquet`, or
   * `runs/<id>/system.parquet` once a later run took that place. Absent
   * when none were taken.
   */
  system_metrics?: string;
  /**
   * The child processes the protocol ran through `storage.exec`, in order
   * (absent when it ran none). Each is recorded when it starts and again
   * when it ends; one still `ended: null` in a finished run was cut off.
   */
  execs?: ExecRecord[];
}

/**
 * One child process run through `storage.exec`, in its run's `execs`. Its
 * environment (executable, Python, GPUs) is in `provenance.children`, at
 * the same `index`.
 */
export interface ExecRecord {
  /** 1, 2, … within the run; names its logs (`exec-<index>.stdout.log`). */
  index: number;
  /** The command as given, executable first. */
  command: string[];
  /** Its working directory. */
  cwd: string;
  /** Start (ISO-8601 UTC). */
  started: string;
  /** End (ISO-8601 UTC), null while it runs or when cut off. */
  ended: string | null;
  /** Wall time in milliseconds, null while it runs. */
  duration_ms: number | null;
  /** Exit code (null while running or when a signal ended it). */
  exit_code: number | null;
  /** The signal that ended it, e.g. `"SIGKILL"`, or null. */
  signal: string | null;
  /** Its stdout log, relative to the specimen. */
  stdout: string;
  /** Its stderr log, relative to the specimen. */
  stderr: string;
  /** JSON lines ingested from `SPECIMEN_METRICS`, per table. */
  rows: Record<string, number>;
  /** Lines reported and skipped (a torn last line is not counted). */
  bad_lines: number;
  /** Whether the last line had no newline (the child stopped mid-write). */
  torn_line: boolean;
  /** Artifacts adopted from `SPECIMEN_OUTPUTS`. */
  adopted: string[];
  /** Why it failed (exit status, bad lines, the parent gone), else null. */
  error: string | null;
}

/** The hash and size of one sealed file. */
export interface SealedFile {
  /** Lowercase hex SHA-256. */
  sha256: string;
  /** Size in bytes. */
  bytes: number;
}

/** The manifest's `seal` key. */
export interface Seal {
  /** When the specimen was sealed (ISO-8601 UTC). */
  sealed: string;
  /** Always `"sha256"`. */
  algorithm: "sha256";
  /** The id of the run whose results were sealed, if any. */
  run: string | null;
  /** Every sealed file by path relative to the specimen (`/` separators). */
  files: Record<string, SealedFile>;
  /**
   * Set when `deno task seal` sealed a failed or interrupted run's results
   * on purpose, as they were: the status that run ended with.
   */
  as_is?: string;
  /** Number of sealed files. */
  file_count: number;
  /** Total bytes of the sealed files. */
  bytes: number;
  /**
   * SHA-256 of the listing of `files` by the rule `listing` names (see
   * {@linkcode sealDigest}): one hash that names the whole result.
   */
  digest: string;
  /**
   * How `digest` lists the files: `"json"` for seals made now; absent means
   * `"sha256sum"`, the rule of older seals (and of the Python vault).
   */
  listing?: SealListingRule;
}

/**
 * How a seal's digest lists its files:
 * - `"json"`: the JSON text of an array of `[path, sha256]` pairs sorted by
 *   path. JSON escapes every quote, backslash and control character, so
 *   two different file lists never give the same text.
 * - `"sha256sum"`: the {@linkcode sealListing} text. Ambiguous (a file name
 *   holding a newline and a fake hash line can mimic another list); kept to
 *   verify seals made before `listing` was recorded.
 *
 * @example
 * ```ts
 * import { SEAL_LISTING, type SealListingRule } from "./seal.ts";
 * const rule: SealListingRule = SEAL_LISTING;
 * console.assert(rule === "json");
 * ```
 */
export type SealListingRule = "json" | "sha256sum";

/** The git state of the repository holding the specimen. */
export interface GitState {
  /** `HEAD` commit (40 hex), or null before the first commit or without git. */
  commit: string | null;
  /** Current branch, or null when detached or unknown. */
  branch: string | null;
  /**
   * Whether anything outside this specimen's own folder differs from `HEAD`
   * (modified, staged or untracked); null when unknown. The specimen's own
   * files are left out: its protocol is pinned by its hash instead.
   */
  dirty: boolean | null;
  /** `git status --porcelain` style lines, e.g. `" M lib/run/storage.ts"`, `"?? x.ts"`. */
  dirty_files: string[];
  /** How many dirty paths there were (the list stops at 200). */
  dirty_files_total: number;
  /** The specimen folder left out of the check, relative to the repository. */
  excluded: string | null;
}

/** Everything recorded about the machine and software a run used. */
export interface Provenance {
  /** When it was captured (ISO-8601 UTC). */
  captured: string;
  /** Who captured it: `"deno task run"`, `"runProtocol"` or `"SpecimenStorage"`. */
  captured_by: string;
  /** The protocol file: `protocol.ts`, its SHA-256 and size (null if absent). */
  protocol: { path: string; sha256: string | null; bytes: number | null };
  /** The vault repository's git state. */
  git: GitState;
  /** Versions of Deno, V8 and TypeScript. */
  runtime: { deno: string; v8: string; typescript: string };
  /** The machine. Null where a value was not available. */
  host: {
    os: string;
    os_release: string | null;
    arch: string;
    cpu_model: string | null;
    cpu_count: number | null;
    memory_bytes: number | null;
    hostname: string | null;
  };
  /** The lock file pinning the packages: path relative to the specimen, SHA-256. */
  lockfile: { path: string; sha256: string } | null;
  /** The npm packages the protocol resolves to, as `name@version`, sorted. */
  npm_packages: string[];
  /**
   * Where `npm_packages` came from: `"deno info"` (the protocol's own module
   * graph, transitively), `"deno.lock"` (every package the project pins) or
   * null.
   */
  npm_packages_source: "deno info" | "deno.lock" | null;
  /** What could not be captured, and why. */
  errors: string[];
  /**
   * The environment of each child process run through `storage.exec`
   * (executable and its SHA-256, Python and its packages, GPUs), in the
   * order of the run's `execs`; each part not readable is `{ reason }`.
   */
  children?: (ChildEnvironment & { exec: number })[];
}

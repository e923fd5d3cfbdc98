/**
 * Run records: {@linkcode beginRun} and {@linkcode finishRun} write a run's
 * start and end into the manifest's `runs` list (and seal on success).
 *
 * @module
 */
import { join, resolve } from "../_deps.ts";
import { updateManifest } from "../specimen/_lock.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import type { Manifest, RunRecord, Seal } from "../specimen/manifest_types.ts";
import { captureProvenance } from "./provenance.ts";
import {
  computeSeal,
  STATUS_ACTIVE,
  STATUS_FAILED,
  STATUS_INTERRUPTED,
  STATUS_RUNNING,
  STATUS_SEALED,
} from "../specimen/seal.ts";
import { holdsResults, mayRunAgain, runRefusal } from "./_refusal.ts";
import { setAsidePartialResults } from "./_partial.ts";
import { repairLogs } from "../metrics_log/repair.ts";

/** Folder of run logs inside a specimen: `runs/<run id>/stdout.log`. */
export const RUNS_DIR = "runs";

/**
 * Environment variable through which `deno task run` tells the protocol's
 * `runProtocol` which recorded run it is part of.
 */
export const RUN_ID_ENV = "SPECIMEN_VAULT_RUN_ID";

/** Options for {@linkcode beginRun}. */
export interface BeginRunOptions {
  /** Who runs it. */
  via: RunRecord["via"];
  /** The command line to record. */
  command: string[];
  /** The working directory to record. @default Deno.cwd() */
  cwd?: string | null;
  /** Create `runs/<id>/` and record log paths. @default false */
  logs?: boolean;
  /** Seeds the protocol declares, recorded as the manifest's `seeds`. */
  seeds?: Record<string, number | string>;
  /** deno.json the protocol runs with, when none is above the specimen. */
  config?: string;
}

/** How a run ended, for {@linkcode finishRun}. */
export interface RunOutcome {
  /** The exit code; 0 is success. */
  exitCode: number | null;
  /** The signal that ended it, if any. */
  signal?: string | null;
  /** An error message (an uncaught error); makes the run failed. */
  error?: string | null;
  /**
   * The signal by which the user stopped the run (SIGINT, SIGTERM,
   * SIGHUP): the run is `interrupted` rather than `failed`.
   */
  interruptedBy?: string | null;
  /** Progress of the sealing hash, in bytes. */
  onBytes?: (n: number) => void;
}

/**
 * A run id for a run starting at `date`: its ISO-8601 time with `-` for
 * `:`, so it sorts by time and is a valid folder name everywhere.
 *
 * @example
 * ```ts
 * import { newRunId } from "./run.ts";
 * console.assert(newRunId(new Date(0)) === "1970-01-01T00-00-00.000Z");
 * ```
 */
export function newRunId(date: Date = new Date()): string {
  return date.toISOString().replaceAll(":", "-");
}

/**
 * Checks seeds: a map of names to integers, finite numbers or strings.
 * Throws {@linkcode InvalidInputError}.
 *
 * @example
 * ```ts
 * import { validateSeeds } from "./run.ts";
 * validateSeeds({ data: 42, init: "0xbeef" });
 * ```
 */
export function validateSeeds(
  seeds: unknown,
): asserts seeds is Record<string, number | string> {
  if (typeof seeds !== "object" || seeds === null || Array.isArray(seeds)) {
    throw new InvalidInputError(
      `Seeds must be a map of names to numbers or strings, e.g. { data: 42 }, got ${
        JSON.stringify(seeds)
      }`,
    );
  }
  for (const [name, value] of Object.entries(seeds)) {
    if (
      !(typeof value === "string" ||
        (typeof value === "number" && Number.isFinite(value)))
    ) {
      throw new InvalidInputError(
        `Seed "${name}" is ${
          typeof value === "bigint"
            ? `${value}n`
            : typeof value === "number"
            ? String(value)
            : JSON.stringify(value) ?? typeof value
        }: a seed must be a finite number or a string (write a bigint as a string)`,
      );
    }
  }
}

/**
 * Throws unless the specimen at `dir` (with manifest `manifest`) may run:
 * {@linkcode ImmutableArtifactError} when it is sealed or already holds
 * results, {@linkcode VaultError} when another run of it is in progress.
 * A specimen whose last run failed or was interrupted may run again: the
 * next {@linkcode beginRun} moves what it wrote to `runs/<run>/strata/`.
 *
 * Needs `--allow-read` on `dir`.
 *
 * @example
 * ```ts ignore
 * import { assertRunnable } from "./run.ts";
 * import { readManifest } from "../specimen/manifest.ts";
 * const dir = "specimens/my_run";
 * await assertRunnable(await readManifest(dir), dir);
 * ```
 */
export async function assertRunnable(
  manifest: Manifest,
  dir: string,
): Promise<void> {
  const refusal = await runRefusal(manifest, dir, false);
  if (refusal) throw refusal;
}

/**
 * Records the start of a run in the specimen at `dir`: captures provenance,
 * checks the specimen may run, appends a `running` run record, sets the
 * status to `running`, and (with `logs`) creates `runs/<id>/`. A run left
 * `running` by a process that no longer exists is marked `interrupted`.
 *
 * Needs `--allow-read` and `--allow-write` on `dir` (`--allow-run` and
 * `--allow-sys` for full provenance).
 *
 * @example
 * ```ts ignore
 * import { beginRun, finishRun } from "./run.ts";
 * const run = await beginRun("specimens/my_run", { via: "deno run", command: ["deno", "run", "protocol.ts"] });
 * await finishRun("specimens/my_run", run.id, { exitCode: 0 });
 * ```
 */
export async function beginRun(
  dir: string,
  options: BeginRunOptions,
): Promise<RunRecord> {
  dir = resolve(dir);
  if (options.seeds !== undefined) validateSeeds(options.seeds);
  const provenance = await captureProvenance({
    specimenDir: dir,
    capturedBy: options.via === "deno task run"
      ? "deno task run"
      : "runProtocol",
    config: options.config,
  });
  const started = new Date();
  let hostname: string | null = null;
  try {
    hostname = Deno.hostname();
  } catch { /* no --allow-sys: recorded as unknown */ }

  const { result } = await updateManifest(dir, async (m) => {
    const refusal = await runRefusal(m, dir, true);
    if (refusal) return refusal; // written, then thrown: an interrupted run is recorded
    if (mayRunAgain(m)) await setAsidePartialResults(m, dir);
    let id = newRunId(started);
    const runs = m.runs ?? [];
    for (let n = 2; runs.some((r) => r.id === id); n++) {
      id = `${newRunId(started)}_${n}`;
    }
    const logDir = `${RUNS_DIR}/${id}`;
    if (options.logs) {
      await Deno.mkdir(join(dir, logDir), { recursive: true });
    }
    const run: RunRecord = {
      id,
      via: options.via,
      status: "running",
      started: started.toISOString(),
      ended: null,
      duration_ms: null,
      exit_code: null,
      signal: null,
      error: null,
      command: options.command,
      cwd: options.cwd === undefined ? Deno.cwd() : options.cwd,
      pid: Deno.pid,
      hostname,
      protocol_sha256: provenance.protocol.sha256,
      git_commit: provenance.git.commit,
      git_dirty: provenance.git.dirty,
      stdout: options.logs ? `${logDir}/stdout.log` : null,
      stderr: options.logs ? `${logDir}/stderr.log` : null,
      sealed: false,
    };
    m.runs = [...runs, run];
    m.status = STATUS_RUNNING;
    m.provenance = provenance;
    if (options.seeds !== undefined) m.seeds = options.seeds;
    return run;
  });
  if (result instanceof Error) throw result;
  return result;
}

/**
 * Records the end of run `runId` of the specimen at `dir`. Success (exit 0,
 * no signal, no error) seals the specimen (status `sealed`) — unless it
 * wrote nothing, which leaves it `active` and runnable. Anything else marks
 * the run and the specimen `failed`. A sealing failure (e.g. a symbolic
 * link under strata/) makes the run failed too. Returns the run record and
 * the manifest as written.
 *
 * Needs `--allow-read` and `--allow-write` on `dir`.
 *
 * @example
 * ```ts ignore
 * import { finishRun } from "./run.ts";
 * const { run } = await finishRun("specimens/my_run", runId, { exitCode: 1 });
 * console.assert(run.status === "failed");
 * ```
 */
export async function finishRun(
  dir: string,
  runId: string,
  outcome: RunOutcome,
): Promise<{ run: RunRecord; manifest: Manifest }> {
  dir = resolve(dir);
  if (outcome.exitCode === 0 && !outcome.signal && !outcome.error) {
    // A log the protocol left in parts is compacted before sealing.
    const { problems } = await repairLogs(dir);
    for (const p of problems) {
      console.error(`warning: cannot repair the log ${p}`);
    }
  }
  const { result: run, manifest } = await updateManifest(dir, async (m) => {
    const run = m.runs?.find((r) => r.id === runId);
    if (run === undefined) {
      throw new NotFoundError(
        `Specimen "${m.specimen_id}" has no run "${runId}" in its manifest`,
      );
    }
    const ended = new Date();
    run.ended = ended.toISOString();
    run.duration_ms = ended.getTime() - Date.parse(run.started);
    run.exit_code = outcome.exitCode;
    run.signal = outcome.signal ?? null;
    run.error = outcome.error ?? null;
    if (outcome.interruptedBy) {
      run.status = "interrupted";
      run.signal ??= outcome.interruptedBy;
      run.error ??= `Stopped by ${outcome.interruptedBy}`;
      m.status = STATUS_INTERRUPTED;
      return run;
    }
    const ok = outcome.exitCode === 0 && !run.signal && !run.error;
    if (!ok) {
      run.status = "failed";
      m.status = STATUS_FAILED;
      return run;
    }
    if (!(await holdsResults(m, dir))) {
      run.status = "succeeded";
      m.status = STATUS_ACTIVE;
      return run;
    }
    let seal: Seal;
    try {
      seal = await computeSeal(dir, { run: runId, onBytes: outcome.onBytes });
    } catch (e) {
      run.status = "failed";
      run.error = `Sealing failed: ${(e as Error).message}`;
      m.status = STATUS_FAILED;
      return run;
    }
    run.status = "succeeded";
    run.sealed = true;
    m.seal = seal;
    m.status = STATUS_SEALED;
    return run;
  });
  return { run, manifest };
}

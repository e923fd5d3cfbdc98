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
import { join, killProcess, relative, resolve } from "../_deps.ts";
import { listFiles } from "../_hash.ts";
import { updateManifest } from "../specimen/_lock.ts";
import { exists, writeAll } from "../_fs.ts";
import {
  ImmutableArtifactError,
  InvalidInputError,
  NotFoundError,
  VaultError,
} from "../errors.ts";
import { type Manifest, readManifest } from "../specimen/manifest.ts";
import {
  captureProvenance,
  findDenoConfig,
  LIBRARY_CONFIG,
  PROTOCOL_FILE,
} from "./provenance.ts";
import {
  computeSeal,
  type Seal,
  STATUS_ACTIVE,
  STATUS_FAILED,
  STATUS_RUNNING,
  STATUS_SEALED,
} from "../specimen/seal.ts";
import { repairLogs } from "../metrics_log/repair.ts";

/** Folder of run logs inside a specimen: `runs/<run id>/stdout.log`. */
export const RUNS_DIR = "runs";

/**
 * Environment variable through which `deno task run` tells the protocol's
 * `runProtocol` which recorded run it is part of.
 */
export const RUN_ID_ENV = "SPECIMEN_VAULT_RUN_ID";

export { LIBRARY_CONFIG };

/** How a run ended. */
export type RunStatus = "running" | "succeeded" | "failed" | "interrupted";

/** One run, as recorded in the manifest's `runs` list. */
export interface RunRecord {
  /** The run id: its start time, safe as a folder name (`2026-11-26T12-00-00.000Z`). */
  id: string;
  /** `"deno task run"` (logs captured) or `"deno run"` (the protocol run directly). */
  via: "deno task run" | "deno run";
  /** `running`, then `succeeded`, `failed`, or `interrupted` (the runner died). */
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
}

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
 * A failed run that wrote nothing may be retried.
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

/** Options for {@linkcode runSpecimen}. */
export interface RunSpecimenOptions {
  /** The specimen folder. */
  dir: string;
  /** Arguments passed to the protocol. @default [] */
  args?: string[];
  /** The protocol's working directory. @default Deno.cwd() */
  cwd?: string;
  /** Permission flags for the protocol. @default ["-A"] */
  denoFlags?: string[];
  /** Echo the protocol's stdout and stderr live to this process's. @default true */
  echo?: boolean;
  /** Progress of the sealing hash, in bytes. */
  onSealBytes?: (n: number) => void;
}

/** What {@linkcode runSpecimen} returns. */
export interface RunResult {
  /** The run as recorded. */
  run: RunRecord;
  /** The manifest as written after the run. */
  manifest: Manifest;
}

/**
 * Runs the protocol of the specimen at `options.dir` as a child process
 * (`deno run -A protocol.ts ...args`) and records the run: provenance
 * first, then stdout and stderr teed live to the terminal and to
 * `runs/<run id>/stdout.log` and `stderr.log`, then the exit status. A
 * success seals the specimen; a failure marks it `failed`. SIGINT and
 * SIGTERM are passed on to the protocol, whose end is still recorded.
 *
 * Refuses ({@linkcode ImmutableArtifactError}) a sealed specimen or one
 * that already holds results, before anything is written.
 *
 * Needs `--allow-read`, `--allow-write`, `--allow-run`, `--allow-env` and
 * `--allow-sys`.
 *
 * @example
 * ```ts ignore
 * import { runSpecimen } from "./run.ts";
 * const { run, manifest } = await runSpecimen({ dir: "specimens/my_run", args: ["--epochs", "3"] });
 * console.log(run.status, manifest.status, manifest.seal?.digest);
 * ```
 */
export async function runSpecimen(
  options: RunSpecimenOptions,
): Promise<RunResult> {
  const dir = resolve(options.dir);
  const manifest = await readManifest(dir);
  await assertRunnable(manifest, dir);
  const protocol = join(dir, PROTOCOL_FILE);
  if (!(await exists(protocol))) {
    throw new NotFoundError(
      `Specimen "${manifest.specimen_id}" has no ${PROTOCOL_FILE} at ${protocol}: restore it, or derive a new specimen with deno task create --from`,
    );
  }
  const cwd = resolve(options.cwd ?? Deno.cwd());
  const args = options.args ?? [];
  const flags = options.denoFlags ?? ["-A"];
  // A vault outside the repository has no deno.json above it: use ours.
  const config = (await findDenoConfig(dir)) === null
    ? LIBRARY_CONFIG
    : undefined;
  const configArgs = (path: string) => config ? ["--config", path] : [];

  const run = await beginRun(dir, {
    via: "deno task run",
    command: [
      "deno",
      "run",
      ...flags,
      ...configArgs(config ? relative(cwd, config) : ""),
      relative(cwd, protocol),
      ...args,
    ],
    cwd,
    logs: true,
    config,
  });

  let status: Deno.CommandStatus | null = null;
  let spawnError: string | null = null;
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, ...configArgs(config ?? ""), protocol, ...args],
      cwd,
      env: { [RUN_ID_ENV]: run.id },
      stdin: "inherit",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stopForwarding = forwardSignals(child);
    try {
      const echo = options.echo ?? true;
      await Promise.all([
        tee(child.stdout, join(dir, run.stdout!), echo ? Deno.stdout : null),
        tee(child.stderr, join(dir, run.stderr!), echo ? Deno.stderr : null),
      ]);
      status = await child.status;
    } finally {
      stopForwarding();
    }
  } catch (e) {
    spawnError = `Could not run the protocol: ${(e as Error).message}`;
  }
  return await finishRun(dir, run.id, {
    exitCode: status?.signal ? null : status?.code ?? null,
    signal: status?.signal ?? null,
    error: spawnError,
    onBytes: options.onSealBytes,
  });
}

/**
 * The reason the specimen may not run, or null. With `markStale`, a run
 * left `running` by a dead process is marked `interrupted` in `m`.
 */
async function runRefusal(
  m: Manifest,
  dir: string,
  markStale: boolean,
): Promise<VaultError | null> {
  const id = m.specimen_id;
  const variation = `deno task create --id ${id}_v2 --from ${id}`;
  if (m.seal !== undefined || m.status === STATUS_SEALED) {
    const when = m.seal?.sealed;
    return new ImmutableArtifactError(
      `Specimen "${id}" has already run and is sealed${
        when ? ` (since ${when})` : ""
      }: its results are final, so nothing was changed. For a variation: ${variation}`,
    );
  }
  const last = m.runs?.at(-1);
  if (m.status === STATUS_RUNNING && last?.status === "running") {
    if (isAlive(last)) {
      return new VaultError(
        `Specimen "${id}" is being run right now (run ${last.id}, pid ${last.pid} on ${
          last.hostname ?? "an unknown host"
        }, started ${last.started}): wait for it to end. If that process is gone for good, derive a new specimen: ${variation}`,
      );
    }
    if (markStale) {
      last.status = "interrupted";
      last.error =
        "The process recording the run ended without recording its end";
      m.status = STATUS_FAILED;
    }
  }
  const names = Object.keys(m.artifacts);
  const files = await resultFiles(dir);
  if (names.length > 0 || files.length > 0) {
    const held = names.length > 0 ? names : files;
    return new ImmutableArtifactError(
      `Specimen "${id}" has already run: strata/ holds ${
        held.join(", ")
      }. Specimens are immutable, so nothing was changed; for a variation: ${variation}`,
    );
  }
  return null;
}

/** Whether the manifest records results or strata/ holds files. */
async function holdsResults(m: Manifest, dir: string): Promise<boolean> {
  return Object.keys(m.artifacts).length > 0 ||
    (await resultFiles(dir)).length > 0;
}

/** Files under strata/, other than a placeholder `.gitkeep`. */
async function resultFiles(dir: string): Promise<string[]> {
  return (await listFiles(dir, "strata")).map((f) => f.path)
    .filter((p) => p !== "strata/.gitkeep");
}

/** Whether the process that records `run` may still be running. */
function isAlive(run: RunRecord): boolean {
  try {
    if (run.hostname !== Deno.hostname()) return true; // cannot tell
    killProcess(run.pid, 0); // signal 0: only checks that it exists
    return true;
  } catch (e) {
    return (e as { code?: string }).code !== "ESRCH";
  }
}

/** Passes SIGINT/SIGTERM/SIGHUP on to `child`; returns the undo. */
function forwardSignals(child: Deno.ChildProcess): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM", "SIGHUP"];
  const handlers = signals.map((sig) => {
    const handler = () => {
      try {
        child.kill(sig);
      } catch { /* already ended */ }
    };
    Deno.addSignalListener(sig, handler);
    return [sig, handler] as const;
  });
  return () => {
    for (const [sig, handler] of handlers) {
      Deno.removeSignalListener(sig, handler);
    }
  };
}

/**
 * Copies `stream` to a new log file at `path` and, when given, to `echo`,
 * chunk by chunk as it arrives. The log is written in place rather than
 * renamed at the end: a run that dies midway keeps what it printed.
 */
async function tee(
  stream: ReadableStream<Uint8Array>,
  path: string,
  echo: { write(p: Uint8Array): Promise<number> } | null,
): Promise<void> {
  using log = await Deno.open(path, { write: true, createNew: true });
  let echoing = echo !== null;
  for await (const chunk of stream) {
    await writeAll(log, chunk);
    if (echoing) {
      try {
        await writeAll(echo!, chunk);
      } catch {
        echoing = false; // a closed terminal must not stop the log
      }
    }
  }
}

/**
 * {@linkcode runSpecimen}: `deno task run`'s runner. Runs a protocol as a
 * child process, tees its output to `runs/<run id>/`, and records the run.
 *
 * @module
 */
import { join, relative, resolve } from "../_deps.ts";
import { exists, isTempName, removeStaleTemps } from "../_fs.ts";
import { errorMessage, NotFoundError, VaultError } from "../errors.ts";
import { readManifest } from "../specimen/manifest.ts";
import type { Manifest, RunRecord } from "../specimen/manifest_types.ts";
import { findDenoConfig, LIBRARY_CONFIG, PROTOCOL_FILE } from "./provenance.ts";
import { checkSystemInterval, openRunSystemLog } from "./system_log.ts";
import { tee } from "./_child.ts";
import {
  assertRunnable,
  beginRun,
  finishRun,
  RUN_ID_ENV,
} from "./run_record.ts";

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
  /**
   * Sample the protocol's process tree (CPU, memory, threads, GPU) into
   * `strata/system.parquet` while it runs.
   * @default true
   */
  systemMetrics?: boolean;
  /**
   * Seconds between two system samples (one is also taken at the start).
   * @default 2
   */
  systemInterval?: number;
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
 * success seals the specimen; a failure marks it `failed`, a stop by the
 * user (SIGINT, SIGTERM or SIGHUP, passed on to the protocol)
 * `interrupted`. A specimen whose last run failed or was interrupted runs
 * again, what that run wrote moved to `runs/<that run>/strata/`. Unless
 * `systemMetrics` is false, the protocol's process tree is sampled every
 * `systemInterval` seconds into `strata/system.parquet` (see
 * `openRunSystemLog`), closed before the run is recorded. SIGINT and
 * SIGTERM are passed on to the protocol, whose end is still recorded.
 *
 * Refuses ({@linkcode ImmutableArtifactError}) a sealed specimen, or one
 * holding results that no failed or interrupted run left, before anything
 * is written.
 *
 * Needs `--allow-read`, `--allow-write`, `--allow-run`, `--allow-env` and
 * `--allow-sys`; system metrics need `--allow-all` (Deno reads `/proc` only
 * with it), else a warning says so and the run goes on without them.
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
  if (options.systemInterval !== undefined) {
    checkSystemInterval(options.systemInterval);
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

  const system = options.systemMetrics === false
    ? null
    : await openRunSystemLog(dir, run.id, {
      intervalSeconds: options.systemInterval,
    });
  let status: Deno.CommandStatus | null = null;
  let spawnError: string | null = null;
  let stoppedBy: string | null = null;
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, ...configArgs(config ?? ""), protocol, ...args],
      cwd,
      env: { [RUN_ID_ENV]: run.id },
      stdin: "inherit",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stopForwarding = forwardSignals(child, (sig) => {
      stoppedBy ??= sig;
    });
    system?.watch(child.pid);
    try {
      const echo = options.echo ?? true;
      await Promise.all([
        teeTo(child.stdout, join(dir, run.stdout!), echo ? Deno.stdout : null),
        teeTo(child.stderr, join(dir, run.stderr!), echo ? Deno.stderr : null),
      ]);
      status = await child.status;
    } finally {
      stopForwarding();
    }
  } catch (e) {
    spawnError = `Could not run the protocol: ${(e as Error).message}`;
  }
  // Closed (compacted and recorded) before the run is sealed, also on failure.
  await system?.stop();
  // A protocol killed outright (SIGKILL, OOM) leaves the scratch folder of
  // the exec it was in; its writer is gone now, so it goes before sealing.
  await removeStaleTemps(dir, ".tmp-exec-").catch(() => []);
  // Stopped by the user: this runner got the signal (Ctrl-C reaches the
  // whole foreground group), or the protocol was ended by one of them.
  const signal = status?.signal ?? null;
  const interruptedBy = stoppedBy ??
    (signal !== null && STOP_SIGNALS.includes(signal) ? signal : null);
  return await finishRun(dir, run.id, {
    exitCode: signal ? null : status?.code ?? null,
    signal,
    error: spawnError,
    interruptedBy: status === null ? null : interruptedBy,
    onBytes: options.onSealBytes,
  });
}

/** One row of {@linkcode runSpecimens}' summary. */
export interface BatchRunRow {
  /** The specimen id (the folder name). */
  id: string;
  /** The run's status (`succeeded`, `failed`, ...), or `refused` when it could not start. */
  status: string;
  /** Wall time of the run, in milliseconds (0 when refused). */
  duration_ms: number;
  /** The protocol's exit code, or the refusal's exit code; null when killed. */
  exit_code: number | null;
  /** Why it failed or was refused; null on success. */
  error: string | null;
  /** Whether the specimen was sealed by the run. */
  sealed: boolean;
}

/**
 * Runs several specimens one after another with {@linkcode runSpecimen},
 * each with the same options but its own folder. A failure or refusal is
 * recorded in its row and the next specimen runs anyway; a run the user
 * stopped (interrupted) stops the batch, the rest recorded as `not run`.
 *
 * @param dirs The specimen folders, in the order to run them.
 * @param options As for {@linkcode runSpecimen}, without `dir`; `onStart`
 *   is told each one before it starts.
 * @returns One row per folder, in order.
 *
 * @example
 * ```ts ignore
 * import { runSpecimens } from "./run_specimen.ts";
 * const rows = await runSpecimens(["specimens/a", "specimens/b"]);
 * console.log(rows.filter((r) => r.status !== "succeeded").length, "failed");
 * ```
 */
export async function runSpecimens(
  dirs: string[],
  options: Omit<RunSpecimenOptions, "dir"> & {
    onStart?: (dir: string, index: number) => void;
  } = {},
): Promise<BatchRunRow[]> {
  const rows: BatchRunRow[] = [];
  let stopped: string | null = null;
  for (const [i, d] of dirs.entries()) {
    const dir = resolve(d);
    const id = dir.split(/[\\/]/).at(-1)!;
    if (stopped !== null) {
      // The user stopped the batch: the rest is not started.
      rows.push({
        id,
        status: "not run",
        duration_ms: 0,
        exit_code: null,
        error: `the batch was stopped by ${stopped}`,
        sealed: false,
      });
      continue;
    }
    options.onStart?.(dir, i);
    try {
      const { run, manifest } = await runSpecimen({ ...options, dir });
      rows.push({
        id: manifest.specimen_id,
        status: run.status,
        duration_ms: run.duration_ms ?? 0,
        exit_code: run.exit_code ?? null,
        error: run.error ?? (run.signal ? `killed by ${run.signal}` : null),
        sealed: manifest.seal !== undefined,
      });
      if (run.status === "interrupted") stopped = run.signal ?? "a signal";
    } catch (e) {
      rows.push({
        id,
        status: "refused",
        duration_ms: 0,
        exit_code: e instanceof VaultError ? e.exitCode : 1,
        error: errorMessage(e),
        sealed: false,
      });
    }
  }
  return rows;
}

/**
 * The ids of the specimens in `specimensDir` that are pending: not sealed
 * and never run (no run recorded, status `active`), sorted. Folders without
 * a readable manifest, hidden temp folders and the tool's examples
 * (`example: true` in the manifest: they run only when named) are skipped.
 *
 * @example
 * ```ts
 * import { pendingSpecimens } from "./run_specimen.ts";
 * import { createSpecimen } from "../specimen/create.ts";
 * const vault = await Deno.makeTempDir();
 * await createSpecimen({ vault, id: "todo", domain: "training", method: "fine_tuning" });
 * console.assert((await pendingSpecimens(`${vault}/specimens`)).join() === "todo");
 * await Deno.remove(vault, { recursive: true });
 * ```
 */
export async function pendingSpecimens(
  specimensDir: string,
): Promise<string[]> {
  const ids: string[] = [];
  for await (const e of Deno.readDir(specimensDir)) {
    if (!e.isDirectory || isTempName(e.name)) continue;
    let m: Manifest;
    try {
      m = await readManifest(join(specimensDir, e.name));
    } catch {
      continue;
    }
    if (
      m.seal === undefined && m.status === "active" && !(m.runs?.length) &&
      m.example !== true
    ) {
      ids.push(e.name);
    }
  }
  return ids.sort();
}

/** The signals by which a user stops a run: it is then `interrupted`. */
const STOP_SIGNALS: readonly string[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Passes SIGINT/SIGTERM/SIGHUP on to `child`, telling `onSignal`; returns
 * the undo.
 */
function forwardSignals(
  child: Deno.ChildProcess,
  onSignal: (sig: Deno.Signal) => void,
): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM", "SIGHUP"];
  const handlers = signals.map((sig) => {
    const handler = () => {
      onSignal(sig);
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

/** {@linkcode tee} into a new log file at `path`. */
async function teeTo(
  stream: ReadableStream<Uint8Array>,
  path: string,
  echo: { write(p: Uint8Array): Promise<number> } | null,
): Promise<void> {
  await tee(
    stream,
    await Deno.open(path, { write: true, createNew: true }),
    echo,
  );
}

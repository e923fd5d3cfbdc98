/**
 * `storage.exec`: runs a child process (any language) for a specimen, feeds
 * the JSON lines it appends to `SPECIMEN_METRICS` into the crash-safe
 * logger, and adopts what it leaves in `SPECIMEN_OUTPUTS` into `strata/`.
 *
 * Where things go:
 * - the scratch files (`SPECIMEN_PARAMS`, `SPECIMEN_METRICS`,
 *   `SPECIMEN_OUTPUTS`) live in a hidden temp folder inside the specimen,
 *   `.tmp-exec-<pid>-<hex>/`: on the same disk as `strata/` (outputs are
 *   moved, not copied), never sealed, removed when the child is done, and
 *   removed as stale by the next `SpecimenStorage.open` if this process died;
 * - the child's stdout and stderr go to `runs/<run id>/exec-<n>.stdout.log`
 *   and `exec-<n>.stderr.log` (n = 1, 2, … per run), and are echoed to this
 *   process's (so `deno task run` also has them in the protocol's logs);
 *   without a run in progress, to `runs/exec_<start time>/`;
 * - each exec is recorded in the current run's `execs` and its environment
 *   in `provenance.children` (see `ExecRecord` in manifest_types.ts);
 *   without a run in progress only the environment is recorded.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { tempPathFor } from "../_fs.ts";
import { ChildProcessError, errorMessage, NotFoundError } from "../errors.ts";
import { readManifest } from "../specimen/manifest.ts";
import type { ExecRecord } from "../specimen/manifest_types.ts";
import { assertWritable } from "../specimen/seal.ts";
import { followJsonl } from "../bridge/jsonl_follow.ts";
import { probeChildEnvironment } from "../bridge/child_env.ts";
import {
  adoptOutputs,
  AdoptOutputsError,
  type AdoptReport,
} from "./adopt_outputs.ts";
import {
  forwardSignals,
  settleGroup,
  spawnGroup,
  tee,
  watchParent,
} from "./_child.ts";
import { Ingest, MAX_TABLES } from "./_exec_ingest.ts";
import {
  type Checked,
  checkOptions,
  CHUNK_BYTES,
  type ExecHost,
  type ExecLeftBehind,
  type ExecOptions,
  type ExecResult,
  FLUSH_ROWS,
  KILL_GRACE_MS,
} from "./_exec_options.ts";
import {
  openLogs,
  parentPid,
  recordEnd,
  recordStart,
  show,
} from "./_exec_record.ts";

export type { ExecProblem } from "./_exec_ingest.ts";
export type {
  ExecHost,
  ExecLeftBehind,
  ExecOptions,
  ExecResult,
} from "./_exec_options.ts";
export { MAX_TABLES };

/**
 * Runs `command` for the specimen `host` (see `SpecimenStorage.exec`): the
 * child gets `SPECIMEN_DIR`, `SPECIMEN_ID`, `SPECIMEN_PARAMS` (a JSON file
 * of the params), `SPECIMEN_METRICS` (a file to append JSON lines to) and
 * `SPECIMEN_OUTPUTS` (an empty folder), plus `PYTHONUNBUFFERED=1` unless
 * set, so a Python child's prints are teed as they happen.
 *
 * Lines of `SPECIMEN_METRICS` are logged as they are written, one logger
 * per table (`"_table"` in a line, else `options.table`). A bad line is
 * reported with its number and skipped; past `maxBadLines` the child is
 * stopped and the call throws. A torn last line is reported and ignored. A
 * line over 16 MiB (e.g. 100 MB) is refused as a bad line without being
 * held in memory: the run goes on. The child runs in its own process group,
 * gets SIGINT/SIGTERM/SIGHUP sent to this process, and is stopped when
 * `deno task run` (this process's parent, recording the run) dies, or
 * (SIGKILL, via `setpriv --pdeathsig`) when this process dies. A protocol
 * run directly keeps its child when the shell that started it exits.
 *
 * Needs `--allow-run`, `--allow-read` and `--allow-write` (the specimen),
 * `--allow-env` to pass this process's environment on in full.
 *
 * @param host The specimen's storage.
 * @param command The executable (found on PATH) and its arguments.
 * @param options Working directory, environment, table, limits.
 * @returns Exit status, duration, rows per table, problems, adoption.
 * @throws {NotFoundError} The executable or the working directory does not exist.
 * @throws {InvalidInputError} A bad option, or more bad lines than `maxBadLines`.
 * @throws {ChildProcessError} The child exited non-zero or was killed (unless `check: false`).
 * @example
 * ```ts
 * import { createSpecimen, SpecimenStorage } from "../../mod.ts";
 * const vault = await Deno.makeTempDir();
 * const { dir } = await createSpecimen({
 *   vault, id: "doc_exec", domain: "training", method: "fine_tuning",
 *   params: { epochs: 3 },
 * });
 * const storage = await SpecimenStorage.open(dir);
 * const script = `for i in 1 2 3; do echo "{\\"step\\": $i}" >> "$SPECIMEN_METRICS"; done`;
 * const result = await storage.exec(["sh", "-c", script], { echo: false });
 * console.assert(result.rows.metrics === 3 && result.code === 0);
 * console.assert((await storage.readMetrics()).step.length === 3);
 * await Deno.remove(vault, { recursive: true });
 * ```
 */
export async function execChild(
  host: ExecHost,
  command: string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const checked = checkOptions(host, command, options);
  assertWritable(await readManifest(host.dir));
  const cwd = checked.cwd;
  const isFolder = await Deno.stat(cwd).then((i) => i.isDirectory, () => false);
  if (!isFolder) {
    throw new NotFoundError(
      `Cannot run ${
        show(command)
      }: its working directory ${cwd} is not a folder; create it or pass another cwd`,
    );
  }
  const scratch = tempPathFor(join(host.dir, "exec"));
  await Deno.mkdir(scratch);
  try {
    return await execIn(host, command, checked, scratch);
  } finally {
    await removeScratch(scratch);
  }
}

async function execIn(
  host: ExecHost,
  command: string[],
  o: Checked,
  scratch: string,
): Promise<ExecResult> {
  const paths = {
    params: join(scratch, "params.json"),
    metrics: join(scratch, "metrics.jsonl"),
    outputs: join(scratch, "outputs"),
  };
  await Deno.writeTextFile(
    paths.params,
    JSON.stringify(host.params, null, 2) + "\n",
  );
  await Deno.writeFile(paths.metrics, new Uint8Array(0));
  await Deno.mkdir(paths.outputs);
  const env: Record<string, string> = {
    ...o.env,
    SPECIMEN_DIR: host.dir,
    SPECIMEN_ID: host.id,
    SPECIMEN_PARAMS: paths.params,
    SPECIMEN_METRICS: paths.metrics,
    SPECIMEN_OUTPUTS: paths.outputs,
  };
  // The whole environment when it may be read (the probe then sees the
  // child's PATH); otherwise the child inherits it and gets `env` on top.
  let full: Record<string, string> | undefined;
  // Queried first: reading an ungranted environment would prompt.
  if (Deno.permissions.querySync({ name: "env" }).state === "granted") {
    full = { PYTHONUNBUFFERED: "1", ...Deno.env.toObject(), ...env };
  }

  const probe = await probeChildEnvironment(command, {
    env: full,
    cwd: o.cwd,
  });
  if ("reason" in probe.executable) {
    throw new NotFoundError(
      `Cannot run ${
        show(command)
      }: ${probe.executable.reason}; install it, or give its full path (e.g. ["/usr/bin/python3", "train.py"])`,
    );
  }
  const executable = probe.executable.path;

  const logs = await openLogs(host.dir);
  const started = new Date();
  const record: ExecRecord = {
    index: logs.index,
    command,
    cwd: o.cwd,
    started: started.toISOString(),
    ended: null,
    duration_ms: null,
    exit_code: null,
    signal: null,
    stdout: logs.stdout,
    stderr: logs.stderr,
    rows: {},
    bad_lines: 0,
    torn_line: false,
    adopted: [],
    error: null,
  };
  try {
    await recordStart(host.dir, logs.runId, record, probe);
  } catch (e) {
    logs.files.forEach((f) => f.close());
    throw e;
  }

  let child: Awaited<ReturnType<typeof spawnGroup>>;
  try {
    child = await spawnGroup(executable, command.slice(1), {
      cwd: o.cwd,
      env: full ?? { PYTHONUNBUFFERED: "1", ...env },
      clearEnv: full !== undefined,
    });
  } catch (e) {
    logs.files.forEach((f) => f.close());
    record.ended = new Date().toISOString();
    record.error = `Could not start ${show(command)}: ${errorMessage(e)}`;
    await recordEnd(host.dir, logs.runId, record, null);
    throw e;
  }
  const t0 = performance.now();
  const stopTees = new AbortController();
  const tees = Promise.all([
    tee(
      child.process.stdout,
      logs.files[0],
      o.echo ? Deno.stdout : null,
      stopTees.signal,
    ),
    tee(
      child.process.stderr,
      logs.files[1],
      o.echo ? Deno.stderr : null,
      stopTees.signal,
    ),
  ]);
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    child.kill("SIGTERM");
    killTimer ??= setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
  };
  let parentGone: number | null = null;
  const unforward = forwardSignals(child);
  // Only when the parent records the run (deno task run): a protocol
  // started from a shell that then closes (nohup) keeps its child.
  const unwatch = logs.recorder !== null && logs.recorder === parentPid()
    ? watchParent((ppid) => {
      parentGone = ppid;
      stop();
    })
    : () => {};
  const stopFollowing = new AbortController();
  let durationMs = 0;
  let leftBehind: ExecLeftBehind | null = null;
  // The child's end is not the end of its rows: processes it left in its
  // group are followed until they end (or are stopped) before anything
  // is closed and sealed.
  const status = child.process.status.then(async (s) => {
    durationMs = performance.now() - t0;
    leftBehind = await settleGroup(child, {
      graceMs: o.groupGraceMs,
      killGraceMs: KILL_GRACE_MS,
    }).catch(() => null);
    stopFollowing.abort();
    return s;
  });

  const ingest = new Ingest(
    host,
    { ...o, flushRows: FLUSH_ROWS },
    paths.metrics,
  );
  let fatal: unknown = undefined;
  try {
    for await (
      const batch of followJsonl(paths.metrics, {
        signal: stopFollowing.signal,
        maxBadLines: Number.MAX_SAFE_INTEGER,
        chunkBytes: CHUNK_BYTES,
      })
    ) {
      await ingest.batch(batch);
    }
  } catch (e) {
    fatal = e;
    stop();
  }
  const s = await status;
  clearTimeout(killTimer);
  unwatch();
  unforward();
  await endTees(child, tees, stopTees);

  // Always: the rows logged before a failure are kept.
  const closing = await ingest.close().then(() => undefined, (e) => e);
  fatal ??= closing;
  let adopted: AdoptReport = {
    artifacts: [],
    renamed: {},
    refused: [],
    adopted: [],
  };
  if (o.adopt) {
    try {
      adopted = await adoptOutputs(host, paths.outputs);
    } catch (e) {
      // A refused file fails the run; what was adopted is still reported.
      if (e instanceof AdoptOutputsError) adopted = e.report;
      fatal ??= e;
    }
  }
  ingest.summarize();
  if (leftBehind) warnLeftBehind(command, leftBehind, o, ingest.rows);

  const code = s.signal ? null : s.code;
  const signal = s.signal ?? null;
  let failure: Error | undefined = fatal as Error | undefined;
  if (failure === undefined && parentGone !== null) {
    failure = new ChildProcessError(
      `${
        show(command)
      } was stopped: the process that started this one (pid ${parentGone}, e.g. deno task run) is gone`,
      { command, code, signal },
    );
  }
  if (failure === undefined && !s.success && o.check) {
    failure = new ChildProcessError(
      `${show(command)} failed: ${
        signal ? `killed by ${signal}` : `exit code ${code}`
      } after ${
        (durationMs / 1000).toFixed(1)
      } s (its output: ${logs.stderr}, ${logs.stdout} in specimen "${host.id}")`,
      { command, code, signal },
    );
  }
  Object.assign(
    record,
    {
      ended: new Date().toISOString(),
      duration_ms: Math.round(durationMs),
      exit_code: code,
      signal,
      rows: ingest.rows,
      bad_lines: ingest.bad,
      torn_line: ingest.torn,
      adopted: adopted.artifacts,
      error: failure ? errorMessage(failure) : null,
    } satisfies Partial<ExecRecord>,
  );
  await recordEnd(host.dir, logs.runId, record, parentGone);
  if (failure) throw failure;
  return {
    command,
    code,
    signal,
    success: s.success,
    durationMs,
    rows: ingest.rows,
    badLines: ingest.bad,
    adopted,
    index: logs.index,
    stdout: logs.stdout,
    stderr: logs.stderr,
    problems: ingest.problems,
    tornLine: ingest.torn,
    leftBehind,
  };
}

/**
 * Waits for the output pipes to close. A process the child left behind in
 * its group may hold them open: after a second it is sent SIGTERM, then
 * SIGKILL, and the pipes are let go.
 */
async function endTees(
  child: Awaited<ReturnType<typeof spawnGroup>>,
  tees: Promise<unknown>,
  stopTees: AbortController,
): Promise<void> {
  const within = (ms: number) =>
    Promise.race([
      tees.then(() => true),
      new Promise<false>((r) => {
        const t = setTimeout(() => r(false), ms);
        tees.finally(() => clearTimeout(t));
      }),
    ]);
  if (await within(1000)) return;
  if (child.grouped) child.kill("SIGTERM");
  if (await within(KILL_GRACE_MS)) return;
  if (child.grouped) child.kill("SIGKILL");
  stopTees.abort();
  await tees.catch(() => {});
}

/**
 * Removes the exec's scratch folder. A process that left the child's group
 * (setsid) may still be writing into it: a few tries, then a warning
 * naming it (the next `SpecimenStorage.open` or `deno task run` removes it
 * once this process is gone).
 */
async function removeScratch(scratch: string): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 3; i++) {
    try {
      await Deno.remove(scratch, { recursive: true });
      return;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      last = e;
    }
  }
  console.error(
    `warning: could not remove the exec's scratch folder ${scratch} (${
      errorMessage(last)
    }); a process outside the child's group may still write into it. It is removed as stale once this process has ended`,
  );
}

/** Says on stderr what the child left running, and what became of it. */
function warnLeftBehind(
  command: string[],
  left: ExecLeftBehind,
  o: Checked,
  rows: Record<string, number>,
): void {
  const n = left.pids.length;
  const total = Object.values(rows).reduce((a, b) => a + b, 0);
  const what = `${n} process(es) of its process group (pid ${
    left.pids.slice(0, 5).join(", ")
  }${n > 5 ? ", …" : ""})`;
  console.error(
    left.stopped
      ? `warning: ${
        show(command)
      } exited, leaving ${what} running; they were followed for ${
        o.groupGraceMs / 1000
      } s, then stopped (SIGTERM, then SIGKILL). The ${total} row(s) written until then are kept; rows they would have written later are not. Wait for background work before the child exits (e.g. wait in the shell, join() in Python), or raise storage.exec(command, { groupGraceMs })`
      : `warning: ${
        show(command)
      } exited, leaving ${what} running; they were followed until they ended, and their rows are kept (${total} row(s) in all)`,
  );
}

/**
 * System metrics of a run: `deno task run` samples the protocol's process
 * tree (the protocol and everything it starts, e.g. a Python child) with
 * {@linkcode createSystemSampler} and logs one row per sample into
 * `strata/system.parquet` through a crash-safe {@linkcode MetricsLogger},
 * written by the runner, not the protocol.
 *
 * The table belongs to the run, like its logs: the run record names it
 * (`system_metrics`), it does not count as a result (a run that wrote
 * nothing else is not sealed and may run again), and a new run of a
 * specimen whose earlier run failed moves the earlier table to
 * `runs/<earlier run>/system.parquet` first.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { exists } from "../_fs.ts";
import { errorMessage, InvalidInputError } from "../errors.ts";
import {
  createSystemSampler,
  type SystemSampler,
} from "../bridge/system_metrics.ts";
import { MetricsLogger } from "../metrics_log/logger.ts";
import { repairLogs } from "../metrics_log/repair.ts";
import { PARTS_SUFFIX } from "../metrics_log/parts.ts";
import { updateManifest } from "../specimen/_lock.ts";
import type { Manifest } from "../specimen/manifest_types.ts";
import { STRATA_DIR } from "../vault.ts";

/** The table system metrics go to: `strata/system.parquet`. */
export const SYSTEM_TABLE = "system";

/** Path of the system table, relative to the specimen folder. */
export const SYSTEM_TABLE_PATH = `${STRATA_DIR}/${SYSTEM_TABLE}.parquet`;

/** Seconds between two samples unless told otherwise. */
export const DEFAULT_SYSTEM_INTERVAL_S = 2;

/** The shortest interval: sampling reads every `/proc/<pid>/stat`. */
export const MIN_SYSTEM_INTERVAL_S = 0.1;

/**
 * Checks a sampling interval in seconds: a number from 0.1 up. Throws
 * {@linkcode InvalidInputError} naming the value.
 *
 * @example
 * ```ts
 * import { checkSystemInterval } from "./system_log.ts";
 * checkSystemInterval(5);
 * ```
 */
export function checkSystemInterval(seconds: unknown): number {
  if (
    typeof seconds !== "number" || !Number.isFinite(seconds) ||
    seconds < MIN_SYSTEM_INTERVAL_S
  ) {
    throw new InvalidInputError(
      `Invalid system metrics interval ${
        JSON.stringify(seconds)
      }: give seconds from ${MIN_SYSTEM_INTERVAL_S} up (default ${DEFAULT_SYSTEM_INTERVAL_S}), e.g. --system-interval 5, or turn sampling off with --no-system-metrics`,
    );
  }
  return seconds;
}

/** Options for {@linkcode startSystemLog}. */
export interface SystemLogOptions {
  /**
   * Seconds between samples (one is also taken at once).
   * @default 2
   */
  intervalSeconds?: number;
  /** Where warnings go (sampling stopped, the table not written). @default console.error */
  warn?: (message: string) => void;
}

/** A running system log; see {@linkcode startSystemLog}. */
export interface SystemLog {
  /** Starts sampling the tree rooted at `pid` (one sample at once). */
  watch(pid: number): Promise<void>;
  /** Stops sampling and closes (compacts and records) the table. */
  stop(): Promise<{ rows: number }>;
}

/**
 * Opens the logger of `strata/system.parquet` in the specimen at `dir`;
 * {@linkcode SystemLog.watch} then samples a process tree every
 * `intervalSeconds` until {@linkcode SystemLog.stop}, which closes the
 * table. Rows: `step` (sample number), `cpu_percent` (100 = one core),
 * `rss_bytes`, `threads`, `procs`, `mem_used_bytes` and `mem_total_bytes`
 * (the whole machine), `gpu_util_percent` and `gpu_mem_bytes` when
 * `nvidia-smi` answers, `seconds` since sampling started and `time`
 * (seconds since the Unix epoch). A process that ended before the last
 * sample is not sampled again; the first sample is always written.
 * Sampling problems are warned about and never fail the run.
 * Throws {@linkcode InvalidInputError} for an interval under 0.1 s.
 *
 * Needs `--allow-all`: Deno reads `/proc` only with it (without it, a
 * warning says so and nothing is sampled).
 *
 * @param dir The specimen folder.
 * @param options The interval and where warnings go.
 * @returns The log, or null when the table could not be opened (warned).
 * @example
 * ```ts
 * import { createSpecimen } from "../specimen/create.ts";
 * import { startSystemLog } from "./system_log.ts";
 * const vault = await Deno.makeTempDir();
 * const { dir } = await createSpecimen({ vault, id: "sys", domain: "training", method: "fine_tuning" });
 * const log = await startSystemLog(dir, { intervalSeconds: 0.1 });
 * await log!.watch(Deno.pid);
 * await new Promise((r) => setTimeout(r, 350));
 * const { rows } = await log!.stop();
 * console.assert(rows >= 2);
 * await Deno.remove(vault, { recursive: true });
 * ```
 */
export async function startSystemLog(
  dir: string,
  options: SystemLogOptions = {},
): Promise<SystemLog | null> {
  const intervalMs = checkSystemInterval(
    options.intervalSeconds ?? DEFAULT_SYSTEM_INTERVAL_S,
  ) * 1000;
  const warn = options.warn ?? ((m: string) => console.error(m));
  let logger: MetricsLogger;
  try {
    logger = await MetricsLogger.open({
      dir,
      name: SYSTEM_TABLE,
      // A part every few samples (at most 10 s of them lost to a SIGKILL
      // of the runner), not one per sample: a day at 2 s is 43,200 rows.
      options: { flushSeconds: Math.min(10, Math.max(1, intervalMs / 200)) },
    });
  } catch (e) {
    warn(`warning: no system metrics for this run: ${errorMessage(e)}`);
    return null;
  }
  let rows = 0;
  let sampler: SystemSampler | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let busy: Promise<void> = Promise.resolve();
  let stopped = false;
  let watching: Promise<void> = Promise.resolve();
  let t0 = 0;
  const take = async () => {
    if (!sampler) return;
    try {
      const s = await sampler.sample();
      // A tree that has ended is not sampled again (all zeros), but the
      // first sample is kept whatever it saw.
      if (s.procs === 0 && rows > 0) return;
      logger.log({
        step: s.step,
        cpu_percent: s.cpu_percent,
        rss_bytes: s.rss_bytes,
        threads: s.threads,
        procs: s.procs,
        mem_used_bytes: s.mem_total_bytes - s.mem_available_bytes,
        mem_total_bytes: s.mem_total_bytes,
        gpu_util_percent: s.gpu_util_percent,
        gpu_mem_bytes: s.gpu_mem_bytes,
        seconds: (performance.now() - t0) / 1000,
        time: s.time,
      });
      rows++;
    } catch (e) {
      warn(`warning: system metrics stopped: ${errorMessage(e)}`);
      sampler = undefined;
    }
  };
  const tick = () => {
    busy = take().then(() => {
      if (!stopped && sampler) timer = setTimeout(tick, intervalMs);
    });
  };
  return {
    watch(pid: number) {
      t0 = performance.now();
      watching = (async () => {
        try {
          sampler = await createSystemSampler(pid);
        } catch (e) {
          warn(`warning: no system metrics for this run: ${errorMessage(e)}`);
          return;
        }
        tick();
        await busy;
      })();
      return watching;
    },
    async stop() {
      await watching; // the first sample is taken whatever happens
      stopped = true;
      clearTimeout(timer);
      await busy;
      await take();
      sampler = undefined;
      try {
        await logger.close();
      } catch (e) {
        warn(
          `warning: the system metrics could not be closed (deno task repair compacts them): ${
            errorMessage(e)
          }`,
        );
      }
      return { rows };
    },
  };
}

/**
 * {@linkcode startSystemLog} for run `runId` of the specimen at `dir`: an
 * earlier run's table is set aside first
 * ({@linkcode setAsideSystemTable}), and the run record names the table
 * (`system_metrics`) before the first row, so that it never counts as a
 * result. Problems are warned about, and the run goes on without.
 *
 * Needs what {@linkcode startSystemLog} needs.
 *
 * @param dir The specimen folder.
 * @param runId The run in progress (from `beginRun`).
 * @param options The interval and where warnings go.
 * @returns The log, or null when it could not start (warned).
 * @example
 * ```ts ignore
 * import { openRunSystemLog } from "./system_log.ts";
 * const log = await openRunSystemLog("specimens/my_run", run.id, { intervalSeconds: 5 });
 * await log?.watch(child.pid);
 * // ... the child runs ...
 * await log?.stop();
 * ```
 */
export async function openRunSystemLog(
  dir: string,
  runId: string,
  options: SystemLogOptions = {},
): Promise<SystemLog | null> {
  const warn = options.warn ?? ((m: string) => console.error(m));
  const mark = (path: string | undefined) =>
    updateManifest(dir, (m) => {
      const run = m.runs?.find((r) => r.id === runId);
      if (!run) return;
      if (path === undefined) delete run.system_metrics;
      else run.system_metrics = path;
    });
  try {
    await setAsideSystemTable(dir);
    await mark(SYSTEM_TABLE_PATH);
  } catch (e) {
    warn(`warning: no system metrics for this run: ${errorMessage(e)}`);
    return null;
  }
  const log = await startSystemLog(dir, { ...options, warn });
  if (!log) await mark(undefined).catch(() => {});
  return log;
}

/** Whether the table at `path` is a run's system metrics. */
export function isRunSystemTable(m: Manifest, path: string): boolean {
  return (m.runs ?? []).some((r) => r.system_metrics === path);
}

/**
 * Files under `strata/` of a run's system table (the table and its parts
 * folder): not results of the protocol.
 */
export function isRunSystemFile(m: Manifest, file: string): boolean {
  if (!isRunSystemTable(m, SYSTEM_TABLE_PATH)) return false;
  return file === SYSTEM_TABLE_PATH ||
    file.startsWith(`${STRATA_DIR}/${SYSTEM_TABLE}${PARTS_SUFFIX}/`);
}

/**
 * Before a new run of the specimen at `dir`: an earlier run's system table
 * (its log compacted first, if its runner died) moves to
 * `runs/<that run>/system.parquet`, and its record leaves `artifacts`, so
 * that the new run's samples get `strata/system.parquet`.
 *
 * Needs `--allow-read` and `--allow-write` on `dir`.
 */
export async function setAsideSystemTable(dir: string): Promise<void> {
  const strata = join(dir, STRATA_DIR);
  if (await exists(join(strata, `${SYSTEM_TABLE}${PARTS_SUFFIX}`))) {
    await repairLogs(dir);
  }
  await updateManifest(dir, async (m) => {
    const owner = (m.runs ?? []).findLast((r) =>
      r.system_metrics === SYSTEM_TABLE_PATH
    );
    if (!owner || !(await exists(join(dir, SYSTEM_TABLE_PATH)))) return;
    const to = `runs/${owner.id}/${SYSTEM_TABLE}.parquet`;
    await Deno.mkdir(join(dir, "runs", owner.id), { recursive: true });
    await Deno.rename(join(dir, SYSTEM_TABLE_PATH), join(dir, to));
    owner.system_metrics = to;
    delete m.artifacts[SYSTEM_TABLE];
  });
}

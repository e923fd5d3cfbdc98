/**
 * System metrics of a run's process tree, sampled from `/proc` (Linux) and
 * `nvidia-smi`: rows for a metrics logger, as W&B, MLflow and Aim record
 * them.
 *
 * - CPU %: the tree's `utime + stime` ticks (`/proc/<pid>/stat`) over the
 *   wall time since the previous sample, divided by the clock ticks per
 *   second (`getconf CLK_TCK`, 100 when it cannot be asked); 100 = one core
 *   busy, so a tree can exceed 100 on several cores. Ticks of processes that
 *   ended between two samples are lost (the kernel adds them to the parent
 *   only when it reaps them).
 * - RSS and threads: `VmRSS` and `Threads` of `/proc/<pid>/status`, summed
 *   over the tree (shared pages are counted once per process).
 * - Processes: the root and every descendant (found by `PPid` in
 *   `/proc/<pid>/stat`).
 * - System memory: `MemTotal` and `MemAvailable` of `/proc/meminfo`.
 * - GPU: `nvidia-smi --query-gpu=utilization.gpu,memory.used` when it
 *   exists (utilisation averaged over GPUs, memory summed; whole-machine
 *   figures, not the tree's). Without it the GPU fields are left out and
 *   {@linkcode SystemSampler.gpu} says why.
 *
 * Permissions: `--allow-all` (Deno reads `/proc` only with it), and
 * `--allow-run=getconf,nvidia-smi`.
 *
 * @module
 */

/** One sample, a row for a metrics logger. */
export interface SystemSample {
  /** Sample number, from 0. */
  step: number;
  /** Seconds since the Unix epoch. */
  time: number;
  /** CPU use of the tree since the previous sample (100 = one core). */
  cpu_percent: number;
  /** Resident memory of the tree, bytes. */
  rss_bytes: number;
  /** Threads in the tree. */
  threads: number;
  /** Processes in the tree (0 once the root has exited). */
  procs: number;
  /** Total system memory, bytes. */
  mem_total_bytes: number;
  /** Memory available to new work, bytes. */
  mem_available_bytes: number;
  /** GPU utilisation, averaged over GPUs (only with nvidia-smi). */
  gpu_util_percent?: number;
  /** GPU memory in use, summed over GPUs, bytes (only with nvidia-smi). */
  gpu_mem_bytes?: number;
}

/** Whether GPU figures are sampled, and why not. */
export type GpuStatus = { available: true } | {
  available: false;
  reason: string;
};

/** Options of {@linkcode createSystemSampler}. */
export interface SamplerOptions {
  /**
   * Skip `nvidia-smi` entirely.
   * @default false
   */
  noGpu?: boolean;
  /**
   * The longest an `nvidia-smi` call may take before it is killed and GPU
   * sampling turned off.
   * @default 5000
   */
  gpuTimeoutMs?: number;
}

interface ProcStat {
  ppid: number;
  ticks: number;
}

/**
 * Samples one process tree; each {@linkcode SystemSampler.sample} covers
 * the time since the previous one (or since the sampler was created).
 *
 * @example
 * ```ts
 * import { createSystemSampler } from "./system_metrics.ts";
 * const sampler = await createSystemSampler(Deno.pid, { noGpu: true });
 * const row = await sampler.sample();
 * console.assert(row.procs >= 1 && row.rss_bytes > 0);
 * ```
 */
export class SystemSampler {
  /** Whether GPU figures are sampled, and why not. */
  gpu: GpuStatus;
  readonly rootPid: number;
  readonly clockTicks: number;
  #step = 0;
  #last: number;
  #ticks: Map<number, number>;
  #gpuTimeoutMs: number;

  /** Use {@linkcode createSystemSampler}. */
  constructor(
    rootPid: number,
    clockTicks: number,
    gpu: GpuStatus,
    baseline: Map<number, number>,
    gpuTimeoutMs: number,
    baselineAt: number = performance.now(),
  ) {
    this.rootPid = rootPid;
    this.clockTicks = clockTicks;
    this.gpu = gpu;
    this.#ticks = baseline;
    this.#last = baselineAt;
    this.#gpuTimeoutMs = gpuTimeoutMs;
  }

  /** Takes one sample of the tree, system memory and GPUs. */
  async sample(): Promise<SystemSample> {
    const tree = await processTree(this.rootPid);
    // The ticks were read by now: the interval ends here, not before the
    // (possibly slow, on a loaded machine) read of every /proc/<pid>/stat.
    const now = performance.now();
    let delta = 0;
    for (const [pid, stat] of tree) {
      delta += Math.max(0, stat.ticks - (this.#ticks.get(pid) ?? 0));
    }
    const seconds = (now - this.#last) / 1000;
    this.#last = now;
    this.#ticks = new Map([...tree].map(([pid, s]) => [pid, s.ticks]));
    let rss = 0, threads = 0;
    await Promise.all([...tree.keys()].map(async (pid) => {
      const status = await readText(`/proc/${pid}/status`);
      if (!status) return;
      rss += field(status, "VmRSS") * 1024;
      threads += field(status, "Threads");
    }));
    const meminfo = (await readText("/proc/meminfo")) ?? "";
    const row: SystemSample = {
      step: this.#step++,
      time: Date.now() / 1000,
      cpu_percent: seconds > 0
        ? Math.round((delta / this.clockTicks / seconds) * 1000) / 10
        : 0,
      rss_bytes: rss,
      threads,
      procs: tree.size,
      mem_total_bytes: field(meminfo, "MemTotal") * 1024,
      mem_available_bytes: field(meminfo, "MemAvailable") * 1024,
    };
    if (this.gpu.available) {
      const gpu = await queryGpu(this.#gpuTimeoutMs);
      if ("reason" in gpu) this.gpu = { available: false, reason: gpu.reason };
      else Object.assign(row, gpu);
    }
    return row;
  }
}

/**
 * Starts sampling the tree rooted at `rootPid`: asks the clock tick rate,
 * checks for `nvidia-smi`, and takes the CPU baseline.
 *
 * Needs `--allow-all` (Deno reads `/proc` only with it).
 *
 * @param rootPid The root of the tree (e.g. a child's `pid`).
 * @param options GPU options.
 * @returns The sampler.
 * @example
 * ```ts
 * import { createSystemSampler } from "./system_metrics.ts";
 * const sampler = await createSystemSampler(Deno.pid);
 * if (!sampler.gpu.available) console.log("no GPU figures:", sampler.gpu.reason);
 * ```
 */
export async function createSystemSampler(
  rootPid: number,
  options: SamplerOptions = {},
): Promise<SystemSampler> {
  const gpuTimeoutMs = options.gpuTimeoutMs ?? 5000;
  const [ticks, gpu, tree] = await Promise.all([
    clockTicks(),
    options.noGpu
      ? { available: false as const, reason: "turned off (noGpu)" }
      : queryGpu(gpuTimeoutMs).then((g): GpuStatus =>
        "reason" in g ? { available: false, reason: g.reason } : {
          available: true,
        }
      ),
    // The baseline's time is when its ticks were read, not when the slower
    // clock and GPU queries end: else the first sample divides the ticks
    // of that whole wait by a fraction of it.
    processTree(rootPid).then((t) => ({ t, at: performance.now() })),
  ]);
  return new SystemSampler(
    rootPid,
    ticks,
    gpu,
    new Map([...tree.t].map(([pid, s]) => [pid, s.ticks])),
    gpuTimeoutMs,
    tree.at,
  );
}

/**
 * Samples every `intervalMs` until `signal` aborts (then ends at once).
 *
 * @param rootPid The root of the tree.
 * @param intervalMs Milliseconds between samples.
 * @param signal Stops sampling.
 * @returns One row per interval.
 * @example
 * ```ts
 * import { sampleSystem } from "./system_metrics.ts";
 * const stop = new AbortController();
 * for await (const row of sampleSystem(Deno.pid, 50, stop.signal, { noGpu: true })) {
 *   console.assert(row.step === 0);
 *   stop.abort();
 * }
 * ```
 */
export async function* sampleSystem(
  rootPid: number,
  intervalMs: number,
  signal: AbortSignal,
  options: SamplerOptions = {},
): AsyncGenerator<SystemSample> {
  const sampler = await createSystemSampler(rootPid, options);
  while (!signal.aborted) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, intervalMs);
      signal.addEventListener("abort", done, { once: true });
    });
    if (signal.aborted) return;
    yield await sampler.sample();
  }
}

let ticksPerSecond: Promise<number> | undefined;

/** `getconf CLK_TCK`, or 100 (Linux's USER_HZ on every common build). */
function clockTicks(): Promise<number> {
  ticksPerSecond ??= new Deno.Command("getconf", {
    args: ["CLK_TCK"],
    stdout: "piped",
    stderr: "null",
  }).output().then((o) => {
    const n = Number(new TextDecoder().decode(o.stdout).trim());
    return o.success && Number.isInteger(n) && n > 0 ? n : 100;
  }, () => 100);
  return ticksPerSecond;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    // The process ended between listing and reading.
    return undefined;
  }
}

/** A `Key:  value kB` line of /proc status files; 0 when absent. */
function field(text: string, key: string): number {
  const at = text.indexOf(`${key}:`);
  if (at < 0) return 0;
  const m = /^\s*(\d+)/.exec(text.slice(at + key.length + 1));
  return m ? Number(m[1]) : 0;
}

/** Parses `/proc/<pid>/stat`; the name in parentheses may hold anything. */
function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  // Fields after the name, from field 3 (state) on.
  const f = text.slice(close + 2).split(" ");
  const ppid = Number(f[1]);
  const ticks = Number(f[11]) + Number(f[12]);
  return Number.isFinite(ppid) && Number.isFinite(ticks)
    ? { ppid, ticks }
    : undefined;
}

/** The root and its descendants, with their parent and CPU ticks. */
async function processTree(root: number): Promise<Map<number, ProcStat>> {
  const all = new Map<number, ProcStat>();
  const reads: Promise<void>[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    reads.push(
      readText(`/proc/${pid}/stat`).then((text) => {
        const stat = text ? parseStat(text) : undefined;
        if (stat) all.set(pid, stat);
      }),
    );
  }
  await Promise.all(reads);
  const tree = new Map<number, ProcStat>();
  if (!all.has(root)) return tree;
  const children = new Map<number, number[]>();
  for (const [pid, s] of all) {
    const list = children.get(s.ppid);
    if (list) list.push(pid);
    else children.set(s.ppid, [pid]);
  }
  const queue = [root];
  while (queue.length) {
    const pid = queue.pop()!;
    if (tree.has(pid)) continue;
    tree.set(pid, all.get(pid)!);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** One `nvidia-smi` query, or why there is none. */
async function queryGpu(
  timeoutMs: number,
): Promise<
  { gpu_util_percent: number; gpu_mem_bytes: number } | { reason: string }
> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("nvidia-smi", {
      args: [
        "--query-gpu=utilization.gpu,memory.used",
        "--format=csv,noheader,nounits",
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { reason: "nvidia-smi is not on PATH (no NVIDIA driver here)" };
    }
    if (e instanceof Deno.errors.NotCapable) {
      return { reason: "running nvidia-smi is not allowed (--allow-run)" };
    }
    return { reason: `nvidia-smi failed: ${(e as Error).message}` };
  }
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    return {
      reason: out.signal
        ? `nvidia-smi took over ${timeoutMs} ms and was stopped`
        : `nvidia-smi exited with code ${out.code}: ${
          new TextDecoder().decode(out.stderr).trim() || text
        }`,
    };
  }
  const rows = text.split("\n").map((l) => l.split(",").map(Number));
  if (!rows.length || rows.some((r) => r.length !== 2 || r.some(isNaN))) {
    return {
      reason: `nvidia-smi printed ${JSON.stringify(text)}, not numbers`,
    };
  }
  return {
    gpu_util_percent: rows.reduce((a, r) => a + r[0], 0) / rows.length,
    gpu_mem_bytes: rows.reduce((a, r) => a + r[1], 0) * 1024 * 1024,
  };
}

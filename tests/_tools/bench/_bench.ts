/**
 * The benchmark harness: every figure is a median over several runs, printed
 * beside a reference measured in the same run, as a ratio.
 *
 * @module
 */

/** Runs `fn` `runs` times (after `warmup` unmeasured runs); median ms. */
export async function medianMs(
  fn: () => unknown | Promise<unknown>,
  { runs = 5, warmup = 1 }: { runs?: number; warmup?: number } = {},
): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** One line of the report. */
export interface Figure {
  /** What was measured, e.g. `"writeMetrics 1M×4"`. */
  name: string;
  /** The measured median. */
  value: number;
  /** Its unit, e.g. `"values/s"`, `"MB/s"`, `"ms"`. */
  unit: string;
  /** Whether a larger value is better (throughput) or worse (latency). */
  higherIsBetter: boolean;
  /** The goal the issue names, in the same unit. */
  goal?: number;
  /** The reference measured in the same run, in the same unit. */
  reference?: { name: string; value: number };
  /** The same figure from older code (e.g. git tag `perf-before`), same run. */
  before?: { name: string; value: number };
}

/** Prints one figure as a fixed-format line (and returns whether the goal was met). */
export function report(f: Figure): boolean {
  const fmt = (v: number) =>
    v >= 1000 ? Math.round(v).toLocaleString("en-US") : v.toPrecision(3);
  const met = f.goal === undefined
    ? true
    : f.higherIsBetter
    ? f.value >= f.goal
    : f.value <= f.goal;
  let line = `${f.name.padEnd(52)} ${fmt(f.value).padStart(14)} ${f.unit}`;
  if (f.reference) {
    const ratio = f.higherIsBetter
      ? f.value / f.reference.value
      : f.reference.value / f.value;
    line += `   ${ratio.toFixed(2)}× vs ${f.reference.name} (${
      fmt(f.reference.value)
    } ${f.unit})`;
  }
  if (f.before) {
    const ratio = f.higherIsBetter
      ? f.value / f.before.value
      : f.before.value / f.value;
    line += `   ${f.before.name}: ${fmt(f.before.value)} ${f.unit} (now ${
      ratio.toFixed(2)
    }× as good)`;
  }
  if (f.goal !== undefined) {
    line += `   goal ${f.higherIsBetter ? "≥" : "≤"} ${fmt(f.goal)}: ${
      met ? "met" : "MISSED"
    }`;
  }
  console.log(line);
  return met;
}

/** A temp folder removed when disposed. */
export async function benchDir(prefix = "sv_bench_"): Promise<
  { path: string } & AsyncDisposable
> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** The repository root (where `deno.json` is). */
const ROOT = new URL("../../..", import.meta.url).pathname.replace(/\/$/, "");

/** A fresh `deno` process run by {@linkcode deno}. */
export interface Run {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
  maxRssKb?: number;
}

export const hasTime = await Deno.stat("/usr/bin/time").then(
  () => true,
  () => false,
);

/** The permissions of deno.json's index and query tasks. */
export const TASK_FLAGS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-ffi",
  "--allow-env",
  "--allow-sys",
];

/** Runs `deno <args>` as a subprocess; wall time and, if measurable, peak RSS. */
export async function deno(args: string[], cwd = ROOT): Promise<Run> {
  const [cmd, full] = hasTime
    ? ["/usr/bin/time", ["-f", "MAXRSS %M", Deno.execPath(), ...args]]
    : [Deno.execPath(), args];
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, {
    args: full,
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  const dec = new TextDecoder();
  let stderr = dec.decode(out.stderr);
  let maxRssKb: number | undefined;
  const m = stderr.match(/MAXRSS (\d+)\s*$/);
  if (m) {
    maxRssKb = Number(m[1]);
    stderr = stderr.slice(0, m.index);
  }
  const run = {
    ms,
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr,
    maxRssKb,
  };
  if (run.code !== 0) {
    throw new Error(
      `deno ${args.join(" ")} exited ${run.code}:\n${run.stderr}`,
    );
  }
  return run;
}

/**
 * Benchmark: the Python bridge (`storage.exec`).
 *
 * - Ingest: a `/usr/bin/python3` child writes 1,000,000 JSON lines of 5
 *   metrics (`json.dumps`) as fast as it can to `SPECIMEN_METRICS` while
 *   `storage.exec` follows the file and logs every row. Figures: the
 *   child's own wall time (its write loop, timed inside Python) against the
 *   same child writing to `/dev/null` in the same run (goal ≤ 1.10×); lines
 *   per second ingested, from the `exec` call to its return (the environment
 *   probe, the ingestion tail and compaction included); the parent's peak
 *   RSS. Each side runs in its own process, alternately, `runs` times.
 * - 1 GB: the same child writing about 1 GB (9.3M lines) once: every line
 *   ingested, the parent's peak RSS (goal < 200 MB).
 *
 * Run: `deno run -A tests/_tools/bench/bridge_bench.ts [--lines N] [--runs N (0: skip)] [--gb-lines N]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join, resolve } from "../../../lib/_deps.ts";
import { benchDir, report } from "./_bench.ts";

const PYTHON = "/usr/bin/python3";
const ROOT = resolve(import.meta.dirname!, "..", "..", "..");

/** The child: `lines` rows of 5 metrics; prints its write loop's seconds. */
const CHILD = `
import json, os, random, sys, time
lines = int(sys.argv[1])
rnd = random.random
t0, c0 = time.perf_counter(), time.process_time()
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    for step in range(lines):
        f.write(json.dumps({"step": step, "loss": rnd(), "acc": rnd(), "lr": 0.000312, "grad_norm": rnd() * 10}) + "\\n")
print(time.perf_counter() - t0, time.process_time() - c0)
`;

/** One storage.exec in a fresh process: what it measured. */
interface ExecRun {
  childSeconds: number;
  childCpuSeconds: number;
  parentCpuSeconds: number;
  execMs: number;
  rows: number;
  hwmBytes: number;
}

async function execOnce(dir: string, lines: number): Promise<ExecRun> {
  const script = join(dir, "exec_once.ts");
  await Deno.writeTextFile(
    script,
    `import { createSpecimen } from ${
      JSON.stringify(join(ROOT, "lib/specimen/create.ts"))
    };
import { SpecimenStorage } from ${
      JSON.stringify(join(ROOT, "lib/run/storage.ts"))
    };
const vault = await Deno.makeTempDir({ dir: ${JSON.stringify(dir)} });
const { dir } = await createSpecimen({ vault, id: "bench", domain: "training", method: "fine_tuning" });
const storage = await SpecimenStorage.open(dir);
const ticks = () => Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ").slice(11, 13).map(Number).reduce((a, b) => a + b);
const cpu0 = ticks();
const t0 = performance.now();
const r = await storage.exec([${JSON.stringify(PYTHON)}, "-c", ${
      JSON.stringify(CHILD)
    }, "${lines}"], { echo: false });
const execMs = performance.now() - t0;
const parentCpuSeconds = (ticks() - cpu0) / 100;
const [childSeconds, childCpuSeconds] = (await Deno.readTextFile(dir + "/" + r.stdout)).trim().split(" ").map(Number);
const hwmBytes = Number(/VmHWM:\\s+(\\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))![1]) * 1024;
await Deno.remove(vault, { recursive: true });
console.log(JSON.stringify({ childSeconds, childCpuSeconds, parentCpuSeconds, execMs, rows: r.rows.metrics ?? 0, hwmBytes }));
`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`the exec run failed (${out.code})`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

async function devNullOnce(lines: number): Promise<number> {
  const out = await new Deno.Command(PYTHON, {
    args: ["-c", CHILD, String(lines)],
    env: { SPECIMEN_METRICS: "/dev/null" },
    stdout: "piped",
  }).output();
  if (!out.success) throw new Error(`the /dev/null child failed`);
  return Number(new TextDecoder().decode(out.stdout).split(" ")[0]);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const spread = (xs: number[]) =>
  `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

/**
 * Ingesting JSON lines from a Python child: its slowdown against writing to
 * /dev/null, lines/s ingested, parent peak RSS. Returns whether goals were met.
 */
export async function benchIngest(
  { lines = 1_000_000, runs = 3 }: { lines?: number; runs?: number } = {},
): Promise<boolean> {
  await using dir = await benchDir("sv_bench_bridge_");
  const execs: ExecRun[] = [];
  const nulls: number[] = [];
  await devNullOnce(Math.min(lines, 100_000)); // warm the page cache
  for (let i = 0; i < runs; i++) {
    nulls.push(await devNullOnce(lines));
    const r = await execOnce(dir.path, lines);
    if (r.rows !== lines) {
      throw new Error(`ingested ${r.rows} of ${lines} lines`);
    }
    execs.push(r);
  }
  const ratios = execs.map((e, i) => e.childSeconds / nulls[i]);
  console.log(
    `  child write loop: ${
      spread(execs.map((e) => e.childSeconds))
    } s under exec, ${spread(nulls)} s to /dev/null; ratio per pair ${
      spread(ratios)
    } (${runs} runs)`,
  );
  let met = report({
    name: `bridge: ${lines.toLocaleString("en-US")} lines, child slowdown`,
    value: median(ratios),
    unit: "×",
    higherIsBetter: false,
    goal: 1.1,
  });
  report({
    name: "bridge: child write loop under storage.exec",
    value: median(execs.map((e) => lines / e.childSeconds)),
    unit: "lines/s",
    higherIsBetter: true,
    reference: {
      name: "same child to /dev/null",
      value: median(nulls.map((s) => lines / s)),
    },
  });
  // Independent of the machine's load: the parent's CPU (main thread and
  // the logger's writer thread, probe and compaction included) per CPU
  // second of the child. Below 1 with a core to spare, the child is not
  // slowed; on a busy 2-core machine every parent CPU second competes.
  report({
    name: "bridge: parent CPU s per child CPU s",
    value: median(execs.map((e) => e.parentCpuSeconds / e.childCpuSeconds)),
    unit: "s/s",
    higherIsBetter: false,
  });
  report({
    name: "bridge: lines/s ingested (exec call → return)",
    value: median(execs.map((e) => lines / (e.execMs / 1000))),
    unit: "lines/s",
    higherIsBetter: true,
  });
  met = report({
    name: "bridge: parent peak RSS (VmHWM)",
    value: median(execs.map((e) => e.hwmBytes / 1e6)),
    unit: "MB",
    higherIsBetter: false,
    goal: 200,
  }) && met;
  return met;
}

/** About 1 GB of JSON lines, once: every line ingested, parent peak RSS. */
export async function benchIngestGigabyte(
  { lines = 9_300_000 }: { lines?: number } = {},
): Promise<boolean> {
  await using dir = await benchDir("sv_bench_bridge_gb_");
  const r = await execOnce(dir.path, lines);
  console.log(
    `  ${lines.toLocaleString("en-US")} lines (≈${
      (lines * 115 / 1e9).toFixed(2)
    } GB): ${r.rows.toLocaleString("en-US")} ingested, child ${
      r.childSeconds.toFixed(1)
    } s, exec ${(r.execMs / 1000).toFixed(1)} s`,
  );
  if (r.rows !== lines) throw new Error(`lost ${lines - r.rows} lines`);
  return report({
    name: "bridge: 1 GB of JSON lines, parent peak RSS",
    value: r.hwmBytes / 1e6,
    unit: "MB",
    higherIsBetter: false,
    goal: 200,
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      lines: { type: "string" },
      runs: { type: "string" },
      "gb-lines": { type: "string" },
    },
  });
  const num = (v: string | undefined) =>
    v === undefined ? undefined : Number(v);
  const runs = num(values.runs);
  if (runs !== 0) await benchIngest({ lines: num(values.lines), runs });
  await benchIngestGigabyte({ lines: num(values["gb-lines"]) });
}

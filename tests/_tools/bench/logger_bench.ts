/**
 * Benchmark: metrics logged step by step with `MetricsLogger`.
 *
 * - Throughput: 1M steps × 5 metrics through `log()`, then `close()`
 *   (flushes, compaction, manifest record), against the batch
 *   `writeMetrics()` of the same columns as typed arrays in the same run.
 *   Goal ≥ 5,000,000 values/s (tensorboardX `add_scalar`: ~6,400 values/s).
 * - Peak RSS (VmHWM) of a subprocess logging 10M steps × 5 metrics and
 *   closing, against a subprocess writing the same 10M × 5 with one
 *   `writeMetrics()`. Goal < 200 MB.
 * - Latency of one `log()` call while a part is being encoded and written
 *   by the worker thread: p50 / p99 / max, against calls made while no part
 *   is in flight in the same loop. Goal p99 < 50 µs.
 *
 * Run: `deno run -A tests/_tools/bench/logger_bench.ts`
 *
 * @module
 */
import { createSpecimen } from "../../../lib/specimen/create.ts";
import { SpecimenStorage } from "../../../lib/run/storage.ts";
import { benchDir, medianMs, report } from "./_bench.ts";

const STEPS = 1_000_000;
const METRICS = 5;
const RSS_STEPS = 10_000_000;
const LATENCY_STEPS = 2_000_000;

/** Prints the logger's figures, each with its same-run reference. */
export async function benchLogger(): Promise<void> {
  await using dir = await benchDir("sv_bench_logger_");
  const curves = trainingCurves(STEPS);
  let n = 0;
  const fresh = async () =>
    await SpecimenStorage.open(
      (await createSpecimen({
        vault: dir.path,
        id: `s${n++}`,
        domain: "training",
        method: "fine_tuning",
      })).dir,
    );
  const perSecond = (ms: number) => (STEPS * METRICS) / (ms / 1000);

  // 1. Throughput: log() every step, then close().
  const runs = { runs: 5, warmup: 1 };
  let loopMs: number[] = [];
  const logged = perSecond(
    await medianMs(async () => {
      const storage = await fresh();
      const t0 = performance.now();
      const log = await storage.logger("train");
      const { step, loss, accuracy, lr, grad_norm } = curves;
      for (let i = 0; i < STEPS; i++) {
        log.log({
          step: step[i],
          loss: loss[i],
          accuracy: accuracy[i],
          lr: lr[i],
          grad_norm: grad_norm[i],
        });
      }
      loopMs.push(performance.now() - t0);
      await log.close();
    }, runs),
  );
  loopMs = loopMs.slice(runs.warmup).sort((a, b) => a - b);
  const batch = perSecond(
    await medianMs(async () => {
      const storage = await fresh();
      await storage.writeMetrics(curves, { name: "train" });
    }, runs),
  );
  report({
    name: "logger: 1M steps × 5 log() + close() values/s",
    value: logged,
    unit: "values/s",
    higherIsBetter: true,
    goal: 5_000_000,
    reference: { name: "batch writeMetrics (typed arrays)", value: batch },
  });
  console.log(
    `  (log() loop alone: median ${
      loopMs[Math.floor(loopMs.length / 2)].toFixed(0)
    } ms for 1M rows; tensorboardX add_scalar ~6,400 values/s on this machine class)`,
  );

  // 2. Peak memory of a long log, in a fresh process each.
  const rssLog = await childPeakMb(dir.path, "log");
  const rssBatch = await childPeakMb(dir.path, "batch");
  const rssIdle = await childPeakMb(dir.path, "idle");
  report({
    name: "logger: peak RSS logging 10M steps × 5 (MB)",
    value: rssLog,
    unit: "MB",
    higherIsBetter: false,
    goal: 200,
    reference: { name: "one writeMetrics of 10M × 5", value: rssBatch },
  });
  console.log(
    `  (a process that only opens a logger and closes it: ${
      rssIdle.toFixed(0)
    } MB)`,
  );

  // 3. Latency of log() while the worker encodes and writes a part.
  const storage = await fresh();
  const flushRows = 65_536;
  const log = await storage.logger("lat", {
    flushRows,
    flushSeconds: Infinity,
  });
  const busy = new Float64Array(LATENCY_STEPS);
  const idle = new Float64Array(LATENCY_STEPS);
  let nBusy = 0;
  let nIdle = 0;
  const { loss, accuracy, lr, grad_norm } = curves;
  for (let i = 0; i < LATENCY_STEPS; i++) {
    const handed = i - (i % flushRows);
    const inFlight = log.rowsFlushed < handed;
    const j = i % STEPS;
    const t0 = performance.now();
    log.log({
      step: i,
      loss: loss[j],
      accuracy: accuracy[j],
      lr: lr[j],
      grad_norm: grad_norm[j],
    });
    const dt = performance.now() - t0;
    if (inFlight) busy[nBusy++] = dt;
    else idle[nIdle++] = dt;
  }
  await log.close();
  const b = busy.subarray(0, nBusy).sort();
  const q = idle.subarray(0, nIdle).sort();
  const pct = (a: Float64Array, p: number) =>
    a[Math.min(a.length - 1, Math.floor(a.length * p))] * 1000;
  report({
    name: "logger: log() p99 while a part is written (µs)",
    value: pct(b, 0.99),
    unit: "µs",
    higherIsBetter: false,
    goal: 50,
    reference: {
      name: "log() p99 with no part in flight",
      value: pct(q, 0.99),
    },
  });
  console.log(
    `  (while a part is written: ${nBusy.toLocaleString("en-US")} calls, p50 ${
      pct(b, 0.5).toFixed(2)
    } µs, p99 ${pct(b, 0.99).toFixed(2)} µs, p99.9 ${
      pct(b, 0.999).toFixed(2)
    } µs, max ${(b[b.length - 1] * 1000).toFixed(0)} µs; no part in flight: ${
      nIdle.toLocaleString("en-US")
    } calls, p50 ${pct(q, 0.5).toFixed(2)} µs, max ${
      (q[q.length - 1] * 1000).toFixed(0)
    } µs; the max includes the calls that hand a part over and GC pauses)`,
  );
}

/** Runs this file as a child in `mode`; returns its VmHWM in MB. */
async function childPeakMb(vault: string, mode: string): Promise<number> {
  const { dir } = await createSpecimen({
    vault,
    id: `rss_${mode}`,
    domain: "training",
    method: "fine_tuning",
  });
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--rss-child", mode, dir],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const m = /^peak (\d+) kB$/m.exec(text);
  if (!out.success || !m) {
    throw new Error(`the ${mode} child failed (${out.code}): ${text}`);
  }
  return Number(m[1]) / 1024;
}

/** The child: logs (or batch-writes) 10M × 5 and prints its peak RSS. */
async function rssChild(mode: string, dir: string): Promise<void> {
  const storage = await SpecimenStorage.open(dir);
  if (mode === "log" || mode === "idle") {
    const log = await storage.logger("train");
    const steps = mode === "log" ? RSS_STEPS : 0;
    for (let i = 0; i < steps; i++) {
      const t = i / steps;
      log.log({
        step: i,
        loss: 2 * Math.exp(-5 * t),
        accuracy: 1 - 0.9 * Math.exp(-4 * t),
        lr: 1e-3 * 0.5 * (1 + Math.cos(Math.PI * t)),
        grad_norm: 1 + (i % 13) * 0.1,
      });
    }
    const record = await log.close();
    if (mode === "log" && record?.rows !== steps) throw new Error("rows lost");
  } else {
    await storage.writeMetrics(trainingCurves(RSS_STEPS), { name: "train" });
  }
  const status = await Deno.readTextFile("/proc/self/status");
  console.log(`peak ${/VmHWM:\s+(\d+) kB/.exec(status)![1]} kB`);
}

/** A plausible run: integer steps, decaying loss, rising accuracy, cosine lr. */
function trainingCurves(rows: number) {
  const step = new Int32Array(rows);
  const loss = new Float64Array(rows);
  const accuracy = new Float64Array(rows);
  const lr = new Float64Array(rows);
  const grad_norm = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const t = i / rows;
    step[i] = i;
    loss[i] = 2 * Math.exp(-5 * t);
    accuracy[i] = 1 - 0.9 * Math.exp(-4 * t);
    lr[i] = 1e-3 * 0.5 * (1 + Math.cos(Math.PI * t));
    grad_norm[i] = 1 + (i % 13) * 0.1;
  }
  return { step, loss, accuracy, lr, grad_norm };
}

if (import.meta.main) {
  if (Deno.args[0] === "--rss-child") {
    await rssChild(Deno.args[1], Deno.args[2]);
  } else await benchLogger();
}

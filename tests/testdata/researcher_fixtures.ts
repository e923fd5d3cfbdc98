/**
 * A vault as a researcher's first hour leaves it, for the dashboard tests of
 * issue 27: a sweep whose metrics are not called `loss` beside older
 * specimens that have `loss` and a param that never varies; a failed run
 * with its stderr logs and a Python child's provenance; a TensorBoard run
 * imported by `deno task import` (its histograms); field notes.
 *
 * @module
 */
import { join } from "../../lib/_deps.ts";
import { writeSpecimen } from "./catalog_fixtures.ts";
import { INTEROP, runTask } from "../utils.ts";

/** The sweep: lr × hidden, tag `sweep`, ids `mlp_sweep_…`. */
export const SWEEP = [
  { lr: 0.1, hidden: 32, opt: "sgd" },
  { lr: 0.01, hidden: 32, opt: "adam" },
  { lr: 0.001, hidden: 32, opt: "sgd" },
  { lr: 0.1, hidden: 64, opt: "adam" },
  { lr: 0.01, hidden: 64, opt: "sgd" },
  { lr: 0.001, hidden: 64, opt: "adam" },
].map((p, i) => ({ id: `mlp_sweep_${i}`, ...p }));

/** Older specimens: `loss`, and `seed` 0 in every one. */
export const OLDER = ["baseline_a", "baseline_b", "baseline_c", "baseline_d"];

/** The failed run's specimen. */
export const FAILED_ID = "mlp_failed_oom";

/** The final val_loss of sweep specimen `i` (lower for lr 0.01). */
export function finalValLoss(i: number): number {
  const p = SWEEP[i];
  return Number(
    (0.2 + Math.abs(Math.log10(p.lr) + 2) * 0.3 + 10 / p.hidden).toFixed(6),
  );
}

/** Writes the sweep, the older specimens and the failed run. */
export async function researcherVault(vault: string): Promise<void> {
  for (const [i, s] of SWEEP.entries()) {
    await writeSpecimen(vault, {
      id: s.id,
      tags: ["sweep", s.hidden === 64 ? "wide" : "narrow"],
      created: `2026-12-0${i + 1}T10:00:00Z`,
      extra: {
        params: { lr: s.lr, hidden: s.hidden, optimizer: { name: s.opt } },
      },
      // val_loss ends at finalValLoss(i); train_loss falls below it.
      metrics: `SELECT range::BIGINT AS step,
        ${finalValLoss(i)} + 2.0 * (1 - range / 19.0) AS val_loss,
        ${finalValLoss(i)} * 0.8 + 2.0 * (1 - range / 19.0) AS train_loss
        FROM range(20)`,
    });
  }
  for (const [i, id] of OLDER.entries()) {
    await writeSpecimen(vault, {
      id,
      tags: ["old"],
      created: `2026-11-0${i + 1}T10:00:00Z`,
      extra: { params: { seed: 0 } },
      metrics:
        `SELECT range::BIGINT AS step, 1.0 / (range + 1) AS loss FROM range(10)`,
    });
  }
  const run = "2026-12-06T09-00-00.000Z";
  const dir = await writeSpecimen(vault, {
    id: FAILED_ID,
    tags: ["sweep"],
    created: "2026-12-06T09:00:00Z",
    extra: {
      params: { lr: 0.5, hidden: 4096, optimizer: { name: "sgd" } },
      runs: [{
        id: run,
        via: "deno task run",
        status: "failed",
        started: "2026-12-06T09:00:00.000Z",
        ended: "2026-12-06T09:03:25.000Z",
        duration_ms: 205_000,
        exit_code: 1,
        signal: null,
        error: "Protocol exited with code 1",
        command: ["deno", "run", "protocol.ts"],
        cwd: null,
        pid: 1234,
        hostname: "lab-box",
        protocol_sha256: null,
        git_commit: "0123456789abcdef0123",
        git_dirty: false,
        stdout: `runs/${run}/stdout.log`,
        stderr: `runs/${run}/stderr.log`,
        sealed: false,
        system_metrics: "strata/system.parquet",
        execs: [{
          index: 1,
          command: ["python3", "train.py"],
          cwd: ".",
          started: "2026-12-06T09:00:01.000Z",
          ended: "2026-12-06T09:03:24.000Z",
          duration_ms: 203_000,
          exit_code: 1,
          signal: null,
          stdout: `runs/${run}/exec-1.stdout.log`,
          stderr: `runs/${run}/exec-1.stderr.log`,
          rows: { metrics: 3 },
          bad_lines: 0,
          torn_line: false,
          adopted: [],
          error: "exited with code 1",
        }],
      }],
      provenance: {
        runtime: { deno: "2.9.6", v8: "13.0", typescript: "5.6" },
        children: [{
          exec: 1,
          command: ["python3", "train.py"],
          executable: { reason: "not probed in this fixture" },
          python: {
            version: "Python 3.11.2",
            packages: { torch: "2.3.1", numpy: "1.26.4" },
            torch: {
              version: "2.3.1+cpu",
              cuda_available: false,
              cuda_version: null,
              device_name: null,
            },
          },
          gpus: { reason: "nvidia-smi is not on PATH" },
        }],
      },
    },
    metrics:
      `SELECT range::BIGINT AS step, 2.0 - range * 0.1 AS val_loss FROM range(3)`,
    tables: {
      system: `SELECT range::BIGINT AS step, 1796547600.0 + range * 2 AS time,
        50.0 + (range % 7) * 5 AS cpu_percent, (1 + range) * 1e8 AS rss_bytes,
        8e9::DOUBLE AS mem_total_bytes, 4e9 - range * 1e7 AS mem_available_bytes
        FROM range(30)`,
    },
  });
  const runs = join(dir, "runs", run);
  await Deno.mkdir(runs, { recursive: true });
  const traceback = [
    "Traceback (most recent call last):",
    '  File "train.py", line 42, in <module>',
    "    loss.backward()",
    "torch.OutOfMemoryError: CPU out of memory trying to allocate 12.00 GiB",
  ];
  await Deno.writeTextFile(
    join(runs, "exec-1.stderr.log"),
    [
      ...Array.from({ length: 40 }, (_, i) => `epoch ${i} warming up`),
      ...traceback,
    ]
      .join("\n") + "\n",
  );
  await Deno.writeTextFile(
    join(runs, "stderr.log"),
    "error: the child python3 train.py exited with code 1\n",
  );
  await Deno.writeTextFile(
    join(dir, "field_notes.md"),
    "# Field notes\n\nHidden 4096 ran out of memory after the warm-up; try gradient checkpointing next.\n",
  );
  await Deno.writeTextFile(
    join(vault, "specimens", SWEEP[1].id, "field_notes.md"),
    "# Field notes\n\nThe val loss plateaued at 0.5 after warmup.\n",
  );
}

/**
 * Imports TensorBoard's `run_a` (written by TensorBoard, with the
 * `weights/dense1` histogram) with `deno task import`; returns its id.
 */
export async function importTensorBoardRun(
  vault: string,
  scratch: string,
): Promise<string> {
  const src = join(scratch, "tb");
  await Deno.mkdir(src, { recursive: true });
  const from = join(INTEROP, "trackers", "tensorboard", "run_a");
  await copy(from, join(src, "run_a"));
  const r = await runTask("import", ["tensorboard", src, "--vault", vault]);
  if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
  for await (const e of Deno.readDir(join(vault, "specimens"))) {
    if (e.name.includes("run_a")) return e.name;
  }
  throw new Error(`no imported run_a in ${vault}: ${r.stdout}`);
}

async function copy(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copy(join(from, e.name), join(to, e.name));
    else await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

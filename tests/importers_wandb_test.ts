/**
 * The W&B importer against the offline run wandb 0.30 wrote itself
 * (`tests/testdata/interop/trackers2/wandb/`, made by
 * `generators/wandb_gen.py`, whose values are the truth here): history with
 * exact big integers and NaN, config, summary, system stats, start time,
 * exit code; copies of it cut at many offsets (a run killed mid-write); a
 * damaged byte; and `deno task import wandb` as a subprocess.
 */
import { join } from "../lib/_deps.ts";
import { importRuns } from "../lib/importers/detect.ts";
import { columnToArray } from "../lib/importers/model.ts";
import type { ImportedRun } from "../lib/importers/model.ts";
import { readWandbLog } from "../lib/importers/_wandb_log.ts";
import { decodeRecord } from "../lib/importers/_wandb_records.ts";
import { importWandb } from "../lib/importers/wandb.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { decodeMetricsFile } from "../lib/formats/parquet/parquet.ts";
import { importCli } from "./_import.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  INTEROP,
  tempDir,
  tempVault,
} from "./utils.ts";

const WANDB = join(INTEROP, "trackers2", "wandb");
const RUN_DIR = join(WANDB, "offline-run-20261207_012032-ptmezw5t");
const RUN_FILE = join(RUN_DIR, "run-ptmezw5t.wandb");

function column(run: ImportedRun, table: string, name: string) {
  const t = run.tables.find((x) => x.name === table);
  assert(t, `no table ${table}`);
  const c = t.columns.get(name);
  assert(c, `no column ${name} in ${table}: ${[...t.columns.keys()]}`);
  return { table: t, col: c, values: columnToArray(c) };
}

Deno.test("importWandb() reads the real offline run's history exactly: 41 rows, big integers exact, NaN kept", async () => {
  const [run] = await importWandb(WANDB);
  const { table, values: loss } = column(run, "history", "train/loss");
  assertEquals(table.rows, 41);
  assertEquals(Array.from(table.step), Array.from({ length: 41 }, (_, i) => i));
  for (let s = 0; s < 40; s++) {
    assertEquals(loss[s], 1.0 / (s + 3));
    assertEquals(column(run, "history", "train/acc").values[s], s / 40);
  }
  assertEquals(loss[40], null);
  const big = column(run, "history", "big");
  assertEquals(big.col.kind, "int64");
  for (let s = 0; s < 40; s++) {
    assertEquals(big.values[s], 2n ** 60n + BigInt(s));
  }
  const evalLoss = column(run, "history", "eval/loss").values;
  for (let s = 0; s < 41; s++) {
    assertEquals(evalLoss[s], s % 10 === 0 && s < 40 ? 0.5 / (s + 1) : null);
  }
  const special = column(run, "history", "special").values;
  assert(Number.isNaN(special[40]));
  assertEquals(special.slice(0, 40).every((v) => v === null), true);
  const wall = column(run, "history", "wall_time").values as number[];
  assert(wall.every((w, i) => i === 0 || w >= wall[i - 1]));
  assertEquals(run.warnings, []);
});

Deno.test("importWandb() reads config as params, the summary, system stats, start, name and exit", async () => {
  const [run] = await importWandb(RUN_FILE);
  assertEquals(run.params, {
    lr: 3e-4,
    optimizer: { name: "adam", betas: [0.9, 0.999] },
    bs: 32,
    none: null,
  });
  assertEquals(run.name, "wb-run-1");
  assertEquals(run.sourceRunId, "ptmezw5t");
  assertEquals(run.toolVersion, "0.30.0");
  assertEquals(run.tags["wandb.project"], "interop");
  assertEquals(run.startTime?.toISOString(), "2026-12-07T01:20:32.886Z");
  const info = run.sourceInfo as Record<string, unknown>;
  assertEquals(info.exit_code, 0);
  assertEquals(info.complete, true);
  const summary = info.summary as Record<string, unknown>;
  assertEquals(summary.best_acc, 0.975);
  assertEquals(summary.final, { a: 1 });
  assertEquals(summary.special, "NaN");
  assertEquals(summary.big, "1152921504606847015");
  const system = run.tables.find((t) => t.name === "system");
  assert(system && system.rows >= 2, "system stats as a table");
  const cpu = column(run, "system", "cpu").values as number[];
  assert(cpu.every((v) => typeof v === "number" && v >= 0));
  assertEquals(column(run, "system", "proc.cpu.threads").col.kind, "int64");
});

Deno.test("the W&B file's checksums are plain CRC-32 of type and data: every chunk of the real file verifies", async () => {
  const bytes = await Deno.readFile(RUN_FILE);
  const kinds = new Map<string, number>();
  const res = readWandbLog(bytes, RUN_FILE, (rec) => {
    const k = decodeRecord(rec).kind;
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
  });
  assertEquals(res.truncated, null);
  assertEquals(kinds.get("history"), 41);
  assertEquals(kinds.get("exit"), 1);
  const damaged = bytes.slice();
  damaged[5000] ^= 0x01;
  let err: unknown;
  try {
    readWandbLog(damaged, "x.wandb", () => {});
  } catch (e) {
    err = e;
  }
  assert(err instanceof Error && err.name === "CorruptFileError");
  assertMatch(err.message, /"x\.wandb" is corrupt at byte \d+/);
});

Deno.test("a W&B run cut at any offset imports every complete record and is marked incomplete", async (t) => {
  const bytes = await Deno.readFile(RUN_FILE);
  // Where each history record ends, from the whole file.
  const ends: { end: number; kind: string }[] = [];
  readWandbLog(bytes, RUN_FILE, (rec, offset) => {
    ends.push({ end: offset + 7 + rec.length, kind: decodeRecord(rec).kind });
  });
  const exitEnd = ends.find((e) => e.kind === "exit")!.end;
  await using dir = await tempDir();
  const boundary = ends.filter((e) => e.kind === "history")[20].end;
  const cuts = [
    120,
    1000,
    4321,
    9999,
    boundary,
    15000,
    exitEnd - 1,
    exitEnd - 7,
  ];
  for (const cut of cuts) {
    await t.step(`cut at byte ${cut}`, async () => {
      const file = join(dir.path, `run-cut${cut}.wandb`);
      await Deno.writeFile(file, bytes.subarray(0, cut));
      const [run] = await importWandb(file);
      const expected = ends.filter((e) =>
        e.kind === "history" && e.end <= cut
      ).length;
      const history = run.tables.find((x) => x.name === "history");
      assertEquals(history?.rows ?? 0, expected);
      if (history) {
        const loss = columnToArray(history.columns.get("train/loss")!);
        for (let s = 0; s < Math.min(expected, 40); s++) {
          assertEquals(loss[s], 1 / (s + 3));
        }
      }
      const info = run.sourceInfo as Record<string, unknown>;
      assertEquals(info.complete, false);
      assertEquals(info.status, "incomplete");
      assert(run.warnings.some((w) => /no exit record/.test(w)));
      if (!ends.some((e) => e.end === cut)) {
        assert(run.warnings.some((w) => /ends inside a record/.test(w)));
      }
    });
  }
});

Deno.test("importWandb() refuses a file that is not a W&B run, and a folder without one", async () => {
  await using dir = await tempDir();
  const f = join(dir.path, "run-x.wandb");
  await Deno.writeTextFile(f, "not wandb at all");
  await assertRejects(() => importWandb(f), Error, "is not a W&B run file");
  const bad = await Deno.readFile(RUN_FILE);
  bad[6] = 1;
  await Deno.writeFile(f, bad);
  await assertRejects(() => importWandb(f), Error, "version 1");
  await Deno.remove(f);
  await assertRejects(() => importWandb(dir.path), Error, "No W&B run");
});

Deno.test("import auto tells a W&B run folder and an Optuna file apart, and names what it cannot read", async () => {
  const [run] = await importRuns(undefined, WANDB);
  assertEquals(run.kind, "wandb");
  const [trial] = await importRuns(
    undefined,
    join(INTEROP, "trackers2", "optuna", "optuna_journal.log"),
  );
  assertEquals(trial.kind, "optuna");
  await using dir = await tempDir();
  const pickle = join(dir.path, "training_args.bin");
  await Deno.copyFile(
    join(INTEROP, "trackers2", "hf", "tiny-gpt2-nan", "training_args.bin"),
    pickle,
  );
  await assertRejects(
    () => importRuns(undefined, pickle),
    Error,
    "pickle",
  );
});

Deno.test("deno task import wandb makes a sealed specimen with INT64 big integers and the run's exit", async () => {
  await using vault = await tempVault();
  const r = await importCli([
    "wandb",
    WANDB,
    "--vault",
    vault.path,
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /imported ptmezw5t → wandb_wb_run_1_ptmezw5t/);
  const dir = join(vault.specimens, "wandb_wb_run_1_ptmezw5t");
  const m = await readManifest(dir);
  assertEquals(m.params, {
    lr: 3e-4,
    optimizer: { name: "adam", betas: [0.9, 0.999] },
    bs: 32,
    none: null,
  });
  assertEquals(m.runs?.[0].status, "succeeded");
  const metrics = await decodeMetricsFile(
    join(dir, "strata", "metrics.parquet"),
    dir,
  );
  assertEquals(metrics.columns.big[39], 2n ** 60n + 39n);
  assertEquals(metrics.columns.step.length, 41);
  const system = await decodeMetricsFile(
    join(dir, "strata", "system.parquet"),
    dir,
  );
  assert(system.columns.cpu.length >= 2);
});

Deno.test("deno task import wandb keeps the media wandb saved beside the run as files, not following links", async () => {
  await using dir = await tempDir();
  await using vault = await tempVault();
  const run = join(dir.path, "wandb", "offline-run-20261207_012032-ptmezw5t");
  const images = join(run, "files", "media", "images");
  await Deno.mkdir(images, { recursive: true });
  await Deno.copyFile(RUN_FILE, join(run, "run-ptmezw5t.wandb"));
  // Where wandb.Image(...) saves an image of key "sample" at step 3.
  const png = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3]);
  await Deno.writeFile(join(images, "sample_3_0a1b2c.png"), png);
  await Deno.writeTextFile(join(dir.path, "secret.txt"), "not media");
  await Deno.symlink(
    join(dir.path, "secret.txt"),
    join(images, "link_9_ff.png"),
  );
  const r = await importCli([
    "wandb",
    join(dir.path, "wandb"),
    "--vault",
    vault.path,
  ]);
  assertEquals(r.code, 0, r.stderr);
  const spec = join(vault.specimens, "wandb_wb_run_1_ptmezw5t");
  const m = await readManifest(spec);
  const art = m.artifacts.media_images_sample_3_0a1b2c;
  assert(art, `artifacts: ${Object.keys(m.artifacts)}`);
  assertEquals(art.path, "strata/files/media_images_sample_3_0a1b2c.png");
  assertEquals(art.media_type, "image/png");
  assertEquals(
    await Deno.readFile(
      join(spec, "strata", "files", "media_images_sample_3_0a1b2c.png"),
    ),
    png,
  );
  assertEquals(Object.keys(m.artifacts).some((k) => k.includes("link")), false);
});

Deno.test("importWandb({ skipCorrupt }) keeps every record before a damaged chunk and names the byte", async () => {
  const bytes = await Deno.readFile(RUN_FILE);
  const ends: { start: number; end: number; kind: string }[] = [];
  readWandbLog(bytes, RUN_FILE, (rec, offset) => {
    ends.push({
      start: offset,
      end: offset + 7 + rec.length,
      kind: decodeRecord(rec).kind,
    });
  });
  await using dir = await tempDir();
  for (const at of [3000, 9000, 14000]) {
    const damaged = bytes.slice();
    damaged[at] ^= 0x40;
    const file = join(dir.path, `run-d${at}.wandb`);
    await Deno.writeFile(file, damaged);
    await assertRejects(() => importWandb(file), Error, "--skip-corrupt");
    const [run] = await importWandb(file, { skipCorrupt: true });
    const hit = ends.find((e) => e.start <= at && at < e.end)!;
    const expected = ends.filter((e) =>
      e.kind === "history" && e.end <= hit.start
    ).length;
    assertEquals(run.tables.find((t) => t.name === "history")?.rows, expected);
    assert(
      run.warnings.some((w) => w.includes(`corrupt at byte ${hit.start}`)),
      run.warnings.join("\n"),
    );
    assertEquals(run.sourceInfo.complete, false);
  }
});

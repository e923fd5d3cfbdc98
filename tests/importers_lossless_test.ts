/**
 * Nothing the tools wrote is lost or changed on import (issue 25, silent
 * losses), each on the real tool's file in tests/testdata/interop/trackers2/
 * (generators/ holds the scripts that wrote them: their values are the
 * truth): integers past 2^53 exact, every row of a repeated step kept in file
 * order, Python's NaN/Infinity JSON read, CSV string cells as written.
 */
import { join } from "../lib/_deps.ts";
import { importRuns } from "../lib/importers/detect.ts";
import { columnToArray } from "../lib/importers/model.ts";
import type { ImportedRun } from "../lib/importers/model.ts";
import { importTrainer } from "../lib/importers/hf_trainer.ts";
import { importTensorBoard } from "../lib/importers/tensorboard.ts";
import { importLightning } from "../lib/importers/lightning.ts";
import { planImport } from "../lib/import/plan.ts";
import { writeImports } from "../lib/import/to_specimen.ts";
import { decodeMetricsFile } from "../lib/formats/parquet/parquet.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  INTEROP,
  runTask,
  tempDir,
  tempVault,
  webSha256,
} from "./utils.ts";

const T2 = join(INTEROP, "trackers2");

function col(run: ImportedRun, name: string, table = 0) {
  const c = run.tables[table].columns.get(name);
  assert(c, `no column ${name}: ${[...run.tables[table].columns.keys()]}`);
  return { kind: c.kind, values: columnToArray(c) };
}

Deno.test("a Keras CSVLogger(append=True) log keeps all 6 rows in file order, epochs restarting", async () => {
  const [run] = await importRuns(
    "csv",
    join(T2, "tables", "keras_log_append.csv"),
    { stepColumn: "epoch" },
  );
  const t = run.tables[0];
  assertEquals(t.rows, 6);
  assertEquals([...t.step], [0, 1, 2, 0, 1, 2]);
  assertEquals(col(run, "loss").values, [
    0.6154420971870422,
    0.6115500330924988,
    0.6073707938194275,
    0.6032395958900452,
    0.5992026925086975,
    0.5951941013336182,
  ]);
});

Deno.test("pandas to_csv: integers past 2^53 exact as INT64, a string column's cells as written", async () => {
  const [run] = await importRuns("csv", join(T2, "tables", "pandas_lossy.csv"));
  const tokens = col(run, "tokens");
  assertEquals(tokens.kind, "int64");
  assertEquals(
    tokens.values,
    Array.from({ length: 10 }, (_, i) => 2n ** 53n + BigInt(i)),
  );
  const ns = col(run, "ns");
  assertEquals(ns.kind, "int64");
  assertEquals(ns.values[9], 1796606433101022009n);
  assertEquals(new Set(ns.values).size, 10);
  assertEquals(col(run, "name").values, [
    "a,b",
    'q"uote',
    "1e5",
    "nan",
    null,
    " x",
    "ü",
    "-",
    "007",
    "True",
  ]);
  assertEquals(col(run, "flag").kind, "string");
  assertEquals(col(run, "flag").values[1], "True");
  const inf = col(run, "inf_col").values;
  assertEquals(inf.slice(0, 3), [Infinity, -Infinity, 0.5]);
  assertEquals(run.warnings, []);
});

Deno.test("import jsonl reads Python's bare NaN and ±Infinity as numbers", async () => {
  const [run] = await importRuns("jsonl", join(T2, "tables", "log.jsonl"));
  const t = run.tables[0];
  assertEquals(t.rows, 10);
  const nan = col(run, "nan_col").values as number[];
  assert(Number.isNaN(nan[0]) && Number.isNaN(nan[3]));
  assertEquals(nan[1], 0.1);
  assertEquals(col(run, "inf_col").values.slice(0, 2), [Infinity, -Infinity]);
  assertEquals(col(run, "cfg").values[2], '{"k":2}');
});

Deno.test("import jsonl keeps json.dumps integers past 2^53 exact", async () => {
  const [run] = await importRuns(
    "jsonl",
    join(T2, "tables", "log_nonan.jsonl"),
  );
  const tokens = col(run, "tokens");
  assertEquals(tokens.kind, "int64");
  assertEquals(tokens.values[1], 2n ** 53n + 1n);
});

Deno.test("a diverged HF Trainer run (NaN in trainer_state.json) imports every logged point, NaN included", async () => {
  const runs = await importTrainer(join(T2, "hf", "tiny-gpt2-nan"));
  const run =
    runs.find((r) =>
      r.sourceRunId === "." || !/checkpoint/.test(r.sourceRunId)
    ) ?? runs[0];
  const train = run.tables.find((t) => t.name === "train");
  assert(train, `tables: ${run.tables.map((t) => t.name)}`);
  assertEquals([...train.step], [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
  const loss = columnToArray(train.columns.get("loss")!) as number[];
  assert(loss.every((v) => Number.isNaN(v)));
  const lr = columnToArray(train.columns.get("learning_rate")!);
  assertEquals(lr[0], 950000000.0);
  const evals = run.tables.find((t) => t.name === "eval");
  assert(evals);
  assertEquals([...evals.step], [5, 10, 15, 20]);
});

Deno.test("TensorBoard: a tag logged twice at one step and a step going back keep all 4 points in file order", async () => {
  const [run] = await importTensorBoard(join(T2, "tensorboard", "torch_edge"));
  const t = run.tables[0];
  const dup = columnToArray(t.columns.get("dup/v")!);
  const rows = [...t.step.keys()].filter((i) => dup[i] !== null);
  assertEquals(rows.map((i) => t.step[i]), [20, 20, 21, 20]);
  assertEquals(rows.map((i) => dup[i]), [1, 2, 3, 4]);
  const special = columnToArray(t.columns.get("special/v")!) as number[];
  assert(Object.is(special[13], -0), "-0.0 kept");
  assertEquals(run.warnings, []);
});

Deno.test("TensorBoard: a restart whose second event file overlaps the first keeps all 100 points", async () => {
  const [run] = await importTensorBoard(
    join(T2, "tensorboard", "torch_restart"),
  );
  const t = run.tables[0];
  assertEquals(t.rows, 100);
  const loss = columnToArray(t.columns.get("loss")!);
  const expected = [
    ...Array.from({ length: 50 }, (_, s) => [s, 100 + s]),
    ...Array.from({ length: 50 }, (_, k) => [30 + k, 230 + k]),
  ];
  assertEquals([...t.step].map((s, i) => [s, loss[i]]), expected);
});

Deno.test("Lightning hparams.yaml: numpy scalars become their numbers, with no warning", async () => {
  const runs = await importLightning(join(T2, "lightning", "lightning_logs"));
  assert(runs.length >= 2);
  for (const run of runs) {
    assertEquals(run.params.np_lr, Math.fround(0.1));
    assertEquals(run.params.np_steps, 5);
    assertEquals(run.params.ratio, 1 / 3);
    assertEquals(run.params.layers, [8, 16, 32]);
    assertEquals(run.params.optim_cfg, {
      betas: [0.9, 0.99],
      name: "sgd",
      nested: { eps: 1e-8, none: null },
    });
    assertEquals(run.params.tag, null);
    assertEquals(run.warnings, []);
  }
});

Deno.test("Lightning hparams.yaml: a Python object that cannot be decoded is left out with one warning naming its key; a tuple is a list", async () => {
  await using dir = await tempDir();
  const v = join(dir.path, "lightning_logs", "version_0");
  await Deno.mkdir(v, { recursive: true });
  const src = join(T2, "lightning", "lightning_logs", "version_1");
  await Deno.copyFile(join(src, "metrics.csv"), join(v, "metrics.csv"));
  // PyYAML's output for a tuple and an arbitrary object, appended to the
  // real file.
  await Deno.writeTextFile(
    join(v, "hparams.yaml"),
    (await Deno.readTextFile(join(src, "hparams.yaml"))) +
      "shape: !!python/tuple\n- 2\n- 3\nmodel_cls: !!python/object:mypkg.Net\n  width: 4\nsched:\n  fn: !!python/name:torch.optim.lr_scheduler.StepLR ''\n",
  );
  const [run] = await importLightning(join(dir.path, "lightning_logs"));
  assertEquals(run.params.shape, [2, 3]);
  assertEquals(run.params.np_steps, 5);
  assert(!("model_cls" in run.params));
  assertEquals(run.params.sched, {});
  assertEquals(run.warnings.length, 2);
  assert(run.warnings[0].includes('"model_cls"'), run.warnings[0]);
  assert(run.warnings[1].includes('"sched.fn"'), run.warnings[1]);
});

Deno.test("HF Trainer hyperparameters come from the TensorBoard args text, or the top of trainer_state.json (never the pickle)", async () => {
  const runs = await importTrainer(join(T2, "hf", "tiny-gpt2-nan"));
  const main = runs.find((r) => !/checkpoint/.test(r.sourceRunId))!;
  const args = main.params.training_args as Record<string, unknown>;
  assertEquals(args.learning_rate, 1e9);
  assertEquals(args.max_steps, 20);
  assertEquals(args.per_device_train_batch_size, 4);
  assertEquals(args.logging_nan_inf_filter, false);
  assert(
    main.sourceFiles.some((f) => f.path.startsWith("runs/")),
    "the event file read is recorded",
  );
  const ckpt = runs.find((r) => /checkpoint-10/.test(r.sourceRunId))!;
  assertEquals(ckpt.params.training_args, {
    train_batch_size: 4,
    num_train_epochs: 2,
    max_steps: 20,
    logging_steps: 2,
    eval_steps: 5,
    save_steps: 10,
  });
  assertMatch(
    String(ckpt.sourceInfo.training_args_from),
    /trainer_state\.json/,
  );
});

Deno.test("TensorBoard steps past 2^53 (time_ns() steps, 2^62) stay exact through import into Parquet", async () => {
  const dir = join(T2, "tensorboard", "tbx_bigstep");
  const [run] = await importTensorBoard(dir);
  const t = run.tables[0];
  const ns = 1796606433101022000n;
  assertEquals(t.exactStep, [
    0n,
    2n ** 31n + 5n,
    2n ** 53n - 1n,
    2n ** 53n + 1n,
    2n ** 53n + 3n,
    2n ** 62n + 7n,
    ...Array.from({ length: 10 }, (_, i) => ns + BigInt(i)),
  ]);
  assertEquals(
    columnToArray(t.columns.get("ns/v")!).slice(6),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  await using vault = await tempDir();
  const specimensDir = join(vault.path, "specimens");
  const [id] = await writeImports(
    await planImport([run], { specimensDir, id: "big" }),
    { specimensDir },
  );
  const spec = join(specimensDir, id);
  const m = await decodeMetricsFile(
    join(spec, "strata", "metrics.parquet"),
    spec,
  );
  assertEquals(m.columns.step[5], 2n ** 62n + 7n);
  assertEquals(
    new Set(Array.from(m.columns.step as ArrayLike<unknown>).slice(6)).size,
    10,
  );
});

Deno.test("TensorBoard images are kept as PNG files under strata/files/, and a PR curve is named as not imported", async () => {
  await using vault = await tempVault();
  const r = await runTask("import", [
    "tensorboard",
    join(T2, "tensorboard", "tbx_media"),
    "--vault",
    vault.path,
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(
    r.stderr,
    /tag "pr" \(plugin pr_curves\): 3 value\(s\) not imported/,
  );
  const spec = join(vault.specimens, "tb_tbx_media");
  const m = await readManifest(spec);
  const expected: [number, string][] = [
    [0, "9ef9a65417e208c1"],
    [10, "b38c5b9baf51abb6"],
    [20, "280a65471aba0486"],
  ];
  for (const [step, sha] of expected) {
    const art = m.artifacts[`images_img_step_${step}`];
    assert(art, `artifacts: ${Object.keys(m.artifacts)}`);
    assertEquals(art.path, `strata/files/images_img_step_${step}.png`);
    assertEquals(art.media_type, "image/png");
    const bytes = await Deno.readFile(join(spec, art.path));
    assertEquals(bytes.length, 120);
    assert((await webSha256(bytes)).startsWith(sha));
  }
  const from = (m.provenance as Record<string, unknown>).imported_from as {
    warnings: string[];
  };
  assert(from.warnings.some((w) => w.includes("pr_curves")));
});

Deno.test("a whole-number column is INT64 through import, as through adoption; fractions, NaN and -0.0 stay DOUBLE", async () => {
  await using vault = await tempVault();
  const keras = await runTask("import", [
    "csv",
    join(T2, "tables", "keras_log_append.csv"),
    "--step-column",
    "epoch",
    "--vault",
    vault.path,
  ]);
  assertEquals(keras.code, 0, keras.stderr);
  const lightning = await runTask("import", [
    "lightning",
    join(T2, "lightning", "lightning_logs"),
    "--vault",
    vault.path,
  ]);
  assertEquals(lightning.code, 0, lightning.stderr);
  const edge = await runTask("import", [
    "tensorboard",
    join(T2, "tensorboard", "torch_edge"),
    "--vault",
    vault.path,
  ]);
  assertEquals(edge.code, 0, edge.stderr);
  const types = async (id: string, artifact = "metrics") => {
    const dir = join(vault.specimens, id);
    const m = await decodeMetricsFile(
      join(dir, "strata", `${artifact}.parquet`),
      dir,
    );
    return Object.fromEntries(m.schema.map((c) => [c.name, c.type]));
  };
  const k = await types("csv_keras_log_append");
  assertEquals(k.step, "INT64");
  assertEquals(k.loss, "DOUBLE");
  const l = await types("lightning_version_1");
  assertEquals(l.epoch, "INT64");
  assertEquals(l.train_loss, "DOUBLE");
  const tb = await types("tb_torch_edge");
  assertEquals(tb["special/v"], "DOUBLE"); // NaN, -0.0, 1e-45
  assertEquals(tb["wt/val"], "DOUBLE"); // 0.5, 1.5, …
  assertEquals(tb["dup/v"], "INT64"); // 1.0, 2.0, 3.0, 4.0: whole numbers
});

/**
 * The importers against files the tools wrote themselves
 * (`tests/testdata/interop/trackers/`): every fact in its EXPECTED.json is
 * asserted, walked generically so that a fact added there is checked too.
 * MLflow has no fixture there (it could not be installed): its test builds a
 * file store by MLflow's documented layout instead.
 */
import { join } from "../lib/_deps.ts";
import {
  columnPoints,
  denseHistogram,
  importLightning,
  importMlflow,
  importRuns,
  importTensorBoard,
  importTrainer,
} from "../lib/importers/mod.ts";
import type { ImportedRun } from "../lib/importers/mod.ts";
import { assert, assertEquals, INTEROP, tempDir, webSha256 } from "./utils.ts";
import { writeMlflowStore } from "./_mlflow_store.ts";

const TRACKERS = join(INTEROP, "trackers");
// deno-lint-ignore no-explicit-any
const EXPECTED: any = JSON.parse(
  await Deno.readTextFile(join(TRACKERS, "EXPECTED.json")),
);

interface Stats {
  count: number;
  first: { step: number; value: number };
  last: { step: number; value: number };
  min: number;
  max: number;
}

/** Points of `column` over every table of `run` that has it, by step. */
function points(run: ImportedRun, column: string, tables?: string[]) {
  const all: { step: number; value: number }[] = [];
  for (const t of run.tables) {
    if (tables && !tables.includes(t.name)) continue;
    if (!t.columns.has(column)) continue;
    const p = columnPoints(t, column);
    p.steps.forEach((s, i) => all.push({ step: s, value: p.values[i] }));
  }
  return all.sort((a, b) => a.step - b.step);
}

function assertStats(
  label: string,
  pts: { step: number; value: number }[],
  want: Stats,
) {
  const values = pts.map((p) => p.value);
  assertEquals(
    {
      count: pts.length,
      first: pts[0],
      last: pts[pts.length - 1],
      min: Math.min(...values),
      max: Math.max(...values),
    },
    want,
    label,
  );
}

Deno.test("importTensorBoard() reproduces every fact of EXPECTED.json for each run folder", async (t) => {
  const tb = EXPECTED.tensorboard;
  const runs = await importTensorBoard(join(TRACKERS, "tensorboard"));
  assertEquals(
    runs.map((r) => r.sourceRunId).sort(),
    Object.keys(tb.logical_runs).sort(),
  );
  for (
    const [logical, folders] of Object.entries(
      tb.logical_runs as Record<string, string[]>,
    )
  ) {
    const run = runs.find((r) => r.sourceRunId === logical)!;
    assertEquals(run.kind, "tensorboard");
    for (const folder of folders) {
      await t.step(folder, async () => {
        const want = tb.runs[folder];
        const sub = folder === logical ? "" : folder.slice(logical.length + 1);
        // add_hparams' folder is named after the time; its table is hparams
        const table = sub === ""
          ? "scalars"
          : /^\d+\.\d+$/.test(sub) && want.hparams
          ? "hparams"
          : sub;
        // event files, with their sizes
        for (const f of want.event_files) {
          const src = run.sourceFiles.find((s) =>
            s.path === (sub ? `${sub}/${f.name}` : f.name)
          );
          assert(src, `${folder}: ${f.name} recorded as a source file`);
          assertEquals(src.bytes, f.bytes);
          const onDisk = await Deno.readFile(
            join(TRACKERS, "tensorboard", folder, f.name),
          );
          assertEquals(src.sha256, await webSha256(onDisk));
        }
        // scalars: a column per tag in the sub-run's table
        const tbl = run.tables.find((x) => x.name === table)!;
        assertEquals(
          [...tbl.columns.keys()].filter((k) => k !== "wall_time").sort(),
          Object.keys(want.scalars).sort(),
        );
        for (const [tag, stats] of Object.entries(want.scalars)) {
          assertStats(
            `${folder} ${tag}`,
            points(run, tag, [table]),
            stats as Stats,
          );
        }
        // wall time is a column, every row has one
        const wall = tbl.columns.get("wall_time")!;
        assert(wall.kind === "number" && wall.present === null);
        assert(wall.values.every((w) => w > 1.7e9));
        // histograms
        const hists = run.histograms.filter((h) => h.table === table);
        assertEquals(
          hists.map((h) => h.tag).sort(),
          Object.keys(want.histograms ?? {}).sort(),
        );
        for (const [tag, w] of Object.entries(want.histograms ?? {})) {
          // deno-lint-ignore no-explicit-any
          const wh = w as any;
          const h = hists.find((x) => x.tag === tag)!;
          assertEquals(h.steps.length, wh.count);
          assertEquals([...h.steps], wh.steps);
          assertEquals(
            { num: h.num[0], min: h.min[0], max: h.max[0], sum: h.sum[0] },
            wh.first,
          );
          const dense = denseHistogram(h);
          let total = 0;
          for (let i = 0; i < dense.edges.length; i++) total += dense.counts[i];
          assertEquals(
            total,
            wh.first.num,
            `${tag}: dense row 0 keeps every count`,
          );
        }
        // texts
        const texts = run.texts.filter((x) => x.table === table);
        assertEquals(
          texts.map((x) => x.tag).sort(),
          Object.keys(want.text ?? {}).sort(),
        );
        for (const [tag, entries] of Object.entries(want.text ?? {})) {
          const got = texts.find((x) => x.tag === tag)!.entries.map((e) => ({
            step: e.step,
            text: e.text,
          }));
          assertEquals(got, entries);
        }
        // hparams: the params, the metric tags, the plugin's summary tags
        if (want.hparams) {
          assertEquals(run.params, want.hparams.values);
          assertEquals(
            // deno-lint-ignore no-explicit-any
            [...(run.sourceInfo.hparam_metrics as any[])].sort(),
            want.hparams.metric_tags,
          );
          // deno-lint-ignore no-explicit-any
          const plugins = (run.sourceInfo.subruns as any)[sub].plugins;
          assertEquals(
            Object.keys(plugins).filter((k) => plugins[k] === "hparams").sort(),
            want.hparams.summary_tags,
          );
        }
      });
    }
    if (!tb.runs[logical].hparams && folders.length === 1) {
      assertEquals(run.params, {});
    }
    assert(run.startTime && run.endTime && run.startTime <= run.endTime);
  }
});

Deno.test("importTensorBoard() reports the truncated last record and keeps every record before it", async () => {
  const tr = EXPECTED.tensorboard.truncated;
  const [run] = await importTensorBoard(
    join(TRACKERS, "tensorboard", "run_truncated"),
  );
  const [source] = await importTensorBoard(
    join(TRACKERS, "tensorboard", tr.copied_from.split("/")[0]),
  );
  const file = run.sourceFiles[0];
  assertEquals(file.path, tr.path.split("/").pop());
  assertEquals(file.bytes, tr.bytes);
  assertEquals(
    source.sourceFiles.find((f) => f.path === tr.copied_from.split("/").pop())!
      .bytes,
    tr.source_bytes,
  );
  assertEquals(tr.source_bytes - tr.bytes, tr.bytes_cut);
  assertEquals(run.warnings.length, 1);
  assert(/last record .* is incomplete/.test(run.warnings[0]), run.warnings[0]);
  assert(run.warnings[0].includes(file.path));
  const scalarPoints = (r: ImportedRun) => {
    const t = r.tables.find((x) => x.name === "scalars")!;
    let n = 0;
    for (const k of t.columns.keys()) {
      if (k !== "wall_time") n += columnPoints(t, k).steps.length;
    }
    return n;
  };
  assertEquals(scalarPoints(run), tr.complete_scalar_records_before_cut);
  assertEquals(scalarPoints(source), tr.source_scalar_records);
  const records = (r: ImportedRun) =>
    (r.sourceInfo.subruns as Record<string, Record<string, unknown>>)[""]
      .event_records;
  assertEquals(records(run), tr.complete_event_records_before_cut);
  assertEquals(records(source), tr.source_event_records);
});

Deno.test("importLightning() reproduces EXPECTED.json and splits per-step and per-epoch rows", async () => {
  const exp = EXPECTED.lightning_csv.runs;
  const runs = await importLightning(join(TRACKERS, "lightning_csv"));
  assertEquals(runs.map((r) => r.sourceRunId), Object.keys(exp));
  for (const [id, want] of Object.entries(exp)) {
    // deno-lint-ignore no-explicit-any
    const w = want as any;
    const run = runs.find((r) => r.sourceRunId === id)!;
    assertEquals(join(id, "metrics.csv"), w.metrics_csv);
    assert(run.sourceFiles.some((f) => f.path === "metrics.csv"));
    assert(run.sourceFiles.some((f) => f.path === "hparams.yaml"));
    assertEquals(run.sourceInfo.rows, w.rows);
    assertEquals(run.sourceInfo.columns, w.columns);
    for (const [name, stats] of Object.entries(w.metrics)) {
      assertStats(`${id} ${name}`, points(run, name), stats as Stats);
    }
    assertEquals(run.params, w.hparams);
    // train_loss per step, val_* per epoch: two tables, no shared metric column
    assertEquals(run.tables.map((t) => t.name), ["train", "val"]);
    const [train, val] = run.tables;
    assertEquals([...train.columns.keys()], ["epoch", "train_loss"]);
    assertEquals([...val.columns.keys()], ["epoch", "val_acc", "val_loss"]);
    assertEquals([...val.step], [9, 19, 29]);
    assertEquals(train.rows, 30);
  }
});

Deno.test("importTrainer() reproduces EXPECTED.json for the run folder and its checkpoint", async () => {
  const exp = EXPECTED.hf_trainer.runs;
  const runs = await importTrainer(join(TRACKERS, "hf_trainer"));
  assertEquals(runs.map((r) => r.sourceRunId).sort(), Object.keys(exp).sort());
  for (const [id, want] of Object.entries(exp)) {
    // deno-lint-ignore no-explicit-any
    const w = want as any;
    const run = runs.find((r) => r.sourceRunId === id)!;
    assertEquals(`${id}/trainer_state.json`, w.trainer_state);
    assert(run.sourceFiles.some((f) => f.path === "trainer_state.json"));
    // deno-lint-ignore no-explicit-any
    const state = run.sourceInfo.trainer_state as any;
    for (const [k, v] of Object.entries(w.state)) assertEquals(state[k], v, k);
    assertEquals(
      run.tables.reduce((n, t) => n + t.rows, 0),
      w.log_history_entries,
    );
    for (const [name, stats] of Object.entries(w.metrics)) {
      assertStats(`${id} ${name}`, points(run, name), stats as Stats);
    }
    // deno-lint-ignore no-explicit-any
    const params = run.params as any;
    for (const [k, v] of Object.entries(w.model_config)) {
      // make_expected.py read these with dict.get(): null means absent
      assertEquals(params.model_config[k] ?? null, v, `model_config.${k}`);
    }
    for (const [k, v] of Object.entries(w.training_args)) {
      assertEquals(params.training_args[k], v, `training_args.${k}`);
    }
    for (
      const name of [
        "train_results.json",
        "eval_results.json",
        "all_results.json",
      ]
    ) {
      if (w[name]) assertEquals(run.sourceInfo[name], w[name], name);
      else assertEquals(run.sourceInfo[name], undefined, name);
    }
    assertEquals(run.toolVersion, EXPECTED.tools.transformers);
    assertEquals(run.name, w.training_args.run_name);
    // rows with loss → train; rows with eval_* → eval
    const train = run.tables.find((t) => t.name === "train")!;
    const evals = run.tables.find((t) => t.name === "eval")!;
    assertEquals(train.rows, w.metrics.loss.count);
    assertEquals(evals.rows, w.metrics.eval_loss.count);
    assert(!train.columns.has("eval_loss") && !evals.columns.has("loss"));
  }
});

Deno.test("the MLflow fixture set says MLflow was not produced (the test below builds a store instead)", () => {
  assertEquals(EXPECTED.mlflow.produced, false);
  assertEquals(EXPECTED.tools.mlflow, null);
});

Deno.test("importMlflow() reads a file store laid out as MLflow's FileStore writes one", async () => {
  await using tmp = await tempDir();
  const { cfg, ids } = await writeMlflowStore(tmp.path);
  const runs = await importRuns(undefined, join(tmp.path, "mlruns"));
  assertEquals(runs.map((r) => r.sourceRunId), ids);
  // deno-lint-ignore no-explicit-any
  for (const [i, rc] of (cfg.runs as any[]).entries()) {
    const run = runs[i];
    assertEquals(run.kind, "mlflow");
    assertEquals(run.name, rc.name);
    assertEquals(run.tags["mlflow.runName"], rc.name);
    assertEquals(run.tags["mlflow.experimentName"], cfg.experiment);
    for (const [k, v] of Object.entries(rc.tags)) assertEquals(run.tags[k], v);
    assertEquals(
      run.params,
      Object.fromEntries(
        Object.entries(rc.params).map(([k, v]) => [k, String(v)]),
      ),
    );
    assertEquals(run.startTime!.getTime(), 1795779100000 + i * 1000);
    assertEquals(run.endTime!.getTime(), 1795779100000 + i * 1000 + 900);
    assertEquals(run.sourceInfo.status, "FINISHED");
    const t = run.tables[0];
    assertEquals(t.rows, rc.steps);
    const loss = columnPoints(t, cfg.metrics[0]);
    assertEquals(loss.steps.length, rc.steps);
    assertEquals(loss.values[1], 1 / (1 + rc.params.lr * 10));
    const acc = columnPoints(t, cfg.metrics[1]);
    assertEquals(
      acc.steps,
      Array.from({ length: rc.steps / 5 }, (_, k) => k * 5),
    );
    assertEquals(columnPoints(t, "sys/gpu").steps, [0]);
    assertEquals(
      columnPoints(t, "timestamp_ms").values[3],
      1795779100000 + i * 1000 + 3,
    );
    assert(run.sourceFiles.some((f) => f.path === "metrics/sys/gpu"));
    assert(run.sourceFiles.some((f) => f.path === "meta.yaml"));
  }
  // one experiment folder or one run folder work as well
  const one = await importMlflow(join(tmp.path, "mlruns", "123456789", ids[1]));
  assertEquals(one.map((r) => r.sourceRunId), [ids[1]]);
  assertEquals(one[0].tags["mlflow.experimentName"], cfg.experiment);
});

Deno.test("importRuns() detects each fixture's kind from its folder", async () => {
  for (
    const [dir, kind] of [
      ["tensorboard", "tensorboard"],
      ["lightning_csv", "lightning"],
      ["hf_trainer", "hf-trainer"],
    ]
  ) {
    const runs = await importRuns(undefined, join(TRACKERS, dir));
    assert(runs.length > 0 && runs.every((r) => r.kind === kind), dir);
  }
});

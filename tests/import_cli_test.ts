/**
 * `deno task import` as a real subprocess (the permission flags of
 * deno.json) on copies of the files the tools wrote themselves
 * (`tests/testdata/interop/trackers/`): each kind becomes sealed specimens that
 * verify, index and query next to a native specimen, with EXPECTED.json's
 * facts read back through SQL; and every bad input of issue 15 fails with
 * the file named, its exit code, and nothing created.
 */
import { join } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { sealSpecimen } from "../lib/specimen/seal.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { importRuns } from "../lib/importers/detect.ts";
import { planImport } from "../lib/import/plan.ts";
import { writeImports } from "../lib/import/to_specimen.ts";
import { writeMlflowStore } from "./_mlflow_store.ts";
import { fileVersionEvent, frame, scalarEvent } from "./_tfevents.ts";
import { copyTree, importCli } from "./_import.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  INTEROP,
  runTask,
  tempDir,
  tempVault,
} from "./utils.ts";

const TRACKERS = join(INTEROP, "trackers");
// deno-lint-ignore no-explicit-any
const EXPECTED: any = JSON.parse(
  await Deno.readTextFile(join(TRACKERS, "EXPECTED.json")),
);

/** Every path under `dir`, hidden ones too, sorted. */
async function listing(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const rel = prefix + e.name;
    out.push(rel);
    if (e.isDirectory) out.push(...await listing(join(dir, e.name), rel + "/"));
  }
  return out.sort();
}

/** A sealed native specimen `native_run` with a `loss` curve. */
async function nativeSpecimen(vault: string): Promise<void> {
  const { dir } = await createSpecimen({
    vault,
    id: "native_run",
    domain: "training",
    method: "fine_tuning",
  });
  const storage = await SpecimenStorage.open(dir);
  await storage.writeMetrics({ step: [0, 1, 2], loss: [1.5, 0.9, 0.4] });
  await sealSpecimen(dir);
}

interface Stats {
  count: number;
  first: { step: number; value: number };
  last: { step: number; value: number };
  min: number;
  max: number;
}

/** A column's facts over every table of a specimen that has it, by SQL. */
async function statsOf(
  q: VaultQuery,
  id: string,
  column: string,
  relations?: string[],
): Promise<Stats> {
  const rels = relations ?? (await q.search(
    `SELECT relation FROM metric_tables WHERE specimen_id = ? AND list_contains(list_transform(columns, c -> c.name), ?)`,
    [id, column],
  )).map((r) => String(r.relation));
  assert(rels.length > 0, `${id}: no table has ${column}`);
  const col = `"${column.replaceAll('"', '""')}"`;
  const union = rels.map((r) => `SELECT step, ${col} AS v FROM "${r}"`).join(
    " UNION ALL ",
  );
  const [row] = await q.search(
    `SELECT count(v) AS n, min(v) AS lo, max(v) AS hi,
       min(step) FILTER (WHERE v IS NOT NULL) AS s0,
       max(step) FILTER (WHERE v IS NOT NULL) AS s1,
       arg_min(v, step) FILTER (WHERE v IS NOT NULL) AS v0,
       arg_max(v, step) FILTER (WHERE v IS NOT NULL) AS v1
     FROM (${union})`,
  );
  return {
    count: Number(row.n),
    first: { step: Number(row.s0), value: Number(row.v0) },
    last: { step: Number(row.s1), value: Number(row.v1) },
    min: Number(row.lo),
    max: Number(row.hi),
  };
}

async function paramsOf(q: VaultQuery, id: string) {
  const [row] = await q.search(
    `SELECT json_extract(manifest, '$.params')::VARCHAR AS p FROM catalog WHERE specimen_id = ?`,
    [id],
  );
  return JSON.parse(String(row.p));
}

async function importedFrom(vault: string, id: string) {
  const m = await readManifest(join(vault, "specimens", id));
  // deno-lint-ignore no-explicit-any
  return (m.provenance as any).imported_from;
}

Deno.test("import task --help names every kind, the options and the exit codes", async () => {
  const r = await importCli(["--help"]);
  assertEquals(r.code, 0);
  for (
    const word of [
      "tensorboard",
      "lightning",
      "hf-trainer",
      "mlflow",
      "csv, jsonl",
      "--dry-run",
      "--again",
      "Exit codes:",
    ]
  ) assert(r.stdout.includes(word), word);
});

Deno.test("import task: every kind becomes sealed specimens that verify, index and query beside a native one, EXPECTED.json facts intact", async (t) => {
  await using vault = await tempVault();
  await using src = await tempDir();
  await nativeSpecimen(vault.path);
  await copyTree(join(TRACKERS, "tensorboard"), join(src.path, "tb"));
  await copyTree(join(TRACKERS, "lightning_csv"), join(src.path, "pl"));
  await copyTree(join(TRACKERS, "hf_trainer"), join(src.path, "hf"));
  const { cfg, exp } = await writeMlflowStore(join(src.path, "ml"));
  const csv = join(
    src.path,
    "pl",
    "lightning_logs",
    "version_0",
    "metrics.csv",
  );
  const jsonl = join(src.path, "log.jsonl");
  await Deno.writeTextFile(
    jsonl,
    '{"step":0,"loss":2.5}\n{"step":1,"loss":1.25,"acc":0.5}\n',
  );
  const imports: [string, string, string[]][] = [
    ["tensorboard", join(src.path, "tb"), []],
    ["lightning", join(src.path, "pl"), []],
    ["auto", join(src.path, "hf"), ["--tags", "bert,old"]],
    ["mlflow", join(src.path, "ml", "mlruns"), []],
    ["csv", csv, ["--id", "csv_pl"]],
    ["jsonl", jsonl, [
      "--domain",
      "benchmarking",
      "--method",
      "ablation_study",
    ]],
  ];
  for (const [kind, path, extra] of imports) {
    await t.step(`import ${kind}`, async () => {
      const r = await importCli([kind, path, "--vault", vault.path, ...extra]);
      assertEquals(r.code, 0, r.stderr);
      assertMatch(r.stdout, /imported .* → \w+ .*sealed/);
    });
  }
  const ids = (await listing(vault.specimens)).filter((p) => !p.includes("/"));
  const mlIds = cfg.runs.map((rc: { name: string }) =>
    `mlflow_${rc.name.toLowerCase().replace(/[^a-z0-9]+/g, "_")}`
  );
  assertEquals(
    ids,
    [
      "csv_pl",
      "hf_tiny_bert_a",
      "hf_tiny_bert_a_checkpoint_30",
      "jsonl_log",
      "lightning_version_0",
      ...mlIds,
      "native_run",
      "tb_run_a",
      "tb_run_b",
      "tb_run_torch",
      "tb_run_truncated",
    ].sort(),
  );

  await t.step(
    "deno task verify: every specimen sealed and intact",
    async () => {
      const r = await runTask("verify", [
        "--vault",
        vault.path,
        "--require-sealed",
      ]);
      assertEquals(r.code, 0, r.stdout + r.stderr);
      assertMatch(
        r.stdout,
        new RegExp(`${ids.length} specimens: ${ids.length} ok`),
      );
    },
  );
  await t.step(
    "deno task index, then one query puts imported and native side by side",
    async () => {
      const r = await runTask("index", ["--vault", vault.path]);
      assertEquals(r.code, 0, r.stderr);
      assert(!r.stderr.includes("warning"), r.stderr);
      const q = await runTask("query", [
        "--vault",
        vault.path,
        "--format",
        "json",
        `SELECT c.specimen_id, c.provenance->>'$.imported_from.tool' AS tool,
         arg_max(m.loss, m.step) AS final_loss
       FROM metrics m JOIN catalog c USING (specimen_id)
       WHERE m.loss IS NOT NULL GROUP BY ALL ORDER BY 1`,
      ]);
      assertEquals(q.code, 0, q.stderr);
      const rows = JSON.parse(q.stdout);
      const by = Object.fromEntries(
        rows.map((x: { specimen_id: string }) => [x.specimen_id, x]),
      );
      assertEquals(by.native_run.tool, null);
      assertEquals(by.native_run.final_loss, 0.4);
      assertEquals(by.hf_tiny_bert_a.tool, "transformers");
      assertEquals(by.jsonl_log.final_loss, 1.25);
    },
  );

  await using q = await VaultQuery.open({ vault: vault.path });
  await t.step(
    "tensorboard: scalars per sub-run, histograms, text, hparams",
    async () => {
      const tb = EXPECTED.tensorboard;
      for (const [logical, folders] of Object.entries(tb.logical_runs)) {
        const id = `tb_${logical}`;
        const from = await importedFrom(vault.path, id);
        assertEquals(from.tool, "tensorboard");
        assertEquals(from.source_run_id, logical);
        for (const folder of folders as string[]) {
          const want = tb.runs[folder];
          const sub = folder === logical
            ? "scalars"
            : folder.slice(logical.length + 1);
          // add_hparams' folder is named after the time; its table is hparams
          const artifact =
            from.tables[/^\d+\.\d+$/.test(sub) ? "hparams" : sub];
          const rel = artifact === "metrics"
            ? `exp_${id}`
            : `exp_${id}__${artifact}`;
          for (const [tag, stats] of Object.entries(want.scalars)) {
            assertEquals(
              await statsOf(q, id, tag, [rel]),
              stats,
              `${folder} ${tag}`,
            );
          }
          for (const f of want.event_files) {
            const path = folder === logical ? f.name : `${sub}/${f.name}`;
            const rec = from.files.find((x: { path: string }) =>
              x.path === path
            );
            assertEquals(rec?.bytes, f.bytes, path);
            assertMatch(rec.sha256, /^[0-9a-f]{64}$/);
          }
          for (const [tag, h] of Object.entries(want.histograms ?? {})) {
            // deno-lint-ignore no-explicit-any
            const wh = h as any;
            const rows = await q.search(
              `SELECT h.step, h.num, h.min, h.max, h.sum, t.shape FROM "exp_${id}__histograms" h
             JOIN tensors t ON t.specimen_id = ? AND t.name = h.tensor
             WHERE h.tag = ? ORDER BY h.step`,
              [id, tag],
            );
            assertEquals(rows.map((r) => Number(r.step)), wh.steps);
            const r0 = rows[0];
            assertEquals(
              { num: r0.num, min: r0.min, max: r0.max, sum: r0.sum },
              wh.first,
            );
            assertEquals((r0.shape as number[])[0], wh.count);
          }
          for (const [tag, entries] of Object.entries(want.text ?? {})) {
            const rows = await q.search(
              `SELECT step, list(text ORDER BY item) AS text FROM "exp_${id}__texts" WHERE tag = ? GROUP BY step ORDER BY step`,
              [tag],
            );
            assertEquals(
              rows.map((r) => ({ step: Number(r.step), text: r.text })),
              entries,
            );
          }
          if (want.hparams) {
            assertEquals(await paramsOf(q, id), want.hparams.values);
          }
        }
      }
    },
  );
  await t.step(
    "lightning: per-step and per-epoch tables, hparams as params",
    async () => {
      for (const [, want] of Object.entries(EXPECTED.lightning_csv.runs)) {
        // deno-lint-ignore no-explicit-any
        const w = want as any;
        for (const [name, stats] of Object.entries(w.metrics)) {
          assertEquals(
            await statsOf(q, "lightning_version_0", name),
            stats,
            name,
          );
        }
        assertEquals(await paramsOf(q, "lightning_version_0"), w.hparams);
      }
      // the same file through csv: one table, the same facts
      const w = EXPECTED.lightning_csv.runs["lightning_logs/version_0"];
      assertEquals(await statsOf(q, "csv_pl", "val_loss"), w.metrics.val_loss);
    },
  );
  await t.step(
    "hf-trainer: train and eval tables, training args and config as params",
    async () => {
      for (const [runId, want] of Object.entries(EXPECTED.hf_trainer.runs)) {
        // deno-lint-ignore no-explicit-any
        const w = want as any;
        const id = `hf_${runId.toLowerCase().replace(/[^a-z0-9]+/g, "_")}`;
        for (const [name, stats] of Object.entries(w.metrics)) {
          assertEquals(await statsOf(q, id, name), stats, `${id} ${name}`);
        }
        const params = await paramsOf(q, id);
        for (const [k, v] of Object.entries(w.training_args)) {
          assertEquals(params.training_args[k], v, k);
        }
        const [row] = await q.search(
          `SELECT tags, dependencies['transformers'] AS v FROM catalog WHERE specimen_id = ?`,
          [id],
        );
        assertEquals(row.tags, ["bert", "old", "imported", "hf-trainer"]);
        assertEquals(row.v, EXPECTED.tools.transformers);
      }
    },
  );
  await t.step(
    "mlflow: run and experiment names as tags, start time as created, run record",
    async () => {
      for (const [i, rc] of cfg.runs.entries()) {
        const id = mlIds[i];
        const [row] = await q.search(
          `SELECT tags, epoch_ms(created) AS created,
           manifest->>'$.runs[0].started' AS started, manifest->>'$.runs[0].ended' AS ended
         FROM catalog WHERE specimen_id = ?`,
          [id],
        );
        assert((row.tags as string[]).includes(rc.name));
        assert((row.tags as string[]).includes(cfg.experiment));
        const start = 1795779100000 + i * 1000;
        assertEquals(Number(row.created), start);
        assertEquals(row.started, new Date(start).toISOString());
        assertEquals(row.ended, new Date(start + 900).toISOString());
        const loss = await statsOf(q, id, cfg.metrics[0]);
        assertEquals(loss.count, rc.steps);
        assertEquals(loss.first, { step: 0, value: 1 });
        const from = await importedFrom(vault.path, id);
        assert(from.source_path.startsWith(exp));
        assert(
          from.files.some((f: { path: string }) => f.path === "meta.yaml"),
        );
      }
    },
  );
  await t.step(
    "jsonl: --domain/--method taken, created from the file's mtime",
    async () => {
      const [row] = await q.search(
        `SELECT domain, method, manifest->>'$.provenance.imported_from.created_from' AS f FROM catalog WHERE specimen_id = 'jsonl_log'`,
      );
      assertEquals([row.domain, row.method, row.f], [
        "benchmarking",
        "ablation_study",
        "file mtime",
      ]);
    },
  );
});

Deno.test("import task --dry-run prints ids, tables with row counts and params, and writes nothing", async () => {
  await using vault = await tempVault();
  await nativeSpecimen(vault.path);
  const before = await listing(vault.path);
  const r = await importCli([
    "lightning",
    join(TRACKERS, "lightning_csv"),
    "--vault",
    vault.path,
    "--dry-run",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /^lightning_version_0 /m);
  assertMatch(r.stdout, /strata\/metrics\.parquet +30 rows/);
  assertMatch(r.stdout, /strata\/val\.parquet +3 rows/);
  assertMatch(r.stdout, /params \{.*"lr":0\.05/);
  assertEquals(await listing(vault.path), before);
});

Deno.test("import task skips a source imported before (exit 0); --again makes a new id", async () => {
  await using vault = await tempVault();
  await using src = await tempDir();
  await copyTree(join(TRACKERS, "lightning_csv"), join(src.path, "a"));
  const args = ["lightning", join(src.path, "a"), "--vault", vault.path];
  assertEquals((await importCli(args)).code, 0);
  // the same files elsewhere are the same source
  await copyTree(join(TRACKERS, "lightning_csv"), join(src.path, "b"));
  const before = await listing(vault.path);
  const again = await importCli([
    "lightning",
    join(src.path, "b"),
    "--vault",
    vault.path,
  ]);
  assertEquals(again.code, 0, again.stderr);
  assertMatch(
    again.stdout,
    /skipped .*already imported as lightning_version_0/,
  );
  assertEquals(await listing(vault.path), before);
  const forced = await importCli([...args, "--again"]);
  assertEquals(forced.code, 0, forced.stderr);
  assertMatch(forced.stdout, /→ lightning_version_0_2 /);
  const from = await importedFrom(vault.path, "lightning_version_0_2");
  assertEquals(
    from.source_digest,
    (await importedFrom(vault.path, "lightning_version_0")).source_digest,
  );
});

/** Writes a bad input under `dir` and returns the path to import. */
type Make = (dir: string) => Promise<string>;

async function tbRun(dir: string, bytes: Uint8Array): Promise<string> {
  const run = join(dir, "run");
  await Deno.mkdir(run, { recursive: true });
  await Deno.writeFile(join(run, "events.out.tfevents.1.bad"), bytes);
  return run;
}

const RUN_A = join(
  TRACKERS,
  "tensorboard",
  "run_a",
  "events.out.tfevents.1795779300.vm",
);

const BAD: [string, string, Make, number, RegExp][] = [
  [
    "a folder with no runs (tensorboard)",
    "tensorboard",
    async (d) => {
      await Deno.writeTextFile(join(d, "notes.txt"), "x");
      return d;
    },
    4,
    /No .*run|no .*event/i,
  ],
  [
    "a folder with no runs (auto)",
    "auto",
    async (d) => {
      await Deno.writeTextFile(join(d, "notes.txt"), "x");
      return d;
    },
    4,
    /No run found/,
  ],
  [
    "a file that is not an event file",
    "tensorboard",
    (d) => tbRun(d, new TextEncoder().encode("hello, not TensorBoard\n")),
    5,
    /events\.out\.tfevents\.1\.bad.*not a TensorBoard event file|not a TensorBoard event file.*events\.out\.tfevents\.1\.bad/,
  ],
  [
    "a CRC mismatch",
    "tensorboard",
    async (d) => {
      const b = await Deno.readFile(RUN_A);
      b[400] ^= 0x40;
      return tbRun(d, b);
    },
    5,
    /events\.out\.tfevents\.1\.bad.*CRC-32C.*--skip-corrupt|CRC-32C.*events\.out\.tfevents\.1\.bad/s,
  ],
  [
    "a protobuf that does not decode",
    "tensorboard",
    (d) =>
      tbRun(
        d,
        frame([
          fileVersionEvent(),
          scalarEvent("loss", 0, 1),
          new Uint8Array(24).fill(0xff),
        ]),
      ),
    5,
    /does not decode as an Event protobuf/,
  ],
  [
    "a CSV with a ragged row (lightning)",
    "lightning",
    async (d) => {
      const v = join(d, "lightning_logs", "version_0");
      await Deno.mkdir(v, { recursive: true });
      await Deno.writeTextFile(
        join(v, "metrics.csv"),
        "epoch,step,train_loss\n0,0,1\n0,1,0.5,9\n",
      );
      return d;
    },
    5,
    /version_0\/metrics\.csv.*ragged row|ragged row.*version_0\/metrics\.csv/,
  ],
  [
    "a CSV with a ragged row (csv)",
    "csv",
    async (d) => {
      await Deno.writeTextFile(join(d, "log.csv"), "step,loss\n0,1\n1\n");
      return join(d, "log.csv");
    },
    5,
    /log\.csv.*ragged row|ragged row.*log\.csv/,
  ],
  [
    "trainer_state.json without log_history",
    "hf-trainer",
    async (d) => {
      await Deno.mkdir(join(d, "out"));
      await Deno.writeTextFile(
        join(d, "out", "trainer_state.json"),
        '{"global_step": 3}',
      );
      return d;
    },
    5,
    /out\/trainer_state\.json.*no "log_history" list/,
  ],
  [
    "an MLflow metric line with 2 fields",
    "mlflow",
    async (d) => {
      const run = join(d, "mlruns", "0", "abc123");
      await Deno.mkdir(join(run, "metrics"), { recursive: true });
      await Deno.writeTextFile(
        join(d, "mlruns", "0", "meta.yaml"),
        "experiment_id: '0'\nname: Default\n",
      );
      await Deno.writeTextFile(
        join(run, "meta.yaml"),
        "run_id: abc123\nexperiment_id: '0'\nstart_time: 1795779100000\nstatus: 3\n",
      );
      await Deno.writeTextFile(
        join(run, "metrics", "loss"),
        "1795779100000 0.9 0\n1795779100000 0.5\n",
      );
      return join(d, "mlruns");
    },
    5,
    /abc123\/metrics\/loss.*line 2.*2 field/,
  ],
];

Deno.test("import task: each bad input fails naming the file, with its exit code, and creates nothing", async (t) => {
  await using vault = await tempVault();
  await nativeSpecimen(vault.path);
  const before = await listing(vault.path);
  for (const [name, kind, make, code, message] of BAD) {
    await t.step(name, async () => {
      await using src = await tempDir();
      const path = await make(src.path);
      const r = await importCli([kind, path, "--vault", vault.path]);
      assertEquals(r.code, code, r.stderr);
      assertMatch(r.stderr, /^error: /);
      assertMatch(r.stderr, message);
      assertEquals(await listing(vault.path), before);
    });
  }
  await t.step(
    "an id that collides with an existing specimen (exit 3)",
    async () => {
      for (
        const args of [
          ["lightning", join(TRACKERS, "lightning_csv"), "--id", "native_run"],
          ["auto", join(TRACKERS, "hf_trainer"), "--prefix", "native_"],
        ]
      ) {
        if (args[3] === "native_") {
          // hf_trainer holds two runs: the second collides, so neither is made
          const { dir } = await createSpecimen({
            vault: vault.path,
            id: "native_tiny_bert_a_checkpoint_30",
            domain: "training",
            method: "fine_tuning",
          });
          before.push(
            ...(await listing(dir)).map((p) =>
              `specimens/native_tiny_bert_a_checkpoint_30/${p}`
            ),
            "specimens/native_tiny_bert_a_checkpoint_30",
          );
          before.sort();
        }
        const r = await importCli([...args, "--vault", vault.path]);
        assertEquals(r.code, 3, r.stderr);
        assertMatch(r.stderr, /a specimen of that id exists/);
        assertMatch(r.stderr, /--again/);
        assertEquals(await listing(vault.path), before);
      }
    },
  );
  await t.step("usage errors (exit 2)", async () => {
    for (
      const [args, message] of [
        [["nosuch", TRACKERS], /Unknown kind "nosuch"/],
        [
          ["tensorboard", join(TRACKERS, "tensorboard"), "--id", "one"],
          /holds 4 runs/,
        ],
        [[
          "lightning",
          join(TRACKERS, "lightning_csv"),
          "--domain",
          "training",
          "--method",
          "sae_analysis",
        ], /sae_analysis/],
        [
          ["lightning", join(TRACKERS, "lightning_csv"), "--prefix", "Bad-"],
          /Invalid --prefix/,
        ],
        [["lightning"], /Expected <kind> <path>/],
      ] as [string[], RegExp][]
    ) {
      const r = await importCli([...args, "--vault", vault.path]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, message);
      assertEquals(await listing(vault.path), before);
    }
  });
  await t.step(
    "a CRC mismatch with --skip-corrupt imports the rest and says so",
    async () => {
      await using src = await tempDir();
      const b = await Deno.readFile(RUN_A);
      b[400] ^= 0x40;
      const r = await importCli([
        "tensorboard",
        await tbRun(src.path, b),
        "--vault",
        vault.path,
        "--skip-corrupt",
        "--id",
        "skipped_crc",
      ]);
      assertEquals(r.code, 0, r.stderr);
      assertMatch(r.stderr, /warning: .*CRC-32C check, skipped/);
      const from = await importedFrom(vault.path, "skipped_crc");
      assertEquals(from.warnings.length, 1);
    },
  );
});

Deno.test("import task imports an event file of 10,000 tags as sealed tables", async () => {
  await using vault = await tempVault();
  await using src = await tempDir();
  const records = [fileVersionEvent()];
  for (let step = 0; step < 3; step++) {
    for (let k = 0; k < 10_000; k++) {
      records.push(scalarEvent(`tag/${k}`, step, k + step));
    }
  }
  const run = await tbRun(src.path, frame(records));
  const r = await importCli([
    "tensorboard",
    run,
    "--vault",
    vault.path,
    "--id",
    "many_tags",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const m = await readManifest(join(vault.specimens, "many_tags"));
  assertEquals(m.status, "sealed");
  const cols = m.artifacts.metrics.columns!;
  assertEquals(cols.length, 10_002); // step, wall_time, 10,000 tags
  assertEquals(cols[0], { name: "step", type: "INT64" });
  const v = await runTask("verify", ["--vault", vault.path, "many_tags"]);
  assertEquals(v.code, 0, v.stdout + v.stderr);
});

Deno.test("writeImports() places nothing when a later specimen fails midway, and leaves no temp folder", async () => {
  await using vault = await tempVault();
  const runs = await importRuns("hf-trainer", join(TRACKERS, "hf_trainer"));
  const plans = await planImport(runs, { specimensDir: vault.specimens });
  assertEquals(plans.length, 2);
  // the second specimen's second table cannot be written
  plans[1].tables[1].artifact = "Not-A-Name";
  await assertRejects(
    () => writeImports(plans, { specimensDir: vault.specimens }),
    InvalidInputError,
    "Not-A-Name",
  );
  assertEquals(await listing(vault.specimens), []);
});

/**
 * The dashboard API behind issue 27's items 6 to 9: a run's outcome on the
 * specimen route, histograms as distributions, catalog result columns and
 * the field-notes search, params views scoped by tag and id prefix (and a
 * colour param), and the server keeping the catalog current by itself.
 *
 * @module
 */
import { join } from "../lib/_deps.ts";
import { createDashboard, type Dashboard } from "../lib/dashboard/server.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { QUANTILES } from "../lib/dashboard/_api_histograms.ts";
import { writeSpecimen } from "./testdata/catalog_fixtures.ts";
import {
  FAILED_ID,
  finalValLoss,
  importTensorBoardRun,
  researcherVault,
  SWEEP,
} from "./testdata/researcher_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  INTEROP,
  runTask,
  tempDir,
  tempVault,
} from "./utils.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

async function get(d: Dashboard, path: string): Promise<[number, Json]> {
  const r = await d.handler(new Request(`http://localhost${path}`));
  return [r.status, await r.json()];
}

async function until<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
): Promise<T> {
  const deadline = Date.now() + 30_000;
  let v = await read();
  while (!ok(v)) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}: ${JSON.stringify(v)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
    v = await read();
  }
  return v;
}

async function researcherDashboard() {
  const v = await tempVault();
  await researcherVault(v.path);
  await indexVault({ vault: v.path });
  const d = await createDashboard({ vault: v.path });
  return {
    v,
    d,
    async [Symbol.asyncDispose]() {
      await d[Symbol.asyncDispose]();
      await v[Symbol.asyncDispose]();
    },
  };
}

Deno.test("GET /api/specimens/:id gives the last run's outcome, its stderr tails (the failed child's first) and versions", async () => {
  await using x = await researcherDashboard();
  const [status, body] = await get(x.d, `/api/specimens/${FAILED_ID}`);
  assertEquals(status, 200);
  const o = body.outcome;
  assertEquals(o.runs, 1);
  assertEquals(
    [o.run.status, o.run.duration_ms, o.run.exit_code, o.run.error],
    ["failed", 205_000, 1, "Protocol exited with code 1"],
  );
  assertEquals(o.stderr.map((t: Json) => t.source), ["exec 1", "run"]);
  assertEquals(o.stderr[0].lines.length, 20);
  assertEquals(o.stderr[0].cut, true);
  assertMatch(o.stderr[0].lines.at(-1), /^torch\.OutOfMemoryError/);
  assertEquals(o.stderr[1].cut, false);
  assertEquals(o.versions.map((v: Json) => `${v.name} ${v.version}`), [
    "deno 2.9.6",
    "python 3.11.2",
    "torch 2.3.1+cpu",
    "numpy 1.26.4",
  ]);
  // Never run: no run, no tails.
  const [, plain] = await get(x.d, `/api/specimens/${SWEEP[0].id}`);
  assertEquals(
    [plain.outcome.run, plain.outcome.runs, plain.outcome.stderr],
    [null, 0, []],
  );
});

Deno.test("a stderr log that is missing, or a link leading out of the specimen, is named and not read", async () => {
  await using x = await researcherDashboard();
  await using outside = await tempDir();
  const secret = join(outside.path, "secret.txt");
  await Deno.writeTextFile(secret, "do not show\n");
  const runs = join(
    x.v.specimens,
    FAILED_ID,
    "runs",
    "2026-12-06T09-00-00.000Z",
  );
  await Deno.remove(join(runs, "exec-1.stderr.log"));
  await Deno.symlink(secret, join(runs, "exec-1.stderr.log"));
  await Deno.remove(join(runs, "stderr.log"));
  const [status, body] = await get(x.d, `/api/specimens/${FAILED_ID}`);
  assertEquals(status, 200);
  const [child, run] = body.outcome.stderr;
  assertEquals(child.lines, []);
  assert(child.issue, "the link is named");
  assert(!JSON.stringify(body).includes("do not show"));
  assertEquals([run.issue, run.lines], ["not on disk", []]);
});

Deno.test("GET /api/specimens/:id/histograms gives each imported histogram as quantiles per step", async () => {
  await using v = await tempVault();
  await using scratch = await tempDir();
  const id = await importTensorBoardRun(v.path, scratch.path);
  await writeSpecimen(v.path, { id: "no_histograms" });
  await indexVault({ vault: v.path });
  await using d = await createDashboard({ vault: v.path });
  const [status, body] = await get(d, `/api/specimens/${id}/histograms`);
  assertEquals(status, 200);
  assertEquals(body.quantiles, QUANTILES);
  const expected = JSON.parse(
    await Deno.readTextFile(join(INTEROP, "trackers", "EXPECTED.json")),
  ).tensorboard.runs.run_a.histograms["weights/dense1"];
  assertEquals(body.histograms.length, 1);
  const h = body.histograms[0];
  assertEquals([h.tag, h.issue], ["weights/dense1", null]);
  assertEquals(h.steps, expected.steps);
  // The 0 and 1 quantiles are the recorded min and max; bands nest.
  assertEquals(h.bands[0][0], expected.first.min);
  assertEquals(h.bands.at(-1)[0], expected.first.max);
  for (let i = 0; i < h.steps.length; i++) {
    for (let k = 1; k < QUANTILES.length; k++) {
      assert(h.bands[k][i] >= h.bands[k - 1][i], `quantile ${k} at row ${i}`);
    }
  }
  const [, none] = await get(d, "/api/specimens/no_histograms/histograms");
  assertEquals(none.histograms, []);
});

Deno.test("GET /api/catalog?result= adds final/min/max of a metric, sorts by one and filters a range", async (t) => {
  await using x = await researcherDashboard();
  const ranked = SWEEP.map((s, i) => ({ id: s.id, final: finalValLoss(i) }))
    .sort((a, b) => a.final - b.final || a.id.localeCompare(b.id));
  await t.step(
    "sort=result:final ascending, specimens without it last",
    async () => {
      const [status, body] = await get(
        x.d,
        "/api/catalog?result=val_loss&sort=result:final&order=asc",
      );
      assertEquals(status, 200);
      assertEquals(body.result, { column: "val_loss", table: "metrics" });
      assertEquals(
        body.rows.slice(0, 7).map((r: Json) => r.specimen_id),
        [...ranked.map((r) => r.id), FAILED_ID],
      );
      assertEquals(body.rows[0].result.final, ranked[0].final);
      assertEquals(body.rows[0].result.max, ranked[0].final + 2);
      assertEquals(body.rows.at(-1).result, {
        final: null,
        min: null,
        max: null,
      });
    },
  );
  await t.step("result_min/result_max on the chosen statistic", async () => {
    const [, body] = await get(
      x.d,
      "/api/catalog?result=val_loss&result_stat=max&result_min=2.5&result_max=2.7",
    );
    const want = ranked.filter((r) => r.final + 2 >= 2.5 && r.final + 2 <= 2.7)
      .map((r) => r.id).sort();
    assertEquals(body.matched, want.length);
    assertEquals(body.rows.map((r: Json) => r.specimen_id).sort(), want);
  });
  await t.step(
    "train_loss of another metric table name is found too",
    async () => {
      const [, body] = await get(
        x.d,
        "/api/catalog?result=train_loss&sort=result:min&order=desc&limit=1",
      );
      // The highest final (ties by id), whose train_loss ends at 0.8 of it.
      const top = ranked.filter((r) => r.final === ranked.at(-1)!.final);
      assertEquals(body.rows[0].specimen_id, top[0].id);
    },
  );
  for (
    const [query, message] of [
      ["sort=result:final", /pass result=COLUMN/],
      [
        "result=nope",
        /No metric column "nope" in "metrics": its columns are step, /,
      ],
      ["result=val_loss&result_max=abc", /Invalid result_max="abc"/],
      [
        "result=val_loss&sort=result:median",
        /Invalid sort "median": use final, min or max/,
      ],
      ["result=val_loss&result_table=nope", /No metric table "nope"/],
    ] as const
  ) {
    await t.step(`400 for ${query}`, async () => {
      const [status, body] = await get(x.d, `/api/catalog?${query}`);
      assertEquals(status, query.includes("table=nope") ? 404 : 400);
      assertMatch(body.error, message);
    });
  }
});

Deno.test("GET /api/catalog?notes= keeps specimens whose field notes hold every word, and sees edits", async () => {
  await using x = await researcherDashboard();
  const ids = async (q: string) =>
    (await get(x.d, `/api/catalog?notes=${encodeURIComponent(q)}`))[1].rows
      .map((r: Json) => r.specimen_id);
  assertEquals(await ids("PLATEAUED"), [SWEEP[1].id]);
  assertEquals(await ids("warmup plateaued"), [SWEEP[1].id]);
  assertEquals(await ids("plateaued memory"), []);
  assertEquals(await ids("memory"), [FAILED_ID]);
  const [, one] = await get(x.d, "/api/catalog?notes=checkpointing");
  assertMatch(one.rows[0].notes_excerpt, /try gradient checkpointing next/);
  // Notes are edited at any time: the next search reads the new text.
  const notes = join(x.v.specimens, SWEEP[2].id, "field_notes.md");
  await Deno.writeTextFile(notes, "Diverged: the memory use doubled.\n");
  assertEquals((await ids("memory")).sort(), [FAILED_ID, SWEEP[2].id].sort());
  // Combined with another filter.
  const [, both] = await get(x.d, "/api/catalog?notes=memory&tag=narrow");
  assertEquals(both.rows.map((r: Json) => r.specimen_id), [SWEEP[2].id]);
});

Deno.test("params views take a scope (tag, id prefix), count distinct values, and colour a scatter by a second param", async (t) => {
  await using x = await researcherDashboard();
  await t.step("keys in scope with distinct values", async () => {
    const [, all] = await get(x.d, "/api/params/keys");
    const seed = all.keys.find((k: Json) => k.key === "seed");
    assertEquals([seed.specimens, seed.distinct], [4, 1]);
    const [, wide] = await get(x.d, "/api/params/keys?tag=wide");
    assertEquals(
      wide.keys.map((k: Json) => [k.key, k.specimens, k.distinct]),
      [["hidden", 3, 1], ["lr", 3, 3], ["optimizer.name", 3, 2]],
    );
  });
  await t.step("metrics of the specimens having a param", async () => {
    const [, m] = await get(
      x.d,
      "/api/params/metrics?param=lr&prefix=mlp_sweep_",
    );
    assertEquals(m.tables.metrics.map((c: Json) => [c.name, c.specimens]), [
      ["val_loss", 6],
      ["train_loss", 6],
    ]);
  });
  await t.step("scatter in a prefix, coloured by a category", async () => {
    const [status, s] = await get(
      x.d,
      "/api/params/scatter?param=lr&metric=val_loss&prefix=mlp_sweep_&color=optimizer.name",
    );
    assertEquals(status, 200);
    assertEquals(s.color_kind, "category");
    assertEquals(s.points.length, 6);
    for (const p of s.points) {
      assertEquals(p.c, SWEEP.find((w) => w.id === p.id)!.opt);
    }
    const [, n] = await get(
      x.d,
      "/api/params/scatter?param=lr&metric=val_loss&tag=sweep&color=hidden",
    );
    assertEquals([n.color_kind, n.points.length], ["number", 7]);
    const [bad] = await get(
      x.d,
      "/api/params/scatter?param=lr&metric=val_loss&color=a%20b",
    );
    assertEquals(bad, 400);
  });
  await t.step("parallel coordinates in a tag", async () => {
    const [, p] = await get(
      x.d,
      "/api/params/parallel?keys=lr,hidden&tag=narrow",
    );
    assertEquals(p.rows.length, 3);
    assertEquals(p.total, 3);
  });
});

Deno.test("createDashboard({ autoIndex }) brings the catalog up to date after a library write, and says when", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "first" });
  // No catalog yet: the server builds it.
  await using d = await createDashboard({
    vault: v.path,
    autoIndex: true,
    autoIndexMs: 50,
  });
  const total = async () => {
    const [status, body] = await get(d, "/api/catalog");
    return status === 200 ? body.total : -1;
  };
  await until(total, (n) => n === 1, "the catalog built");
  const { dir } = await createSpecimen({
    vault: v.path,
    id: "second",
    domain: "training",
    method: "fine_tuning",
  });
  const storage = await SpecimenStorage.open(dir);
  await storage.writeMetrics({ step: [0, 1, 2], loss: [3, 2, 1] });
  await until(total, (n) => n === 2, "the new specimen");
  const rows = async () =>
    (await get(d, "/api/catalog?q=second"))[1].rows[0]?.metrics_rows;
  await until(rows, (n) => n === 3, "its metrics");
  const [, info] = await get(d, "/api/info");
  assertEquals(info.auto_index.error, null);
  assert(Date.parse(info.auto_index.updated_at) > 0);
  // A bad specimen is skipped and named; the rest stays current.
  await Deno.mkdir(join(v.specimens, "bad_one"));
  await Deno.writeTextFile(
    join(v.specimens, "bad_one", "manifest.msgpack"),
    "x",
  );
  const warned = await until(
    async () => (await get(d, "/api/info"))[1].auto_index.warnings,
    (w: string[]) => w.some((m) => m.includes("bad_one")),
    "a warning naming bad_one",
  );
  assertEquals(warned.length >= 1, true);
});

Deno.test("a failing automatic index is reported in /api/info and tried again later", async () => {
  await using v = await tempVault();
  await Deno.mkdir(join(v.specimens, "broken"));
  await Deno.writeTextFile(
    join(v.specimens, "broken", "manifest.msgpack"),
    "x",
  );
  await using d = await createDashboard({
    vault: v.path,
    autoIndex: true,
    autoIndexMs: 50,
  });
  const info = await until(
    async () => (await get(d, "/api/info"))[1],
    (i) => i.auto_index.error !== null,
    "the error",
  );
  assertEquals(info.catalog.present, false);
  assertMatch(info.auto_index.error, /specimen/);
});

Deno.test("a run still going reports its time so far", async () => {
  await using v = await tempVault();
  const started = new Date(Date.now() - 90_000).toISOString();
  await writeSpecimen(v.path, {
    id: "going",
    extra: {
      runs: [{
        id: "r1",
        via: "deno task run",
        status: "running",
        started,
        ended: null,
        duration_ms: null,
        exit_code: null,
        signal: null,
        error: null,
        stderr: null,
      }],
    },
  });
  await indexVault({ vault: v.path });
  await using d = await createDashboard({ vault: v.path });
  const [, body] = await get(d, "/api/specimens/going");
  assertEquals(body.outcome.run.status, "running");
  assert(body.outcome.running_ms >= 90_000, String(body.outcome.running_ms));
  assertEquals(body.outcome.stderr, []);
});

Deno.test("deno task serve --help documents the automatic index and --no-auto-index", async () => {
  const r = await runTask("serve", ["--help"]);
  assertEquals(r.code, 0);
  assertMatch(r.stdout, /--no-auto-index/);
  assertMatch(r.stdout, /vault\.duckdb\.changes/);
});

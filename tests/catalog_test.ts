import { join } from "../lib/_deps.ts";
import { openDatabase } from "../lib/duckdb/duckdb.ts";
import { type IndexOptions, indexVault } from "../lib/catalog/index_vault.ts";
import { VaultError } from "../lib/errors.ts";
import { encodeManifest } from "../lib/specimen/manifest.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import {
  catalogRows as rows,
  copyPythonSpecimens,
  copyTree,
  metricsSql,
  parquetRows,
  PYTHON_IDS,
  PYTHON_SPECIMENS,
  writeSpecimen,
} from "./testdata/catalog_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  INTEROP,
  tempVault,
} from "./utils.ts";

/** Asserts that `fn` rejects with a VaultError whose message matches. */
async function assertVaultError(
  fn: () => Promise<unknown>,
  ...patterns: RegExp[]
): Promise<void> {
  try {
    await fn();
  } catch (e) {
    assert(e instanceof VaultError, `expected a VaultError, got ${e}`);
    for (const p of patterns) assertMatch(e.message, p);
    return;
  }
  assert(false, "expected a VaultError, nothing was thrown");
}

/** Indexes with warnings collected. */
async function index(vault: string, options: IndexOptions = {}) {
  const warnings: string[] = [];
  const report = await indexVault({
    vault,
    onWarning: (w) => warnings.push(w),
    ...options,
  });
  assertEquals(report.warnings, warnings);
  return report;
}

Deno.test("indexVault() indexes the Python vault's specimens unchanged: tags, created instant, metrics", async () => {
  await using v = await tempVault();
  await copyPythonSpecimens(v.path);
  const report = await index(v.path);
  assertEquals(report.indexed, 3);
  assertEquals(report.warnings, []);
  const catalog = await rows(
    v.path,
    "SELECT specimen_id, created, domain, method, model, tags, path, dependencies, metrics_rows FROM catalog ORDER BY specimen_id",
  );
  assertEquals(catalog.map((r) => r.specimen_id), PYTHON_IDS);
  assertEquals(catalog[1].tags, ["gpt2", "seed_1"]);
  assertEquals(catalog[1].domain, "alignment");
  assertEquals(catalog[1].model, "pythia-70m");
  assertEquals(
    (catalog[1].created as Date).getTime(),
    Date.parse("2024-01-01T01:00:00+00:00"),
  );
  assertEquals(catalog[0].path, `specimens/${PYTHON_IDS[0]}`);
  assertEquals(catalog[0].dependencies, {
    numpy: ">=1.24.0",
    polars: ">=0.20",
  });
  for (const r of catalog) {
    const expected = await parquetRows(
      join(PYTHON_SPECIMENS, String(r.specimen_id), "strata/metrics.parquet"),
    );
    assertEquals(r.metrics_rows, expected);
    const [{ n }] = await rows(
      v.path,
      `SELECT count(*) AS n FROM metrics WHERE specimen_id = '${r.specimen_id}'`,
    );
    assertEquals(n, expected);
  }
  const types = await rows(
    v.path,
    "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'metrics' ORDER BY column_index",
  );
  assertEquals(types.map((t) => `${t.column_name} ${t.data_type}`), [
    "specimen_id VARCHAR",
    "step BIGINT",
    "loss DOUBLE",
    "accuracy DOUBLE",
  ]);
});

Deno.test("indexVault() keeps the instant of a created with an offset like +05:00", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, {
    id: "a",
    created: "2024-03-01T10:00:00+05:00",
  });
  await writeSpecimen(v.path, {
    id: "b",
    created: "2024-03-01T10:00:00.123456-07:30",
  });
  await index(v.path);
  const r = await rows(
    v.path,
    "SELECT specimen_id, created, typeof(created) AS t, epoch_us(created) AS us FROM catalog ORDER BY 1",
  );
  assertEquals(r[0].t, "TIMESTAMP WITH TIME ZONE");
  assertEquals(
    (r[0].created as Date).toISOString(),
    "2024-03-01T05:00:00.000Z",
  );
  // Microseconds survive: DuckDB parses the manifest's text itself.
  assertEquals(r[1].us, Date.parse("2024-03-01T17:30:00.123Z") * 1000 + 456);
});

Deno.test("indexVault() makes tags, dependencies, artifacts and provenance queryable", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, {
    id: "with_prov",
    tags: ["gpt2", "sweep"],
    dependencies: { numpy: "1.26" },
    artifacts: {
      metrics: {
        path: "strata/metrics.parquet",
        format: "parquet",
        rows: 10,
        columns: [{ name: "step", type: "INT64" }],
      },
    },
    extra: { provenance: { git: { commit: "abc123", dirty: false } } },
  });
  await writeSpecimen(v.path, { id: "without_prov", tags: ["other"] });
  await index(v.path);
  const r = await rows(
    v.path,
    `SELECT specimen_id, dependencies['numpy'] AS numpy,
       artifacts->>'$.metrics.rows' AS rows, provenance->>'$.git.commit' AS commit,
       provenance IS NULL AS no_provenance, manifest->>'$.description' AS description
     FROM catalog WHERE array_contains(tags, 'gpt2') OR specimen_id = 'without_prov' ORDER BY 1`,
  );
  assertEquals(r, [
    {
      specimen_id: "with_prov",
      numpy: "1.26",
      rows: "10",
      commit: "abc123",
      no_provenance: false,
      description: "fixture with_prov",
    },
    {
      specimen_id: "without_prov",
      numpy: null,
      rows: null,
      commit: null,
      no_provenance: true,
      description: "fixture without_prov",
    },
  ]);
});

Deno.test("indexVault() warns about a folder without a manifest and indexes the rest", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "good" });
  await Deno.mkdir(join(v.specimens, "no_manifest", "strata"), {
    recursive: true,
  });
  await Deno.mkdir(join(v.specimens, ".hidden"));
  const report = await index(v.path);
  assertEquals(report.indexed, 1);
  assertEquals(report.skipped, 1);
  assertEquals(report.warnings.length, 1);
  assertMatch(
    report.warnings[0],
    /specimens\/no_manifest: no manifest\.msgpack/,
  );
});

Deno.test("indexVault() skips corrupt or wrongly typed manifests, naming the file and the reason", async (t) => {
  const manifest = (over: Record<string, unknown>) =>
    encodeManifest({
      specimen_id: "bad",
      created: "2024-01-01T00:00:00Z",
      taxonomy: { domain: "training", method: "fine_tuning" },
      status: "active",
      artifacts: {},
      tags: [],
      model: null,
      description: null,
      dependencies: {},
      ...over,
    } as never);
  const cases: [string, Uint8Array, RegExp][] = [
    ["bad msgpack", new Uint8Array([0xc1, 0xff, 0x00]), /not valid msgpack/],
    ["tags not a list", manifest({ tags: "gpt2" }), /"tags" must be a list/],
    [
      "created unparseable",
      manifest({ created: "yesterday" }),
      /"created" is not an ISO-8601 instant/,
    ],
    [
      "missing taxonomy",
      manifest({ taxonomy: undefined }),
      /"taxonomy" must be a map/,
    ],
    [
      "missing specimen_id",
      manifest({ specimen_id: undefined }),
      /missing key "specimen_id"/,
    ],
    [
      "id not matching its folder",
      manifest({ specimen_id: "elsewhere" }),
      /"specimen_id" is "elsewhere" but the folder is "bad"/,
    ],
  ];
  for (const [name, bytes, reason] of cases) {
    await t.step(name, async () => {
      await using v = await tempVault();
      await writeSpecimen(v.path, { id: "good" });
      await writeSpecimen(v.path, { id: "bad" });
      await Deno.writeFile(join(v.specimens, "bad", "manifest.msgpack"), bytes);
      const report = await index(v.path);
      assertEquals(report.indexed, 1);
      assertEquals(report.skipped, 1);
      assertEquals(report.warnings.length, 1);
      assertMatch(report.warnings[0], /specimens\/bad\/manifest\.msgpack/);
      assertMatch(report.warnings[0], reason);
      assertEquals(
        (await rows(v.path, "SELECT specimen_id FROM catalog")).map((r) =>
          r.specimen_id
        ),
        ["good"],
      );
    });
  }
});

Deno.test("indexVault() skips a folder whose strata is not a folder", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "good" });
  const odd = await writeSpecimen(v.path, { id: "odd", metrics: null });
  await Deno.remove(join(odd, "strata"), { recursive: true });
  await Deno.writeTextFile(join(odd, "strata"), "a file, not a folder");
  const report = await index(v.path);
  assertEquals([report.indexed, report.skipped], [1, 1]);
  assertMatch(report.warnings[0], /^specimens\/odd: cannot be scanned/);
});

Deno.test("indexVault() names both folders when two claim one id, and still builds", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "a" });
  const b = await writeSpecimen(v.path, { id: "b" });
  await copyTree(join(v.specimens, "a"), join(v.specimens, "a_copy"));
  await Deno.remove(b, { recursive: true });
  const report = await index(v.path);
  assertEquals(report.indexed, 1);
  assertEquals(report.warnings.length, 1);
  assertMatch(report.warnings[0], /specimens\/a_copy\/manifest\.msgpack/);
  assertMatch(report.warnings[0], /specimens\/a\b/);
  assertMatch(report.warnings[0], /two folders claim one id/);
});

Deno.test("indexVault() reports a metric column whose type clashes and keeps the rest queryable", async () => {
  await using v = await tempVault();
  for (const id of ["n1", "n2", "n3"]) await writeSpecimen(v.path, { id });
  await writeSpecimen(v.path, {
    id: "odd",
    metrics:
      "SELECT range::BIGINT AS step, 'high' AS loss, 0.5 AS accuracy FROM range(4)",
  });
  const report = await index(v.path);
  assertEquals(report.indexed, 4);
  assertEquals(report.warnings.length, 1);
  assertMatch(report.warnings[0], /specimens\/odd: strata\/metrics\.parquet/);
  assertMatch(report.warnings[0], /column "loss" is VARCHAR here but numeric/);
  const types = await rows(
    v.path,
    "SELECT data_type FROM duckdb_columns() WHERE table_name = 'metrics' AND column_name = 'loss'",
  );
  assertEquals(types[0].data_type, "DOUBLE");
  const perSpecimen = await rows(
    v.path,
    "SELECT specimen_id, count(*) AS n FROM metrics GROUP BY 1 ORDER BY 1",
  );
  assertEquals(perSpecimen.map((r) => r.specimen_id), ["n1", "n2", "n3"]);
  // The odd one is still there, alone, and its issue is in the catalog.
  const [odd] = await rows(
    v.path,
    "SELECT c.issues, c.metrics_rows, t.source, t.definition FROM catalog c JOIN metric_tables t USING (specimen_id) WHERE specimen_id = 'odd'",
  );
  assertEquals(odd.metrics_rows, null);
  assertMatch((odd.issues as string[])[0], /VARCHAR/);
  const alone = await rows(v.path, String(odd.definition));
  assertEquals(alone.length, 4);
  assertEquals(alone[0].loss, "high");
});

Deno.test("indexVault() reports unreadable metrics and still indexes the specimen", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "fine" });
  const broken = await writeSpecimen(v.path, { id: "broken" });
  await Deno.writeTextFile(
    join(broken, "strata", "metrics.parquet"),
    "this is not parquet at all",
  );
  const report = await index(v.path);
  assertEquals(report.indexed, 2);
  assertEquals(report.warnings.length, 1);
  assertMatch(
    report.warnings[0],
    /specimens\/broken: strata\/metrics\.parquet is not readable Parquet/,
  );
  assertEquals(
    await rows(
      v.path,
      "SELECT specimen_id, metrics_rows FROM catalog ORDER BY 1",
    ),
    [
      { specimen_id: "broken", metrics_rows: null },
      { specimen_id: "fine", metrics_rows: 10 },
    ],
  );
});

Deno.test("indexVault() reports Parquet with a good footer but bad pages, found among many", async () => {
  await using v = await tempVault();
  for (let i = 0; i < 6; i++) await writeSpecimen(v.path, { id: `s${i}` });
  // Same schema and footer, garbage where the pages are: only a full read
  // (the INSERT) can tell, and the index must find which file it was.
  const path = join(v.specimens, "s3", "strata", "metrics.parquet");
  const bytes = await Deno.readFile(path);
  bytes.fill(0x55, 4, 200);
  await Deno.writeFile(path, bytes);
  const report = await index(v.path);
  assertEquals(report.indexed, 6);
  assertEquals(report.warnings.length, 1);
  assertMatch(report.warnings[0], /specimens\/s3: strata\/metrics\.parquet/);
  const ids = await rows(
    v.path,
    "SELECT DISTINCT specimen_id FROM metrics ORDER BY 1",
  );
  assertEquals(ids.map((r) => r.specimen_id), ["s0", "s1", "s2", "s4", "s5"]);
});

Deno.test("indexVault() unions columns by name and widens INT32/FLOAT to BIGINT/DOUBLE", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "a" });
  await writeSpecimen(v.path, {
    id: "b",
    metrics:
      "SELECT range::INTEGER AS step, (1.0 / (range + 1))::FLOAT AS loss, 7 AS extra FROM range(3)",
  });
  const report = await index(v.path);
  assertEquals(report.warnings, []);
  const types = await rows(
    v.path,
    "SELECT column_name AS c, data_type AS t FROM duckdb_columns() WHERE table_name = 'metrics' ORDER BY column_index",
  );
  assertEquals(types.map((r) => `${r.c} ${r.t}`), [
    "specimen_id VARCHAR",
    "step BIGINT",
    "loss DOUBLE",
    "accuracy DOUBLE",
    "extra BIGINT",
  ]);
  const r = await rows(
    v.path,
    "SELECT specimen_id, count(*) AS n, count(extra) AS extras, count(accuracy) AS accs FROM metrics GROUP BY 1 ORDER BY 1",
  );
  assertEquals(r, [
    { specimen_id: "a", n: 10, extras: 0, accs: 10 },
    { specimen_id: "b", n: 3, extras: 3, accs: 0 },
  ]);
});

Deno.test("indexVault() indexes other strata/<name>.parquet files as metrics__<name> with a metric_tables row", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, {
    id: "a",
    tables: { eval: "SELECT 'mmlu' AS task, 0.5 AS score" },
  });
  await writeSpecimen(v.path, {
    id: "b",
    metrics: null,
    tables: { eval: "SELECT 'arc' AS task, 0.25 AS score" },
  });
  await index(v.path);
  assertEquals(
    await rows(
      v.path,
      "SELECT specimen_id, name, path, rows, relation, source FROM metric_tables ORDER BY 1, 2",
    ),
    [
      {
        specimen_id: "a",
        name: "eval",
        path: "specimens/a/strata/eval.parquet",
        rows: 1,
        relation: "exp_a__eval",
        source: "metrics__eval",
      },
      {
        specimen_id: "a",
        name: "metrics",
        path: "specimens/a/strata/metrics.parquet",
        rows: 10,
        relation: "exp_a",
        source: "metrics",
      },
      {
        specimen_id: "b",
        name: "eval",
        path: "specimens/b/strata/eval.parquet",
        rows: 1,
        relation: "exp_b__eval",
        source: "metrics__eval",
      },
    ],
  );
  assertEquals(
    await rows(
      v.path,
      "SELECT specimen_id, task, score FROM metrics__eval ORDER BY 1",
    ),
    [
      { specimen_id: "a", task: "mmlu", score: 0.5 },
      { specimen_id: "b", task: "arc", score: 0.25 },
    ],
  );
  const [b] = await rows(
    v.path,
    "SELECT metrics_rows FROM catalog WHERE specimen_id = 'b'",
  );
  assertEquals(b.metrics_rows, null);
});

Deno.test("indexVault() lists Zarr v3 and v2 arrays in tensors", async () => {
  await using v = await tempVault();
  const dir = await writeSpecimen(v.path, { id: "t" });
  await copyTree(
    join(INTEROP, "zarr3", "float32_sharded.zarr"),
    join(dir, "strata", "sharded.zarr"),
  );
  await copyTree(
    join(INTEROP, "zarr3", "int64_3d_zstd.zarr"),
    join(dir, "strata", "cube.zarr"),
  );
  await copyTree(
    join(INTEROP, "zarr2", "activations.zarr"),
    join(dir, "strata", "activations.zarr"),
  );
  const report = await index(v.path);
  assertEquals(report.warnings, []);
  const t = await rows(
    v.path,
    "SELECT name, path, shape, dtype, chunks, codecs, bytes > 0 AS has_bytes, zarr_format FROM tensors ORDER BY name",
  );
  assertEquals(t, [
    {
      name: "activations",
      path: "specimens/t/strata/activations.zarr",
      shape: [100, 512],
      dtype: "float32",
      chunks: [100, 512],
      codecs: ["blosc"],
      has_bytes: true,
      zarr_format: 2,
    },
    {
      name: "cube",
      path: "specimens/t/strata/cube.zarr",
      shape: [3, 4, 5],
      dtype: "int64",
      chunks: [2, 2, 5],
      codecs: ["bytes", "zstd"],
      has_bytes: true,
      zarr_format: 3,
    },
    {
      name: "sharded",
      path: "specimens/t/strata/sharded.zarr",
      shape: [40, 24],
      dtype: "float32",
      chunks: [20, 24],
      codecs: ["sharding_indexed"],
      has_bytes: true,
      zarr_format: 3,
    },
  ]);
  const [bytes] = await rows(
    v.path,
    "SELECT bytes FROM tensors WHERE name = 'cube'",
  );
  let expected = 0;
  const walk = async (p: string) => {
    for await (const e of Deno.readDir(p)) {
      if (e.isDirectory) await walk(join(p, e.name));
      else expected += (await Deno.stat(join(p, e.name))).size;
    }
  };
  await walk(join(dir, "strata", "cube.zarr"));
  assertEquals(bytes.bytes, expected);
});

Deno.test("indexVault() with no valid specimen throws and leaves the previous catalog untouched", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "a" });
  await index(v.path);
  const catalog = join(v.path, "vault.duckdb");
  const before = await Deno.readFile(catalog);
  await Deno.writeFile(
    join(v.specimens, "a", "manifest.msgpack"),
    new Uint8Array([1, 2, 3]),
  );
  // Written by hand (not in the change journal): --rescan looks at it.
  await assertVaultError(
    () => indexVault({ vault: v.path, rescan: true }),
    /No valid specimens found to index/,
    /deno task create/,
  );
  assertEquals(await Deno.readFile(catalog), before);
  assertEquals(
    (await rows(v.path, "SELECT specimen_id FROM catalog"))[0].specimen_id,
    "a",
  );
  const leftovers = [...Deno.readDirSync(v.path)].map((e) => e.name).filter((
    n,
  ) => n.startsWith(".tmp-"));
  assertEquals(leftovers, []);
});

Deno.test("indexVault() on an empty vault says there is nothing to index", async () => {
  await using v = await tempVault();
  await assertVaultError(
    () => indexVault({ vault: v.path }),
    /No valid specimens found/,
  );
  await assertRejects(() => Deno.stat(join(v.path, "vault.duckdb")));
});

Deno.test("indexVault() is incremental: only new and changed specimens are read, removed ones dropped", async () => {
  await using v = await tempVault();
  for (const id of ["a", "b", "c"]) await writeSpecimen(v.path, { id });
  assertEquals((await index(v.path)).mode, "full");

  await writeSpecimen(v.path, { id: "d", metrics: metricsSql(5) });
  let report = await index(v.path);
  assertEquals([report.mode, report.read, report.indexed], [
    "incremental",
    1,
    4,
  ]);

  // A changed file is re-read (an added metric table); a removed folder goes.
  await writeSpecimen(v.path, {
    id: "a",
    tables: { eval: "SELECT 1 AS score" },
  });
  await Deno.remove(join(v.specimens, "c"), { recursive: true });
  report = await index(v.path);
  assertEquals(
    [report.mode, report.read, report.removed, report.indexed],
    ["incremental", 1, 1, 3],
  );
  assertEquals(
    await rows(
      v.path,
      "SELECT specimen_id, count(*) AS n FROM metrics GROUP BY 1 ORDER BY 1",
    ),
    [
      { specimen_id: "a", n: 10 },
      { specimen_id: "b", n: 10 },
      { specimen_id: "d", n: 5 },
    ],
  );
  assertEquals(
    (await rows(v.path, "SELECT specimen_id FROM metrics__eval")).length,
    1,
  );

  // Nothing changed: nothing read, the file is not rewritten.
  const before = await Deno.stat(join(v.path, "vault.duckdb"));
  report = await index(v.path);
  assertEquals([report.mode, report.read], ["unchanged", 0]);
  const after = await Deno.stat(join(v.path, "vault.duckdb"));
  assertEquals(after.mtime?.getTime(), before.mtime?.getTime());

  assertEquals(
    await rows(
      v.path,
      "SELECT count(*) = count(DISTINCT specimen_id) AS unique FROM catalog",
    ),
    [{ unique: true }],
  );

  // full re-reads everything and gives the same answer.
  report = await index(v.path, { full: true });
  assertEquals([report.mode, report.read, report.indexed], ["full", 3, 3]);
  assertEquals(
    (await rows(v.path, "SELECT count(*) AS n FROM metrics"))[0].n,
    25,
  );
});

Deno.test("indexVault() decides column types afresh once every specimen of a table is gone", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "a" });
  await index(v.path);
  await Deno.remove(join(v.specimens, "a"), { recursive: true });
  await writeSpecimen(v.path, {
    id: "b",
    metrics: "SELECT 'warmup' AS phase, 1.5 AS loss",
  });
  const report = await index(v.path);
  assertEquals([report.mode, report.warnings], ["incremental", []]);
  assertEquals(await rows(v.path, "SELECT * FROM metrics"), [
    { specimen_id: "b", phase: "warmup", loss: 1.5 },
  ]);
});

Deno.test("indexVault() does not re-read an unchanged specimen (its fingerprint is stored)", async () => {
  await using v = await tempVault();
  const a = await writeSpecimen(v.path, { id: "a" });
  await writeSpecimen(v.path, { id: "b" });
  await index(v.path);
  // Same size and mtime, different bytes: an unread file cannot tell.
  const path = join(a, "strata", "metrics.parquet");
  const stat = await Deno.stat(path);
  const bytes = await Deno.readFile(path);
  bytes.fill(0, 4, 64);
  await Deno.writeFile(path, bytes);
  await Deno.utime(path, stat.atime!, stat.mtime!);
  await writeSpecimen(v.path, { id: "c" });
  const report = await index(v.path);
  assertEquals([report.read, report.warnings], [1, []]);
  const [fp] = await rows(
    v.path,
    "SELECT fingerprint FROM catalog WHERE specimen_id = 'a'",
  );
  assertMatch(String(fp.fingerprint), /p:metrics\.parquet:\d+:\d+/);
});

Deno.test("indexVault() notices added, replaced and removed strata files of settled specimens", async (t) => {
  await using v = await tempVault();
  const a = await writeSpecimen(v.path, { id: "a" });
  await writeSpecimen(v.path, { id: "b" });
  const strata = join(a, "strata");
  // Folder mtimes long ago: the index may then skip listing the folder and
  // rely on its mtime (each change below gets its own time, as in life).
  let mtime = 1_600_000_000;
  const setMtime = (t: number) => Deno.utime(strata, t, t);
  await setMtime(mtime);
  await index(v.path);
  assertEquals((await index(v.path)).mode, "unchanged");

  await t.step("a file replaced in place (folder mtime kept)", async () => {
    const path = join(strata, "metrics.parquet");
    using db = await openDatabase(":memory:");
    await db.connection.run(
      `COPY (${metricsSql(30)}) TO '${path}' (FORMAT parquet)`,
    );
    await setMtime(mtime); // as if written in place
    // By hand, not in the change journal: --rescan looks at every folder.
    const report = await index(v.path, { rescan: true });
    assertEquals([report.mode, report.read], ["incremental", 1]);
    assertEquals(
      (await rows(
        v.path,
        "SELECT metrics_rows FROM catalog WHERE specimen_id = 'a'",
      ))[0]
        .metrics_rows,
      30,
    );
  });
  await t.step("a file added", async () => {
    await writeSpecimen(v.path, {
      id: "a",
      metrics: metricsSql(30),
      tables: { eval: "SELECT 1 AS score" },
    });
    await setMtime(mtime += 100);
    const report = await index(v.path);
    assertEquals(report.read, 1);
    assertEquals(
      (await rows(v.path, "SELECT count(*) AS n FROM metrics__eval"))[0].n,
      1,
    );
  });
  await t.step("a file removed", async () => {
    await Deno.remove(join(strata, "eval.parquet"));
    await setMtime(mtime += 100);
    const report = await index(v.path, { rescan: true });
    assertEquals(report.read, 1);
    assertEquals(
      (await rows(
        v.path,
        "SELECT count(*) AS n FROM metric_tables WHERE specimen_id = 'a'",
      ))[0].n,
      1,
    );
  });
});

Deno.test("indexVault() repeats the warnings of unchanged specimens on every run", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "good" });
  await writeSpecimen(v.path, {
    id: "odd",
    metrics: "SELECT 'x' AS step",
  });
  const first = await index(v.path);
  assertEquals(first.warnings.length, 1);
  await writeSpecimen(v.path, { id: "new" });
  const second = await index(v.path);
  assertEquals(second.read, 1);
  assertEquals(second.warnings, first.warnings);
});

Deno.test("indexVault() with strict throws on a warning and does not replace the catalog", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "a" });
  await index(v.path);
  const before = await Deno.readFile(join(v.path, "vault.duckdb"));
  await writeSpecimen(v.path, { id: "b" });
  await Deno.mkdir(join(v.specimens, "empty_folder"));
  await assertVaultError(
    () => indexVault({ vault: v.path, strict: true }),
    /--strict: 1 warning/,
  );
  assertEquals(await Deno.readFile(join(v.path, "vault.duckdb")), before);
  const report = await index(v.path);
  assertEquals([report.indexed, report.warnings.length], [2, 1]);
});

Deno.test("indexVault() rebuilds from scratch over a catalog it cannot read", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "a" });
  await Deno.writeTextFile(join(v.path, "vault.duckdb"), "not a database");
  const report = await index(v.path);
  assertEquals([report.mode, report.indexed], ["full", 1]);
  assertEquals(
    (await rows(v.path, "SELECT count(*) AS n FROM metrics"))[0].n,
    10,
  );
});

Deno.test("indexVault() stores relative paths: the vault still answers after it is moved", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "a" });
  await index(v.path);
  const moved = `${v.path}_moved`;
  await Deno.rename(v.path, moved);
  try {
    const [r] = await rows(
      moved,
      "SELECT path, (SELECT list(path) FROM metric_tables) AS files FROM catalog",
    );
    assertEquals(r, {
      path: "specimens/a",
      files: ["specimens/a/strata/metrics.parquet"],
    });
    const text = JSON.stringify(await rows(moved, "SELECT * FROM catalog"));
    assert(!text.includes(v.path), "no absolute path in the catalog");
    // Still incremental after the move (rsync -a keeps mtimes).
    const report = await index(moved);
    assertEquals(report.mode, "unchanged");
  } finally {
    await Deno.rename(moved, v.path);
  }
});

Deno.test("indexVault({ views: true }) stores every exp_ view for other DuckDB clients", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "a" });
  await writeSpecimen(v.path, { id: "b", tables: { eval: "SELECT 1 AS x" } });
  await index(v.path, { views: true });
  const views = await rows(
    v.path,
    "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1",
  );
  assertEquals(views.map((r) => r.view_name), [
    "exp_a",
    "exp_b",
    "exp_b__eval",
  ]);
  assertEquals(
    (await rows(v.path, "SELECT * FROM exp_b WHERE step > 7")).length,
    2,
  );
  {
    using q = await VaultQuery.open({ vault: v.path });
    assertEquals(await q.search("SELECT * FROM exp_b__eval"), [{ x: 1 }]);
  }
  // Incremental keeps them in step; switching the option rebuilds.
  await Deno.remove(join(v.specimens, "a"), { recursive: true });
  assertEquals((await index(v.path, { views: true })).mode, "incremental");
  assertEquals(
    (await rows(
      v.path,
      "SELECT view_name FROM duckdb_views() WHERE NOT internal",
    ))
      .length,
    2,
  );
  assertEquals((await index(v.path)).mode, "full");
  assertEquals(
    (await rows(
      v.path,
      "SELECT view_name FROM duckdb_views() WHERE NOT internal",
    ))
      .length,
    0,
  );
});

Deno.test("lineage is queryable: a derived specimen's parent is a catalog column", async () => {
  await using v = await tempVault();
  const { createSpecimen, deriveSpecimen } = await import(
    "../lib/specimen/create.ts"
  );
  await createSpecimen({
    vault: v.path,
    id: "base",
    domain: "training",
    method: "fine_tuning",
    tags: "gpt2",
  });
  await deriveSpecimen({ vault: v.path, from: "base", id: "variant" });
  await indexVault({ vault: v.path });
  assertEquals(
    await rows(
      v.path,
      "SELECT specimen_id, parent, tags FROM catalog ORDER BY specimen_id",
    ),
    [
      { specimen_id: "base", parent: null, tags: ["gpt2"] },
      { specimen_id: "variant", parent: "base", tags: ["gpt2"] },
    ],
  );
});

Deno.test("metrics is queryable before any specimen wrote metrics, and fills in later", async () => {
  await using v = await tempVault();
  const { createSpecimen } = await import("../lib/specimen/create.ts");
  const { SpecimenStorage } = await import("../lib/run/storage.ts");
  await createSpecimen({
    vault: v.path,
    id: "fresh",
    domain: "training",
    method: "fine_tuning",
  });
  await indexVault({ vault: v.path });
  assertEquals(await rows(v.path, "SELECT count(*) AS n FROM metrics"), [{
    n: 0,
  }]);
  const { dir } = await createSpecimen({
    vault: v.path,
    id: "ran",
    domain: "training",
    method: "fine_tuning",
  });
  await (await SpecimenStorage.open(dir)).writeMetrics({
    step: [0, 1],
    loss: [2, 1],
  });
  const report = await indexVault({ vault: v.path });
  assertEquals(report.mode, "incremental");
  assertEquals(
    await rows(
      v.path,
      "SELECT specimen_id, step, loss FROM metrics ORDER BY step",
    ),
    [
      { specimen_id: "ran", step: 0, loss: 2 },
      { specimen_id: "ran", step: 1, loss: 1 },
    ],
  );
});

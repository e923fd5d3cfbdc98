import { join } from "../lib/_deps.ts";
import { type IndexOptions, indexVault } from "../lib/catalog/index_vault.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import {
  catalogRows as rows,
  writeSpecimen,
} from "./testdata/catalog_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  INTEROP,
  tempVault,
} from "./utils.ts";

async function index(vault: string, options: IndexOptions = {}) {
  return await indexVault({ vault, ...options });
}

/** `column` of relation `rel` as DuckDB's text and type, in step order. */
async function texts(vault: string, rel: string, column: string) {
  using q = await VaultQuery.open({ vault });
  return (await q.search(
    `SELECT CAST("${column}" AS VARCHAR) AS v, typeof("${column}") AS t FROM ${rel} ORDER BY step`,
  )).map((r) => [r.v, r.t]);
}

const EXACT = `SELECT range::BIGINT AS step,
  (9007199254740993 - range)::BIGINT AS big,
  9223372036854775807::BIGINT AS max,
  18446744073709551615::UBIGINT AS ubig,
  99999999999999999999999999999999999999::DECIMAL(38,0) AS huge,
  12345678901234.5678::DECIMAL(18,4) AS dec
  FROM range(2)`;
const FLOATS = `SELECT range::BIGINT AS step, 0.5::DOUBLE AS big,
  0.5::DOUBLE AS max, 0.5::DOUBLE AS ubig, 0.5::DOUBLE AS huge,
  0.5::DOUBLE AS dec FROM range(2)`;

const EXACT_TEXTS: Record<string, [string, string][]> = {
  big: [["9007199254740993", "BIGINT"], ["9007199254740992", "BIGINT"]],
  max: [["9223372036854775807", "BIGINT"], ["9223372036854775807", "BIGINT"]],
  ubig: [["18446744073709551615", "UBIGINT"], [
    "18446744073709551615",
    "UBIGINT",
  ]],
  huge: [["99999999999999999999999999999999999999", "DECIMAL(38,0)"], [
    "99999999999999999999999999999999999999",
    "DECIMAL(38,0)",
  ]],
  dec: [["12345678901234.5678", "DECIMAL(18,4)"], [
    "12345678901234.5678",
    "DECIMAL(18,4)",
  ]],
};

async function assertExact(vault: string, rel: string) {
  for (const [col, want] of Object.entries(EXACT_TEXTS)) {
    assertEquals(await texts(vault, rel, col), want, `${rel}.${col}`);
  }
}

Deno.test("indexVault() keeps a specimen's exp_ view exact when another specimen has DOUBLE in its columns, and reports each lossy column", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "exact", metrics: EXACT });
  await writeSpecimen(v.path, { id: "floats", metrics: FLOATS });
  const report = await index(v.path);
  await assertExact(v.path, "exp_exact");
  assertEquals(await texts(v.path, "exp_floats", "big"), [
    ["0.5", "DOUBLE"],
    ["0.5", "DOUBLE"],
  ]);
  const lossy = report.warnings.filter((w) => /precision lost/.test(w));
  assertEquals(lossy.length, 1, report.warnings.join("\n"));
  assertMatch(lossy[0], /^specimens\/exact: strata\/metrics\.parquet/);
  for (const col of ["big", "max", "ubig", "huge", "dec"]) {
    assertMatch(lossy[0], new RegExp(`"${col}"`));
  }
  assertMatch(lossy[0], /exp_exact keeps them exact/);
  // The union table widened to DOUBLE, as reported; step stays BIGINT.
  const types = await rows(
    v.path,
    "SELECT column_name AS c, data_type AS t FROM duckdb_columns() WHERE table_name = 'metrics' ORDER BY column_index",
  );
  assertEquals(types.map((r) => `${r.c} ${r.t}`), [
    "specimen_id VARCHAR",
    "step BIGINT",
    "big DOUBLE",
    "max DOUBLE",
    "ubig DOUBLE",
    "huge DOUBLE",
    "dec DOUBLE",
  ]);
  // Removing the specimen drops its exact copy.
  await Deno.remove(join(v.specimens, "exact"), { recursive: true });
  await index(v.path);
  const left = await rows(
    v.path,
    "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '\\_exact%' ESCAPE '\\'",
  );
  assertEquals(left, []);
});

Deno.test("indexVault() reports no loss when DOUBLE holds every value, and the view keeps the file's own types", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, {
    id: "small",
    metrics:
      "SELECT range::BIGINT AS step, range::INTEGER AS n, (range + 0.25)::DECIMAL(10,2) AS d FROM range(3)",
  });
  await writeSpecimen(v.path, {
    id: "floats",
    metrics:
      "SELECT range::BIGINT AS step, 0.5::DOUBLE AS n, 0.5::DOUBLE AS d FROM range(2)",
  });
  const report = await index(v.path);
  assertEquals(report.warnings, []);
  assertEquals(await texts(v.path, "exp_small", "n"), [
    ["0", "INTEGER"],
    ["1", "INTEGER"],
    ["2", "INTEGER"],
  ]);
  assertEquals(await texts(v.path, "exp_small", "d"), [
    ["0.25", "DECIMAL(10,2)"],
    ["1.25", "DECIMAL(10,2)"],
    ["2.25", "DECIMAL(10,2)"],
  ]);
});

Deno.test("indexVault() unions exact types exactly: BIGINT with UBIGINT as HUGEINT, decimals as a DECIMAL wide enough", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "exact", metrics: EXACT });
  await writeSpecimen(v.path, {
    id: "other",
    metrics: `SELECT range::BIGINT AS step, (-range)::BIGINT AS ubig,
      1::UBIGINT AS big, 1.5::DECIMAL(30,1) AS dec, 1::TINYINT AS huge,
      1::UTINYINT AS max FROM range(2)`,
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
    "big HUGEINT",
    "max BIGINT",
    "ubig HUGEINT",
    "huge DECIMAL(38,0)",
    "dec DECIMAL(33,4)",
  ]);
  const union = await rows(
    v.path,
    "SELECT CAST(ubig AS VARCHAR) AS u, CAST(dec AS VARCHAR) AS d FROM metrics WHERE specimen_id = 'exact' LIMIT 1",
  );
  assertEquals(union, [{
    u: "18446744073709551615",
    d: "12345678901234.5678",
  }]);
  await assertExact(v.path, "exp_exact");
});

Deno.test("indexVault() incremental: a DOUBLE specimen added later keeps the earlier specimen's exp_ view exact and reports it", async () => {
  for (const views of [false, true]) {
    await using v = await tempVault();
    await writeSpecimen(v.path, { id: "exact", metrics: EXACT });
    assertEquals((await index(v.path, { views })).warnings, []);
    await writeSpecimen(v.path, { id: "floats", metrics: FLOATS });
    const report = await index(v.path, { views });
    assertEquals(report.mode, "incremental");
    const lossy = report.warnings.filter((w) => /precision lost/.test(w));
    for (const col of ["big", "max", "ubig", "huge", "dec"]) {
      assert(
        lossy.some((w) =>
          w.startsWith("specimens/exact:") && w.includes(`"${col}"`)
        ),
        `${col}: ${report.warnings.join("\n")}`,
      );
    }
    await assertExact(v.path, "exp_exact");
    if (views) {
      const stored = await rows(
        v.path,
        "SELECT CAST(big AS VARCHAR) AS b FROM exp_exact ORDER BY step",
      );
      assertEquals(stored.map((r) => r.b), [
        "9007199254740993",
        "9007199254740992",
      ]);
    }
    // The issue stays in the catalog: the next run reports it again.
    const again = await index(v.path, { views });
    assert(again.warnings.some((w) => /precision lost/.test(w)));
  }
});

Deno.test("indexVault() reads pyarrow's Parquet edge files exactly through exp_ views beside a DOUBLE specimen", async () => {
  const dir = join(INTEROP, "parquet_edge");
  // Numbers as their JSON text: beyond 2^53 a JS number would round.
  const expected = JSON.parse(
    await Deno.readTextFile(join(dir, "EXPECTED.json")),
    (_key, value, context?: { source?: string }) =>
      typeof value === "number" ? context?.source : value,
  );
  await using v = await tempVault();
  const cases: [string, string][] = [
    ["int64_exact", "val"],
    ["uint64_big", "count"],
    ["decimal", "price"],
    ["lz4_raw", "loss"],
  ];
  for (const [name] of cases) {
    const strata = join(v.specimens, `edge_${name}`, "strata");
    await writeSpecimen(v.path, { id: `edge_${name}`, metrics: null });
    await Deno.copyFile(
      join(dir, `${name}.parquet`),
      join(strata, "metrics.parquet"),
    );
  }
  await writeSpecimen(v.path, {
    id: "floats",
    metrics:
      "SELECT 0.5::DOUBLE AS step, 0.5::DOUBLE AS val, 0.5::DOUBLE AS count, 0.5::DOUBLE AS price, 0.5::DOUBLE AS loss",
  });
  const report = await index(v.path);
  for (const [name, col] of cases) {
    const got = (await texts(v.path, `exp_edge_${name}`, col)).map(([t]) => t);
    const want = (expected[name].columns[col] as unknown[]).map((x) =>
      x === null ? null : String(x)
    );
    assertEquals(got, want, name);
  }
  const lossy = report.warnings.filter((w) => /precision lost/.test(w));
  assertEquals(lossy.length, 2, report.warnings.join("\n"));
  assertMatch(lossy.join("\n"), /specimens\/edge_int64_exact:.*"val"/);
  assertMatch(lossy.join("\n"), /specimens\/edge_uint64_big:.*"count"/);
});

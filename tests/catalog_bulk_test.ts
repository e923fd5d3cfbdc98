/**
 * The bulk read of a full index: every metric file of a name loaded by one
 * INSERT before any footer or manifest is read, kept only where that guess
 * held. Whatever the vault, a full index must build what the incremental
 * path (which never guesses) builds.
 *
 * @module
 */
import { join } from "../lib/_deps.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import {
  catalogRows as rows,
  copyTree,
  type FixtureSpecimen,
  metricsSql,
  writeSpecimen,
} from "./testdata/catalog_fixtures.ts";
import { assert, assertEquals, INTEROP, tempVault } from "./utils.ts";

/** What a catalog holds, in a form two catalogs can be compared by. */
async function contents(vault: string) {
  const tables = await rows(
    vault,
    `SELECT table_name FROM duckdb_tables() ORDER BY 1`,
  );
  const columns = await rows(
    vault,
    `SELECT table_name, column_name, data_type FROM duckdb_columns()
     WHERE table_name LIKE 'metrics%' OR table_name LIKE '\\_%' ESCAPE '\\'
     ORDER BY table_name, column_index`,
  );
  const metricTables = (await rows(
    vault,
    `SELECT * FROM duckdb_tables()
     WHERE table_name = 'metrics' OR table_name LIKE 'metrics\\_\\_%' ESCAPE '\\'
        OR table_name LIKE '\\_%' ESCAPE '\\' ORDER BY table_name`,
  ))
    .map((t) => String(t.table_name));
  const data: Record<string, string[]> = {};
  for (const t of metricTables) {
    // Each file's rows in insertion order, as exp_ relations read them (no
    // ORDER BY); files by id, since one INSERT may interleave them.
    const byId = new Map<string, string[]>();
    for (const r of await rows(vault, `SELECT * FROM "${t}"`)) {
      const id = String(r.specimen_id);
      if (!byId.has(id)) byId.set(id, []);
      byId.get(id)!.push(
        JSON.stringify(r, (_, v) => typeof v === "bigint" ? String(v) : v),
      );
    }
    data[t] = [...byId.keys()].sort().flatMap((id) => byId.get(id)!);
  }
  const catalog = (await rows(
    vault,
    `SELECT specimen_id, metrics_rows, issues FROM catalog ORDER BY 1`,
  )).map((r) => ({
    ...r,
    // Which side won a type clash is said relative to what was there first.
    issues: (r.issues as string[]).map((i) =>
      i.replace(/in (the catalog|most specimens)/, "in <where>")
    ),
  }));
  const relations = await rows(
    vault,
    `SELECT specimen_id, name, rows, relation, source, definition, columns
     FROM metric_tables ORDER BY 1, 2`,
  );
  return { tables, columns, data, catalog, relations };
}

/**
 * Indexes `specimens` twice: in full (the bulk read), and one at a time
 * after the first (incremental, never bulk); returns both catalogs' contents.
 */
async function bothWays(specimens: FixtureSpecimen[], broken?: {
  id: string;
  file: string;
  text: string;
}) {
  await using full = await tempVault();
  await using step = await tempVault();
  for (const s of specimens) await writeSpecimen(full.path, s);
  if (broken) {
    await Deno.writeTextFile(
      join(full.specimens, broken.id, broken.file),
      broken.text,
    );
  }
  const fullReport = await indexVault({ vault: full.path, full: true });
  assertEquals(fullReport.mode, "full");
  // The same folders, copied in one by one after a first index.
  const [first, ...rest] = specimens;
  await copyTree(
    join(full.specimens, first.id),
    join(step.specimens, first.id),
  );
  await indexVault({ vault: step.path });
  for (const s of rest) {
    await copyTree(join(full.specimens, s.id), join(step.specimens, s.id));
  }
  const stepReport = await indexVault({ vault: step.path });
  assertEquals(stepReport.mode, "incremental");
  assertEquals(fullReport.indexed, stepReport.indexed);
  return {
    full: await contents(full.path),
    step: await contents(step.path),
    warnings: fullReport.warnings,
  };
}

const plain = (id: string, extra: Partial<FixtureSpecimen> = {}) => ({
  id,
  ...extra,
});

Deno.test("a full index builds what the incremental one does, where the bulk guess holds and where it fails", async (t) => {
  const cases: [
    string,
    FixtureSpecimen[],
    { id: string; file: string; text: string }?,
  ][] = [
    ["one schema", ["s0", "s1", "s2", "s3"].map((id) => plain(id))],
    ["a file with an extra column", [
      plain("s0"),
      plain("s1"),
      plain("s2", {
        metrics:
          "SELECT range::BIGINT AS step, 0.5 AS loss, 0.1 AS accuracy, 7 AS extra FROM range(5)",
      }),
      plain("s3"),
    ]],
    ["INTEGER and FLOAT where the rest have BIGINT and DOUBLE", [
      plain("s0"),
      plain("s1"),
      plain("s2", {
        metrics:
          "SELECT range::INTEGER AS step, (1.0 / (range + 1))::FLOAT AS loss, 0.25 AS accuracy FROM range(4)",
      }),
      plain("s3"),
    ]],
    ["INTEGER first, then BIGINT values beyond its range", [
      plain("s0", {
        metrics:
          "SELECT range::INTEGER AS step, 0.5 AS loss, 0.1 AS accuracy FROM range(3)",
      }),
      plain("s1", {
        metrics:
          "SELECT (range + 4000000000)::BIGINT AS step, 0.5 AS loss, 0.1 AS accuracy FROM range(3)",
      }),
      plain("s2", {
        metrics:
          "SELECT range::INTEGER AS step, 0.5 AS loss, 0.1 AS accuracy FROM range(3)",
      }),
    ]],
    ["the columns in another order", [
      plain("s0"),
      plain("s1", {
        metrics:
          "SELECT 0.25 AS accuracy, 1.0 / (range + 1) AS loss, range::BIGINT AS step FROM range(6)",
      }),
      plain("s2"),
    ]],
    ["text where the rest have numbers", [
      plain("s0"),
      plain("s1"),
      plain("s2", {
        metrics:
          "SELECT range::BIGINT AS step, 'high' AS loss, 0.5 AS accuracy FROM range(4)",
      }),
    ]],
    ["a specimen whose created is no timestamp", [
      plain("s0"),
      plain("s1", { created: "not a date" }),
      plain("s2"),
    ]],
    ["a corrupt manifest", [
      plain("s0"),
      plain("s1"),
      plain("s2"),
    ], { id: "s1", file: "manifest.msgpack", text: "not msgpack" }],
    ["a metrics file that is not Parquet", [
      plain("s0"),
      plain("s1"),
      plain("s2"),
    ], { id: "s1", file: "strata/metrics.parquet", text: "not parquet" }],
    ["a specimen without metrics, and a second table in some", [
      plain("s0", { tables: { evals: metricsSql(3) } }),
      plain("s1", { metrics: null }),
      plain("s2", { tables: { evals: metricsSql(4) } }),
      plain("s3"),
    ]],
  ];
  for (const [name, specimens, broken] of cases) {
    await t.step(name, async () => {
      const { full, step } = await bothWays(specimens, broken);
      assertEquals(full, step);
      assert(
        !full.tables.some((r) => String(r.table_name).startsWith("_bulk")),
        "a bulk table was left in the catalog",
      );
    });
  }
});

Deno.test("a full index of many specimens with one bad among them builds what the incremental one does", async (t) => {
  // Twelve specimens: one bad one is few enough that the bulk table is kept
  // and its rows deleted from it (more, and the kept files load afresh).
  const many = (bad: Partial<FixtureSpecimen> = {}, at = 5) =>
    Array.from(
      { length: 12 },
      (_, i) => plain(`s${String(i).padStart(2, "0")}`, i === at ? bad : {}),
    );
  const cases: [
    string,
    FixtureSpecimen[],
    { id: string; file: string; text: string }?,
  ][] = [
    ["a corrupt manifest", many(), {
      id: "s05",
      file: "manifest.msgpack",
      text: "not msgpack",
    }],
    ["the second specimen's manifest corrupt", many({}, 1), {
      id: "s01",
      file: "manifest.msgpack",
      text: "not msgpack",
    }],
    [
      "the last specimen's created no timestamp",
      many({
        created: "not a date",
      }, 11),
    ],
    ["two bad among twelve", many({ created: "never" }, 2), {
      id: "s09",
      file: "manifest.msgpack",
      text: "not msgpack",
    }],
  ];
  for (const [name, specimens, broken] of cases) {
    await t.step(name, async () => {
      const { full, step } = await bothWays(specimens, broken);
      assertEquals(full, step);
      assertEquals(full.catalog.length, name.startsWith("two") ? 10 : 11);
      assert(
        !full.tables.some((r) => String(r.table_name).startsWith("_bulk")),
        "a bulk table was left in the catalog",
      );
    });
  }
});

Deno.test("a full index keeps each file's rows in the file's order", async () => {
  await using v = await tempVault();
  const ids = ["b", "a", "d", "c"];
  for (const [i, id] of ids.entries()) {
    await writeSpecimen(v.path, {
      id,
      metrics:
        `SELECT (99 - range)::BIGINT AS step, ${i}.5 AS loss FROM range(100)`,
    });
  }
  await indexVault({ vault: v.path, full: true });
  const all = await rows(v.path, `SELECT specimen_id, step FROM metrics`);
  for (const id of ids) {
    assertEquals(
      all.filter((r) => r.specimen_id === id).map((r) => Number(r.step)),
      Array.from({ length: 100 }, (_, i) => 99 - i),
    );
  }
});

Deno.test("a full index of the Python vault builds what the incremental one does", async () => {
  await using full = await tempVault();
  await using step = await tempVault();
  const from = join(INTEROP, "python_vault", "specimens");
  const ids = [...Deno.readDirSync(from)].filter((e) => e.isDirectory)
    .map((e) => e.name).sort();
  assert(ids.length >= 2);
  for (const id of ids) {
    await copyTree(join(from, id), join(full.specimens, id));
  }
  await indexVault({ vault: full.path, full: true });
  await copyTree(join(from, ids[0]), join(step.specimens, ids[0]));
  await indexVault({ vault: step.path });
  for (const id of ids.slice(1)) {
    await copyTree(join(from, id), join(step.specimens, id));
  }
  await indexVault({ vault: step.path });
  assertEquals(await contents(full.path), await contents(step.path));
});

import { join } from "../lib/_deps.ts";
import { openDatabase, plainRows } from "../lib/_duckdb.ts";
import { indexVault } from "../lib/catalog.ts";
import {
  copyPythonSpecimens,
  PYTHON_IDS,
  writeSpecimen,
} from "./testdata/catalog_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  runDeno,
  runTask,
  taskFlags,
  tempDir,
  tempVault,
} from "./utils.ts";

/** The permissions deno.json's `query` task grants: they must be enough. */
const TASK_FLAGS = await taskFlags("query");

async function indexedVault() {
  const v = await tempVault();
  await copyPythonSpecimens(v.path);
  await writeSpecimen(v.path, {
    id: "tagged",
    domain: "interpretability",
    method: "probe_training",
    tags: ["gpt2", "a,b"],
    description: 'says "hi",\nthen leaves',
  });
  await indexVault({ vault: v.path });
  return v;
}

function query(args: string[], options: { cwd?: string } = {}) {
  return runDeno(
    ["run", ...TASK_FLAGS, join(ROOT, "tasks", "query.ts"), ...args],
    options,
  );
}

Deno.test("query task prints a readable table with a row count", async () => {
  await using v = await indexedVault();
  const r = await query([
    "--vault",
    v.path,
    "SELECT specimen_id, domain, tags, created FROM catalog WHERE domain = 'interpretability' ORDER BY 1",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assertMatch(lines[0], /^specimen_id\s+domain\s+tags\s+created$/);
  assertMatch(lines[1], /^─+ {2}─+ {2}─+ {2}─+$/);
  assertEquals(lines.length, 5);
  assertMatch(
    lines[2],
    /^2024_01_01_run_000000\s+interpretability\s+\["gpt2","sweep"\]\s+2024-01-01T00:00:00\.000Z$/,
  );
  assertMatch(lines[3], /^tagged\s+interpretability/);
  assertEquals(lines[4], "(2 rows)");
});

Deno.test("query task --format csv and json are machine-readable", async () => {
  await using v = await indexedVault();
  const sql =
    "SELECT specimen_id, tags, description, metrics_rows FROM catalog WHERE specimen_id = 'tagged'";
  const csv = await query(["--vault", v.path, "--format", "csv", sql]);
  assertEquals(csv.code, 0, csv.stderr);
  assertEquals(
    csv.stdout,
    'specimen_id,tags,description,metrics_rows\r\ntagged,"[""gpt2"",""a,b""]","says ""hi"",\nthen leaves",10\r\n',
  );
  const json = await query(["--vault", v.path, "-f", "json", sql]);
  assertEquals(json.code, 0, json.stderr);
  assertEquals(JSON.parse(json.stdout), [{
    specimen_id: "tagged",
    tags: ["gpt2", "a,b"],
    description: 'says "hi",\nthen leaves',
    metrics_rows: 10,
  }]);
  const created = await query([
    "--vault",
    v.path,
    "--format",
    "json",
    "SELECT created FROM catalog ORDER BY created LIMIT 1",
  ]);
  assertEquals(JSON.parse(created.stdout), [{
    created: "2024-01-01T00:00:00.000Z",
  }]);
});

Deno.test("query task --format parquet writes --out FILE; without --out exits 2", async () => {
  await using v = await indexedVault();
  await using d = await tempDir();
  const out = join(d.path, "final.parquet");
  const r = await query([
    "--vault",
    v.path,
    "--format",
    "parquet",
    "--out",
    out,
    "SELECT specimen_id, max(step) AS last_step, arg_max(loss, step) AS final_loss FROM metrics GROUP BY 1 ORDER BY 1",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /Wrote 4 row\(s\) to /);
  using db = await openDatabase(":memory:");
  const back = plainRows(
    await db.connection.runAndReadAll(`SELECT * FROM read_parquet('${out}')`),
  );
  assertEquals(back.map((x) => x.specimen_id), [...PYTHON_IDS, "tagged"]);
  assertEquals(back[3].last_step, 9);
  const bad = await query([
    "--vault",
    v.path,
    "--format",
    "parquet",
    "SELECT 1",
  ]);
  assertEquals(bad.code, 2);
  assertMatch(bad.stderr, /--out FILE/);
});

Deno.test("query task shows a DuckDB error with a caret under the spot, exit 1", async () => {
  await using v = await indexedVault();
  const r = await query([
    "--vault",
    v.path,
    "SELECT specimen_id, nope FROM catalog",
  ]);
  assertEquals(r.code, 1);
  assertEquals(r.stdout, "");
  assertMatch(r.stderr, /^error: Binder Error: Referenced column "nope"/);
  const lines = r.stderr.split("\n");
  const sqlLine = lines.findIndex((l) => l.startsWith("LINE 1:"));
  assert(sqlLine > 0, r.stderr);
  assertEquals(
    lines[sqlLine + 1].indexOf("^"),
    lines[sqlLine].indexOf("nope"),
  );
});

Deno.test("query task refuses statements that write: exit 2, the vault unchanged", async (t) => {
  await using v = await indexedVault();
  const catalog = await Deno.readFile(join(v.path, "vault.duckdb"));
  const listing = () => [...Deno.readDirSync(v.path)].map((e) => e.name).sort();
  const names = listing();
  for (
    const sql of [
      "DROP TABLE catalog",
      "CREATE TABLE t AS SELECT 1",
      `COPY catalog TO '${join(v.path, "out.csv")}'`,
      `ATTACH '${join(v.path, "x.duckdb")}' AS x`,
    ]
  ) {
    await t.step(sql, async () => {
      const r = await query(["--vault", v.path, sql]);
      assertEquals(r.code, 2);
      assertMatch(r.stderr, /^error: Refusing to/);
    });
  }
  assertEquals(listing(), names);
  assertEquals(await Deno.readFile(join(v.path, "vault.duckdb")), catalog);
});

Deno.test("query task without a catalog exits 4 and says to run deno task index", async () => {
  await using v = await tempVault();
  const r = await query(["--vault", v.path, "SELECT 1"]);
  assertEquals(r.code, 4);
  assertMatch(r.stderr, /No catalog at .*run `deno task index` first/);
});

Deno.test("query task works from any directory: inside the vault, via SPECIMEN_VAULT, and after the vault moved", async () => {
  await using v = await indexedVault();
  const sql = `SELECT count(*) AS n FROM exp_${PYTHON_IDS[1]} WHERE step > 40`;
  const inside = await query(["-f", "csv", sql], {
    cwd: join(v.specimens, PYTHON_IDS[0], "strata"),
  });
  assertEquals([inside.code, inside.stdout], [0, "n\r\n9\r\n"]);
  await using elsewhere = await tempDir();
  const viaEnv = await runTask("query", ["-f", "csv", sql], {
    cwd: elsewhere.path,
    env: { SPECIMEN_VAULT: v.path },
  });
  assertEquals([viaEnv.code, viaEnv.stdout], [0, "n\r\n9\r\n"]);
  // Move the whole vault (as rsync to a laptop would) and ask again.
  const moved = join(elsewhere.path, "laptop_vault");
  await Deno.rename(v.path, moved);
  try {
    const r = await query(["--vault", moved, "-f", "csv", sql], {
      cwd: elsewhere.path,
    });
    assertEquals([r.code, r.stdout], [0, "n\r\n9\r\n"]);
  } finally {
    await Deno.rename(moved, v.path);
  }
});

Deno.test("query task reads SQL from stdin with -", async () => {
  await using v = await indexedVault();
  const r = await runDeno(
    [
      "run",
      "-A",
      join(ROOT, "tasks", "query.ts"),
      "--vault",
      v.path,
      "-f",
      "csv",
      "-",
    ],
    { stdin: "SELECT count(*) AS n FROM catalog" },
  );
  assertEquals([r.code, r.stdout], [0, "n\r\n4\r\n"]);
});

Deno.test("query task rejects an unknown format and missing SQL with exit 2; --help exits 0", async () => {
  const fmt = await runTask("query", ["--format", "xml", "SELECT 1"]);
  assertEquals(fmt.code, 2);
  assertMatch(
    fmt.stderr,
    /Unknown format "xml": use one of table, csv, json, parquet/,
  );
  const none = await runTask("query", []);
  assertEquals(none.code, 2);
  assertMatch(none.stderr, /Missing SQL/);
  const help = await runTask("query", ["--help"]);
  assertEquals(help.code, 0);
  assertMatch(help.stdout, /Exit codes:/);
});

Deno.test("query task resolves --vault and --out against the folder deno task was started in", async () => {
  await using v = await indexedVault();
  await using elsewhere = await tempDir();
  // deno task runs every task in the folder of deno.json; INIT_CWD names
  // the user's own folder, and relative paths are the user's.
  const r = await runDeno(
    [
      "run",
      ...TASK_FLAGS,
      join(ROOT, "tasks", "query.ts"),
      "--vault",
      ".",
      "--format",
      "csv",
      "--out",
      "out.csv",
      "SELECT count(*) AS n FROM catalog",
    ],
    { cwd: ROOT, env: { INIT_CWD: v.path } },
  );
  assertEquals(r.code, 0, r.stderr);
  assertEquals(await Deno.readTextFile(join(v.path, "out.csv")), "n\r\n4\r\n");
  // An existing file is not replaced, and nothing is written into specimens/.
  for (const out of ["out.csv", "specimens/tagged/strata/metrics.parquet"]) {
    const again = await runDeno(
      [
        "run",
        ...TASK_FLAGS,
        join(ROOT, "tasks", "query.ts"),
        "--vault",
        v.path,
        "--out",
        join(v.path, out),
        "--format",
        out.endsWith(".csv") ? "csv" : "parquet",
        "SELECT 1 AS x",
      ],
      { cwd: elsewhere.path },
    );
    assertEquals(again.code, 2, again.stderr);
    assertMatch(again.stderr, /Refusing to (replace|write)/);
  }
  assertEquals(await Deno.readTextFile(join(v.path, "out.csv")), "n\r\n4\r\n");
});

Deno.test("query task: words like query( inside string literals are data, not calls", async () => {
  await using v = await indexedVault();
  const r = await query([
    "--vault",
    v.path,
    "--format",
    "csv",
    "SELECT 'run query(1) or enable_logging()' AS note",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout, "note\r\nrun query(1) or enable_logging()\r\n");
  const refused = await query([
    "--vault",
    v.path,
    "SELECT * FROM query('SELECT 1')",
  ]);
  assertEquals(refused.code, 2);
});

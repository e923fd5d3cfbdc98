import { join } from "../lib/_deps.ts";
import { openDatabase, plainRows } from "../lib/duckdb/duckdb.ts";
import { indexedQueryVault, PYTHON_IDS } from "./testdata/catalog_fixtures.ts";
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

/** Runs the query task; TIMESTAMPTZ prints in UTC unless `env` says else. */
function query(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
) {
  return runDeno(
    ["run", ...TASK_FLAGS, join(ROOT, "tasks", "query.ts"), ...args],
    { ...options, env: { TZ: "UTC", ...options.env } },
  );
}

Deno.test("query task prints a readable table with a row count", async () => {
  await using v = await indexedQueryVault();
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
    /^2024_01_01_run_000000\s+interpretability\s+\[gpt2, sweep\]\s+2024-01-01 00:00:00\+00$/,
  );
  assertMatch(lines[3], /^tagged\s+interpretability/);
  assertEquals(lines[4], "(2 rows)");
});

Deno.test("query task --format csv and json are machine-readable", async () => {
  await using v = await indexedQueryVault();
  const sql =
    "SELECT specimen_id, tags, description, metrics_rows FROM catalog WHERE specimen_id = 'tagged'";
  const csv = await query(["--vault", v.path, "--format", "csv", sql]);
  assertEquals(csv.code, 0, csv.stderr);
  assertEquals(
    csv.stdout,
    `specimen_id,tags,description,metrics_rows\ntagged,"[gpt2, 'a,b']","says ""hi"",\nthen leaves",10\n`,
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
    created: "2024-01-01T00:00:00+00:00",
  }]);
});

Deno.test("query task --format parquet writes --out FILE; without --out exits 2", async () => {
  await using v = await indexedQueryVault();
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
  await using v = await indexedQueryVault();
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
  await using v = await indexedQueryVault();
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
  await using v = await indexedQueryVault();
  const sql = `SELECT count(*) AS n FROM exp_${PYTHON_IDS[1]} WHERE step > 40`;
  const inside = await query(["-f", "csv", sql], {
    cwd: join(v.specimens, PYTHON_IDS[0], "strata"),
  });
  assertEquals([inside.code, inside.stdout], [0, "n\n9\n"]);
  await using elsewhere = await tempDir();
  const viaEnv = await runTask("query", ["-f", "csv", sql], {
    cwd: elsewhere.path,
    env: { SPECIMEN_VAULT: v.path },
  });
  assertEquals([viaEnv.code, viaEnv.stdout], [0, "n\n9\n"]);
  // Move the whole vault (as rsync to a laptop would) and ask again.
  const moved = join(elsewhere.path, "laptop_vault");
  await Deno.rename(v.path, moved);
  try {
    const r = await query(["--vault", moved, "-f", "csv", sql], {
      cwd: elsewhere.path,
    });
    assertEquals([r.code, r.stdout], [0, "n\n9\n"]);
  } finally {
    await Deno.rename(moved, v.path);
  }
});

Deno.test("query task reads SQL from stdin with -", async () => {
  await using v = await indexedQueryVault();
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
  assertEquals([r.code, r.stdout], [0, "n\n4\n"]);
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
  await using v = await indexedQueryVault();
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
  assertEquals(await Deno.readTextFile(join(v.path, "out.csv")), "n\n4\n");
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
  assertEquals(await Deno.readTextFile(join(v.path, "out.csv")), "n\n4\n");
});

Deno.test("query task: words like query( inside string literals are data, not calls", async () => {
  await using v = await indexedQueryVault();
  const r = await query([
    "--vault",
    v.path,
    "--format",
    "csv",
    "SELECT 'run query(1) or enable_logging()' AS note",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout, "note\nrun query(1) or enable_logging()\n");
  const refused = await query([
    "--vault",
    v.path,
    "SELECT * FROM query('SELECT 1')",
  ]);
  assertEquals(refused.code, 2);
});

/** Each case: a SQL expression, its table/csv text, its JSON form. */
const TYPE_CASES: [string, string, unknown][] = [
  [
    "TIMESTAMP '2024-01-01 12:00:00.123456'",
    "2024-01-01 12:00:00.123456",
    "2024-01-01T12:00:00.123456",
  ],
  [
    "TIMESTAMP '2024-01-01 12:00:00'",
    "2024-01-01 12:00:00",
    "2024-01-01T12:00:00",
  ],
  [
    "TIMESTAMP_NS '2024-01-01 12:00:00.123456789'",
    "2024-01-01 12:00:00.123456789",
    "2024-01-01T12:00:00.123456789",
  ],
  [
    "TIMESTAMP_MS '1969-12-31 23:59:59.999'",
    "1969-12-31 23:59:59.999",
    "1969-12-31T23:59:59.999",
  ],
  [
    "TIMESTAMPTZ '2024-01-01 12:00:00.000001+02:00'",
    "2024-01-01 10:00:00.000001+00",
    "2024-01-01T10:00:00.000001+00:00",
  ],
  ["TIMESTAMP 'infinity'", "infinity", "infinity"],
  ["DATE '2024-01-01'", "2024-01-01", "2024-01-01"],
  ["DATE '0044-03-15 (BC)'", "0044-03-15 (BC)", "0044-03-15 (BC)"],
  ["TIME '23:59:59.999999'", "23:59:59.999999", "23:59:59.999999"],
  [
    "INTERVAL 14 MONTH + INTERVAL 3 DAY",
    "1 year 2 months 3 days",
    "1 year 2 months 3 days",
  ],
  ["'\\x00\\xFF'::BLOB", "\\x00\\xFF", "AP8="],
  ["'ab'::BLOB", "ab", "YWI="],
  [
    "12345678901234.5678::DECIMAL(18,4)",
    "12345678901234.5678",
    "12345678901234.5678",
  ],
  ["(-0.01)::DECIMAL(10,2)", "-0.01", "-0.01"],
  ["9007199254740993::BIGINT", "9007199254740993", "9007199254740993"],
  ["9007199254740991::BIGINT", "9007199254740991", 9007199254740991],
  [
    "(-9223372036854775808)::BIGINT",
    "-9223372036854775808",
    "-9223372036854775808",
  ],
  [
    "18446744073709551615::UBIGINT",
    "18446744073709551615",
    "18446744073709551615",
  ],
  [
    "170141183460469231731687303715884105727::HUGEINT",
    "170141183460469231731687303715884105727",
    "170141183460469231731687303715884105727",
  ],
  ["0.1::DOUBLE", "0.1", 0.1],
  ["'nan'::DOUBLE", "nan", "nan"],
  ["'-inf'::FLOAT", "-inf", "-inf"],
  ["['a', NULL, 'b c']", "[a, NULL, b c]", ["a", null, "b c"]],
  ["[[1, 2], [3]]", "[[1, 2], [3]]", [[1, 2], [3]]],
  ["{'x': 1, 'y': 'z'}", "{'x': 1, 'y': z}", { x: 1, y: "z" }],
  ["MAP {'k': 2}", "{k=2}", { k: 2 }],
  ["MAP {1: 'a'}", "{1=a}", [{ key: 1, value: "a" }]],
  [
    "'550e8400-e29b-41d4-a716-446655440000'::UUID",
    "550e8400-e29b-41d4-a716-446655440000",
    "550e8400-e29b-41d4-a716-446655440000",
  ],
  ["true", "true", true],
  ["'{\"a\": [1]}'::JSON", '{"a": [1]}', { a: [1] }],
];

Deno.test("query task prints every type at full precision: SQL text in table and csv, the documented JSON form in json", async (t) => {
  await using v = await indexedQueryVault();
  const select = TYPE_CASES.map(([expr], i) => `${expr} AS c${i}`).join(", ");
  const sql = `SELECT ${select}, NULL AS n, '' AS e`;
  const csv = await query(["--vault", v.path, "-f", "csv", sql]);
  assertEquals(csv.code, 0, csv.stderr);
  const json = await query(["--vault", v.path, "-f", "json", sql]);
  assertEquals(json.code, 0, json.stderr);
  const [row] = JSON.parse(json.stdout);
  const table = await query([
    "--vault",
    v.path,
    `${sql.replace(", NULL AS n, '' AS e", "")}`,
  ]);
  assertEquals(table.code, 0, table.stderr);
  // csv: one line of fields; parse it back (quotes are RFC 4180).
  const line = csv.stdout.split("\n")[1];
  const fields: string[] = [];
  for (const m of line.matchAll(/(?:^|,)("(?:[^"]|"")*"|[^,]*)/g)) {
    const f = m[1];
    fields.push(f.startsWith('"') ? f.slice(1, -1).replaceAll('""', '"') : f);
  }
  for (const [i, [expr, text, form]] of TYPE_CASES.entries()) {
    await t.step(expr, () => {
      assertEquals(fields[i], text, "csv");
      assertEquals(row[`c${i}`], form, "json");
      assert(table.stdout.includes(text), `table: ${text}`);
    });
  }
  await t.step("NULL and the empty string", () => {
    assertEquals(fields.slice(-2), ["", ""]);
    assertMatch(line, /,,""$/);
    assertEquals([row.n, row.e], [null, ""]);
  });
});

Deno.test("query task csv ends lines with LF, or CRLF with --crlf; tail -1 gives the bare number", async () => {
  await using v = await indexedQueryVault();
  const sql = "SELECT count(*) AS n FROM catalog";
  const lf = await query(["--vault", v.path, "-f", "csv", sql]);
  assertEquals(lf.stdout, "n\n4\n");
  const crlf = await query(["--vault", v.path, "-f", "csv", "--crlf", sql]);
  assertEquals(crlf.stdout, "n\r\n4\r\n");
  const sh = await new Deno.Command("sh", {
    args: [
      "-c",
      `"$0" run ${
        TASK_FLAGS.join(" ")
      } "$1" --vault "$2" -f csv "$3" | tail -1`,
      Deno.execPath(),
      join(ROOT, "tasks", "query.ts"),
      v.path,
      sql,
    ],
    env: { NO_COLOR: "1" },
  }).output();
  assertEquals(new TextDecoder().decode(sh.stdout), "4\n");
});

Deno.test("query task prints TIMESTAMPTZ with the session's offset", async () => {
  await using v = await indexedQueryVault();
  const r = await query([
    "--vault",
    v.path,
    "-f",
    "csv",
    "SELECT TIMESTAMPTZ '2024-01-01 12:00:00.5+00' AS t",
  ], { env: { TZ: "Asia/Kolkata" } });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout, "t\n2024-01-01 17:30:00.5+05:30\n");
});

Deno.test("query task csv keeps columns of one name apart and an empty result's header", async () => {
  await using v = await indexedQueryVault();
  const dup = await query([
    "--vault",
    v.path,
    "-f",
    "csv",
    "SELECT 1 AS a, 2 AS a, 'x' AS b",
  ]);
  assertEquals([dup.code, dup.stdout], [0, "a,a,b\n1,2,x\n"]);
  const none = await query([
    "--vault",
    v.path,
    "-f",
    "csv",
    "SELECT specimen_id, created FROM catalog WHERE false",
  ]);
  assertEquals([none.code, none.stdout], [0, "specimen_id,created\n"]);
});

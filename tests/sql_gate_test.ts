import { join } from "../lib/_deps.ts";
import { openDatabase } from "../lib/duckdb/duckdb.ts";
import { REVIEWED_DUCKDB_VERSION } from "../lib/query/sql_gate.ts";
import { VaultError } from "../lib/errors.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import { serveDashboard } from "../lib/dashboard/server.ts";
import {
  fuzzCases,
  fuzzVault,
  runGateFuzz,
} from "./_tools/stress/gate_fuzz.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  ROOT,
  runDeno,
  taskFlags,
  tempDir,
} from "./utils.ts";

const TASK_FLAGS = await taskFlags("query");

function cli(args: string[], stdin?: string) {
  return runDeno([
    "run",
    ...TASK_FLAGS,
    join(ROOT, "tasks", "query.ts"),
    ...args,
  ], { stdin });
}

/** Runs `jobs` at most `n` at a time (the machine is shared). */
async function limited<T>(n: number, jobs: (() => Promise<T>)[]) {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]();
      }
    }),
  );
  return results;
}

/**
 * Refused calls hidden behind each quoting syntax DuckDB reads: the text
 * filter that came before blanked only '…' literals, so each of these ran
 * query() or aborted the process. Each must be refused, naming the call.
 */
const SMUGGLED: [string, RegExp][] = [
  [
    "SELECT $$'$$ AS a, * FROM query('SELECT 42 AS answer') -- '",
    /^Refusing to run query\(\)/,
  ],
  [
    "SELECT $t$'$t$ AS a, * FROM query('SELECT 42 AS answer') -- '",
    /^Refusing to run query\(\)/,
  ],
  [
    "SELECT E'\\'' AS a, * FROM query('SELECT 1') -- '",
    /^Refusing to run query\(\)/,
  ],
  [
    `SELECT 1 AS "'", * FROM read_text('/etc/passwd') -- '`,
    /^Refusing to run read_text\(\)/,
  ],
  [
    "SELECT 1 /* ' */, * FROM read_blob('/etc/hostname')",
    /^Refusing to run read_blob\(\)/,
  ],
  [
    "SELECT $$'$$; CALL enable_logging(storage := 'file', storage_path := '/tmp/sv_gate.log') -- '",
    /^Refusing to run these 2 statements/,
  ],
  [
    "CALL enable_logging(storage := 'file', storage_path := '/tmp/sv_gate.log')",
    /^Refusing to run a CALL statement/,
  ],
  [
    "SELECT * FROM \"Query\"('SELECT 1')",
    /^Refusing to run query\(\)/,
  ],
  [
    "SELECT * FROM system.main.query_table('catalog')",
    /^Refusing to run query_table\(\)/,
  ],
  [
    "WITH x AS (SELECT * FROM glob('/*')) SELECT * FROM x",
    /^Refusing to run glob\(\)/,
  ],
  [
    "SELECT (SELECT count(*) FROM (SELECT * FROM read_csv('/etc/passwd'))) AS n",
    /^Refusing to run read_csv\(\)/,
  ],
  [
    "SELECT * FROM catalog WHERE EXISTS (SELECT 1 FROM query('SELECT 1'))",
    /^Refusing to run query\(\)/,
  ],
  ["SELECT write_log('x') AS w", /^Refusing to run write_log\(\)/],
  [
    "SELECT json_serialize_plan('COPY catalog TO ''/tmp/x.csv''') AS p",
    /^Refusing to run json_serialize_plan\(\)/,
  ],
  ["SET threads = 1", /^Refusing to run a SET statement/],
  ["PRAGMA enable_profiling", /^Refusing to run a PRAGMA statement/],
  ["ATTACH ':memory:' AS m", /^Refusing to run an ATTACH statement/],
  [
    "COPY catalog TO '/tmp/sv_gate_leak.csv'",
    /^Refusing to run a COPY statement/,
  ],
  ["INSTALL httpfs", /^Refusing to run an INSTALL statement/],
  ["LOAD httpfs", /^Refusing to run a LOAD statement/],
  [
    "EXPORT DATABASE '/tmp/sv_gate_export'",
    /^Refusing to run an EXPORT statement/,
  ],
  ["CREATE MACRO m() AS 1", /^Refusing to run a CREATE statement/],
  [
    "/* a comment */ -- and another\n  select 1; sElEcT * fRoM QUERY('select 1')",
    /^Refusing to run query\(\)/,
  ],
  ["SELECT * FROM '/etc/passwd'", /^Refusing to read "\/etc\/passwd"/],
];

/** Read-only queries that mention refused names only as data. */
function legitQueries(id: string): [string, number][] {
  return [
    ["SELECT 'query(''SELECT 1'')' AS s", 1],
    ["SELECT $$ read_text('/etc/passwd') $$ AS s", 1],
    ["SELECT $q$ CALL enable_logging() $q$ AS s", 1],
    ["SELECT E'\\' query(\\'x\\')' AS s", 1],
    [`SELECT 1 AS "query('x')"`, 1],
    ["SELECT 1 AS n -- query('x')\n", 1],
    ["SELECT 1 AS n /* read_text('/etc/passwd') */", 1],
    ["SELECT 'ünïcødé ✓ 🧪 query()' AS s", 1],
    [
      `WITH last AS (SELECT max(step) AS s FROM exp_${id}) SELECT c.specimen_id, e.loss FROM catalog c JOIN exp_${id} e ON c.specimen_id = '${id}', last WHERE e.step = last.s`,
      1,
    ],
    [
      `SELECT step, avg(loss) OVER (ORDER BY step ROWS 2 PRECEDING) AS smooth FROM exp_${id}`,
      5,
    ],
    [
      "SELECT table_name FROM duckdb_tables() WHERE table_name = 'catalog'",
      1,
    ],
    ["SELECT * FROM range(3) r(x), unnest([1, 2]) u(y)", 6],
    ["DESCRIBE catalog", -1],
    ["SELECT 1 AS a; SELECT 2 AS b", 1],
  ];
}

Deno.test("the SQL gate refuses functions and statements behind every quoting syntax, and runs queries that only mention them", async (t) => {
  await using v = await fuzzVault();
  using q = await VaultQuery.open({ vault: v.path, timeoutSeconds: 10 });
  for (const [sql, reason] of SMUGGLED) {
    await t.step(`refused: ${sql.slice(0, 60)}`, async () => {
      const e = await assertRejects(
        () => q.search(sql),
        InvalidInputError,
        reason,
      );
      assertEquals((e as VaultError).exitCode, 2);
    });
  }
  for (const [sql, rows] of legitQueries(v.id)) {
    await t.step(`runs: ${sql.slice(0, 60)}`, async () => {
      const result = await q.search(sql);
      if (rows >= 0) assertEquals(result.length, rows);
    });
  }
  // A function DuckDB does not have is its own error (exit 1), not a crash.
  await assertRejects(
    () => q.search("SELECT getenv('HOME') AS h"),
    VaultError,
    /getenv does not exist/,
  );
  // The connection still works, and nothing was logged or written.
  assertEquals((await q.search("SELECT 42 AS a"))[0].a, 42);
  const settings = await q.search(
    "SELECT current_setting('enable_external_access') AS e, current_setting('lock_configuration') AS l",
  );
  assertEquals(settings, [{ e: false, l: true }]);
});

Deno.test("deno task query refuses each smuggled call with exit 2 and never aborts", async () => {
  await using v = await fuzzVault();
  const results = await limited(
    2,
    SMUGGLED.map(([sql]) => () => cli(["--vault", v.path, sql])),
  );
  for (const [i, [sql, reason]] of SMUGGLED.entries()) {
    const r = results[i];
    assertEquals(r.code, 2, `${sql}: ${r.stderr}`);
    assertMatch(r.stderr, new RegExp(`^error: ${reason.source.slice(1)}`));
    assertEquals(r.stdout, "");
  }
  const ok = await cli([
    "--vault",
    v.path,
    "--format",
    "json",
    "SELECT $$'$$ AS a, 'query(''x'')' AS b",
  ]);
  assertEquals(ok.code, 0, ok.stderr);
  assertEquals(JSON.parse(ok.stdout), [{ a: "'", b: "query('x')" }]);
});

/** Gate bombs: each is parsed once, in time linear in its length. */
function bombs(n: number): [string, string][] {
  const long = "x".repeat(n);
  return [
    ["/* */ comments", `SELECT 1 AS a ${"/* */".repeat(n)} FROM catalog`],
    [
      "/**/ comments, spaced",
      `SELECT 1 AS a ${"/**/ ".repeat(n)} FROM catalog`,
    ],
    ["-- comments", `SELECT 1 AS a ${"-- c\n".repeat(n)}`],
    ["'…' literal", `SELECT '${long}' AS s`],
    ["$$…$$ literal", `SELECT $$${long}$$ AS s`],
    ["$tag$…$tag$ literal", `SELECT $t$${long}$t$ AS s`],
    ["E'…' literal", `SELECT E'${"\\'".repeat(n / 2)}' AS s`],
    ['"ident"', `SELECT 1 AS "${long}"`],
    ["unicode", `SELECT '${"ü🧪".repeat(n / 2)}' AS s`],
    ["nested parens", `SELECT ${"(".repeat(200)}1${")".repeat(200)} AS a`],
    [
      "many function calls",
      `SELECT ${
        Array.from({ length: n / 10 }, (_, i) => `abs(${i})`).join("+")
      } AS a`,
    ],
    ["unclosed /* comment", `SELECT 1 /* ${long}`],
  ];
}

Deno.test("the SQL gate takes time linear in the query's length: comment, quote and nesting bombs", async (t) => {
  await using v = await fuzzVault();
  using q = await VaultQuery.open({ vault: v.path, timeoutSeconds: 30 });
  // The least of three runs: another process on the machine only ever adds
  // time, so the least is the closest to the work done (no timed bound).
  const time = async (sql: string) => {
    let least = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await q.search(sql).catch((e) => {
        if (!(e instanceof VaultError)) throw e;
      });
      least = Math.min(least, performance.now() - t0);
    }
    return least;
  };
  const small = bombs(10_000);
  const big = bombs(40_000);
  for (const [i, [name]] of small.entries()) {
    await t.step(name, async () => {
      await time(small[i][1]); // warm up
      const a = await time(small[i][1]);
      const b = await time(big[i][1]);
      console.log(`${name}: ${a.toFixed(1)} ms → ${b.toFixed(1)} ms`);
      // Four times the length: well under sixteen times the time.
      assert(
        b < Math.max(50, a) * 10,
        `${name}: ${a.toFixed(1)} ms → ${b.toFixed(1)} ms`,
      );
    });
  }
  await t.step(
    "deeply nested parens are a parse error, not a crash",
    async () => {
      await assertRejects(
        () => q.search(`SELECT ${"(".repeat(100_000)}1${")".repeat(100_000)}`),
        VaultError,
      );
    },
  );
  await t.step(
    "a run of back-to-back /**/ is refused at once (DuckDB's scanner is quadratic on it)",
    async () => {
      for (
        const sql of [
          `SELECT 1 AS a ${"/**/".repeat(10_000)}`,
          `SELECT 1 ${"+/**/".repeat(5_000)} 1`,
          `SELECT '${"/**/".repeat(10_000)}' AS s`,
        ]
      ) {
        // Refused by the gate's own check, before DuckDB scans it.
        await assertRejects(
          () => q.search(sql),
          InvalidInputError,
          /^Refusing SQL with a run of \d+ operator characters holding comments/,
        );
      }
      // 250 of them in a row are fine.
      assertEquals(
        (await q.search(`SELECT 1 AS a ${"/**/".repeat(250)}`))[0].a,
        1,
      );
    },
  );
  await t.step("SQL over the length limit is refused at once", async () => {
    await assertRejects(
      () => q.search(`SELECT 1 ${"/**/".repeat(300_000)}`),
      InvalidInputError,
      /^Refusing SQL of 1200009 characters: the limit is 1000000/,
    );
  });
});

Deno.test("deno task query --timeout covers the gate: a 181-byte comment bomb and a 950 KB one end within the limit", async () => {
  await using v = await fuzzVault();
  for (
    const sql of [
      `SELECT 1 AS a${" /**/".repeat(30)} FROM catalog`.padEnd(181),
      `SELECT 1 AS a ${"/**/ ".repeat(190_000)}`,
    ]
  ) {
    const r = await cli(["--vault", v.path, "--timeout", "1", "-"], sql);
    // Answered, or stopped by the limit on a busy machine: never a hang.
    if (r.code !== 0) {
      assertEquals(r.code, 1, r.stderr);
      assertMatch(r.stderr, /^error: Query stopped after 1 s, the time limit/);
    }
  }
});

Deno.test("query --out refuses specimens/ through a symlinked folder, a symlinked vault path or a ..name: exit 2, nothing written", async () => {
  await using v = await fuzzVault();
  await using work = await tempDir();
  const into = join(work.path, "into_specimens");
  await Deno.symlink(v.specimens, into);
  const vaultLink = join(work.path, "vault_link");
  await Deno.symlink(v.path, vaultLink);
  const intoSpecimen = join(work.path, "into_one");
  await Deno.symlink(join(v.specimens, v.id), intoSpecimen);
  const outs = [
    join(into, "leak.csv"),
    join(vaultLink, "specimens", "leak.csv"),
    join(v.specimens, "..evil.csv"),
    join(intoSpecimen, "strata", "leak.csv"),
    join(v.specimens, v.id, "..", "..", "specimens", "leak.csv"),
  ];
  const listing = () => [...Deno.readDirSync(v.specimens)].map((e) => e.name);
  const before = listing();
  for (const out of outs) {
    for (const format of ["csv", "parquet"]) {
      const r = await cli([
        "--vault",
        v.path,
        "--format",
        format,
        "--out",
        out,
        "SELECT 1 AS a",
      ]);
      assertEquals(r.code, 2, `${out}: ${r.stderr}`);
      assertMatch(r.stderr, /^error: Refusing to write .*write-once/);
    }
  }
  assertEquals(listing(), before);
  // Beside the vault, through the same kind of link, it works.
  const beside = join(work.path, "ok.csv");
  const r = await cli([
    "--vault",
    vaultLink,
    "--format",
    "csv",
    "--out",
    beside,
    "SELECT 1 AS a",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(await Deno.readTextFile(beside), "a\n1\n");
});

Deno.test("VaultQuery spills into a private temp folder outside the vault, capped, removed on close", async () => {
  await using v = await fuzzVault();
  const q = await VaultQuery.open({ vault: v.path });
  const [s] = await q.search(
    "SELECT current_setting('temp_directory') AS dir, current_setting('max_temp_directory_size') AS cap, current_setting('allowed_directories') AS allowed",
  );
  const dir = String(s.dir);
  assert(!dir.startsWith(v.path), `${dir} is inside the vault`);
  assertMatch(dir, /specimen-vault-duckdb-/);
  assertEquals(s.cap, "4.0 GiB");
  assertEquals((await Deno.stat(dir)).mode! & 0o777, 0o700);
  // DuckDB lets SQL read its temp folder, so nothing but it is allowed.
  assertEquals(
    (s.allowed as string[]).map((d) => d.replace(/\/$/, "")),
    [dir],
  );
  assert(
    !(await Deno.stat(join(v.path, "vault.duckdb.tmp")).then(
      () => true,
      () => false,
    )),
  );
  q.close();
  await assertRejects(() => Deno.stat(dir), Deno.errors.NotFound);
});

Deno.test("an oversized result is refused naming the limit and the fix, not 'Invalid string length'", async () => {
  await using v = await fuzzVault();
  using q = await VaultQuery.open({
    vault: v.path,
    maxResultBytes: 1024 * 1024,
  });
  await assertRejects(
    () => q.search("SELECT repeat('x', 10000) AS s FROM range(1000)"),
    VaultError,
    /^The result passed 1 MiB .*LIMIT.*--format parquet --out FILE/,
  );
  assertEquals(
    (await q.search("SELECT repeat('x', 10000) AS s FROM range(50)")).length,
    50,
  );
  // The CLI at its default limit (128 MiB): exit 1 with the message.
  const r = await cli([
    "--vault",
    v.path,
    "--format",
    "json",
    "SELECT repeat('x', 1000000) AS s FROM range(140)",
  ]);
  assertEquals(r.code, 1, r.stderr);
  assertMatch(r.stderr, /^error: The result passed 128 MiB/);
  assert(!/Invalid string length/.test(r.stderr));
});

Deno.test("dashboard SQL: smuggled calls get 403, an oversized result 413, and other requests are served while a query runs", async () => {
  await using v = await fuzzVault();
  await using server = await serveDashboard({
    vault: v.path,
    port: 0,
    queryTimeoutMs: 20_000,
  });
  const post = (sql: string) =>
    fetch(new URL("/api/sql", server.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sql }),
    });
  for (const [sql] of SMUGGLED.slice(0, 8)) {
    const res = await post(sql);
    const body = await res.json();
    assertEquals(res.status, 403, `${sql}: ${JSON.stringify(body)}`);
    assertEquals(body.kind, "refused");
  }
  const big = await post("SELECT repeat('x', 1000000) AS s FROM range(40)");
  const bigBody = await big.json();
  assertEquals(big.status, 413);
  assertMatch(bigBody.error, /^The result passed 32 MiB.*LIMIT/);

  // A slow query and a 1 MB comment bomb at once: /api/info and the
  // catalog still answer quickly.
  const slow = post(
    "SELECT count(*) FROM range(1000000000000) a(x) WHERE x % 7 = 3",
  );
  const bomb = post(`SELECT 1 AS a ${"/**/ ".repeat(190_000)}`);
  let slowDone = false;
  slow.then(() => slowDone = true, () => slowDone = true);
  for (const path of ["/api/info", "/api/catalog"]) {
    const res = await fetch(new URL(path, server.url));
    await res.body?.cancel();
    assertEquals(res.status, 200);
    // Answered while the slow query still runs (it runs until its 20 s
    // limit): the server was not blocked by it. An order, not a duration.
    assert(!slowDone, `${path} waited for the slow query`);
  }
  assertEquals((await slow).status, 503);
  await (await slow).body?.cancel();
  const b = await bomb;
  assertEquals(b.status, 200);
  await b.body?.cancel();
});

Deno.test("gate fuzz (small): random quoting, comments, casing and statements either run read-only or are refused, never abort", async () => {
  await using v = await fuzzVault();
  const seed = Math.floor(Math.random() * 2 ** 31);
  const report = await runGateFuzz(v.path, fuzzCases(seed, 120, v.id), 120);
  assertEquals(report.failures, [], `seed ${seed}`);
  assertEquals(report.cases, 120);
  assert(report.ran > 0 && report.refused > 0);
});

Deno.test("the gate's function review matches the DuckDB in use, so an upgrade's new functions get reviewed", async () => {
  using db = await openDatabase(":memory:");
  const reader = await db.connection.runAndReadAll("SELECT version() AS v");
  assertEquals(
    reader.getRows()[0][0],
    REVIEWED_DUCKDB_VERSION,
    "DuckDB was upgraded: review duckdb_functions() for scalar, aggregate and window functions that act beyond computing a value, extend REFUSED_FUNCTIONS in lib/query/sql_gate.ts, then update REVIEWED_DUCKDB_VERSION",
  );
});

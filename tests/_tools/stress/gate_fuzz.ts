/**
 * A fuzz loop over the SQL gate: random mixes of every quoting syntax
 * DuckDB reads, comments, casing and statements, some hiding refused
 * function names in strings and comments (must run), some calling them for
 * real (must be refused). Each case knows its expected outcome; the cases
 * run in child processes (`gate_child.ts`), so an abort is seen, not
 * suffered. Used by `deno task stress --only gate_fuzz` and, small, by
 * tests/sql_gate_test.ts.
 *
 * @module
 */
import { join } from "../../../lib/_deps.ts";
import { indexVault } from "../../../lib/catalog/index_vault.ts";
import { writeSpecimen } from "../../testdata/catalog_fixtures.ts";
import { ROOT, tempVault, webSha256 } from "../../utils.ts";

/** One generated case and what must come of it. */
export interface FuzzCase {
  sql: string;
  expect: "ran" | "refused";
}

/** A small seeded PRNG (mulberry32), so a failing seed can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Text hidden in strings and comments: refused names, quote characters. */
const PAYLOADS = [
  "query('SELECT 42 AS answer')",
  "CALL enable_logging(storage := 'file', storage_path := '/tmp/x')",
  "read_text('/etc/passwd')",
  "'; COPY catalog TO '/tmp/leak.csv'; --",
  "$$ ) FROM query_table('catalog') --",
  "glob('/*') UNION SELECT getenv('HOME')",
  "\" ; ATTACH ':memory:' AS m; \"",
  "E'\\' ; PRAGMA enable_profiling",
  "$tag$ write_log('x') $tag$",
  "-- query(",
  "/* nested */ read_blob('/etc/hostname')",
  "ünïcødé ✓ 🧪 query()",
];

/** Refused calls in a FROM clause. */
const TABLE_CALLS = [
  "query('SELECT 42 AS answer')",
  "query_table('catalog')",
  "read_text('/etc/hostname')",
  "read_blob('/etc/hostname')",
  "read_csv('/etc/passwd')",
  "glob('/*')",
  "enable_logging(storage := 'file', storage_path := '/tmp/sv_fuzz.log')",
  "checkpoint()",
  "json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
  "main.query('SELECT 1')",
  "\"Query\"('SELECT 1')",
  "system.main.read_text('/etc/hostname')",
];

/** Refused calls in a select list. */
const SCALAR_CALLS = [
  "write_log('fuzz')",
  "sleep_ms(1)",
  "pg_sleep(0)",
  "json_serialize_plan('SELECT 1')",
  "nextval('s')",
];

/** Whole statements that are not SELECTs. */
const STATEMENTS = [
  "CALL enable_logging(storage := 'file', storage_path := '/tmp/sv_fuzz.log')",
  "CALL query('SELECT 1')",
  "PRAGMA enable_profiling",
  "PRAGMA show_tables",
  "SET threads = 1",
  "RESET lock_configuration",
  "ATTACH ':memory:' AS m",
  "COPY catalog TO '/tmp/sv_fuzz_leak.csv'",
  "INSTALL httpfs",
  "LOAD httpfs",
  "EXPORT DATABASE '/tmp/sv_fuzz_export'",
  "CREATE MACRO m() AS 1",
  "CREATE TEMP VIEW v AS SELECT 1",
  "CHECKPOINT",
  "EXPLAIN SELECT 1",
  "EXPLAIN ANALYZE SELECT 1",
  "USE memory",
  "VACUUM",
  "DETACH vault",
];

/** Read-only queries that must run (`ID` is replaced by a specimen id). */
const QUERIES = [
  "SELECT count(*) AS n FROM catalog",
  "SELECT specimen_id, domain FROM catalog ORDER BY 1 LIMIT 2",
  "WITH x AS (SELECT 1 AS a) SELECT a + 1 AS b FROM x",
  "SELECT sum(range) OVER (ORDER BY range) AS s FROM range(3)",
  "SELECT * FROM exp_ID LIMIT 1",
  "SELECT m.step FROM exp_ID m JOIN catalog c ON c.specimen_id = 'ID' LIMIT 1",
  "SELECT count(*) AS n FROM duckdb_tables()",
  "FROM catalog SELECT specimen_id LIMIT 1",
  "SELECT upper(domain) AS d FROM catalog WHERE domain IN (SELECT domain FROM catalog) LIMIT 1",
  "SELECT list_transform([1, 2, 3], x -> x * 2) AS l",
];

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)];
}

/** `text` hidden in a random quoting syntax, as a select-list item. */
function hidden(rand: () => number, text: string): string {
  switch (Math.floor(rand() * 7)) {
    case 0:
      return `'${text.replaceAll("'", "''")}' AS h`;
    case 1:
      return `E'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}' AS h`;
    case 2:
      // Spaces inside: a `$` next to the closing `$$` would end it early.
      return `$$ ${text.replaceAll("$$", "$ $")} $$ AS h`;
    case 3:
      return `$q$ ${text.replaceAll("$q$", "$ q$")} $q$ AS h`;
    case 4:
      return `1 AS "${text.replaceAll('"', '""')}"`;
    case 5:
      return `1 AS h -- ${text.replaceAll("\n", " ")}\n`;
    default:
      return `1 AS h /* ${
        text.replaceAll("*/", "* /").replaceAll("/*", "/ *")
      } */`;
  }
}

/** Random casing of ASCII letters outside quotes is a parse-level no-op
 * only for keywords; apply it to the whole statement only when it holds no
 * quoted text (names are case-insensitive). */
function recase(rand: () => number, sql: string): string {
  if (/['"$]/.test(sql)) return sql;
  return [...sql].map((ch) =>
    rand() < 0.5 ? ch.toUpperCase() : ch.toLowerCase()
  )
    .join("");
}

/** A comment or spaces between tokens. */
function gap(rand: () => number): string {
  switch (Math.floor(rand() * 4)) {
    case 0:
      return " /**/ ";
    case 1:
      return " -- note\n";
    case 2:
      return "\n\t ";
    default:
      return " ";
  }
}

/** One read-only query, with hidden payloads and gaps. */
function legit(rand: () => number, id: string): string {
  let q = pick(rand, QUERIES).replaceAll("ID", id);
  if (rand() < 0.5) q = recase(rand, q);
  const hide = hidden(rand, pick(rand, PAYLOADS));
  // Wrap the query so a hidden item can be added to its select list.
  return `SELECT${gap(rand)}${hide}${gap(rand)}, t.* FROM (${q}) t`;
}

/** One statement that must be refused. */
function refusedStatement(rand: () => number, id: string): string {
  switch (Math.floor(rand() * 3)) {
    case 0:
      return `SELECT${gap(rand)}* FROM ${
        pick(rand, [`exp_${id}`, "catalog"])
      },${gap(rand)}${pick(rand, TABLE_CALLS)}`;
    case 1:
      return `SELECT ${pick(rand, SCALAR_CALLS)}${gap(rand)}AS x, ${
        hidden(rand, pick(rand, PAYLOADS))
      }`;
    default: {
      const s = pick(rand, STATEMENTS);
      return rand() < 0.5 ? recase(rand, s) : s;
    }
  }
}

/**
 * `n` cases from `seed`: each is one to three statements joined by `;`;
 * about half hold a refused statement or call somewhere.
 */
export function fuzzCases(seed: number, n: number, id: string): FuzzCase[] {
  const rand = prng(seed);
  const cases: FuzzCase[] = [];
  for (let i = 0; i < n; i++) {
    const count = 1 + Math.floor(rand() * 3);
    const bad = rand() < 0.5 ? Math.floor(rand() * count) : -1;
    const parts: string[] = [];
    for (let k = 0; k < count; k++) {
      parts.push(k === bad ? refusedStatement(rand, id) : legit(rand, id));
    }
    cases.push({
      sql: parts.join(`;${gap(rand)}`),
      expect: bad >= 0 ? "refused" : "ran",
    });
  }
  return cases;
}

/** A vault with one indexed specimen for the fuzz loop; returns its id. */
export async function fuzzVault(): Promise<
  { path: string; specimens: string; id: string } & AsyncDisposable
> {
  const v = await tempVault();
  const id = "fuzz_target";
  await writeSpecimen(v.path, {
    id,
    metrics:
      "SELECT range::BIGINT AS step, 1.0 / (range + 1) AS loss FROM range(5)",
  });
  await indexVault({ vault: v.path });
  return Object.assign(v, { id });
}

/** What a fuzz run saw. */
export interface FuzzReport {
  cases: number;
  ran: number;
  refused: number;
  failures: string[];
  ms: number;
}

/**
 * Runs `cases` against the vault at `vault` in child processes of `batch`
 * cases each; a case whose outcome is not the expected one, or a child that
 * dies, is a failure. The catalog must come out byte-identical.
 */
export async function runGateFuzz(
  vault: string,
  cases: FuzzCase[],
  batch = 500,
  onBatch?: (done: number) => void,
): Promise<FuzzReport> {
  const t0 = performance.now();
  const catalog = join(vault, "vault.duckdb");
  const before = await webSha256(await Deno.readFile(catalog));
  const report: FuzzReport = {
    cases: 0,
    ran: 0,
    refused: 0,
    failures: [],
    ms: 0,
  };
  for (let start = 0; start < cases.length; start += batch) {
    const slice = cases.slice(start, start + batch);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        join(ROOT, "tests", "_tools", "stress", "gate_child.ts"),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(
      new TextEncoder().encode(
        JSON.stringify({ vault, sqls: slice.map((c) => c.sql) }),
      ),
    );
    await w.close();
    const out = await child.output();
    const lines = new TextDecoder().decode(out.stdout).split("\n").filter(
      Boolean,
    ).map((l) =>
      JSON.parse(l) as { i: number; outcome: string; message?: string }
    );
    for (const line of lines) {
      const c = slice[line.i];
      report.cases++;
      if (line.outcome === "ran") report.ran++;
      if (line.outcome === "refused") report.refused++;
      if (line.outcome !== c.expect) {
        report.failures.push(
          `expected ${c.expect}, got ${line.outcome} for ${
            JSON.stringify(c.sql)
          }${line.message ? `: ${line.message}` : ""}`,
        );
      }
    }
    if (!out.success || lines.length !== slice.length) {
      const culprit = slice[lines.length];
      report.failures.push(
        `the child died (exit ${out.code}, signal ${out.signal}) at ${
          JSON.stringify(culprit?.sql)
        }: ${new TextDecoder().decode(out.stderr).slice(-500)}`,
      );
    }
    onBatch?.(start + slice.length);
  }
  const after = await webSha256(await Deno.readFile(catalog));
  if (after !== before) report.failures.push("the catalog file changed");
  report.ms = performance.now() - t0;
  return report;
}

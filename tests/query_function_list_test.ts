/**
 * The SQL gate's function list kept beside the catalog
 * (`vault.duckdb.functions`): written by the index, read (never written) by
 * queries, ignored when another DuckDB version listed it or it is
 * malformed, and never able to let a refused function through.
 *
 * @module
 */
import { join } from "../lib/_deps.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import { writeSpecimen } from "./testdata/catalog_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
} from "./utils.ts";

const QUERY_FLAGS = await taskFlags("query");

async function query(vault: string, sql: string) {
  await using q = await VaultQuery.open({ vault });
  return await q.search(sql);
}

Deno.test("the index writes the function list; queries read it and write nothing; another DuckDB version's is replaced by the next index", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "a" });
  await indexVault({ vault: v.path });
  const file = join(v.path, "vault.duckdb.functions");
  const data = JSON.parse(await Deno.readTextFile(file));
  assert(data.rows.length > 100, `${data.rows.length} functions`);
  assert(
    data.rows.some(([n, t]: string[]) => n === "min" && t === "aggregate"),
  );
  const listing = () => [...Deno.readDirSync(v.path)].map((e) => e.name).sort();
  const before = listing();
  const r = await runDeno([
    "run",
    ...QUERY_FLAGS,
    join(ROOT, "tasks", "query.ts"),
    "--vault",
    v.path,
    "SELECT min(step) AS m FROM metrics",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(listing(), before);
  // Queries read it: a list that calls min a table function is obeyed.
  const edited = {
    ...data,
    rows: data.rows.map(([n, t]: string[]) => [n, n === "min" ? "table" : t]),
  };
  await Deno.writeTextFile(file, JSON.stringify(edited));
  await assertRejects(
    () => query(v.path, "SELECT min(step) FROM metrics"),
    Error,
    "min is not a scalar, aggregate or window function",
  );
  // Listed by another DuckDB: ignored, and replaced by the next index.
  await Deno.writeTextFile(
    file,
    JSON.stringify({ ...edited, duckdb: "v0.0.1" }),
  );
  assertEquals(
    await query(v.path, "SELECT min(step)::INTEGER AS m FROM metrics"),
    [{ m: 0 }],
  );
  await writeSpecimen(v.path, { id: "b" });
  await indexVault({ vault: v.path });
  const again = JSON.parse(await Deno.readTextFile(file));
  assertEquals(again.duckdb, data.duckdb);
  assertEquals(again.rows.map(String).sort(), data.rows.map(String).sort());
});

Deno.test("a malformed function list is ignored, and none lets a refused function through", async (t) => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "a" });
  await indexVault({ vault: v.path });
  const file = join(v.path, "vault.duckdb.functions");
  const data = JSON.parse(await Deno.readTextFile(file));
  for (
    const [name, text] of [
      ["not JSON", "{"],
      ["rows not pairs", JSON.stringify({ ...data, rows: [["min"]] })],
      ["another DuckDB", JSON.stringify({ ...data, duckdb: "v0.0.1" })],
      ["another format", JSON.stringify({ ...data, version: 99 })],
    ]
  ) {
    await t.step(name, async () => {
      await Deno.writeTextFile(file, text);
      assertEquals(
        await query(v.path, "SELECT min(step)::INTEGER AS m FROM metrics"),
        [{ m: 0 }],
      );
    });
  }
  await t.step("a list without the refused names", async () => {
    const refused = ["nextval", "write_log", "sleep_ms", "json_serialize_plan"];
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        ...data,
        rows: data.rows.filter(([n]: string[]) => !refused.includes(n)),
      }),
    );
    for (const sql of ["SELECT nextval('s')", "SELECT sleep_ms(10)"]) {
      const e = await assertRejects(() => query(v.path, sql));
      assertMatch((e as Error).message, /^Refusing to run \w+\(\)/);
    }
  });
});

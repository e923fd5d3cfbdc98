/**
 * Wide tables against the catalog (issue 22, item 4): a 1-row table of
 * thousands of columns must cost no other specimen its rows, and must not
 * grow a union table column by column (each added column is an ALTER that
 * costs the table's width: quadratic).
 */
import { join } from "../lib/_deps.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import { metricsSql, writeSpecimen } from "./testdata/catalog_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  runTask,
  tempVault,
} from "./utils.ts";

/** One row of `step` and `n` DOUBLE columns named `<prefix>0…`. */
function wideSql(n: number, prefix = "c"): string {
  return "SELECT 0::BIGINT AS step, " +
    Array.from({ length: n }, (_, i) => `${i}.5::DOUBLE AS ${prefix}${i}`)
      .join(", ");
}

const ORDINARY = ["a_one", "b_two", "z_three"];

async function ordinaryRows(vault: string) {
  using q = await VaultQuery.open({ vault });
  return {
    rows: await q.search(
      "SELECT specimen_id, count(*)::INTEGER AS n FROM metrics GROUP BY 1 ORDER BY 1",
    ),
    // Counting work: every column of `metrics` was one CREATE column or
    // one ALTER.
    width: Number(
      (await q.search(
        "SELECT count(*) AS n FROM duckdb_columns() WHERE table_name = 'metrics'",
      ))[0].n,
    ),
    wide: await q.search(
      "SELECT count(*)::INTEGER AS n, sum(c1999) AS s FROM exp_wide_2000",
    ).catch(() => null),
  };
}

for (const mode of ["full", "incremental"]) {
  Deno.test(`deno task index (${mode}) keeps every ordinary specimen's rows beside 2,000- and 10,000-column tables, and names the one it refuses`, async () => {
    await using v = await tempVault();
    for (const id of ORDINARY) {
      await writeSpecimen(v.path, { id, metrics: metricsSql(7) });
    }
    if (mode === "incremental") {
      const first = await runTask("index", ["--vault", v.path]);
      assertEquals(first.code, 0, first.stderr);
    }
    await writeSpecimen(v.path, { id: "wide_2000", metrics: wideSql(2000) });
    await writeSpecimen(v.path, { id: "wide_10000", metrics: wideSql(10000) });
    // Medium files (100 columns) whose columns differ: the union stops
    // growing at a bound.
    for (let i = 0; i < 6; i++) {
      await writeSpecimen(v.path, {
        id: `mid_${i}`,
        metrics: wideSql(100, `m${i}_`),
      });
    }
    const r = await runTask(
      "index",
      ["--vault", v.path, ...(mode === "full" ? ["--full"] : [])],
    );
    assertEquals(r.code, 0, r.stderr);
    const out = r.stdout + r.stderr;
    assertMatch(out, /wide_10000.*10001 columns, more than the catalog loads/);
    assertMatch(
      out,
      /wide_2000: .*(kept out of "metrics"|could not be loaded \(Out of Memory)/,
    );
    const got = await ordinaryRows(v.path);
    const byId = new Map(got.rows.map((x) => [String(x.specimen_id), x.n]));
    for (const id of ORDINARY) assertEquals(byId.get(id), 7, `${id}: ${out}`);
    assert(!byId.has("wide_10000") && !byId.has("wide_2000"));
    // Loaded alone, or (where memory ran short) refused by name: never
    // silently gone.
    if (/wide_2000: .*could not be loaded/.test(out)) {
      assertEquals(got.wide, null);
    } else assertEquals(got.wide, [{ n: 1, s: 1999.5 }]);
    assert(got.width <= 512 + 1, `metrics has ${got.width} columns`);
    // Five medium files fit under the bound, the sixth is kept apart.
    assertEquals(
      [...byId.keys()].filter((k) => k.startsWith("mid_")).length,
      5,
      out,
    );
    assertMatch(out, /new columns would take the table past 512 columns/);
    // The refused file is named, and still there to be read by itself.
    await Deno.stat(
      join(v.specimens, "wide_10000", "strata", "metrics.parquet"),
    );
  });
}

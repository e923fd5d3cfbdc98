/**
 * Wide tables benchmark (issue 22, item 4): the incremental index of one
 * new specimen whose 1-row metric table has N columns, beside the same
 * index of one ordinary specimen (3 columns, 1,000 rows) in the same vault.
 * The cost per column at 500 and at 2,000 columns shows whether time stays
 * linear in columns (it was quadratic: one ALTER per column, each costing
 * the table's width; 5.8 s at 2,000 columns, 217 s at 10,000).
 *
 * Run: `deno run -A tests/_tools/bench/wide_bench.ts [--runs N]` (or
 * `deno task bench wide`).
 *
 * @module
 */
import { join, parseArgs } from "../../../lib/_deps.ts";
import { indexVault } from "../../../lib/catalog/index_vault.ts";
import { metricsSql, writeSpecimen } from "../../testdata/catalog_fixtures.ts";
import { benchDir, report } from "./_bench.ts";

function wideSql(n: number): string {
  return "SELECT 0::BIGINT AS step, " +
    Array.from({ length: n }, (_, i) => `${i}.5::DOUBLE AS c${i}`).join(", ");
}

/** Runs the benchmark and prints its figures. */
export async function benchWide({ runs = 3 }: { runs?: number } = {}) {
  await using dir = await benchDir("sv_bench_wide_");
  const vault = dir.path;
  for (let i = 0; i < 20; i++) {
    await writeSpecimen(vault, { id: `base_${i}`, metrics: metricsSql(1000) });
  }
  await indexVault({ vault });
  let k = 0;
  /** Median ms of indexing one added specimen with `sql` as its metrics. */
  const added = async (sql: string) => {
    const times: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const id = `added_${k++}`;
      await writeSpecimen(vault, { id, metrics: sql });
      const t0 = performance.now();
      await indexVault({ vault });
      if (i > 0) times.push(performance.now() - t0); // the first warms up
      await Deno.remove(join(vault, "specimens", id), { recursive: true });
      await indexVault({ vault, rescan: true });
    }
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  };
  const ordinary = await added(metricsSql(1000));
  const reference = { name: "one ordinary specimen", value: ordinary };
  const perColumn: number[] = [];
  for (const n of [500, 2000, 10000]) {
    const ms = await added(wideSql(n));
    if (n <= 2000) perColumn.push(ms / n);
    report({
      name: `index +1 specimen of ${n.toLocaleString("en-US")} columns${
        n > 2048 ? " (refused)" : ""
      }`,
      value: ms,
      unit: "ms",
      higherIsBetter: false,
      reference,
    });
  }
  report({
    name: "ms per column at 2,000 vs at 500 columns",
    value: perColumn[1],
    unit: "ms/col",
    higherIsBetter: false,
    reference: { name: "at 500 columns", value: perColumn[0] },
  });
}

if (import.meta.main) {
  const args = parseArgs({
    args: Deno.args,
    options: { runs: { type: "string" } },
    strict: true,
  });
  await benchWide({ runs: Number(args.values.runs ?? 3) });
}

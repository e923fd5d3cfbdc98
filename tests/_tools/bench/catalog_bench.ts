/**
 * Catalog benchmark: a vault of 10,000 specimens × 1,000 steps (generated
 * once and cached under /tmp), then medians of the full index, an
 * incremental index after adding one specimen, a cross-specimen query from a
 * fresh `deno task query` process, the cold query latency and the indexer's
 * peak memory, each beside a reference measured in the same run.
 *
 * Run: `deno run -A tests/_tools/bench/catalog_bench.ts [--specimens N] [--steps N]
 * [--runs N] [--cache DIR] [--full-only]` (or `deno task bench catalog`).
 *
 * @module
 */
import { join, parseArgs, resolve } from "../../../lib/_deps.ts";
import { openDatabase } from "../../../lib/duckdb/duckdb.ts";
import { indexVault } from "../../../lib/catalog/index_vault.ts";
import { benchDir, deno, medianMs, report, TASK_FLAGS } from "./_bench.ts";
import { generateVault } from "./gen_vault.ts";

const ROOT = resolve(import.meta.dirname!, "..", "..", "..");
const SELF = join(ROOT, "tests", "_tools", "bench", "catalog_bench.ts");
const GLOB = "specimens/*/strata/metrics.parquet";
const CROSS_QUERY = "SELECT specimen_id, min(loss) FROM metrics GROUP BY 1";
const ADDED_PREFIX = "bench_add_";

/** Options of {@linkcode benchCatalog}. */
export interface CatalogBenchOptions {
  /** Specimens in the vault. @default 10000 */
  specimens?: number;
  /** Metric rows per specimen. @default 1000 */
  steps?: number;
  /** Measured runs of each slow figure (queries get 5). @default 3 */
  runs?: number;
  /** Where generated vaults are kept between runs. @default "/tmp/sv_bench_cache" */
  cacheDir?: string;
  /** Measure the full index (and its references) only. @default false */
  fullOnly?: boolean;
}

/** The generated vault for these parameters, made once and then reused. */
async function cachedVault(
  cacheDir: string,
  specimens: number,
  steps: number,
): Promise<string> {
  const vault = join(cacheDir, `catalog_${specimens}x${steps}_v1`);
  const done = join(vault, ".complete");
  if (!(await Deno.stat(done).then(() => true, () => false))) {
    await Deno.remove(vault, { recursive: true }).catch(() => {});
    await Deno.mkdir(vault, { recursive: true });
    const t0 = performance.now();
    await generateVault(vault, { specimens, steps });
    await Deno.writeTextFile(done, new Date().toISOString());
    console.log(
      `generated ${specimens} × ${steps} in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s (cached at ${vault})`,
    );
  } else {
    console.log(`reusing the generated vault ${vault}`);
  }
  await cleanVault(vault);
  return vault;
}

/** Removes what a benchmark run adds: the catalog, temps, added specimens. */
async function cleanVault(vault: string) {
  for await (const e of Deno.readDir(vault)) {
    if (e.name.startsWith("vault.duckdb") || e.name.startsWith(".tmp-")) {
      await Deno.remove(join(vault, e.name), { recursive: true });
    }
  }
  for await (const e of Deno.readDir(join(vault, "specimens"))) {
    if (e.name.startsWith(ADDED_PREFIX)) {
      await Deno.remove(join(vault, "specimens", e.name), { recursive: true });
    }
  }
}

/**
 * Runs the catalog benchmark and prints every figure with `report()`.
 * Returns whether every goal was met.
 *
 * @example
 * ```ts ignore
 * import { benchCatalog } from "./catalog_bench.ts";
 * await benchCatalog({ specimens: 1000, steps: 100 });
 * ```
 */
export async function benchCatalog(
  options: CatalogBenchOptions = {},
): Promise<boolean> {
  const {
    specimens = 10_000,
    steps = 1000,
    runs = 3,
    cacheDir = "/tmp/sv_bench_cache",
    fullOnly = false,
  } = options;
  const vault = await cachedVault(cacheDir, specimens, steps);
  await using scratch = await benchDir();
  const size = `${specimens.toLocaleString("en-US")} × ${
    steps.toLocaleString("en-US")
  }`;
  let met = true;
  try {
    // Full index, as a user runs it, and DuckDB's own glob CTAS over the
    // same files, each in a fresh process, run in turns so that the load of
    // a shared machine falls on both alike; peak RSS from the index runs.
    const fullMs: number[] = [];
    const ctasMs: number[] = [];
    const peaks: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await timed(() =>
        deno([
          "run",
          ...TASK_FLAGS,
          join(ROOT, "tasks", "index.ts"),
          "--vault",
          vault,
          "--full",
        ])
      );
      fullMs.push(r.ms);
      if (r.value.maxRssKb) peaks.push(r.value.maxRssKb / 1024);
      await Deno.remove(join(scratch.path, "glob.duckdb")).catch(() => {});
      ctasMs.push(
        (await timed(() =>
          deno(["run", "-A", SELF, "--glob-ctas", vault, scratch.path])
        )).ms,
      );
    }
    const full = median(fullMs);
    const ctas = median(ctasMs);
    met = report({
      name: `full index ${size} (deno task index --full)`,
      value: full,
      unit: "ms",
      higherIsBetter: false,
      // The goal is DuckDB's own speed: ≥ 1.0× its glob CTAS.
      goal: ctas,
      reference: { name: "DuckDB glob CTAS, fresh process", value: ctas },
    }) && met;
    console.log(
      `  (runs in turns: index ${spread(fullMs)} ms, CTAS ${
        spread(ctasMs)
      } ms; ratio per turn ${
        ctasMs.map((c, i) => (c / fullMs[i]).toFixed(2)).join(", ")
      })`,
    );
    if (peaks.length) {
      met = report({
        name: "peak RSS of the full index",
        value: Math.max(...peaks),
        unit: "MB",
        higherIsBetter: false,
        goal: 500,
      }) && met;
      console.log(
        `  (per run: ${peaks.map((p) => p.toFixed(0)).join(", ")} MB)`,
      );
    } else console.log("peak RSS: /usr/bin/time not found, not measured");
    if (fullOnly) return met;

    // Incremental: one new specimen each run.
    let added = 0;
    const addOne = () =>
      generateVault(vault, {
        specimens: 1,
        steps,
        prefix: ADDED_PREFIX,
        first: added++,
      });
    const incrementalCli = await medianMs(async () => {
      await addOne();
      await deno([
        "run",
        ...TASK_FLAGS,
        join(ROOT, "tasks", "index.ts"),
        "--vault",
        vault,
      ]);
    }, { runs, warmup: 1 });
    let timings: Record<string, number> = {};
    const incrementalLib = await medianMs(async () => {
      await addOne();
      const r = await indexVault({ vault });
      if (r.mode !== "incremental") throw new Error(`mode ${r.mode}`);
      timings = r.timings;
    }, { runs, warmup: 0 });
    met = report({
      name: "incremental index, +1 specimen (deno task index)",
      value: incrementalCli,
      unit: "ms",
      higherIsBetter: false,
      goal: 500,
      reference: { name: "the full index", value: full },
    }) && met;
    met = report({
      name: "incremental index, +1 specimen (indexVault)",
      value: incrementalLib,
      unit: "ms",
      higherIsBetter: false,
      goal: 500,
      reference: { name: "the full index", value: full },
    }) && met;
    console.log(
      `  (last indexVault run: ${
        Object.entries(timings).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(
          ", ",
        )
      } ms)`,
    );

    // Queries from fresh processes.
    const query = (sql: string) =>
      deno([
        "run",
        ...TASK_FLAGS,
        join(ROOT, "tasks", "query.ts"),
        "--vault",
        vault,
        sql,
      ]);
    const cross = await medianMs(() => query(CROSS_QUERY), {
      runs: 5,
      warmup: 1,
    });
    const globQuery = await medianMs(
      () => deno(["run", "-A", SELF, "--glob-query", vault]),
      { runs: 5, warmup: 1 },
    );
    met = report({
      name: "min(loss) per specimen, fresh deno task query",
      value: cross,
      unit: "ms",
      higherIsBetter: false,
      goal: 300,
      reference: { name: "DuckDB glob scan, fresh process", value: globQuery },
    }) && met;
    const empty = join(scratch.path, "empty.ts");
    await Deno.writeTextFile(empty, "export {};\n");
    const cold = await medianMs(
      () => query("SELECT count(*) FROM catalog"),
      { runs: 5, warmup: 1 },
    );
    const start = await medianMs(() => deno(["run", empty]), {
      runs: 5,
      warmup: 1,
    });
    report({
      name: "cold deno task query: count(*) FROM catalog",
      value: cold,
      unit: "ms",
      higherIsBetter: false,
      reference: { name: "deno run of an empty script", value: start },
    });
  } finally {
    await cleanVault(vault);
  }
  return met;
}

/** Runs `fn` once; its value and wall time. */
async function timed<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** `median (min–max)` of `values`, rounded. */
function spread(values: number[]): string {
  const r = (v: number) => Math.round(v).toLocaleString("en-US");
  return `${r(median(values))} (${r(Math.min(...values))}–${
    r(Math.max(...values))
  })`;
}

/** Reference: DuckDB's own glob over the same files into a native table. */
async function globCtas(vault: string, out: string) {
  using db = await openDatabase(join(out, "glob.duckdb"), {
    file_search_path: vault,
  });
  await db.connection.run(
    `CREATE TABLE m AS SELECT * FROM read_parquet('${GLOB}')`,
  );
}

/** Reference: the cross-specimen query straight over the Parquet files. */
async function globQuery(vault: string) {
  using db = await openDatabase(":memory:", { file_search_path: vault });
  const reader = await db.connection.runAndReadAll(
    `SELECT regexp_extract(filename, '([^/]+)/strata/[^/]+$', 1) AS specimen_id, min(loss)
     FROM read_parquet('${GLOB}', filename = true) GROUP BY 1`,
  );
  reader.getRows();
}

if (import.meta.main) {
  const [mode, a, b] = Deno.args;
  if (mode === "--glob-ctas") await globCtas(a, b);
  else if (mode === "--glob-query") await globQuery(a);
  else {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        specimens: { type: "string" },
        steps: { type: "string" },
        runs: { type: "string" },
        cache: { type: "string" },
        "full-only": { type: "boolean" },
      },
    });
    const num = (v: string | undefined) =>
      v === undefined ? undefined : Number(v);
    await benchCatalog({
      specimens: num(values.specimens),
      steps: num(values.steps),
      runs: num(values.runs),
      cacheDir: values.cache,
      fullOnly: values["full-only"],
    });
  }
}

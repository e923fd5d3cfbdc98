/**
 * Engine benchmark (issue 16): each figure of the index and read path beside
 * its same-run reference AND beside the same figure from the code at git tag
 * `perf-before` (exported once with `git archive` into
 * `/tmp/sv_before_<sha>/` and run from there, in fresh processes):
 *
 * - full index (`tasks/index.ts --full`) vs DuckDB's glob CTAS, fresh process;
 * - peak RSS of the full index;
 * - index with nothing changed, and with one specimen added, vs an empty
 *   `deno run`;
 * - `readMetricTable` (what `readMetrics` runs) of 1M×4 values vs DuckDB
 *   reading the same file into a table, and the same with the decode
 *   worker allowed (it is off by default): our file, DuckDB's, and the
 *   polars and pyarrow files of `tests/testdata/interop` (small: the figure there
 *   is per-file cost as much as throughput);
 * - a fresh `tasks/query.ts` of a cross-run aggregate vs an empty `deno run`.
 *
 * The 10k × 1k vault is copied (`cp -a`) from the shared cache
 * `/tmp/sv_bench_cache/catalog_10000x1000_v1` (read-only) when the sizes
 * match, else generated into a temp folder.
 *
 * Run: `deno run -A tests/_tools/bench/engine_bench.ts [--specimens N]
 * [--steps N] [--rows N] [--runs N] [--before REF | --before-dir DIR |
 * --no-before]`, or
 * `deno task bench engine` (sizes then from `ENGINE_BENCH_SPECIMENS`,
 * `ENGINE_BENCH_STEPS`, `ENGINE_BENCH_ROWS`, `ENGINE_BENCH_RUNS`; a smoke
 * run: `ENGINE_BENCH_SPECIMENS=300 ENGINE_BENCH_STEPS=100
 * ENGINE_BENCH_ROWS=100000 ENGINE_BENCH_RUNS=1`; `ENGINE_BENCH_ONLY=full` or
 * `--full-only` for the full index's figures alone).
 *
 * @module
 */
import { join, parseArgs, resolve } from "../../../lib/_deps.ts";
import {
  benchDir,
  deno,
  hasTime,
  medianMs,
  report,
  TASK_FLAGS,
} from "./_bench.ts";

const ROOT = resolve(import.meta.dirname!, "..", "..", "..");
const SELF = import.meta.filename!;
const CACHE = "/tmp/sv_bench_cache";
const GLOB = "specimens/*/strata/metrics.parquet";
const CROSS_QUERY =
  "SELECT specimen_id, min(loss), avg(accuracy) FROM metrics GROUP BY 1";
/** The shared interop fixtures (`SV_INTEROP` for a tree exported elsewhere). */
const INTEROP = Deno.env.get("SV_INTEROP") ??
  resolve(ROOT, "tests", "testdata", "interop");

/**
 * The code before issue 16's work (commit 3c5e3a4, tagged `perf-before`
 * locally): a commit id, so a clone without the tag still finds it.
 */
const BEFORE_REF = "3c5e3a41d7d5e26fad16e1d5a9430fa0446250b1";

/** The code at `ref`, exported once into /tmp/sv_before_<sha>/. */
async function exportRef(ref: string): Promise<string> {
  const rev = await new Deno.Command("git", {
    args: ["rev-parse", "--verify", `${ref}^{commit}`],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (rev.code !== 0) throw new Error(`git rev-parse ${ref} failed`);
  const sha = new TextDecoder().decode(rev.stdout).trim();
  const dir = `/tmp/sv_before_${sha}`;
  if (
    !(await Deno.stat(join(dir, "deno.json")).then(() => true, () => false))
  ) {
    const tmp = await Deno.makeTempDir({ prefix: `sv_before_${sha}_` });
    const sh = await new Deno.Command("sh", {
      args: ["-c", `git archive ${sha} | tar -x -C '${tmp}'`],
      cwd: ROOT,
    }).output();
    if (sh.code !== 0) throw new Error(`git archive ${ref} failed`);
    await Deno.rename(tmp, dir).catch(async () => {
      await Deno.remove(tmp, { recursive: true }); // another run won
    });
  }
  return await childIn(dir);
}

/**
 * Copies this file into the tree at `dir`, for its child modes to run
 * against that tree's lib/, with this tree's `_bench.ts` beside it (that
 * tree's may lack what this file imports from it).
 */
async function childIn(dir: string): Promise<string> {
  const bench = join(dir, "tests", "_tools", "bench");
  await Deno.copyFile(
    join(import.meta.dirname!, "_bench.ts"),
    join(bench, "_engine_child_bench.ts"),
  );
  await Deno.writeTextFile(
    join(bench, "_engine_child.ts"),
    (await Deno.readTextFile(SELF)).replace(
      `from "./_bench.ts"`,
      `from "./_engine_child_bench.ts"`,
    ),
  );
  return dir;
}

/** A vault of `specimens × steps` in `dir`: copied from the cache or generated. */
async function makeVault(dir: string, specimens: number, steps: number) {
  const cached = join(CACHE, `catalog_${specimens}x${steps}_v1`);
  if (
    await Deno.stat(join(cached, ".complete")).then(() => true, () => false)
  ) {
    const cp = await new Deno.Command("cp", {
      args: ["-a", join(cached, "specimens"), join(dir, "specimens")],
    }).output();
    if (cp.code !== 0) throw new Error(`cp -a ${cached} failed`);
    console.log(`copied the cached vault ${cached}`);
    return;
  }
  const { generateVault } = await import("./gen_vault.ts");
  const t0 = performance.now();
  await generateVault(dir, { specimens, steps });
  console.log(
    `generated ${specimens} × ${steps} in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
}

/** Options of {@linkcode benchEngine}. */
export interface EngineBenchOptions {
  /** Specimens in the vault. @default 10000 */
  specimens?: number;
  /** Metric rows per specimen. @default 1000 */
  steps?: number;
  /** Rows of the readMetrics file (× 4 columns). @default 1000000 */
  rows?: number;
  /** Measured runs of each figure. @default 3 */
  runs?: number;
  /** The "before" code: a git ref, or null for none. @default "perf-before" */
  before?: string | null;
  /** The "before" code already exported into this folder (no git needed). */
  beforeDir?: string;
  /** Only the full index's figures (time, peak RSS). @default false */
  fullOnly?: boolean;
}

/**
 * Runs every figure and prints it with `report()`.
 *
 * @example
 * ```ts ignore
 * import { benchEngine } from "./engine_bench.ts";
 * await benchEngine({ specimens: 300, steps: 100, rows: 100_000, runs: 1 });
 * ```
 */
export async function benchEngine(
  options: EngineBenchOptions = {},
): Promise<void> {
  const {
    specimens = 10_000,
    steps = 1000,
    rows = 1_000_000,
    runs = 3,
    before: ref = BEFORE_REF,
  } = options;
  const beforeDir = options.beforeDir
    ? await childIn(options.beforeDir)
    : ref
    ? await exportRef(ref)
    : undefined;
  const trees: [string, string][] = [["now", ROOT]];
  if (beforeDir) trees.push([`before (${ref})`, beforeDir]);
  await using scratch = await benchDir("sv_bench_engine_");
  const vault = join(scratch.path, "vault");
  await Deno.mkdir(vault);
  await makeVault(vault, specimens, steps);
  const size = `${specimens.toLocaleString("en-US")} × ${
    steps.toLocaleString("en-US")
  }`;
  const empty = join(scratch.path, "empty.ts");
  await Deno.writeTextFile(empty, "export {};\n");
  const start = await medianMs(() => deno(["run", empty]), {
    runs: 5,
    warmup: 1,
  });
  const startRef = { name: "empty deno run", value: start };
  const index = (tree: string, ...args: string[]) =>
    deno([
      "run",
      ...TASK_FLAGS,
      join(tree, "tasks", "index.ts"),
      "--vault",
      vault,
      ...args,
    ]);
  /** Median of `fn` per tree, interleaved run by run (same load for both). */
  const perTree = async (
    fn: (tree: string) => Promise<number>,
    n = runs,
    warmup = 1,
  ): Promise<number[]> => {
    for (let w = 0; w < warmup; w++) {
      for (const [, tree] of trees) await fn(tree);
    }
    const times: number[][] = trees.map(() => []);
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < trees.length; t++) {
        times[t].push(await fn(trees[t][1]));
      }
    }
    return times.map((ts) =>
      ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)]
    );
  };
  const show = (
    name: string,
    values: number[],
    unit: string,
    higherIsBetter: boolean,
    goal: number | undefined,
    reference: { name: string; value: number } | undefined,
  ) =>
    report({
      name,
      value: values[0],
      unit,
      higherIsBetter,
      goal,
      reference,
      before: values[1] === undefined
        ? undefined
        : { name: trees[1][0], value: values[1] },
    });

  // Full index; peak RSS from the same runs.
  const peak = trees.map(() => 0);
  const full = await perTree(
    async (tree) => {
      const r = await index(tree, "--full");
      const t = trees.findIndex(([, d]) => d === tree);
      peak[t] = Math.max(peak[t], r.maxRssKb ?? 0);
      return r.ms;
    },
    runs,
    0,
  );
  const ctas = await medianMs(async () => {
    await Deno.remove(join(scratch.path, "glob.duckdb")).catch(() => {});
    await deno(["run", "-A", SELF, "--glob-ctas", vault, scratch.path]);
  }, { runs, warmup: 0 });
  show(`full index ${size} (index --full)`, full, "ms", false, undefined, {
    name: "DuckDB glob CTAS, fresh process",
    value: ctas,
  });
  if (hasTime) {
    show(
      "peak RSS of the full index",
      peak.map((kb) => kb / 1024),
      "MB",
      false,
      500,
      undefined,
    );
  }
  if (options.fullOnly) return;

  // Nothing changed (warm-up runs leave each tree's own state in place).
  const unchanged = await perTree(
    async (tree) => (await index(tree)).ms,
    runs + 2,
  );
  show(
    "index, nothing changed (fresh process)",
    unchanged,
    "ms",
    false,
    100, // issue 24 (issue 16 asked 150)
    startRef,
  );

  // One specimen added before each run.
  const { generateVault } = await import("./gen_vault.ts");
  let added = 0;
  const addOne = () =>
    generateVault(vault, {
      specimens: 1,
      steps,
      prefix: "bench_add_",
      first: added++,
    });
  const plusOne = await perTree(async (tree) => {
    await index(tree); // that tree's catalog (and sidecar) current
    // One +1 index first, so that this tree's catalog has its spare (the
    // catalog one index back) as a sweep's indexes do, not the other tree's.
    await addOne();
    await index(tree);
    await addOne();
    return (await index(tree)).ms;
  });
  show(
    "index, +1 specimen (fresh process)",
    plusOne,
    "ms",
    false,
    300, // issue 24 (issue 16 asked 250)
    startRef,
  );

  // One existing specimen changed through the library (a manifest
  // rewritten: it names the folder in the change journal) before each run.
  const { readManifest, writeManifest } = await import(
    "../../../lib/specimen/manifest.ts"
  );
  const changedDir = join(vault, "specimens", firstFolder(vault));
  let edits = 0;
  const oneChanged = await perTree(async (tree) => {
    await index(tree);
    const manifest = await readManifest(changedDir);
    await writeManifest(changedDir, {
      ...manifest,
      description: `bench edit ${edits++}`,
    });
    return (await index(tree)).ms;
  });
  show(
    "index, 1 specimen changed by the library (fresh process)",
    oneChanged,
    "ms",
    false,
    undefined,
    startRef,
  );

  // A cross-run aggregate from a fresh query process.
  const query = await perTree(
    async (tree) =>
      (await deno([
        "run",
        ...TASK_FLAGS,
        join(tree, "tasks", "query.ts"),
        "--vault",
        vault,
        CROSS_QUERY,
      ])).ms,
    runs + 2,
  );
  show(
    `fresh query: min(loss) per specimen at ${size}`,
    query,
    "ms",
    false,
    150,
    startRef,
  );
  await benchQueryServer(vault, size, runs, startRef);

  // readMetrics: decode whole files, against DuckDB reading them into a table.
  const files: [string, string][] = [];
  const ours = join(scratch.path, "ours.parquet");
  await deno(["run", "-A", SELF, "--write-files", scratch.path, String(rows)]);
  files.push([`our file ${rows.toLocaleString("en-US")}×4`, ours]);
  files.push([
    `DuckDB's zstd file ${rows.toLocaleString("en-US")}×4`,
    join(scratch.path, "duckdb.parquet"),
  ]);
  const polars = join(
    INTEROP,
    "python_vault",
    "specimens",
    "2024_01_01_run_000000",
    "strata",
    "metrics.parquet",
  );
  const pyarrow = join(INTEROP, "parquet_edge", "lz4_raw.parquet");
  for (
    const [label, path] of [["polars' file (interop)", polars], [
      "pyarrow's LZ4_RAW file (interop)",
      pyarrow,
    ]]
  ) {
    if (await Deno.stat(path).then(() => true, () => false)) {
      files.push([label, path]);
    }
  }
  for (const [label, path] of files) {
    const child = (tree: string) =>
      deno([
        "run",
        "-A",
        tree === ROOT
          ? SELF
          : join(tree, "tests", "_tools", "bench", "_engine_child.ts"),
        "--read",
        path,
        String(runs + 2),
      ]);
    const results = await perTree(
      async (tree) => {
        const r = JSON.parse((await child(tree)).stdout);
        return r.values / (r.ms / 1000);
      },
      1,
      0,
    );
    const duck = JSON.parse(
      (await deno(["run", "-A", SELF, "--duck-read", path, String(runs + 2)]))
        .stdout,
    );
    const duckRef = {
      name: "DuckDB read into a table",
      value: duck.values / (duck.ms / 1000),
    };
    // The goal: at least DuckDB's rate in the same run.
    show(
      `readMetrics: ${label}`,
      results,
      "values/s",
      true,
      duckRef.value,
      duckRef,
    );
    // The same read with the decode worker allowed (off by default), this
    // tree only.
    const main = JSON.parse(
      (await deno(["run", "-A", SELF, "--read-worker", path, String(runs + 2)]))
        .stdout,
    );
    report({
      name: `readMetrics, decode worker allowed: ${label}`,
      value: main.values / (main.ms / 1000),
      unit: "values/s",
      higherIsBetter: true,
      reference: duckRef,
    });
  }
}

/**
 * A fresh `tasks/query.ts` of the cross-run aggregate three ways, each
 * beside an empty `deno run`: in its own process (`--local`: loading
 * DuckDB, the cold catalog), and answered by a running `tasks/serve.ts` of
 * the vault: a query the server has not seen (a literal changes per run,
 * so its output cache cannot answer) and the same query again (from the
 * cache).
 */
export async function benchQueryServer(
  vault: string,
  size: string,
  runs: number,
  startRef: { name: string; value: number },
): Promise<void> {
  const run = (sql: string, ...flags: string[]) =>
    deno([
      "run",
      ...TASK_FLAGS,
      "--allow-net=127.0.0.1",
      join(ROOT, "tasks", "query.ts"),
      "--vault",
      vault,
      ...flags,
      sql,
    ]);
  const local = await medianMs(() => run(CROSS_QUERY, "--local"), {
    runs: runs + 2,
    warmup: 1,
  });
  report({
    name: `fresh query --local at ${size}`,
    value: local,
    unit: "ms",
    higherIsBetter: false,
    goal: 150,
    reference: startRef,
  });
  const file = join(vault, "vault.duckdb.server");
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-net=127.0.0.1",
      "--allow-ffi",
      "--allow-env",
      "--allow-sys",
      join(ROOT, "tasks", "serve.ts"),
      "--vault",
      vault,
      "--port",
      "0",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let i = 0; i < 600; i++) {
      if (await Deno.stat(file).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // A no-FFI client fails unless the server answers.
    const probe = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-net=127.0.0.1",
        "--allow-env",
        join(ROOT, "tasks", "query.ts"),
        "--vault",
        vault,
        "SELECT 1",
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    if (probe.code !== 0) throw new Error("the query server did not answer");
    let n = 0;
    const fresh = await medianMs(
      () =>
        run(CROSS_QUERY.replace(" GROUP BY", ` WHERE step > -${++n} GROUP BY`)),
      { runs: runs + 2, warmup: 1 },
    );
    report({
      name: `fresh query via deno task serve, uncached, at ${size}`,
      value: fresh,
      unit: "ms",
      higherIsBetter: false,
      goal: 150,
      reference: startRef,
    });
    const again = await medianMs(() => run(CROSS_QUERY), {
      runs: runs + 2,
      warmup: 1,
    });
    report({
      name: `fresh query via deno task serve, repeated, at ${size}`,
      value: again,
      unit: "ms",
      higherIsBetter: false,
      goal: 150,
      reference: startRef,
    });
  } finally {
    server.kill("SIGTERM");
    await server.status;
  }
}

/** Child: DuckDB's glob CTAS into a new file (the full index's reference). */
async function globCtas(vault: string, out: string) {
  const { openDatabase } = await import("../../../lib/duckdb/duckdb.ts");
  using db = await openDatabase(join(out, "glob.duckdb"), {
    file_search_path: vault,
  });
  await db.connection.run(
    `CREATE TABLE m AS SELECT * FROM read_parquet('${GLOB}')`,
  );
}

/** Child: our and DuckDB's 1M×4 files (the same curves as metrics_bench). */
async function writeFiles(dir: string, rows: number) {
  const { encodeMetrics } = await import(
    "../../../lib/formats/parquet/parquet.ts"
  );
  const { openDatabase } = await import("../../../lib/duckdb/duckdb.ts");
  const step = new Int32Array(rows);
  const loss = new Float64Array(rows);
  const accuracy = new Float64Array(rows);
  const lr = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    step[i] = i;
    loss[i] = Math.exp(-i / 200_000) + Math.sin(i) * 0.01;
    accuracy[i] = 1 - loss[i] / 2;
    lr[i] = 1e-3 * Math.min(1, i / 1000);
  }
  const ours = join(dir, "ours.parquet");
  await Deno.writeFile(
    ours,
    (await encodeMetrics({ step, loss, accuracy, lr })).bytes,
  );
  using db = await openDatabase(":memory:");
  await db.connection.run(
    `COPY (SELECT * FROM read_parquet('${ours}')) TO '${
      join(dir, "duckdb.parquet")
    }' (FORMAT parquet, COMPRESSION zstd)`,
  );
}

/** The first specimen folder of `vault`, by name. */
function firstFolder(vault: string): string {
  const names = [...Deno.readDirSync(join(vault, "specimens"))]
    .filter((e) => e.isDirectory).map((e) => e.name).sort();
  return names[0];
}

/**
 * Child: median ms of what `storage.readMetrics()` runs, `readMetricTable`
 * of a specimen folder holding `path` as `strata/metrics.parquet` (a copy),
 * and its values. `--read-worker` allows the decode worker (off by default):
 * the first call after a worker start decodes there too, so warm-up is 2.
 */
async function readChild(path: string, runs: number, worker = false) {
  const { readMetricTable } = await import(
    new URL("../../../lib/metrics_log/read.ts", import.meta.url).href
  );
  const dir = await Deno.makeTempDir({ prefix: "sv_bench_read_" });
  try {
    await Deno.mkdir(join(dir, "strata"));
    await Deno.copyFile(path, join(dir, "strata", "metrics.parquet"));
    const read = worker
      ? (await import(
        new URL("../../../lib/formats/parquet/_decode.ts", import.meta.url)
          .href
      )).decodeParquetFile
      : undefined;
    let values = 0;
    const ms = await medianMs(async () => {
      const table = read
        ? await read(join(dir, "strata", "metrics.parquet"), dir, "auto")
        : await readMetricTable(dir, "metrics");
      values = table.rows * table.schema.length;
    }, { runs, warmup: 2 });
    console.log(JSON.stringify({ ms, values }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Child: median ms of DuckDB reading `path` into a table (in memory). */
async function duckRead(path: string, runs: number) {
  const { openDatabase } = await import("../../../lib/duckdb/duckdb.ts");
  using db = await openDatabase(":memory:");
  const ms = await medianMs(
    () =>
      db.connection.run(
        `CREATE OR REPLACE TABLE r AS SELECT * FROM read_parquet('${path}')`,
      ),
    { runs, warmup: 1 },
  );
  const [[n, cols]] = (await db.connection.runAndReadAll(
    `SELECT count(*)::INTEGER, (SELECT count(*)::INTEGER FROM (DESCRIBE r)) FROM r`,
  )).getRows() as [number, number][];
  console.log(JSON.stringify({ ms, values: n * cols }));
}

if (import.meta.main) {
  const [mode, a, b] = Deno.args;
  if (mode === "--glob-ctas") await globCtas(a, b);
  else if (mode === "--write-files") await writeFiles(a, Number(b));
  else if (mode === "--read") await readChild(a, Number(b));
  else if (mode === "--read-worker") await readChild(a, Number(b), true);
  else if (mode === "--duck-read") await duckRead(a, Number(b));
  else if (mode === "--query-server") {
    // Only the query rows, on an indexed vault `a`: --query-server VAULT [RUNS]
    const empty = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(empty, "export {};\n");
    const start = await medianMs(() => deno(["run", empty]), { runs: 5 });
    await Deno.remove(empty);
    await benchQueryServer(a, a, Number(b ?? 3), {
      name: "empty deno run",
      value: start,
    });
  } else {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        specimens: { type: "string" },
        steps: { type: "string" },
        rows: { type: "string" },
        runs: { type: "string" },
        before: { type: "string" },
        "before-dir": { type: "string" },
        "no-before": { type: "boolean" },
        "full-only": { type: "boolean" },
      },
    });
    const num = (v: string | undefined, env: string) => {
      const text = v ?? Deno.env.get(env);
      return text === undefined ? undefined : Number(text);
    };
    await benchEngine({
      specimens: num(values.specimens, "ENGINE_BENCH_SPECIMENS"),
      steps: num(values.steps, "ENGINE_BENCH_STEPS"),
      rows: num(values.rows, "ENGINE_BENCH_ROWS"),
      runs: num(values.runs, "ENGINE_BENCH_RUNS"),
      before: values["no-before"] ? null : values.before ?? BEFORE_REF,
      beforeDir: values["before-dir"],
      fullOnly: values["full-only"] ||
        Deno.env.get("ENGINE_BENCH_ONLY") === "full",
    });
  }
}

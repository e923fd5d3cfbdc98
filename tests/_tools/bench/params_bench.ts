/**
 * Params benchmark: two generated vaults of 10,000 specimens × 100 steps,
 * one with 20 params per specimen and one without (cached under /tmp),
 * then:
 * - the full index of each, run alternately from fresh `deno task index
 *   --full` processes: the time params add (goal ≤ +15%);
 * - a fresh `deno task query` filtering one param and joining the final
 *   loss (goal ≤ 300 ms), beside `count(*) FROM catalog` from a fresh process;
 * - the dashboard's `/api/params/scatter` and `/api/params/parallel` over
 *   HTTP (goal ≤ 200 ms), beside `/api/info`.
 *
 * Run: `deno run -A tests/_tools/bench/params_bench.ts [--specimens N]
 * [--steps N] [--params N] [--runs N] [--cache DIR]` (or `deno task bench
 * params`).
 *
 * @module
 */
import { join, parseArgs, resolve } from "../../../lib/_deps.ts";
import { serveDashboard } from "../../../lib/dashboard/server.ts";
import { deno as denoRun, medianMs, report, TASK_FLAGS } from "./_bench.ts";
import { generateVault } from "./gen_vault.ts";

const ROOT = resolve(import.meta.dirname!, "..", "..", "..");
/** The query of the benchmark: one param filtered, the final loss joined. */
export const PARAM_QUERY =
  `SELECT p.specimen_id, p.num AS lr, m.final_loss FROM params p
   JOIN (SELECT specimen_id, arg_max(loss, step) AS final_loss FROM metrics GROUP BY specimen_id) m
     USING (specimen_id)
   WHERE p.key = 'lr' AND p.num < 1e-3 ORDER BY m.final_loss LIMIT 20`;

/** Options of {@linkcode benchParams}. */
export interface ParamsBenchOptions {
  /** Specimens in each vault. @default 10000 */
  specimens?: number;
  /** Metric rows per specimen. @default 100 */
  steps?: number;
  /** Params per specimen. @default 20 */
  params?: number;
  /** Measured full indexes of each vault. @default 3 */
  runs?: number;
  /** Where generated vaults are kept between runs. @default "/tmp/sv_bench_cache" */
  cacheDir?: string;
}

/** Runs `deno <args>` in a subprocess; its wall time in ms. */
async function deno(args: string[]): Promise<number> {
  return (await denoRun(args)).ms;
}

/** The generated vault for these parameters, made once and then reused. */
async function cachedVault(
  cacheDir: string,
  specimens: number,
  steps: number,
  params: number,
): Promise<string> {
  const vault = join(cacheDir, `params_${specimens}x${steps}_p${params}_v1`);
  const done = join(vault, ".complete");
  if (!(await Deno.stat(done).then(() => true, () => false))) {
    await Deno.remove(vault, { recursive: true }).catch(() => {});
    await Deno.mkdir(vault, { recursive: true });
    const t0 = performance.now();
    await generateVault(vault, { specimens, steps, params });
    await Deno.writeTextFile(done, new Date().toISOString());
    console.log(
      `generated ${specimens} × ${steps} with ${params} params in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s (cached at ${vault})`,
    );
  } else console.log(`reusing the generated vault ${vault}`);
  return vault;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Runs the params benchmark and prints every figure with `report()`.
 * Returns whether every goal was met.
 *
 * @example
 * ```ts ignore
 * import { benchParams } from "./params_bench.ts";
 * await benchParams({ specimens: 1000, steps: 10 });
 * ```
 */
export async function benchParams(
  options: ParamsBenchOptions = {},
): Promise<boolean> {
  const specimens = options.specimens ?? 10_000;
  const steps = options.steps ?? 100;
  const count = options.params ?? 20;
  const runs = options.runs ?? 3;
  const cacheDir = options.cacheDir ?? "/tmp/sv_bench_cache";
  const plain = await cachedVault(cacheDir, specimens, steps, 0);
  const withParams = await cachedVault(cacheDir, specimens, steps, count);
  const size = `${specimens.toLocaleString("en-US")} × ${steps}`;
  const index = (vault: string) =>
    deno([
      "run",
      ...TASK_FLAGS,
      join(ROOT, "tasks", "index.ts"),
      "--vault",
      vault,
      "--full",
    ]);
  let met = true;

  // (a) Full index with and without params, alternately (the machine's load
  // weighs on both alike).
  await index(plain);
  await index(withParams);
  const times = { plain: [] as number[], params: [] as number[] };
  for (let i = 0; i < runs; i++) {
    times.plain.push(await index(plain));
    times.params.push(await index(withParams));
  }
  const base = median(times.plain);
  const withP = median(times.params);
  met = report({
    name: `full index ${size} × ${count} params`,
    value: withP,
    unit: "ms",
    higherIsBetter: false,
    goal: base * 1.15,
    reference: { name: "the same vault without params", value: base },
  }) && met;
  console.log(
    `  (params add ${((withP / base - 1) * 100).toFixed(1)}%; goal ≤ +15%)`,
  );

  // (b) A fresh `deno task query`: one param filtered, the final loss joined.
  const query = (sql: string) =>
    deno([
      "run",
      ...TASK_FLAGS,
      join(ROOT, "tasks", "query.ts"),
      "--vault",
      withParams,
      sql,
    ]);
  const q = await medianMs(() => query(PARAM_QUERY), { runs: 5, warmup: 1 });
  const cold = await medianMs(
    () => query("SELECT count(*) FROM catalog"),
    { runs: 5, warmup: 1 },
  );
  met = report({
    name: "lr < 1e-3 ⋈ final loss, fresh deno task query",
    value: q,
    unit: "ms",
    higherIsBetter: false,
    goal: 300,
    reference: { name: "count(*) FROM catalog, fresh process", value: cold },
  }) && met;

  // (c) The dashboard's scatter and parallel-coordinates API over HTTP.
  await using server = await serveDashboard({ vault: withParams, port: 0 });
  const get = async (path: string) => {
    const res = await fetch(new URL(path, server.url));
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return await res.json();
  };
  const info = await medianMs(() => get("/api/info"), { runs: 9, warmup: 2 });
  for (
    const [name, path] of [
      [
        "GET /api/params/scatter (final loss vs lr)",
        "/api/params/scatter?param=lr&metric=loss&stat=final",
      ],
      [
        "GET /api/params/scatter (min accuracy vs batch)",
        "/api/params/scatter?param=batch&metric=accuracy&stat=min",
      ],
      [
        "GET /api/params/parallel (4 keys + loss, 1,000)",
        "/api/params/parallel?keys=lr,batch,optimizer.name,amp&metric=loss&limit=1000",
      ],
    ]
  ) {
    const body = await get(path);
    const n = (body.points ?? body.rows).length;
    const ms = await medianMs(() => get(path), { runs: 9, warmup: 1 });
    met = report({
      name: `${name}, ${n} rows`,
      value: ms,
      unit: "ms",
      higherIsBetter: false,
      goal: 200,
      reference: { name: "GET /api/info", value: info },
    }) && met;
  }
  return met;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      specimens: { type: "string" },
      steps: { type: "string" },
      params: { type: "string" },
      runs: { type: "string" },
      cache: { type: "string" },
    },
  });
  const num = (v: string | undefined) =>
    v === undefined ? undefined : Number(v);
  await benchParams({
    specimens: num(values.specimens),
    steps: num(values.steps),
    params: num(values.params),
    runs: num(values.runs),
    cacheDir: values.cache,
  });
}

/**
 * Dashboard benchmark, over real HTTP against a real server on a free port:
 *
 * - the downsampled curve API for 10 specimens × 100,000 steps (goal
 *   ≤ 200 ms per request, ≤ 2,000 points per series), beside the same
 *   data fetched whole;
 * - the catalog page API for 10,000 specimens (goal ≤ 200 ms), beside
 *   reading every catalog row through `VaultQuery.specimens()`.
 *
 * Run: `deno run -A tests/_tools/bench/dashboard_bench.ts [--runs N]` (or
 * `deno task bench dashboard`).
 *
 * @module
 */
import { parseArgs } from "../../../lib/_deps.ts";
import { indexVault } from "../../../lib/catalog/index_vault.ts";
import {
  createDashboard,
  serveDashboard,
} from "../../../lib/dashboard/server.ts";
import { VaultQuery } from "../../../lib/query/vault_query.ts";
import { benchDir, medianMs, report } from "./_bench.ts";
import { generateVault } from "./gen_vault.ts";

/** Options of {@linkcode benchDashboard}. */
export interface DashboardBenchOptions {
  /** Measured runs of each figure. @default 7 */
  runs?: number;
  /** Specimens of the curve vault. @default 10 */
  curveSpecimens?: number;
  /** Steps per specimen of the curve vault. @default 100000 */
  curveSteps?: number;
  /** Specimens of the catalog vault. @default 10000 */
  catalogSpecimens?: number;
}

interface CurveBody {
  series: { x: number[]; n: number }[];
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return await res.json() as T;
}

/** Runs every dashboard figure and prints it; returns whether all goals were met. */
export async function benchDashboard(
  options: DashboardBenchOptions = {},
): Promise<boolean> {
  const runs = options.runs ?? 7;
  const nCurves = options.curveSpecimens ?? 10;
  const steps = options.curveSteps ?? 100_000;
  const nCatalog = options.catalogSpecimens ?? 10_000;
  let met = true;

  {
    await using dir = await benchDir("sv_bench_dash_curves_");
    const ids = await generateVault(dir.path, {
      specimens: nCurves,
      steps,
      prefix: "curve_",
    });
    await indexVault({ vault: dir.path });
    await using server = await serveDashboard({ vault: dir.path, port: 0 });
    const url = (extra: string) =>
      new URL(
        `/api/curves?ids=${ids.join(",")}&columns=loss&${extra}`,
        server.url,
      ).href;
    const sampled = url("width=1000");
    const body = await getJson<CurveBody>(sampled);
    const most = Math.max(...body.series.map((s) => s.x.length));
    if (body.series.length !== nCurves || body.series[0].n !== steps) {
      throw new Error(`unexpected curves: ${body.series.length} series`);
    }
    const full = await medianMs(() => getJson(url("width=1000&full=1")), {
      runs: Math.min(runs, 5),
    });
    const ms = await medianMs(() => getJson(sampled), { runs });
    met = report({
      name: `curves ${nCurves}×${steps.toLocaleString("en-US")} steps, 1000 px`,
      value: ms,
      unit: "ms",
      higherIsBetter: false,
      goal: 200,
      reference: { name: "full fetch", value: full },
    }) && met;
    met = report({
      name: "  points per series (most)",
      value: most,
      unit: "points",
      higherIsBetter: false,
      goal: 2000,
      reference: { name: "steps per series", value: steps },
    }) && met;
    const zoom = url(`width=1000&x0=${steps * 0.4}&x1=${steps * 0.41}`);
    const zoomBody = await getJson<CurveBody>(zoom);
    const zoomMs = await medianMs(() => getJson(zoom), { runs });
    met = report({
      name: `  zoomed to ${
        zoomBody.series[0].n.toLocaleString("en-US")
      } steps (full resolution)`,
      value: zoomMs,
      unit: "ms",
      higherIsBetter: false,
      goal: 200,
      reference: { name: "whole range", value: ms },
    }) && met;
  }

  {
    await using dir = await benchDir("sv_bench_dash_catalog_");
    await generateVault(dir.path, { specimens: nCatalog, steps: 10 });
    await indexVault({ vault: dir.path });
    await using server = await serveDashboard({ vault: dir.path, port: 0 });
    const page = new URL("/api/catalog", server.url).href;
    const first = await getJson<{ total: number; rows: unknown[] }>(page);
    if (first.total !== nCatalog) {
      throw new Error(`catalog has ${first.total} specimens`);
    }
    using q = await VaultQuery.open({ vault: dir.path });
    const all = await medianMs(() => q.specimens(), { runs });
    const ms = await medianMs(() => getJson(page), { runs });
    const name = `catalog page, ${nCatalog.toLocaleString("en-US")} specimens`;
    met = report({
      name,
      value: ms,
      unit: "ms",
      higherIsBetter: false,
      goal: 200,
      reference: { name: "VaultQuery.specimens() all rows", value: all },
    }) && met;
    const filtered = new URL(
      "/api/catalog?q=generated%20specimen%2012&domain=training&tag=gpt2&sort=model&order=asc&since=2024-01-01&until=2025-12-31",
      server.url,
    ).href;
    const filteredMs = await medianMs(() => getJson(filtered), { runs });
    met = report({
      name: "  filtered + text search + sort",
      value: filteredMs,
      unit: "ms",
      higherIsBetter: false,
      goal: 200,
      reference: { name: "first page", value: ms },
    }) && met;
    // A fresh app each time: opening the catalog and counting facets.
    const coldMs = await medianMs(async () => {
      await using dash = await createDashboard({ vault: dir.path });
      const res = await dash.handler(
        new Request("http://127.0.0.1/api/catalog"),
      );
      await res.json();
    }, { runs: Math.min(runs, 5) });
    met = report({
      name: "  first request after a new index (cold)",
      value: coldMs,
      unit: "ms",
      higherIsBetter: false,
      goal: 200,
      reference: { name: "warm", value: ms },
    }) && met;
  }
  return met;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { runs: { type: "string" } },
    strict: true,
  });
  await benchDashboard({
    runs: values.runs ? Number(values.runs) : undefined,
  });
}

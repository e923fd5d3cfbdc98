/**
 * `GET /api/specimens/:id/histograms`: each histogram a specimen holds (an
 * imported TensorBoard histogram: a `steps × buckets` counts tensor, its
 * `<name>_edges` tensor of right bucket edges, and a row per step in the
 * `histograms` metric table with the tag, step, min and max) as a
 * distribution over steps: quantiles per step, for a band chart.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { ident } from "../duckdb/duckdb.ts";
import { readZarr } from "../formats/zarr/zarr.ts";
import { validateReadableSpecimenId } from "../specimen/id.ts";
import { STRATA_DIR } from "../vault.ts";
import type { ApiContext } from "./_context.ts";

/** The quantiles drawn (TensorBoard's distribution view uses the same). */
export const QUANTILES = [0, 0.07, 0.16, 0.31, 0.5, 0.69, 0.84, 0.93, 1];
/** Histograms of one specimen sent at most. */
export const MAX_HISTOGRAMS = 24;
/** Steps per histogram sent at most (evenly picked, the last kept). */
export const MAX_HISTOGRAM_STEPS = 300;
/** Cells of one counts tensor read at most (32 MiB of float64). */
const MAX_CELLS = 4 << 20;

/** One histogram as quantile bands over steps. */
export interface Distribution {
  /** The counts tensor. */
  name: string;
  /** The tag it was logged under, and its sub-run. */
  tag: string;
  subrun: string;
  /** The steps shown. */
  steps: number[];
  /** Per quantile in {@linkcode QUANTILES}, its value at each step. */
  bands: (number | null)[][];
  /** Steps in the histogram (before picking). */
  total_steps: number;
  /** Why it is not drawn, else null. */
  issue: string | null;
}

/**
 * The value below which fraction `q` of the counts lie, linear inside a
 * bucket; buckets are `(edges[i-1], edges[i]]`, the first starting at `lo`.
 */
function quantile(
  counts: ArrayLike<number>,
  edges: ArrayLike<number>,
  total: number,
  q: number,
  lo: number,
  hi: number,
): number {
  if (q <= 0) return lo;
  if (q >= 1) return hi;
  const target = q * total;
  let cum = 0;
  for (let i = 0; i < edges.length; i++) {
    const c = Number(counts[i]);
    if (c <= 0) continue;
    if (cum + c >= target) {
      const left = Math.max(lo, i === 0 ? lo : Number(edges[i - 1]));
      const right = Math.min(hi, Number(edges[i]));
      const f = (target - cum) / c;
      return right >= left ? left + f * (right - left) : right;
    }
    cum += c;
  }
  return hi;
}

function pick(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return Array.from(
    { length: max },
    (_, i) => Math.round(i * (n - 1) / (max - 1)),
  );
}

/** `GET /api/specimens/:id/histograms`. */
export async function histograms(
  ctx: ApiContext,
  id: string,
): Promise<{ quantiles: number[]; histograms: Distribution[] }> {
  validateReadableSpecimenId(id);
  const has = await ctx.catalog.query(
    `SELECT source FROM metric_tables WHERE specimen_id = $1 AND name = 'histograms' AND source IS NOT NULL
       AND list_contains(list_transform(columns, c -> c.name), 'tensor')`,
    [id],
    { ...ctx.limits, maxRows: 1 },
  );
  if (!has.rows.length) return { quantiles: QUANTILES, histograms: [] };
  const r = await ctx.catalog.query(
    `SELECT tensor, any_value(tag) AS tag, any_value(subrun) AS subrun,
       list(step::DOUBLE ORDER BY "row") AS steps,
       list(min::DOUBLE ORDER BY "row") AS lo, list(max::DOUBLE ORDER BY "row") AS hi
     FROM ${ident(String(has.rows[0].source))} WHERE specimen_id = $1
     GROUP BY tensor ORDER BY min("row"), tensor LIMIT ${MAX_HISTOGRAMS}`,
    [id],
    { ...ctx.limits, maxRows: MAX_HISTOGRAMS },
  );
  const strata = join(ctx.catalog.paths.root, "specimens", id, STRATA_DIR);
  const out: Distribution[] = [];
  for (const row of r.rows) {
    const name = String(row.tensor);
    const steps = (row.steps as number[]).map(Number);
    const lo = (row.lo as number[]).map(Number);
    const hi = (row.hi as number[]).map(Number);
    const d: Distribution = {
      name,
      tag: String(row.tag),
      subrun: String(row.subrun ?? ""),
      steps: [],
      bands: QUANTILES.map(() => []),
      total_steps: steps.length,
      issue: null,
    };
    out.push(d);
    try {
      const edges = await readZarr(join(strata, `${name}_edges.zarr`), [], {
        root: strata,
      });
      const width = edges.shape[0] ?? 0;
      if (width * steps.length > MAX_CELLS) {
        d.issue = `too large to draw (${steps.length} × ${width} buckets)`;
        continue;
      }
      const counts = await readZarr(join(strata, `${name}.zarr`), [], {
        root: strata,
      });
      const c = counts.data as ArrayLike<number>;
      const e = edges.data as ArrayLike<number>;
      for (const i of pick(steps.length, MAX_HISTOGRAM_STEPS)) {
        const rowCounts = Array.prototype.slice.call(
          c,
          i * width,
          (i + 1) * width,
        ) as number[];
        const total = rowCounts.reduce((a, b) => a + Number(b), 0);
        d.steps.push(steps[i]);
        QUANTILES.forEach((q, k) =>
          d.bands[k].push(
            total > 0 ? quantile(rowCounts, e, total, q, lo[i], hi[i]) : null,
          )
        );
      }
    } catch (e) {
      d.issue = `cannot be read: ${
        (e as Error).message.replace(`${ctx.catalog.paths.root}/`, "")
      }`;
    }
  }
  return { quantiles: QUANTILES, histograms: out };
}

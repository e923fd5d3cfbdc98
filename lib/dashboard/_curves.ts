/**
 * Metric curves for the dashboard, downsampled in SQL: the visible step range
 * is cut into one bucket per pixel column (at most {@linkcode MAX_BUCKETS}),
 * and each bucket keeps its lowest and its highest point (min/max
 * decimation: every spike survives, and a line through the points covers
 * the same pixels as the full curve). Each kept point is a real row; among
 * rows with the same extreme value the lowest step wins, so the same request
 * always gives the same points. A bucket with one or two rows keeps them
 * all: zoomed in far enough, a curve comes back at full resolution.
 *
 * Every series (specimen × column) is one `SELECT` tagged with its index,
 * and buckets are computed with integer arithmetic on integer steps: the
 * grouping keys are two integers, which keeps 10 × 100,000 rows well under
 * 100 ms.
 *
 * @module
 */
import type { LiveCatalog, QueryLimits } from "./_db.ts";
import { InvalidInputError } from "../errors.ts";
import {
  checkNumber,
  MAX_SERIES,
  type MissingSeries,
  plan,
} from "./_curve_plan.ts";

export { MAX_SERIES, type MissingSeries };

/** Most buckets per series: at two points each, 2,000 points. */
export const MAX_BUCKETS = 1000;
/** Most points in one `full` response. */
export const MAX_FULL_POINTS = 5_000_000;

/** What to draw. */
export interface CurveRequest {
  /** Specimen ids. */
  ids: string[];
  /** Metric table name (`strata/<table>.parquet`). @default "metrics" */
  table?: string;
  /** Columns to draw against `step`. */
  columns: string[];
  /** Lowest step shown (default: the data's lowest). */
  x0?: number;
  /** Highest step shown (default: the data's highest). */
  x1?: number;
  /** Plot width in pixels: one bucket each, at most {@linkcode MAX_BUCKETS}. */
  width: number;
  /** Every point in range, no downsampling. @default false */
  full?: boolean;
}

/** One curve. */
export interface Series {
  specimen_id: string;
  column: string;
  /** Points in range before downsampling. */
  n: number;
  /** Whether `x`/`y` are a min/max decimation of the `n` points. */
  downsampled: boolean;
  x: number[];
  y: number[];
}

/** What {@linkcode fetchCurves} returns. */
export interface CurveResponse {
  table: string;
  /** The step range the buckets cover (null when nothing is in range). */
  x0: number | null;
  x1: number | null;
  /** Buckets used (0 with `full`). */
  buckets: number;
  series: Series[];
  /** Requested (specimen, column) pairs with nothing to draw, and why. */
  missing: MissingSeries[];
}

/** Per-specimen summary of one column (the compare table). */
export interface SummaryRow {
  specimen_id: string;
  /** Rows with a value. */
  n: number;
  /** Value at the highest step. */
  final: number | null;
  final_step: number | null;
  min: number | null;
  max: number | null;
}

/**
 * Fetches curves: min/max-decimated to `width` buckets over `[x0, x1]`, or
 * whole where a series has few enough points (or `full` is set).
 *
 * @example
 * ```ts ignore
 * const res = await fetchCurves(catalog, { ids: ["run_a"], columns: ["loss"], width: 800 }, limits);
 * console.log(res.series[0].x.length <= 1600);
 * ```
 */
export async function fetchCurves(
  catalog: LiveCatalog,
  request: CurveRequest,
  limits: QueryLimits,
): Promise<CurveResponse> {
  const tableName = request.table ?? "metrics";
  checkNumber("x0", request.x0);
  checkNumber("x1", request.x1);
  if (
    request.x0 !== undefined && request.x1 !== undefined &&
    request.x1 < request.x0
  ) {
    throw new InvalidInputError(
      `Invalid range: x0 ${request.x0} is above x1 ${request.x1}: pass x0 ≤ x1`,
    );
  }
  if (!Number.isFinite(request.width) || request.width < 1) {
    throw new InvalidInputError(
      `Invalid width ${
        JSON.stringify(request.width)
      }: pass the plot's width in pixels, e.g. width=800`,
    );
  }
  const buckets = Math.min(MAX_BUCKETS, Math.max(2, Math.round(request.width)));
  const p = await plan(
    catalog,
    request.ids,
    tableName,
    request.columns,
    limits,
    request,
  );
  const result: CurveResponse = {
    table: tableName,
    x0: null,
    x1: null,
    buckets: request.full ? 0 : buckets,
    series: [],
    missing: p.missing,
  };
  if (!p.sql) return result;
  const series: Series[] = p.series.map((s) => ({
    ...s,
    n: 0,
    downsampled: false,
    x: [],
    y: [],
  }));
  const num = (v: unknown) => v === null ? null : Number(v);

  if (request.full) {
    const res = await catalog.query(
      `SELECT s, x::DOUBLE, y::DOUBLE FROM (${p.sql}) ORDER BY s, x, y`,
      undefined,
      { ...limits, maxRows: MAX_FULL_POINTS, values: "raw" },
    );
    if (res.truncated) throw tooMany(MAX_FULL_POINTS);
    const [ss, xs, ys] = res.values as [number[], number[], number[]];
    for (let i = 0; i < ss.length; i++) {
      series[ss[i]].x.push(xs[i]);
      series[ss[i]].y.push(ys[i]);
    }
    for (const s of series) s.n = s.x.length;
    let lo = Infinity, hi = -Infinity;
    for (const s of series) {
      if (s.x.length) {
        lo = Math.min(lo, s.x[0]);
        hi = Math.max(hi, s.x[s.x.length - 1]);
      }
    }
    return finish(result, series, request, lo, hi);
  }

  // The range the buckets cover: the request's, else the data's.
  let lo = request.x0, hi = request.x1;
  if (lo === undefined || hi === undefined) {
    const r = await catalog.memo(
      `range:${p.sql}`,
      () =>
        catalog.query(
          `SELECT min(x)::DOUBLE AS lo, max(x)::DOUBLE AS hi FROM (${p.sql})`,
          undefined,
          { ...limits, maxRows: 1 },
        ),
    );
    lo ??= num(r.rows[0].lo) ?? undefined;
    hi ??= num(r.rows[0].hi) ?? undefined;
  }
  if (lo === undefined || hi === undefined) {
    return finish(result, series, request);
  }
  // Bucket k of x: integer arithmetic on integer steps (exact and fast);
  // floating point otherwise, with DOUBLE literals (a bare 0.5 is DECIMAL).
  let bucket: string;
  if (p.integerSteps) {
    const a = Math.floor(lo), b = Math.ceil(hi);
    bucket = `((x - ${a}) * ${buckets} // ${b - a + 1})`;
  } else {
    const scale = hi > lo ? buckets / (hi - lo) : 0;
    bucket = `least(${
      buckets - 1
    }, floor((x - ${lo}::DOUBLE) * ${scale}::DOUBLE))`;
  }
  // Pass 1: each bucket's extremes; pass 2: the lowest step that has them
  // (scanning again is as fast as keeping the rows, and takes no memory).
  // One integer key per (series, bucket): g = s * buckets + k.
  const res = await catalog.query(
    `WITH b AS NOT MATERIALIZED (
       SELECT s * ${buckets} + ${bucket}::INTEGER AS g, x, y FROM (${p.sql})
     ),
     ag AS (SELECT g, min(y) AS lo, max(y) AS hi, count(*) AS n FROM b GROUP BY g)
     SELECT ag.g::DOUBLE AS g, ag.n::DOUBLE AS n,
       min(b.x) FILTER (WHERE b.y = ag.lo)::DOUBLE AS xlo, ag.lo::DOUBLE AS ylo,
       min(b.x) FILTER (WHERE b.y = ag.hi)::DOUBLE AS xhi, ag.hi::DOUBLE AS yhi
     FROM ag JOIN b ON b.g = ag.g AND (b.y = ag.lo OR b.y = ag.hi)
     GROUP BY ag.g, ag.n, ag.lo, ag.hi
     ORDER BY ag.g`,
    undefined,
    { ...limits, maxRows: series.length * MAX_BUCKETS, values: "raw" },
  );
  const [gs, ns, xlo, ylo, xhi, yhi] = res.values as number[][];
  for (let i = 0; i < gs.length; i++) {
    const s = series[Math.floor(gs[i] / buckets)];
    s.n += ns[i];
    if (xlo[i] === xhi[i] && ylo[i] === yhi[i]) {
      s.x.push(xlo[i]);
      s.y.push(ylo[i]);
    } else if (xlo[i] < xhi[i] || (xlo[i] === xhi[i] && ylo[i] < yhi[i])) {
      s.x.push(xlo[i], xhi[i]);
      s.y.push(ylo[i], yhi[i]);
    } else {
      s.x.push(xhi[i], xlo[i]);
      s.y.push(yhi[i], ylo[i]);
    }
  }
  for (const s of series) s.downsampled = s.x.length < s.n;
  return finish(result, series, request, lo, hi);
}

function finish(
  result: CurveResponse,
  series: Series[],
  request: CurveRequest,
  lo?: number,
  hi?: number,
): CurveResponse {
  const drawn = series.filter((s) => s.n > 0);
  // The request's order: specimens as given, then columns as given.
  const { ids, columns: cols } = request;
  drawn.sort((a, b) =>
    ids.indexOf(a.specimen_id) - ids.indexOf(b.specimen_id) ||
    cols.indexOf(a.column) - cols.indexOf(b.column)
  );
  return {
    ...result,
    x0: drawn.length && lo !== undefined && Number.isFinite(lo) ? lo : null,
    x1: drawn.length && hi !== undefined && Number.isFinite(hi) ? hi : null,
    series: drawn,
  };
}

function tooMany(max: number): InvalidInputError {
  return new InvalidInputError(
    `More than ${
      max.toLocaleString("en-US")
    } points in range: ask for a narrower step range (x0, x1), fewer series, or leave out full=1`,
  );
}

/**
 * Final (at the highest step), min and max of one column per specimen.
 *
 * @example
 * ```ts ignore
 * const rows = await summarizeColumn(catalog, { ids: ["a", "b"], column: "loss" }, limits);
 * ```
 */
export async function summarizeColumn(
  catalog: LiveCatalog,
  request: { ids: string[]; table?: string; column: string },
  limits: QueryLimits,
): Promise<{ rows: SummaryRow[]; missing: CurveResponse["missing"] }> {
  const p = await plan(
    catalog,
    request.ids,
    request.table ?? "metrics",
    [request.column],
    limits,
    {},
  );
  if (!p.sql) return { rows: [], missing: p.missing };
  // The final value is the lowest one at the highest step (deterministic
  // even when a step was logged twice).
  const res = await catalog.query(
    `WITH p AS MATERIALIZED (${p.sql}),
     a AS (SELECT s, count(*) AS n, min(y) AS mn, max(y) AS mx, max(x) AS last FROM p GROUP BY s)
     SELECT a.s, a.n::DOUBLE AS n, min(p.y)::DOUBLE AS final, a.last::DOUBLE AS final_step,
       a.mn::DOUBLE AS min, a.mx::DOUBLE AS max
     FROM a JOIN p ON p.s = a.s AND p.x = a.last
     GROUP BY a.s, a.n, a.last, a.mn, a.mx ORDER BY a.s`,
    undefined,
    { ...limits, maxRows: MAX_SERIES },
  );
  const rows = res.rows.map((r) => ({
    specimen_id: p.series[Number(r.s)].specimen_id,
    n: Number(r.n),
    final: r.final as number | null,
    final_step: r.final_step as number | null,
    min: r.min as number | null,
    max: r.max as number | null,
  }));
  return { rows, missing: p.missing };
}

/**
 * Curve planning: checks the request (names by the vault's rule, numbers,
 * the series limit), looks up each specimen's metric table and column
 * types in the catalog, and builds one `SELECT s, x, y` per drawable series.
 * Fetching and downsampling the planned rows is `_curves.ts`.
 *
 * @module
 */
import { ident, literal } from "../duckdb/duckdb.ts";
import type { LiveCatalog, QueryLimits } from "./_db.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { validateReadableSpecimenId } from "../specimen/id.ts";
import { READABLE_ARTIFACT_NAME_PATTERN } from "../specimen/artifact_name.ts";

/** Most series (specimens × columns) in one request. */
export const MAX_SERIES = 200;

/** A requested (specimen, column) pair with nothing to draw, and why. */
export interface MissingSeries {
  specimen_id: string;
  column: string;
  reason: string;
}

const NUMERIC =
  /^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL(\(\d+,\s*\d+\))?)$/;
const INTEGER = /^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/;
const FLOATING = /^(FLOAT|DOUBLE)$/;
const STEP = "step";
/** A table or column name: the vault's rule for artifact names read back. */
function checkName(kind: string, value: string): void {
  if (!READABLE_ARTIFACT_NAME_PATTERN.test(value)) {
    throw new InvalidInputError(
      `Invalid ${kind} ${
        JSON.stringify(value)
      }: it must be 1 to 64 of ^[A-Za-z0-9_]+$, as in the catalog (see metric_tables)`,
    );
  }
}

export function checkNumber(name: string, v: number | undefined): void {
  if (v !== undefined && !Number.isFinite(v)) {
    throw new InvalidInputError(
      `Invalid ${name} ${JSON.stringify(v)}: pass a finite number (a step)`,
    );
  }
}

export interface Plan {
  /** `SELECT s, x, y` per series (s its index in `series`), UNION ALL. */
  sql: string;
  series: { specimen_id: string; column: string }[];
  /** Whether every step column is an integer type (integer bucketing). */
  integerSteps: boolean;
  missing: MissingSeries[];
}

/**
 * Builds the SQL that yields `(s, x, y)` for every requested series that
 * can be drawn; `s` is the series' index, `x` the step.
 */
export async function plan(
  catalog: LiveCatalog,
  ids: string[],
  tableName: string,
  columns: string[],
  limits: QueryLimits,
  range: { x0?: number; x1?: number },
): Promise<Plan> {
  if (ids.length === 0) {
    throw new InvalidInputError(
      "No specimen given: pass ids=ID[,ID...] (see GET /api/catalog)",
    );
  }
  if (columns.length === 0) {
    throw new InvalidInputError(
      "No metric column given: pass columns=NAME[,NAME...], e.g. columns=loss",
    );
  }
  for (const id of ids) validateReadableSpecimenId(id);
  checkName("metric table", tableName);
  // Column names are whatever writeMetrics accepted (any text): they are
  // checked against the table's columns below and quoted with ident().
  for (const c of columns) {
    // deno-lint-ignore no-control-regex
    if (c.length > 256 || /[\u0000-\u001f]/.test(c)) {
      throw new InvalidInputError(
        `Invalid metric column ${
          JSON.stringify(c.slice(0, 80))
        }: pass a column name listed by GET /api/columns`,
      );
    }
  }
  if (ids.length * columns.length > MAX_SERIES) {
    throw new InvalidInputError(
      `Too many series: ${ids.length} specimen(s) × ${columns.length} column(s) = ${
        ids.length * columns.length
      }; the limit is ${MAX_SERIES} per request: pick fewer specimens or columns`,
    );
  }
  // What each specimen's table holds: fixed for a catalog version.
  const found = await catalog.memo(
    `tables:${tableName}:${ids.join(",")}`,
    () =>
      catalog.query(
        `SELECT specimen_id, source, definition, columns, issue FROM metric_tables
         WHERE name = $name AND specimen_id IN (SELECT unnest($ids::VARCHAR[]))`,
        { name: tableName, ids },
        limits,
      ),
  );
  const byId = new Map(found.rows.map((r) => [String(r.specimen_id), r]));
  // The indexer's union table for this name; a specimen whose source is
  // another table (its columns disagreed) is read through its definition.
  const union = tableName === "metrics" ? "metrics" : `metrics__${tableName}`;
  const missing: MissingSeries[] = [];
  const wanted: {
    specimen_id: string;
    column: string;
    row: Record<string, unknown>;
    type: string;
  }[] = [];
  let integerSteps = true;
  for (const id of ids) {
    const row = byId.get(id);
    for (const column of columns) {
      const miss = (reason: string) =>
        missing.push({ specimen_id: id, column, reason });
      if (!row) {
        miss(`no metric table "${tableName}"`);
        continue;
      }
      if (row.source === null) {
        miss(String(row.issue ?? "its metric table is not in the catalog"));
        continue;
      }
      const types = new Map(
        (row.columns as { name: string; type: string }[]).map((
          c,
        ) => [c.name, c.type]),
      );
      const stepType = types.get(STEP) ?? "";
      if (!NUMERIC.test(stepType)) {
        miss(
          types.has(STEP)
            ? `its "step" column is ${stepType}, not a number`
            : `no "step" column to draw against`,
        );
        continue;
      }
      const type = types.get(column);
      if (type === undefined || !NUMERIC.test(type)) {
        miss(type === undefined ? "no such column" : `${type} is not numeric`);
        continue;
      }
      if (!INTEGER.test(stepType)) integerSteps = false;
      wanted.push({ specimen_id: id, column, row, type });
    }
  }
  // Bounds widened to whole steps, so that integer steps compare as integers.
  const bounds = [
    range.x0 !== undefined ? ` AND "step" >= ${Math.floor(range.x0)}` : "",
    range.x1 !== undefined ? ` AND "step" <= ${Math.ceil(range.x1)}` : "",
  ].join("");
  // A value that is NULL, NaN or infinite is a gap: `> -inf AND < inf` says
  // so in one range filter (DuckDB orders NaN above inf), cheaper than
  // isfinite(); steps too when they are floating point.
  const valid = (col: string, type: string) =>
    FLOATING.test(type)
      ? `${col} > '-inf'::DOUBLE AND ${col} < 'inf'::DOUBLE`
      : `${col} IS NOT NULL`;
  const stepValid = integerSteps ? "" : ` AND ${valid('"step"', "DOUBLE")}`;
  const series: Plan["series"] = [];
  const parts: string[] = [];
  // Specimens in the union table: one scan per column with an IN list
  // (cheaper than a scan per specimen); the series index comes from the
  // specimen's place in the list.
  for (const column of columns) {
    const inUnion = wanted.filter((w) =>
      w.column === column && w.row.source === union
    );
    if (inUnion.length === 0) continue;
    const list = inUnion.map((w) => literal(w.specimen_id)).join(", ");
    const col = ident(column);
    const floating = inUnion.some((w) => FLOATING.test(w.type));
    parts.push(
      `SELECT list_position([${list}], specimen_id) + ${
        series.length - 1
      } AS s, "step" AS x, ${col} AS y FROM ${
        ident(union)
      } WHERE specimen_id IN (${list}) AND ${
        valid(col, floating ? "DOUBLE" : "BIGINT")
      }${stepValid}${bounds}`,
    );
    for (const w of inUnion) {
      series.push({ specimen_id: w.specimen_id, column });
    }
  }
  for (const w of wanted) {
    if (w.row.source === union) continue;
    const col = ident(w.column);
    parts.push(
      `SELECT ${series.length} AS s, "step" AS x, ${col} AS y FROM (${w.row.definition}) t WHERE ${
        valid(col, w.type)
      }${stepValid}${bounds}`,
    );
    series.push({ specimen_id: w.specimen_id, column: w.column });
  }
  if (parts.length === 0 && found.rows.length === 0) {
    throw new NotFoundError(
      `No metric table "${tableName}" for ${
        ids.length === 1 ? `specimen "${ids[0]}"` : "these specimens"
      } in the catalog: check the ids and the table name, or run \`deno task index\` if they are new`,
    );
  }
  return {
    sql: parts.join("\nUNION ALL\n"),
    series,
    integerSteps,
    missing,
  };
}

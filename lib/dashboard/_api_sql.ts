/**
 * `POST /api/sql`: the SQL console's read-only queries, as JSON or CSV.
 *
 * @module
 */
import { toJson } from "../duckdb/duckdb.ts";
import { toCsv } from "../query/csv.ts";
import { type LimitedResult, MAX_RESULT_BYTES } from "./_db.ts";
import { InvalidInputError } from "../errors.ts";
import type { ApiContext } from "./_context.ts";

/** The body of `POST /api/sql`. */
interface SqlBody {
  sql?: unknown;
  format?: unknown;
}

/**
 * `POST /api/sql` `{sql, format?: "json"|"csv"}`: read-only SQL within the
 * time and row limits; JSON `{columns, rows (arrays), truncated, ms}` or a
 * CSV download.
 */
export async function sql(ctx: ApiContext, req: Request): Promise<Response> {
  let body: SqlBody;
  try {
    body = await req.json();
  } catch {
    throw new InvalidInputError(
      'The body is not JSON: send {"sql": "SELECT ..."} with Content-Type: application/json',
    );
  }
  if (typeof body?.sql !== "string" || body.sql.trim() === "") {
    throw new InvalidInputError(
      'Missing "sql": send {"sql": "SELECT * FROM catalog"}',
    );
  }
  const format = body.format ?? "json";
  if (format !== "json" && format !== "csv") {
    throw new InvalidInputError(
      `Invalid format ${JSON.stringify(format)}: use "json" or "csv"`,
    );
  }
  // A CSV download may be larger than a page of JSON rows.
  const limits = format === "csv"
    ? {
      ...ctx.sqlLimits,
      maxRows: ctx.csvMaxRows,
      maxBytes: 4 * MAX_RESULT_BYTES,
    }
    : ctx.sqlLimits;
  const t0 = performance.now();
  // The CSV download: exact values, as `deno task query --format json`
  // gives them; lines end with LF, as the query task's csv.
  const result = await ctx.catalog.userQuery(body.sql, {
    ...limits,
    values: format === "csv" ? "json" : "plain",
  });
  const ms = performance.now() - t0;
  const rows = transpose(result);
  if (format === "csv") {
    return new Response(toCsv(result.columns.map((c) => c.name), rows), {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": 'attachment; filename="query.csv"',
        "x-truncated": String(result.truncated),
        "x-row-limit": String(limits.maxRows),
      },
    });
  }
  return new Response(
    toJson({
      columns: result.columns,
      rows,
      truncated: result.truncated,
      row_limit: limits.maxRows,
      ms,
    }),
    { headers: { "content-type": "application/json; charset=utf-8" } },
  );
}

function transpose(result: LimitedResult): unknown[][] {
  const cols = result.values ?? [];
  const n = cols[0]?.length ?? 0;
  const rows: unknown[][] = new Array(n);
  for (let r = 0; r < n; r++) rows[r] = cols.map((c) => c[r]);
  return rows;
}

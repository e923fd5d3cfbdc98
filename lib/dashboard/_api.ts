/**
 * The dashboard's JSON API: one function per route, each taking the parsed
 * request and returning a plain value (or a `Response`). Every input is
 * checked before it reaches SQL or a path: ids by the id rule, names by the
 * artifact-name rule, everything else passed as a parameter or validated.
 *
 * @module
 */
import { join, SEPARATOR } from "../_deps.ts";
import { toJson } from "../duckdb/duckdb.ts";
import { toCsv } from "../query/csv.ts";
import {
  fetchCurves,
  MAX_BUCKETS,
  MAX_SERIES,
  summarizeColumn,
} from "./_curves.ts";
import {
  type LimitedResult,
  type LiveCatalog,
  MAX_RESULT_BYTES,
  type QueryLimits,
} from "./_db.ts";
import { escapeHtml, renderMarkdown } from "./_markdown.ts";
import { openVaultFile } from "../_fs.ts";
import { readPreview } from "./_tensor.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { validateReadableSpecimenId } from "../specimen/id.ts";
import { STRATA_DIR, validateArtifactName } from "../run/storage.ts";

/** What every handler needs. */
export interface ApiContext {
  catalog: LiveCatalog;
  /** Limits of the dashboard's own queries. */
  limits: QueryLimits;
  /** Limits of the SQL console (rows shown). */
  sqlLimits: QueryLimits;
  /** Rows in a CSV download at most. */
  csvMaxRows: number;
}

const NOTES_FILE = "field_notes.md";
const MAX_NOTES_BYTES = 1 << 20;
const CATALOG_SORTS = new Set([
  "specimen_id",
  "created",
  "domain",
  "method",
  "model",
  "status",
  "metrics_rows",
]);
const FACETS = ["domain", "method", "model", "status"] as const;
const MAX_PAGE = 1000;
/** Tags sent per specimen (with `tag_count`, the total): the page shows no more. */
export const MAX_TAGS = 50;

function intParam(
  url: URL,
  name: string,
  dflt: number,
  min: number,
  max: number,
): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new InvalidInputError(
      `Invalid ${name} ${
        JSON.stringify(raw)
      }: pass a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

function numberParam(url: URL, name: string): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) {
    throw new InvalidInputError(
      `Invalid ${name} ${JSON.stringify(raw)}: pass a number, e.g. ${name}=100`,
    );
  }
  return n;
}

function listParam(url: URL, name: string): string[] {
  return url.searchParams.getAll(name).flatMap((v) => v.split(","))
    .map((v) => v.trim()).filter(Boolean);
}

function dateParam(url: URL, name: string, endOfDay: boolean): Date | null {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return null;
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(raw);
  const d = new Date(dateOnly ? `${raw}T00:00:00Z` : raw);
  if (Number.isNaN(d.getTime())) {
    throw new InvalidInputError(
      `Invalid ${name} ${
        JSON.stringify(raw)
      }: pass a date (2024-12-19) or an ISO-8601 instant (2024-12-19T10:00:00Z)`,
    );
  }
  if (dateOnly && endOfDay) d.setUTCDate(d.getUTCDate() + 1);
  return d;
}

/** `GET /api/info`: the vault, the catalog's state, the limits. */
export async function info(ctx: ApiContext): Promise<unknown> {
  const base = {
    vault: ctx.catalog.paths.root,
    limits: {
      timeout_ms: ctx.limits.timeoutMs,
      sql_rows: ctx.sqlLimits.maxRows,
      csv_rows: ctx.csvMaxRows,
      max_series: MAX_SERIES,
      max_points_per_series: 2 * MAX_BUCKETS,
    },
  };
  try {
    const gen = await ctx.catalog.current();
    return {
      ...base,
      catalog: {
        present: true,
        built_at: gen.info.built_at ?? null,
        specimens: Number(gen.info.specimens ?? 0),
      },
    };
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    return {
      ...base,
      catalog: { present: false, message: e.message },
    };
  }
}

function facets(ctx: ApiContext): Promise<unknown> {
  return ctx.catalog.memo("facets", async () => {
    const out: Record<string, [string, number][]> = {};
    for (const key of FACETS) {
      const r = await ctx.catalog.query(
        `SELECT ${key} AS v, count(*)::DOUBLE AS n FROM catalog WHERE ${key} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1`,
        undefined,
        { ...ctx.limits, maxRows: 500 },
      );
      out[key] = r.rows.map((row) => [String(row.v), Number(row.n)]);
    }
    const tags = await ctx.catalog.query(
      `SELECT t AS v, count(*)::DOUBLE AS n FROM (SELECT unnest(tags) AS t FROM catalog) GROUP BY 1 ORDER BY 2 DESC, 1`,
      undefined,
      { ...ctx.limits, maxRows: 500 },
    );
    out.tag = tags.rows.map((row) => [String(row.v), Number(row.n)]);
    const total = await ctx.catalog.query(
      "SELECT count(*)::DOUBLE AS n FROM catalog",
      undefined,
      { ...ctx.limits, maxRows: 1 },
    );
    return { facets: out, total: Number(total.rows[0].n) };
  });
}

/**
 * `GET /api/catalog`: one page of specimens matching the filters (q, domain,
 * method, model, status, tag, since, until), sorted; the count that
 * matches; the facets (values and counts) of the whole catalog.
 */
export async function catalogPage(
  ctx: ApiContext,
  url: URL,
): Promise<unknown> {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  for (const key of FACETS) {
    const v = url.searchParams.get(key);
    if (v) {
      where.push(`${key} = $${key}`);
      params[key] = v;
    }
  }
  const tags = listParam(url, "tag");
  if (tags.length) {
    where.push("list_has_all(tags, $tags::VARCHAR[])");
    params.tags = tags;
  }
  const since = dateParam(url, "since", false);
  const until = dateParam(url, "until", true);
  if (since) {
    where.push("created >= $since");
    params.since = since;
  }
  if (until) {
    where.push("created < $until");
    params.until = until;
  }
  const terms = (url.searchParams.get("q") ?? "").toLowerCase().split(/\s+/)
    .filter(Boolean).slice(0, 10);
  terms.forEach((t, i) => {
    where.push(
      `contains(lower(concat_ws(' ', specimen_id, domain, method, model, status, description, array_to_string(tags, ' '))), $t${i})`,
    );
    params[`t${i}`] = t;
  });
  const sort = url.searchParams.get("sort") || "created";
  if (!CATALOG_SORTS.has(sort)) {
    throw new InvalidInputError(
      `Invalid sort ${JSON.stringify(sort)}: sort by one of ${
        [...CATALOG_SORTS].join(", ")
      }`,
    );
  }
  const order = url.searchParams.get("order") || "desc";
  if (order !== "asc" && order !== "desc") {
    throw new InvalidInputError(
      `Invalid order ${JSON.stringify(order)}: use asc or desc`,
    );
  }
  const limit = intParam(url, "limit", 100, 1, MAX_PAGE);
  const offset = intParam(url, "offset", 0, 0, Number.MAX_SAFE_INTEGER);
  const filter = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const [page, count, all] = await Promise.all([
    ctx.catalog.query(
      `SELECT specimen_id, created, domain, method, model,
         tags[1:${MAX_TAGS}] AS tags, len(tags) AS tag_count, status, description,
         metrics_rows, len(issues) AS issues
       FROM catalog ${filter}
       ORDER BY ${sort} ${order} NULLS LAST, specimen_id
       LIMIT ${limit} OFFSET ${offset}`,
      params,
      { ...ctx.limits, maxRows: limit },
    ),
    ctx.catalog.query(
      `SELECT count(*)::DOUBLE AS n FROM catalog ${filter}`,
      params,
      { ...ctx.limits, maxRows: 1 },
    ),
    facets(ctx),
  ]);
  const { facets: f, total } = all as {
    facets: unknown;
    total: number;
  };
  return {
    total,
    matched: Number(count.rows[0].n),
    offset,
    limit,
    sort,
    order,
    rows: page.rows,
    facets: f,
  };
}

/** Resolves `rel` inside the vault, refusing a symlink that leads out. */
async function insideVault(
  ctx: ApiContext,
  ...parts: string[]
): Promise<string | undefined> {
  const path = join(ctx.catalog.paths.root, ...parts);
  let real: string, root: string;
  try {
    [real, root] = await Promise.all([
      Deno.realPath(path),
      Deno.realPath(ctx.catalog.paths.root),
    ]);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  if (!real.startsWith(root + SEPARATOR)) {
    throw new InvalidInputError(
      `Refusing to read ${
        parts.join("/")
      }: it leads outside the vault (${real})`,
    );
  }
  return real;
}

/**
 * The field notes of specimen `id` as safe HTML (at most
 * `MAX_NOTES_BYTES` read), or why they are left out: a notes file that is
 * not a regular file inside the specimen folder (a FIFO, a link leading out)
 * or cannot be read costs the page its notes, never the page itself, and is
 * never waited on.
 */
async function readNotes(
  ctx: ApiContext,
  id: string,
): Promise<{ html: string | null; issue: string | null }> {
  const dir = join(ctx.catalog.paths.root, "specimens", id);
  const path = join(dir, NOTES_FILE);
  let bytes: Uint8Array;
  let size: number;
  try {
    using file = await openVaultFile(path, { root: dir });
    size = (await file.stat()).size;
    bytes = new Uint8Array(Math.min(size, MAX_NOTES_BYTES));
    let off = 0;
    while (off < bytes.length) {
      const n = await file.read(bytes.subarray(off));
      if (n === null) break;
      off += n;
    }
    bytes = bytes.subarray(0, off);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { html: null, issue: null };
    const why = (e as Error).message.replace(`${ctx.catalog.paths.root}/`, "");
    const issue = `${NOTES_FILE} is left out: ${why}`;
    return {
      html: `<p class="notes-issue"><em>${escapeHtml(issue)}</em></p>`,
      issue,
    };
  }
  const html = renderMarkdown(new TextDecoder().decode(bytes)) +
    (size > MAX_NOTES_BYTES
      ? `<p><em>(cut at ${MAX_NOTES_BYTES} bytes)</em></p>`
      : "");
  return { html, issue: null };
}

async function specimenRow(
  ctx: ApiContext,
  id: string,
): Promise<Record<string, unknown>> {
  const r = await ctx.catalog.query(
    // A manifest may hold a million tags: ship the first MAX_TAGS (the
    // page shows no more) and the count.
    `SELECT * EXCLUDE (fingerprint, tags, manifest),
       tags[1:${MAX_TAGS}] AS tags, len(tags) AS tag_count,
       CASE WHEN len(tags) > ${MAX_TAGS}
         THEN json_merge_patch(manifest, json_object('tags', to_json(tags[1:${MAX_TAGS}])))
         ELSE manifest END AS manifest
     FROM catalog WHERE specimen_id = $1`,
    [id],
    { ...ctx.limits, maxRows: 1 },
  );
  if (r.rows.length === 0) {
    throw new NotFoundError(
      `No specimen "${id}" in the catalog: check the id, or run \`deno task index\` if it is new`,
    );
  }
  return r.rows[0];
}

/**
 * `GET /api/specimens/:id`: the catalog row (manifest, provenance, ...),
 * its metric tables and tensors, and its field notes as safe HTML.
 */
export async function specimen(ctx: ApiContext, id: string): Promise<unknown> {
  validateReadableSpecimenId(id);
  const row = await specimenRow(ctx, id);
  const [tables, tensors] = await Promise.all([
    ctx.catalog.query(
      `SELECT name, rows, columns, issue FROM metric_tables WHERE specimen_id = $1 ORDER BY name <> 'metrics', name`,
      [id],
      { ...ctx.limits, maxRows: 1000 },
    ),
    ctx.catalog.query(
      `SELECT name, shape, dtype, chunks, codecs, bytes, zarr_format FROM tensors WHERE specimen_id = $1 ORDER BY name`,
      [id],
      { ...ctx.limits, maxRows: 1000 },
    ),
  ]);
  const { html: notes, issue: notesIssue } = await readNotes(ctx, id);
  return {
    specimen: row,
    metric_tables: tables.rows,
    tensors: tensors.rows,
    notes_html: notes,
    notes_issue: notesIssue,
  };
}

/** `GET /api/columns?ids=&table=`: numeric metric columns across specimens. */
export async function columns(ctx: ApiContext, url: URL): Promise<unknown> {
  const ids = listParam(url, "ids");
  if (ids.length === 0) {
    throw new InvalidInputError("No specimen given: pass ids=ID[,ID...]");
  }
  if (ids.length > MAX_SERIES) {
    throw new InvalidInputError(
      `Too many specimens: ${ids.length}; the limit is ${MAX_SERIES}`,
    );
  }
  for (const id of ids) validateReadableSpecimenId(id);
  const r = await ctx.catalog.query(
    `SELECT table_name, c.name AS column_name, any_value(c.type) AS type,
       count(DISTINCT specimen_id)::DOUBLE AS specimens
     FROM (SELECT specimen_id, name AS table_name, unnest(columns) AS c,
             generate_subscripts(columns, 1) AS pos
           FROM metric_tables
           WHERE source IS NOT NULL AND specimen_id IN (SELECT unnest($ids::VARCHAR[])))
     GROUP BY table_name, column_name
     ORDER BY table_name <> 'metrics', table_name, min(pos), column_name`,
    { ids },
    { ...ctx.limits, maxRows: 10_000 },
  );
  const numeric =
    /^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL.*)$/;
  const tables: Record<string, { name: string; specimens: number }[]> = {};
  for (const row of r.rows) {
    const t = String(row.table_name);
    tables[t] ??= [];
    if (row.column_name !== "step" && numeric.test(String(row.type))) {
      tables[t].push({
        name: String(row.column_name),
        specimens: Number(row.specimens),
      });
    }
  }
  return { ids, tables };
}

/**
 * `GET /api/curves?ids=&columns=&table=&x0=&x1=&width=&full=`: downsampled
 * curves (see `_dashboard_curves.ts`).
 */
export async function curves(ctx: ApiContext, url: URL): Promise<unknown> {
  return await fetchCurves(ctx.catalog, {
    ids: listParam(url, "ids"),
    table: url.searchParams.get("table") || "metrics",
    columns: listParam(url, "columns"),
    x0: numberParam(url, "x0"),
    x1: numberParam(url, "x1"),
    width: numberParam(url, "width") ?? 800,
    full: url.searchParams.get("full") === "1",
  }, ctx.limits);
}

/** `GET /api/summary?ids=&column=&table=`: final/min/max per specimen. */
export async function summary(ctx: ApiContext, url: URL): Promise<unknown> {
  const column = url.searchParams.get("column") ?? "";
  return await summarizeColumn(ctx.catalog, {
    ids: listParam(url, "ids"),
    table: url.searchParams.get("table") || "metrics",
    column,
  }, ctx.limits);
}

/** `GET /api/specimens/:id/tensors/:name?sel=`: a heatmap slice. */
export async function tensor(
  ctx: ApiContext,
  id: string,
  name: string,
  url: URL,
): Promise<unknown> {
  validateReadableSpecimenId(id);
  validateArtifactName(name, { reading: true });
  const r = await ctx.catalog.query(
    `SELECT shape, dtype FROM tensors WHERE specimen_id = $1 AND name = $2`,
    [id, name],
    { ...ctx.limits, maxRows: 1 },
  );
  if (r.rows.length === 0) {
    throw new NotFoundError(
      `No tensor "${name}" for specimen "${id}" in the catalog: see its page for the tensors it has`,
    );
  }
  const shape = (r.rows[0].shape as number[] | null) ?? [];
  const path = await insideVault(
    ctx,
    "specimens",
    id,
    STRATA_DIR,
    `${name}.zarr`,
  );
  if (!path) {
    throw new NotFoundError(
      `Tensor "${name}" of "${id}" is in the catalog but not on disk: run \`deno task index\``,
    );
  }
  return await readPreview(
    path,
    shape,
    String(r.rows[0].dtype),
    url.searchParams.get("sel") ?? undefined,
  );
}

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

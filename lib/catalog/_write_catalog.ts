/**
 * Writing the catalog's own tables: `catalog`, `metric_tables`, `tensors`,
 * the stored `exp_` views, and removing specimens.
 *
 * @module
 */
import {
  type DuckDBConnection,
  ident,
  literalList,
  MAIN_METRICS,
  relationName,
  toJson,
} from "../duckdb/duckdb.ts";
import { MANIFEST_FILE } from "../specimen/manifest.ts";
import { canonicalJson, flattenParams } from "../specimen/params.ts";
import type { SpecimenRecord } from "./_records.ts";
import { appendRow, stage } from "./_stage.ts";
import { exactTableName } from "./_exact.ts";

/**
 * Stages the catalog rows of `records` and drops (with a warning) those whose
 * `created` DuckDB cannot read as an instant; returns the rest.
 */
export async function stageCatalog(
  c: DuckDBConnection,
  records: SpecimenRecord[],
  warn: (message: string) => void,
): Promise<SpecimenRecord[]> {
  const appender = await stage(c, "_stage_catalog", [
    "specimen_id",
    "created",
    "created_iso",
    "domain",
    "method",
    "model",
    "tags",
    "labels",
    "starred",
    "status",
    "path",
    "description",
    "dependencies",
    "artifacts",
    "provenance",
    "manifest",
    "fingerprint",
    "params",
  ]);
  const unfit = new Map<string, string>();
  for (const r of records) {
    const m = r.manifest;
    let row: (string | null)[];
    try {
      row = [
        r.id,
        m.created,
        r.createdIso,
        m.taxonomy.domain,
        m.taxonomy.method,
        m.model,
        toJson(m.tags),
        toJson(r.labels),
        String(r.starred),
        m.status,
        r.rel,
        m.description,
        toJson(m.dependencies),
        toJson(m.artifacts),
        m.provenance === undefined ? null : toJson(m.provenance),
        toJson(m),
        r.fingerprint,
        m.params === undefined ? null : canonicalJson(m.params),
      ];
    } catch (e) {
      unfit.set(r.id, (e as Error).message);
      continue;
    }
    appendRow(appender, row);
  }
  appender.closeSync();
  // One row DuckDB cannot take would fail the insert of all: each column
  // read as JSON must be valid JSON, checked row by row before the insert.
  for (
    const [id] of (await c.runAndReadAll(
      `DELETE FROM _stage_catalog WHERE NOT (json_valid(tags) AND json_valid(dependencies)
         AND json_valid(artifacts) AND coalesce(json_valid(provenance), true) AND json_valid(manifest) AND coalesce(json_valid(params), true)
         AND TRY_CAST(tags::JSON AS VARCHAR[]) IS NOT NULL
         AND TRY_CAST(dependencies::JSON AS MAP(VARCHAR, VARCHAR)) IS NOT NULL)
       RETURNING specimen_id`,
    )).getRows()
  ) unfit.set(String(id), "a value DuckDB cannot read as JSON");
  const bad = new Set(
    (await c.runAndReadAll(
      `DELETE FROM _stage_catalog WHERE coalesce(TRY_CAST(created AS TIMESTAMPTZ), TRY_CAST(created_iso AS TIMESTAMPTZ)) IS NULL RETURNING specimen_id`,
    )).getRows().map(([id]) => String(id)),
  );
  return records.filter((r) => {
    const why = unfit.get(r.id);
    if (why !== undefined) {
      warn(
        `${r.rel}/${MANIFEST_FILE}: cannot be stored in the catalog (${why}); skipped`,
      );
      return false;
    }
    if (!bad.has(r.id)) return true;
    warn(
      `${r.rel}/${MANIFEST_FILE}: "created" ${
        JSON.stringify(r.manifest.created)
      } is not a timestamp DuckDB can read; skipped (write ISO-8601 with an offset, e.g. 2024-01-01T00:00:00+00:00)`,
    );
    return false;
  });
}

export async function deleteSpecimens(
  c: DuckDBConnection,
  ids: string[],
  views: boolean,
) {
  const list = `(SELECT unnest(${literalList(ids)}))`;
  const sources = (await c.runAndReadAll(
    `SELECT DISTINCT source, relation FROM metric_tables WHERE specimen_id IN ${list} AND source IS NOT NULL`,
  )).getRows() as [string, string][];
  const drops: string[] = [];
  const exact = (await c.runAndReadAll(
    `SELECT specimen_id, name FROM metric_tables WHERE specimen_id IN ${list} AND starts_with(definition, 'SELECT * FROM "_exact__')`,
  )).getRows() as [string, string][];
  for (const [id, name] of exact) {
    drops.push(`DROP TABLE IF EXISTS ${ident(exactTableName(id, name))};`);
  }
  for (const [source, relation] of sources) {
    if (source.startsWith("_isolated__")) {
      drops.push(`DROP TABLE IF EXISTS ${ident(source)};`);
    }
    if (views) drops.push(`DROP VIEW IF EXISTS ${ident(relation)};`);
  }
  if (drops.length) await c.run(drops.join("\n"));
  const unions = (await c.runAndReadAll(
    `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND (table_name = 'metrics' OR table_name LIKE 'metrics\\_\\_%' ESCAPE '\\')`,
  )).getRows().map(([t]) => String(t));
  for (
    const table of [...unions, "metric_tables", "tensors", "params", "catalog"]
  ) {
    await c.run(`DELETE FROM ${ident(table)} WHERE specimen_id IN ${list}`);
  }
  // A union table left empty goes, so its column types are decided afresh.
  for (const table of unions) {
    const [[n]] = (await c.runAndReadAll(
      `SELECT count(*) FROM ${ident(table)}`,
    )).getRows();
    if (Number(n) === 0) await c.run(`DROP TABLE ${ident(table)}`);
  }
}

export async function writeMetricTableRows(
  c: DuckDBConnection,
  records: SpecimenRecord[],
) {
  const rows = records.flatMap((r) => r.metricFiles);
  if (rows.length === 0) return;
  const appender = await stage(
    c,
    "_stage_metric_tables",
    [
      "specimen_id",
      "name",
      "path",
      "rows",
      "columns",
      "relation",
      "source",
      "definition",
      "issue",
    ],
  );
  for (const f of rows) {
    appendRow(appender, [
      f.id,
      f.name,
      f.rel,
      String(f.rows),
      toJson(f.columns ?? []),
      f.source ? relationName(f.id, f.name) : null,
      f.source ?? null,
      f.definition ?? null,
      f.issue ?? null,
    ]);
  }
  appender.closeSync();
  await c.run(
    `INSERT INTO metric_tables SELECT specimen_id, name, path, rows::BIGINT,
       CAST(columns::JSON AS STRUCT(name VARCHAR, type VARCHAR)[]), relation, source, definition, issue
     FROM _stage_metric_tables`,
  );
}

export async function writeCatalogRows(
  c: DuckDBConnection,
  records: SpecimenRecord[],
) {
  const appender = await stage(c, "_stage_status", [
    "specimen_id",
    "metrics_rows",
    "issues",
  ]);
  for (const r of records) {
    const main = r.metricFiles.find((f) =>
      f.name === MAIN_METRICS && f.source === MAIN_METRICS
    );
    appendRow(appender, [
      r.id,
      main ? String(main.rows) : null,
      toJson(r.issues),
    ]);
  }
  appender.closeSync();
  await c.run(
    `INSERT INTO catalog SELECT specimen_id,
       coalesce(TRY_CAST(created AS TIMESTAMPTZ), TRY_CAST(created_iso AS TIMESTAMPTZ)),
       domain, method, model, CAST(tags::JSON AS VARCHAR[]),
       CAST(labels::JSON AS VARCHAR[]), starred::BOOLEAN, status, path, description,
       manifest::JSON->>'parent',
       CAST(dependencies::JSON AS MAP(VARCHAR, VARCHAR)), artifacts::JSON, provenance::JSON,
       metrics_rows::BIGINT, CAST(issues::JSON AS VARCHAR[]), manifest::JSON, fingerprint, now(),
       params::JSON
     FROM _stage_catalog JOIN _stage_status USING (specimen_id)`,
  );
}

/**
 * Writes the long `params` table: one row per leaf of each record's params
 * (`key` dotted, `value` as text, `num` when the leaf is a number).
 */
export async function writeParams(
  c: DuckDBConnection,
  records: SpecimenRecord[],
) {
  // One staged row per specimen holding its leaves as JSON, unnested by
  // DuckDB: appending 20 rows per specimen one by one cost a 10,000-specimen
  // index about 1.4 s; this is one short string per specimen.
  const appender = await stage(c, "_stage_params", ["specimen_id", "leaves"]);
  let n = 0;
  for (const r of records) {
    const params = r.manifest.params;
    if (params === undefined || params === null) continue;
    const leaves = flattenParams(params).map((row) => ({
      k: row.key,
      v: row.value,
      n: row.num,
    }));
    if (leaves.length === 0) continue;
    appendRow(appender, [r.id, JSON.stringify(leaves)]);
    n++;
  }
  appender.closeSync();
  if (n === 0) return;
  await c.run(
    `INSERT INTO params
     SELECT specimen_id, u.k, u.v, u.n
     FROM (
       SELECT specimen_id,
              unnest(from_json(leaves, '[{"k":"VARCHAR","v":"VARCHAR","n":"DOUBLE"}]')) AS u
       FROM _stage_params
     )`,
  );
}

export async function writeTensors(
  c: DuckDBConnection,
  records: SpecimenRecord[],
) {
  const rows = records.flatMap((r) => r.tensors);
  if (rows.length === 0) return;
  const appender = await stage(c, "_stage_tensors", [
    "specimen_id",
    "name",
    "path",
    "shape",
    "dtype",
    "chunks",
    "codecs",
    "bytes",
    "zarr_format",
  ]);
  for (const t of rows) {
    appendRow(appender, [
      t.id,
      t.name,
      t.path,
      t.shape ? toJson(t.shape) : null,
      t.dtype,
      t.chunks ? toJson(t.chunks) : null,
      toJson(t.codecs),
      String(t.bytes),
      String(t.zarrFormat),
    ]);
  }
  appender.closeSync();
  await c.run(
    `INSERT INTO tensors SELECT specimen_id, name, path, CAST(shape::JSON AS BIGINT[]), dtype,
       CAST(chunks::JSON AS BIGINT[]), CAST(codecs::JSON AS VARCHAR[]), bytes::BIGINT, zarr_format::INTEGER
     FROM _stage_tensors`,
  );
}

export async function writeViews(
  c: DuckDBConnection,
  records: SpecimenRecord[],
) {
  const sql = records.flatMap((r) => r.metricFiles).filter((f) => f.source)
    .map((f) =>
      `CREATE OR REPLACE VIEW ${
        ident(relationName(f.id, f.name))
      } AS ${f.definition};`
    );
  if (sql.length === 0) return;
  await c.run(`BEGIN;\n${sql.join("\n")}\nCOMMIT;`);
}

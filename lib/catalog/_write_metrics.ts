/**
 * Writing the metric tables: every readable metric file into its union
 * table (`metrics`, `metrics__<name>`), columns of the narrowest exact type,
 * or into a table of its own when its types clash with the others'.
 *
 * @module
 */
import {
  type DuckDBConnection,
  duckdbMessage,
  ident,
  literal,
  literalList,
  MAIN_METRICS,
  metricsTableName,
  relationName,
} from "../duckdb/duckdb.ts";
import { SPECIMENS_DIR, STRATA_DIR as STRATA } from "../vault.ts";
import {
  holdsExactly,
  isolatedTableName,
  kindOf,
  MAX_CATALOG_COLUMNS,
  MAX_UNION_COLUMNS,
  MAX_UNION_FILE_COLUMNS,
  unionType,
} from "./_column_types.ts";
import type { Column, MetricFile, SpecimenRecord } from "./_records.ts";
import { label, parquetSql, retryLog } from "./_read_metrics.ts";
import { appendRow, existingColumns, firstLine, stage } from "./_stage.ts";
import { writeMetricTableRows } from "./_write_catalog.ts";
import { adoptBulk, type BulkTable, unionColumnsSql } from "./_bulk.ts";
import {
  keepExact,
  keepExactBeforeWidening,
  lossyColumns,
  type Widening,
} from "./_exact.ts";

/**
 * Loads every readable metric file: into its union table when its column
 * types agree with the other specimens', else into a table of its own.
 * `fresh`: the catalog is new (no rows, no relations to ask about).
 */
export async function writeMetrics(
  c: DuckDBConnection,
  records: SpecimenRecord[],
  warn: (message: string) => void,
  loads: Map<string, BulkTable> = new Map(),
  fresh = false,
) {
  await keepCaseTwinsApart(c, records, fresh);
  const files = records.flatMap((r) => r.metricFiles.filter((f) => !f.issue));
  // The exact DuckDB types, asked once per distinct Parquet schema.
  const bySignature = new Map<string, MetricFile[]>();
  for (const f of files) {
    const group = bySignature.get(f.signature) ?? [];
    group.push(f);
    bySignature.set(f.signature, group);
  }
  for (const group of bySignature.values()) {
    let columns: Column[] | undefined;
    for (const f of group) {
      if (!columns) {
        try {
          columns = await retryLog(f, async () =>
            (await c.runAndReadAll(
              `DESCRIBE SELECT * FROM ${parquetSql(f)}`,
            )).getRows().map(([name, type]) => ({
              name: String(name),
              type: String(type),
            })));
        } catch (e) {
          f.issue = `${label(f)} is not readable Parquet (${
            firstLine(duckdbMessage(e))
          }); its rows are not in the catalog`;
          continue;
        }
      }
      f.columns = columns;
    }
  }
  const byName = new Map<string, MetricFile[]>();
  for (const f of files) {
    if (!f.columns) continue;
    const list = byName.get(f.name) ?? [];
    list.push(f);
    byName.set(f.name, list);
  }
  // Relations must be unique: "exp_a__b" is both (a__b, metrics) and (a, b),
  // and SQL names ignore case: "exp_A" is "exp_a".
  const relations = new Map<string, MetricFile>();
  const existingRelations = new Map(
    fresh ? [] : (await c.runAndReadAll(
      `SELECT lower(relation), path FROM metric_tables WHERE lower(relation) IN (SELECT unnest(${
        literalList(
          files.map((f) => relationName(f.id, f.name).toLowerCase()),
        )
      }))`,
    )).getRows().map(([r, path]) => [String(r), String(path)]),
  );
  for (const f of files) {
    if (!f.columns) continue;
    const relation = relationName(f.id, f.name);
    const key = relation.toLowerCase();
    const other = relations.get(key)?.rel ?? existingRelations.get(key);
    if (other) {
      f.issue = `${
        label(f)
      } would be queried as ${relation}, a name already taken by ${other} (SQL names ignore case); not indexed (rename the file)`;
      f.columns = undefined;
    } else relations.set(key, f);
  }
  for (const [name, list] of byName) {
    await writeMetricTable(
      c,
      name,
      list.filter((f) => f.columns),
      warn,
      loads.get(name),
    );
  }
  for (const r of records) {
    for (const f of r.metricFiles) {
      if (f.issue && !r.issues.includes(f.issue)) r.issues.push(f.issue);
      if (f.widened) r.issues.push(f.widened);
    }
    for (const issue of r.issues) warn(`${r.rel}: ${issue}`);
  }
  await writeMetricTableRows(c, records);
}

/**
 * Finds ids that differ only in case from another specimen's (one in the
 * catalog, or read before it in this run: folder names sort capitals
 * first). SQL names ignore case, so both cannot have `exp_` views: the
 * later one's metric tables are not indexed, and it gets an issue naming
 * both ids. Its catalog row and tensors are kept.
 */
export async function keepCaseTwinsApart(
  c: DuckDBConnection,
  records: SpecimenRecord[],
  fresh = false,
) {
  const seen = new Map(
    fresh ? [] : (await c.runAndReadAll(
      `SELECT lower(specimen_id), specimen_id FROM catalog WHERE lower(specimen_id) IN (SELECT unnest(${
        literalList(records.map((r) => r.id.toLowerCase()))
      }))`,
    )).getRows().map(([k, id]) => [String(k), String(id)]),
  );
  for (const r of records) {
    const key = r.id.toLowerCase();
    const twin = seen.get(key);
    if (twin === undefined || twin === r.id) {
      seen.set(key, r.id);
      continue;
    }
    r.issues.push(
      `its id differs only in case from "${twin}" (${SPECIMENS_DIR}/${twin}), and SQL names ignore case: ${
        relationName(twin, MAIN_METRICS)
      } and the like are ${twin}'s, so this specimen's metric tables are not indexed (its catalog row and tensors are); rename one of them (folder and manifest specimen_id) to index both`,
    );
    for (const f of r.metricFiles) {
      f.issue ??= `${
        label(f)
      }: not indexed (id differs only in case from "${twin}")`;
    }
  }
}

export async function writeMetricTable(
  c: DuckDBConnection,
  name: string,
  files: MetricFile[],
  warn: (message: string) => void,
  load?: BulkTable,
) {
  if (files.length === 0) return;
  const table = metricsTableName(name);
  const existing = await existingColumns(c, table);
  const { good, order } = await keepClashesOut(c, table, files, existing);
  if (good.length === 0) return;
  // Column types of the union table: widened over the agreeing files.
  const types = new Map<string, string[]>();
  for (const f of good) {
    for (const col of f.columns!) {
      const list = types.get(col.name) ?? [];
      list.push(col.type);
      types.set(col.name, list);
    }
  }
  // A new table may already be loaded by the bulk read.
  if (!existing && await adoptBulk(c, table, load, good, order, types)) {
    await defineRelations(c, table, good, types);
    return;
  }
  await shapeUnionTable(c, table, existing, order, types, warn);
  await insertUnion(c, table, good);
  await defineRelations(c, table, good, types);
}

/**
 * Per column, the kind most specimens agree on (an existing table's wins);
 * a file that disagrees (text where the others have numbers) is loaded
 * into a table of its own. Returns the agreeing files and the column order.
 */
async function keepClashesOut(
  c: DuckDBConnection,
  table: string,
  files: MetricFile[],
  existing: Map<string, string> | undefined,
): Promise<{ good: MetricFile[]; order: string[] }> {
  const narrow: MetricFile[] = [];
  for (const f of files) {
    const width = f.columns!.length;
    if (width > MAX_CATALOG_COLUMNS) {
      f.issue = `${
        label(f)
      } has ${width} columns, more than the catalog loads (${MAX_CATALOG_COLUMNS}); its rows are not in the catalog (query the file itself: read_parquet('${SPECIMENS_DIR}/${f.id}/${STRATA}/${f.name}.parquet'))`;
      f.columns = undefined;
    } else if (width > MAX_UNION_FILE_COLUMNS) {
      f.issue = `${
        label(f)
      } has ${width} columns (more than ${MAX_UNION_FILE_COLUMNS}); kept out of "${table}", queryable alone as ${
        relationName(f.id, f.name)
      }`;
      await loadIsolated(c, f);
    } else narrow.push(f);
  }
  files = narrow;
  const votes = new Map<string, Map<string, number>>();
  const order: string[] = [...(existing?.keys() ?? [])];
  for (const f of files) {
    for (const col of f.columns!) {
      let v = votes.get(col.name);
      if (!v) {
        v = new Map();
        votes.set(col.name, v);
        if (!existing?.has(col.name)) order.push(col.name);
      }
      const kind = kindOf(col.type);
      v.set(kind, (v.get(kind) ?? 0) + 1);
    }
  }
  const winner = new Map<string, string>();
  for (const [col, v] of votes) {
    const fixed = existing?.get(col);
    if (fixed) winner.set(col, kindOf(fixed));
    else winner.set(col, [...v.entries()].sort((a, b) => b[1] - a[1])[0][0]);
  }
  const good: MetricFile[] = [];
  // The union's width: each column added to an existing table is one ALTER
  // that costs as much as the table is wide.
  const union = new Set(existing?.keys() ?? []);
  for (const f of files) {
    const reasons: string[] = [];
    const added = f.columns!.filter((col) => !union.has(col.name)).length;
    if (union.size + added > MAX_UNION_COLUMNS) {
      reasons.push(
        `its ${added} new columns would take the table past ${MAX_UNION_COLUMNS} columns`,
      );
    }
    for (const col of f.columns!) {
      if (col.name.toLowerCase() === "specimen_id") {
        reasons.push(
          `it has a column "specimen_id", which the catalog adds itself`,
        );
      } else if (kindOf(col.type) !== winner.get(col.name)) {
        reasons.push(
          `column "${col.name}" is ${col.type} here but ${
            winner.get(col.name) === "number" ? "numeric" : winner.get(col.name)
          } in ${existing?.has(col.name) ? "the catalog" : "most specimens"}`,
        );
      }
    }
    if (reasons.length === 0) {
      for (const col of f.columns!) union.add(col.name);
      good.push(f);
      continue;
    }
    f.issue = `${label(f)}: ${
      reasons.join("; ")
    }; kept out of "${table}", queryable alone as ${
      relationName(f.id, f.name)
    }`;
    await loadIsolated(c, f);
  }
  return { good, order };
}

/** Creates the union table, or adds and widens its columns for `types`. */
async function shapeUnionTable(
  c: DuckDBConnection,
  table: string,
  existing: Map<string, string> | undefined,
  order: string[],
  types: Map<string, string[]>,
  warn: (message: string) => void,
) {
  if (!existing) {
    await c.run(
      `CREATE TABLE ${ident(table)} (specimen_id VARCHAR NOT NULL, ${
        unionColumnsSql(order, types)
      })`,
    );
  } else {
    const widen: Widening[] = [];
    for (const [col, list] of types) {
      const now = existing.get(col);
      const wanted = unionType([now ?? list[0], ...list]);
      if (now && wanted !== now && !holdsExactly(now, wanted)) {
        widen.push({ col, now, wanted });
      }
    }
    if (widen.length) await keepExactBeforeWidening(c, table, widen, warn);
    for (const [col, list] of types) {
      const now = existing.get(col);
      if (now === undefined) {
        await c.run(
          `ALTER TABLE ${ident(table)} ADD COLUMN ${ident(col)} ${
            unionType(list)
          }`,
        );
      } else {
        const wanted = unionType([now, ...list]);
        if (wanted !== now) {
          await c.run(
            `ALTER TABLE ${ident(table)} ALTER ${ident(col)} TYPE ${wanted}`,
          );
        }
      }
    }
  }
}

/**
 * Inserts the agreeing files' rows: one INSERT per distinct schema (a log
 * alone).
 */
async function insertUnion(
  c: DuckDBConnection,
  table: string,
  good: MetricFile[],
) {
  // One INSERT per distinct schema; the specimen id comes from a join on
  // file_index (cheaper than deriving it from each row's file name).
  const bySignature = new Map<string, MetricFile[]>();
  for (const f of good) {
    const list = bySignature.get(f.signature) ?? [];
    list.push(f);
    bySignature.set(f.signature, list);
  }
  for (const list of bySignature.values()) {
    if (list[0].logDir) await insertLog(c, table, list[0]); // alone
    else await insertFiles(c, table, list);
  }
}

/**
 * Each file's relation over the union table, in its own column types (or
 * over an exact copy, where the union column changes its values).
 */
async function defineRelations(
  c: DuckDBConnection,
  table: string,
  good: MetricFile[],
  types: Map<string, string[]>,
) {
  const final = (await existingColumns(c, table))!;
  for (const f of good) {
    if (f.issue) continue;
    f.source = table;
    const lossy = await lossyColumns(c, f, final);
    if (lossy.length) {
      await keepExact(c, f, table, lossy, types);
      if (f.definition) continue;
    }
    // The file's own types: a union column may be wider.
    f.definition = `SELECT ${
      f.columns!.map((col) =>
        final.get(col.name) === col.type
          ? ident(col.name)
          : `CAST(${ident(col.name)} AS ${col.type}) AS ${ident(col.name)}`
      ).join(", ")
    } FROM ${ident(table)} WHERE specimen_id = ${literal(f.id)}`;
  }
}

export async function insertFiles(
  c: DuckDBConnection,
  table: string,
  files: MetricFile[],
): Promise<void> {
  try {
    const appender = await stage(c, "_files", ["fi", "specimen_id"]);
    files.forEach((f, i) => appendRow(appender, [String(i), f.id]));
    appender.closeSync();
    await c.run(
      `INSERT INTO ${ident(table)} BY NAME
       SELECT f.specimen_id, p.* EXCLUDE (file_index)
       FROM (SELECT file_index, * FROM read_parquet(${
        literalList(files.map((f) => f.abs))
      })) p
       JOIN _files f ON f.fi::UBIGINT = p.file_index`,
    );
  } catch (e) {
    if (files.length === 1) {
      files[0].issue = `${STRATA}/${
        files[0].name
      }.parquet could not be loaded (${
        firstLine(duckdbMessage(e))
      }); its rows are not in the catalog`;
      return;
    }
    // Find the bad file(s) by halves; the failed INSERT changed nothing.
    const half = Math.ceil(files.length / 2);
    await insertFiles(c, table, files.slice(0, half));
    await insertFiles(c, table, files.slice(half));
  }
}

/** Loads one log (its parts, or its file if it closed since). */
export async function insertLog(
  c: DuckDBConnection,
  table: string,
  f: MetricFile,
): Promise<void> {
  try {
    await retryLog(f, () =>
      c.run(
        `INSERT INTO ${ident(table)} BY NAME
         SELECT ${literal(f.id)} AS specimen_id, * FROM ${parquetSql(f)}`,
      ));
  } catch (e) {
    f.issue = `${label(f)} could not be loaded (${
      firstLine(duckdbMessage(e))
    }); its rows are not in the catalog`;
  }
}

export async function loadIsolated(c: DuckDBConnection, f: MetricFile) {
  const table = isolatedTableName(f.id, f.name);
  try {
    await retryLog(f, () =>
      c.run(
        `CREATE OR REPLACE TABLE ${ident(table)} AS SELECT * FROM ${
          parquetSql(f)
        }`,
      ));
    f.source = table;
    f.definition = `SELECT * FROM ${ident(table)}`;
  } catch (e) {
    f.issue = `${label(f)} could not be loaded (${
      firstLine(duckdbMessage(e))
    }); its rows are not in the catalog`;
  }
}

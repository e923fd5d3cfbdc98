/**
 * Exact copies: where a union table's column changes a specimen's values
 * (BIGINT beyond 2^53 in a DOUBLE column), its `exp_` relation reads a
 * `_exact__<id>__<name>` table instead, and the index says so.
 *
 * @module
 */
import {
  type DuckDBConnection,
  duckdbMessage,
  ident,
  literal,
  relationName,
} from "../duckdb/duckdb.ts";
import { SPECIMENS_DIR, STRATA_DIR as STRATA } from "../vault.ts";
import { FLOAT_TYPES, holdsExactly } from "./_column_types.ts";
import type { Column, MetricFile } from "./_records.ts";
import { label, parquetSql, retryLog } from "./_read_metrics.ts";
import { existingColumns, firstLine } from "./_stage.ts";

/** The table holding an exact copy of a file whose union column is lossy. */
export function exactTableName(id: string, name: string): string {
  return `_exact__${id}__${name}`;
}

/** SQL true where a value of `col` (of `type`) is not the same as `wider`. */
export function changedBy(col: string, type: string, wider: string): string {
  return `TRY_CAST(TRY_CAST(${
    ident(col)
  } AS ${wider}) AS ${type}) IS DISTINCT FROM ${ident(col)}`;
}

/**
 * The columns of `f` whose values change in its union table's column
 * (`final` types): a BIGINT beyond 2^53, a DECIMAL with more digits than a
 * DOUBLE holds, in a column that is DOUBLE because another specimen has
 * DOUBLE there. Values are compared by a round trip through the wider type.
 */
export async function lossyColumns(
  c: DuckDBConnection,
  f: MetricFile,
  final: Map<string, string>,
): Promise<Column[]> {
  const risky = f.columns!.filter((col) =>
    !holdsExactly(col.type, final.get(col.name) ?? col.type)
  );
  if (risky.length === 0) return [];
  try {
    const [row] = (await retryLog(f, () =>
      c.runAndReadAll(
        `SELECT ${
          risky.map((col) =>
            `bool_or(${changedBy(col.name, col.type, final.get(col.name)!)})`
          ).join(", ")
        } FROM ${parquetSql(f)}`,
      ))).getRows();
    return risky.filter((_, i) => row[i] === true);
  } catch {
    return risky; // cannot tell: keep it exact
  }
}

/**
 * Copies `f` into a table of its own, so that its `exp_` view gives its
 * values exactly while the union table holds them widened; says so.
 */
export async function keepExact(
  c: DuckDBConnection,
  f: MetricFile,
  table: string,
  lossy: Column[],
  types: Map<string, string[]>,
) {
  const exact = exactTableName(f.id, f.name);
  const final = await existingColumns(c, table);
  const what = lossy.map((col) =>
    `"${col.name}" (${col.type} here, ${final?.get(col.name)} there: ${
      (types.get(col.name) ?? []).filter((t) => FLOAT_TYPES.has(t))
          .length
        ? "another specimen has floating point values in it"
        : "no exact type holds every specimen's values"
    })`
  ).join(", ");
  try {
    await retryLog(f, () =>
      c.run(
        `CREATE OR REPLACE TABLE ${ident(exact)} AS SELECT * FROM ${
          parquetSql(f)
        }`,
      ));
    f.definition = `SELECT * FROM ${ident(exact)}`;
    f.widened = `${
      label(f)
    }: in "${table}" column ${what} changes some of its values (precision lost); ${
      relationName(f.id, f.name)
    } keeps them exact`;
  } catch (e) {
    f.widened = `${
      label(f)
    }: in "${table}" column ${what} changes some of its values (precision lost), and no exact copy could be made (${
      firstLine(duckdbMessage(e))
    })`;
  }
}

/** A union column about to widen to a type that changes some values. */
export interface Widening {
  col: string;
  now: string;
  wanted: string;
}

/**
 * Before `table`'s columns widen (e.g. BIGINT to DOUBLE, which changes some
 * values), copies the rows of each specimen already in the catalog whose
 * values would change into a table of its own, points its relation there,
 * and reports it.
 */
export async function keepExactBeforeWidening(
  c: DuckDBConnection,
  table: string,
  widen: Widening[],
  warn: (message: string) => void,
) {
  const hit = (await c.runAndReadAll(
    `SELECT t.specimen_id, t.name, t.relation, t.definition, ${
      widen.map((w) => `bool_or(${changedBy(w.col, w.now, w.wanted)})`).join(
        ", ",
      )
    }
     FROM metric_tables t JOIN ${ident(table)} u USING (specimen_id)
     WHERE t.source = ${literal(table)}
     GROUP BY ALL HAVING ${
      widen.map((w) => `bool_or(${changedBy(w.col, w.now, w.wanted)})`).join(
        " OR ",
      )
    }`,
  )).getRows();
  for (const [id, name, relation, definition, ...flags] of hit as string[][]) {
    const cols = widen.filter((_, i) => flags[i] as unknown === true).map((
      w,
    ) => `"${w.col}" (${w.now}) becomes ${w.wanted}`).join(", ");
    if (definition.startsWith(`SELECT * FROM "_exact__`)) continue;
    const exact = exactTableName(id, name);
    const issue =
      `${STRATA}/${name}.parquet: in "${table}" column ${cols} (a specimen indexed later has values no exact type holds with these), which changes some of its values (precision lost); ${relation} keeps them exact`;
    await c.run(
      `CREATE OR REPLACE TABLE ${ident(exact)} AS ${definition};
       UPDATE metric_tables SET definition = ${
        literal(`SELECT * FROM ${ident(exact)}`)
      } WHERE specimen_id = ${literal(id)} AND name = ${literal(name)};`,
    );
    const stored = (await c.runAndReadAll(
      `SELECT 1 FROM duckdb_views() WHERE database_name = current_database() AND view_name = ${
        literal(relation)
      }`,
    )).getRows().length > 0;
    if (stored) {
      await c.run(
        `CREATE OR REPLACE VIEW ${ident(relation)} AS SELECT * FROM ${
          ident(exact)
        }`,
      );
    }
    await c.run(
      `UPDATE catalog SET issues = list_append(issues, ${
        literal(issue)
      }) WHERE specimen_id = ${literal(id)}`,
    );
    warn(`${SPECIMENS_DIR}/${id}: ${issue}`);
  }
}

/**
 * Private DuckDB helpers shared by the catalog builder and the query side:
 * the catalog's naming rules, quoting SQL names and literals, `exp_` views
 * and parameters here; opening a database (`_open.ts`), turning DuckDB
 * values into plain JavaScript values (`_convert.ts`) and capped reading
 * (`_capped.ts`) re-exported from their files. (Kept
 * apart from catalog.ts so that a query does not load the indexer's code.)
 *
 * @module
 */
import type {
  DuckDBConnection,
  DuckDBResult,
  DuckDBResultReader,
  DuckDBValue,
  DuckDBValueConverter,
  JS,
} from "../_deps/duckdb_node_api.ts";
import { errorMessage } from "../errors.ts";
import { InvalidInputError } from "../errors.ts";

export {
  type Database,
  MAX_SPILL_SIZE,
  openDatabase,
  type OpenOptions,
} from "./_open.ts";
export {
  type ColumnInfo,
  plainConverter,
  plainRows,
  resultColumns,
  safeNumber,
  toDuckDBValue,
  toJson,
} from "./_convert.ts";
import { toDuckDBValue } from "./_convert.ts";
export {
  approxBytes,
  type CappedColumns,
  cappedRows,
  readCapped,
  type ResultCap,
} from "./_capped.ts";

export type {
  DuckDBConnection,
  DuckDBResult,
  DuckDBResultReader,
  DuckDBValue,
  DuckDBValueConverter,
  JS,
};

export { SCHEMA_VERSION } from "./schema_version.ts";

/** The name of a specimen's main metric table (`strata/metrics.parquet`). */
export const MAIN_METRICS = "metrics";

/** The union table holding metric table `name` of every specimen. */
export function metricsTableName(name: string): string {
  return name === MAIN_METRICS ? MAIN_METRICS : `${MAIN_METRICS}__${name}`;
}

/** The relation (view) name for metric table `name` of specimen `id`. */
export function relationName(id: string, name: string): string {
  return name === MAIN_METRICS ? `exp_${id}` : `exp_${id}__${name}`;
}

/** `name` as a SQL identifier, always quoted (`"a""b"`). */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `text` as a SQL string literal (`'it''s'`). */
export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** A SQL list literal of strings: `['a', 'b']`. */
export function literalList(texts: readonly string[]): string {
  return `[${texts.map(literal).join(", ")}]`;
}

/**
 * The message of a DuckDB error without the client's wrapper prefix. DuckDB
 * itself adds `LINE n:` and a caret under the position when it knows one.
 */
export function duckdbMessage(e: unknown): string {
  const message = errorMessage(e);
  return message.replace(/^Failed to (extract statements|prepare[^:]*): /, "");
}

/**
 * Creates, as temp views on `c`, the `exp_<id>` relations among `names` (the
 * relations a query reads, from its parse tree) that are not in `made` yet
 * (their definitions live in `metric_tables`), and adds them to `made`.
 * Views are made on demand: storing 10,000 of them in the catalog would cost
 * every open of it.
 */
export async function createExpViews(
  c: DuckDBConnection,
  names: Iterable<string>,
  made: Set<string>,
): Promise<void> {
  const wanted = new Set<string>();
  for (const n of names) {
    const name = n.toLowerCase();
    if (name.startsWith("exp_") && !made.has(name)) wanted.add(name);
  }
  if (wanted.size === 0) return;
  const rows = (await c.runAndReadAll(
    `SELECT relation, definition FROM metric_tables
     WHERE definition IS NOT NULL AND lower(relation) IN (SELECT unnest(${
      literalList([...wanted])
    }))`,
  )).getRows() as [string, string][];
  if (rows.length === 0) return;
  await c.run(
    rows.map(([relation, definition]) =>
      `CREATE OR REPLACE TEMP VIEW ${ident(relation)} AS ${definition};`
    ).join("\n"),
  );
  for (const [relation] of rows) made.add(relation.toLowerCase());
}

/**
 * Query parameters (`$1…` from a list, `$name` from a record) as DuckDB
 * values; a value DuckDB cannot take is an {@linkcode InvalidInputError}.
 */
export function toDuckDBParams(
  params: unknown[] | Record<string, unknown>,
): DuckDBValue[] | Record<string, DuckDBValue> {
  try {
    return Array.isArray(params)
      ? params.map((v, i) => toDuckDBValue(v, `$${i + 1}`))
      : Object.fromEntries(
        Object.entries(params).map(([k, v]) => [k, toDuckDBValue(v, `$${k}`)]),
      );
  } catch (e) {
    if (e instanceof TypeError) throw new InvalidInputError(e.message);
    throw e;
  }
}

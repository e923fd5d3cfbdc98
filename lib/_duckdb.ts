/**
 * Private DuckDB helpers shared by the catalog builder and the query side:
 * the catalog's naming rules, opening a database, quoting SQL names and
 * literals, and turning DuckDB values into plain JavaScript values. (Kept
 * apart from catalog.ts so that a query does not load the indexer's code.)
 *
 * @module
 */
import {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBPreparedStatement,
  type DuckDBResultReader,
  DuckDBTypeId,
  type DuckDBValue,
  type DuckDBValueConverter,
  type JS,
  JSDuckDBValueConverter,
  listValue,
  StatementType,
  timestampTZValue,
} from "@duckdb/node-api";
import { InvalidInputError } from "./errors.ts";

export type { DuckDBConnection, DuckDBResultReader, DuckDBValue };

/** Version of the catalog's tables (public as `CATALOG_SCHEMA_VERSION`). */
export const SCHEMA_VERSION = 3;

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

/** One open database: an instance and a connection, closed together. */
export interface Database extends Disposable {
  instance: DuckDBInstance;
  connection: DuckDBConnection;
  close(): void;
}

/**
 * Opens `path` with DuckDB configuration `config` (string values, as DuckDB
 * takes them). Extensions are never auto-installed: this machine (and many
 * laptops) cannot download them, and a query must not try.
 */
export async function openDatabase(
  path: string,
  config: Record<string, string> = {},
): Promise<Database> {
  const instance = await DuckDBInstance.create(path, {
    autoinstall_known_extensions: "false",
    ...config,
  });
  let connection: DuckDBConnection;
  try {
    connection = await instance.connect();
  } catch (e) {
    instance.closeSync();
    throw e;
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    connection.closeSync();
    instance.closeSync();
  };
  return { instance, connection, close, [Symbol.dispose]: close };
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
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/^Failed to (extract statements|prepare[^:]*): /, "");
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A bigint as a number when that is exact, else the bigint itself. */
export function safeNumber(value: bigint): number | bigint {
  return value >= -MAX_SAFE && value <= MAX_SAFE ? Number(value) : value;
}

/**
 * DuckDB value → plain JavaScript: integers as numbers when exact (else
 * bigint), timestamps and dates as `Date`, lists as arrays, structs as
 * objects, maps with string keys as objects, times and intervals as their
 * SQL text. Everything else as `@duckdb/node-api`'s JS converter does it.
 */
export const plainConverter: DuckDBValueConverter<JS> = (
  value,
  type,
  converter,
) => {
  if (value === null || value === undefined) return null;
  switch (type.typeId) {
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.BIGNUM:
      return typeof value === "bigint" ? safeNumber(value) : Number(value);
    case DuckDBTypeId.TIME:
    case DuckDBTypeId.TIME_NS:
    case DuckDBTypeId.TIME_TZ:
    case DuckDBTypeId.INTERVAL:
      return String(value);
    case DuckDBTypeId.MAP: {
      const entries = JSDuckDBValueConverter(value, type, converter) as
        | { key: JS; value: JS }[]
        | null;
      if (entries && entries.every((e) => typeof e.key === "string")) {
        return Object.fromEntries(
          entries.map((e) => [e.key as string, e.value]),
        );
      }
      return entries;
    }
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
    case DuckDBTypeId.DATE:
      try {
        return JSDuckDBValueConverter(value, type, converter);
      } catch {
        return String(value); // infinity, or beyond what a Date can hold
      }
    default:
      return JSDuckDBValueConverter(value, type, converter);
  }
};

/** One column of a result. */
export interface ColumnInfo {
  /** The column's name. */
  name: string;
  /** Its DuckDB type as SQL text, e.g. `BIGINT`, `VARCHAR[]`, `JSON`. */
  type: string;
}

/** The columns of a result, with JSON columns named as such. */
export function resultColumns(reader: DuckDBResultReader): ColumnInfo[] {
  return reader.columnNames().map((name, i) => {
    const alias = reader.columnLogicalType(i).alias;
    return { name, type: alias ?? reader.columnType(i).toString() };
  });
}

/**
 * Converts every row of `reader` to a plain object (see
 * {@linkcode plainConverter}); JSON columns are parsed.
 */
export function plainRows(
  reader: DuckDBResultReader,
): Record<string, unknown>[] {
  const names = reader.deduplicatedColumnNames();
  const columns = reader.convertColumns(plainConverter);
  const json = reader.columnNames().map((_, i) =>
    reader.columnLogicalType(i).alias === "JSON"
  );
  const rows: Record<string, unknown>[] = new Array(reader.currentRowCount);
  for (let r = 0; r < rows.length; r++) {
    const row: Record<string, unknown> = {};
    for (let c = 0; c < names.length; c++) {
      const v = columns[c][r];
      row[names[c]] = json[c] && typeof v === "string" ? parseJson(v) : v;
    }
    rows[r] = row;
  }
  return rows;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * A JavaScript parameter → a DuckDB value: `Date` as TIMESTAMPTZ, arrays as
 * lists; numbers, bigints, strings, booleans and null as they are.
 */
export function toDuckDBValue(value: unknown, where: string): DuckDBValue {
  if (
    value === null || typeof value === "string" ||
    typeof value === "number" || typeof value === "boolean" ||
    typeof value === "bigint"
  ) {
    return value;
  }
  if (value === undefined) return null;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) {
      throw new TypeError(`Parameter ${where} is an invalid Date`);
    }
    return timestampTZValue(BigInt(value.getTime()) * 1000n);
  }
  if (Array.isArray(value)) {
    return listValue(value.map((v, i) => toDuckDBValue(v, `${where}[${i}]`)));
  }
  throw new TypeError(
    `Parameter ${where} is ${
      Object.prototype.toString.call(value)
    }: pass a string, number, bigint, boolean, Date, null or an array of those`,
  );
}

/** `JSON.stringify` that also takes bigints, dates and bytes (as base64). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === "string") return v.isWellFormed() ? v : v.toWellFormed();
    if (typeof v === "bigint") {
      const n = safeNumber(v);
      return typeof n === "number" ? n : n.toString();
    }
    if (v instanceof Uint8Array) return base64(v);
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      // A key with a lone surrogate would be JSON DuckDB refuses.
      const keys = Object.keys(v);
      if (!keys.every((k) => k.isWellFormed())) {
        return Object.fromEntries(
          keys.map((
            k,
          ) => [k.toWellFormed(), (v as Record<string, unknown>)[k]]),
        );
      }
    }
    return v;
  });
}

/** Base64 of `bytes`, in slices (spreading a large array overflows the stack). */
function base64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return btoa(text);
}

/** Statement types user SQL may run: the ones that only read. */
const READING = new Set<number>([
  StatementType.SELECT,
  StatementType.EXPLAIN,
  StatementType.PRAGMA,
  StatementType.CALL,
]);

/**
 * DuckDB functions that change the session instead of reading, callable
 * from a SELECT, CALL or PRAGMA whatever the statement type: logging (to a
 * file it may not open, which aborts the process), profiling (printed to
 * stdout), checkpoints, parser switches, and the ones that run SQL given as
 * a string (`query()`, `json_execute_serialized_sql()`), which would
 * bypass every check here.
 */
const SESSION_FUNCTION =
  "(enable_\\w+|disable_\\w+|verify_\\w+|truncate_duckdb_logs|checkpoint|force_checkpoint|import_database|copy_database|add_parquet_key|json_execute_serialized_sql|query)";
/** Space or comments between two tokens. */
const GAP = "(?:\\s|/\\*[\\s\\S]*?\\*/|--[^\\n]*(?:\\n|$))*";
const SESSION_CALL = new RegExp(
  `(?:\\b${SESSION_FUNCTION}${GAP}\\(|\\b(?:pragma|call)${GAP}${SESSION_FUNCTION}\\b)`,
);

/** How {@linkcode prepareReading} names the SQL's owner and makes errors. */
export interface ReadingGate {
  /** How messages say it, e.g. "queries on the catalog are read-only". */
  readOnly: string;
  /** Turns a DuckDB error (parse, bind) into the caller's error. */
  toError: (e: unknown) => Error;
  /** Makes the error for a refused statement. */
  refused: (message: string) => Error;
}

/**
 * Extracts and prepares every statement of user `sql`, refusing any that
 * does more than read (a writing statement type, or a call of a session
 * function such as `enable_logging()` or `query()`). Returns the prepared
 * statements in order; the caller runs and destroys them.
 */
export async function prepareReading(
  c: DuckDBConnection,
  sql: string,
  gate: ReadingGate,
): Promise<DuckDBPreparedStatement[]> {
  // Identifiers are case-insensitive and may be quoted: "Enable_Logging"(.
  // String literals are data, not calls: blank them out first.
  const code = sql.replace(/'(?:[^']|'')*'/g, "''");
  const m = SESSION_CALL.exec(code.replaceAll('"', "").toLowerCase());
  if (m) {
    throw gate.refused(
      `Refusing to run ${
        m[1] ?? m[2]
      }(): it changes the session (logging, profiling, checkpoints) or runs SQL given as text, and ${gate.readOnly} (SELECT, EXPLAIN, PRAGMA, CALL of reading functions)`,
    );
  }
  let extracted;
  try {
    extracted = await c.extractStatements(sql);
  } catch (e) {
    throw gate.toError(e);
  }
  if (extracted.count === 0) {
    throw new InvalidInputError(
      "No SQL statement given: write a query, e.g. SELECT * FROM catalog",
    );
  }
  const statements: DuckDBPreparedStatement[] = [];
  try {
    for (let i = 0; i < extracted.count; i++) {
      const prepared = await extracted.prepare(i).catch((e) => {
        throw gate.toError(e);
      });
      statements.push(prepared);
      if (!READING.has(prepared.statementType)) {
        throw gate.refused(
          `Refusing to run ${
            extracted.count > 1 ? `statement ${i + 1}, ` : ""
          }a ${
            StatementType[prepared.statementType] ?? "writing"
          } statement: ${gate.readOnly} (SELECT, EXPLAIN, PRAGMA, CALL). The catalog is rebuilt from the specimen folders by \`deno task index\``,
        );
      }
    }
    return statements;
  } catch (e) {
    for (const s of statements) s.destroySync();
    throw e;
  }
}

const EXP_NAME = /\bexp_[a-z0-9_]+/gi;

/**
 * Creates, as temp views on `c`, the `exp_<id>` relations `sql` names that
 * are not in `made` yet (their definitions live in `metric_tables`), and
 * adds them to `made`. Views are made on demand: storing 10,000 of them in
 * the catalog would cost every open of it.
 */
export async function createExpViews(
  c: DuckDBConnection,
  sql: string,
  made: Set<string>,
): Promise<void> {
  const wanted = new Set<string>();
  for (const m of sql.matchAll(EXP_NAME)) {
    const name = m[0].toLowerCase();
    if (!made.has(name)) wanted.add(name);
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

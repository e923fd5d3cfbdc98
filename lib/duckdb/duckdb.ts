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
  type DuckDBResult,
  type DuckDBResultReader,
  DuckDBTypeId,
  type DuckDBValue,
  type DuckDBValueConverter,
  type JS,
  JSDuckDBValueConverter,
  listValue,
  timestampTZValue,
} from "@duckdb/node-api";
import { join, tmpdir } from "../_deps.ts";
import { errorMessage, InvalidInputError } from "../errors.ts";

export type {
  DuckDBConnection,
  DuckDBResultReader,
  DuckDBValue,
  DuckDBValueConverter,
  JS,
};

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
 * The most a query's spill files may take on disk (DuckDB's
 * `max_temp_directory_size`), for catalogs opened with `privateTemp`.
 */
export const MAX_SPILL_SIZE = "4GiB";

/** Options of {@linkcode openDatabase}. */
export interface OpenOptions {
  /**
   * Give DuckDB a private spill folder (`temp_directory`): a fresh folder of
   * mode 0700 under the OS temp folder, outside the vault, capped at
   * {@linkcode MAX_SPILL_SIZE}, removed on close. For databases that run
   * user SQL: DuckDB's default (`<catalog>.tmp/` beside the catalog) sits in
   * the vault, where anyone who can write the vault could plant files for
   * SQL to read (DuckDB always lets SQL read its temp folder), and it could
   * fill the vault's disk. Without Deno write permission (the dashboard's
   * task), an unguessable path under the OS temp folder is named instead,
   * which DuckDB creates when it first spills and removes on close.
   */
  privateTemp?: boolean;
}

const TEMP_PREFIX = "specimen-vault-duckdb-";

/** A fresh spill folder: made here (mode 0700) when Deno may write. */
async function spillFolder(): Promise<{ path: string; ours: boolean }> {
  try {
    const path = await Deno.makeTempDir({ prefix: TEMP_PREFIX });
    await Deno.chmod(path, 0o700);
    return { path, ours: true };
  } catch (e) {
    if (
      !(e instanceof Deno.errors.NotCapable ||
        e instanceof Deno.errors.PermissionDenied)
    ) throw e;
    return {
      path: join(tmpdir(), `${TEMP_PREFIX}${crypto.randomUUID()}`),
      ours: false,
    };
  }
}

/**
 * Opens `path` with DuckDB configuration `config` (string values, as DuckDB
 * takes them). Extensions are never auto-installed: this machine (and many
 * laptops) cannot download them, and a query must not try.
 */
export async function openDatabase(
  path: string,
  config: Record<string, string> = {},
  options: OpenOptions = {},
): Promise<Database> {
  const spill = options.privateTemp ? await spillFolder() : undefined;
  const temp = spill?.path;
  const removeTemp = () => {
    if (spill?.ours) {
      try {
        Deno.removeSync(spill.path, { recursive: true });
      } catch { /* already gone */ }
    }
  };
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, {
      autoinstall_known_extensions: "false",
      ...(temp
        ? { temp_directory: temp, max_temp_directory_size: MAX_SPILL_SIZE }
        : {}),
      ...config,
    });
  } catch (e) {
    removeTemp();
    throw e;
  }
  let connection: DuckDBConnection;
  try {
    connection = await instance.connect();
  } catch (e) {
    instance.closeSync();
    removeTemp();
    throw e;
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    connection.closeSync();
    instance.closeSync();
    removeTemp();
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
  const message = errorMessage(e);
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

/**
 * About how many bytes `value` takes as text (JSON or CSV): strings by
 * length, numbers and the like as a few bytes, lists and objects as the
 * sum of their parts. Used to cap results before they outgrow a string.
 */
export function approxBytes(value: unknown): number {
  if (value === null || value === undefined) return 4;
  switch (typeof value) {
    case "string":
      return value.length + 2;
    case "number":
    case "boolean":
      return 8;
    case "bigint":
      return 20;
    case "object": {
      if (value instanceof Date) return 26;
      if (value instanceof Uint8Array) return Math.ceil(value.length * 4 / 3);
      let n = 2;
      if (Array.isArray(value)) {
        for (const v of value) n += approxBytes(v) + 1;
        return n;
      }
      const entries = Object.entries(value);
      if (entries.length === 0) return String(value).length;
      for (const [k, v] of entries) n += k.length + 4 + approxBytes(v);
      return n;
    }
    default:
      return 8;
  }
}

/** The most a result may hold before it is refused, and how it says so. */
export interface ResultCap {
  /** Rows kept; one more is read to tell that there were more. */
  maxRows: number;
  /** About how many bytes of values (see {@linkcode approxBytes}). */
  maxBytes: number;
  /** Makes the error when the values pass `maxBytes`. */
  tooBig: (bytes: number) => Error;
}

/** The columns of a streamed result, read under a {@linkcode ResultCap}. */
export interface CappedColumns {
  /** Column names, deduplicated (`a`, `a_1`). */
  names: string[];
  /** Values column by column, converted by `converter`. */
  columns: unknown[][];
  /** Whether rows past `maxRows` were left unread. */
  truncated: boolean;
}

/**
 * Reads `result` chunk by chunk, converting each with `converter` (JSON
 * columns then parsed; `null`: DuckDB's raw values, unparsed), until `cap.maxRows` + 1 rows; throws
 * `cap.tooBig()` once the values pass `cap.maxBytes`, before anything is
 * joined into one string.
 */
export async function readCapped(
  result: DuckDBResult,
  cap: ResultCap,
  converter: DuckDBValueConverter<JS> | null = plainConverter,
): Promise<CappedColumns> {
  const names = result.deduplicatedColumnNames();
  const json = names.map((_, i) =>
    result.columnLogicalType(i).alias === "JSON"
  );
  const columns: unknown[][] = names.map(() => []);
  let rows = 0;
  let bytes = 0;
  let truncated = false;
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const take = Math.min(chunk.rowCount, cap.maxRows - rows);
    if (take < chunk.rowCount) truncated = true;
    const values: unknown[][] = converter
      ? chunk.convertColumns(converter)
      : chunk.getColumns();
    for (let c = 0; c < values.length; c++) {
      const col = values[c];
      for (let r = 0; r < take; r++) {
        let v = col[r];
        if (converter && json[c] && typeof v === "string") v = parseJson(v);
        bytes += approxBytes(v);
        columns[c].push(v);
      }
      if (bytes > cap.maxBytes) throw cap.tooBig(bytes);
    }
    rows += take;
    if (truncated) break;
  }
  return { names, columns, truncated };
}

/** Row objects from {@linkcode CappedColumns}. */
export function cappedRows(read: CappedColumns): Record<string, unknown>[] {
  const n = read.columns[0]?.length ?? 0;
  const rows: Record<string, unknown>[] = new Array(n);
  for (let r = 0; r < n; r++) {
    const row: Record<string, unknown> = {};
    for (let c = 0; c < read.names.length; c++) {
      row[read.names[c]] = read.columns[c][r];
    }
    rows[r] = row;
  }
  return rows;
}

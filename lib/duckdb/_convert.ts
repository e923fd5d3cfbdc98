/**
 * DuckDB values to plain JavaScript (and back, for parameters), and JSON
 * that takes bigints, dates and bytes.
 *
 * @module
 */
import {
  type DuckDBResultReader,
  DuckDBTypeId,
  type DuckDBValue,
  type DuckDBValueConverter,
  type JS,
  JSDuckDBValueConverter,
  listValue,
  timestampTZValue,
} from "../_deps/duckdb_node_api.ts";

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

/** Parses a JSON column's text; text that is not JSON stays text. */
export function parseJson(text: string): unknown {
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

/**
 * Where plain `JSON.stringify` output may differ from {@linkcode toJson}'s:
 * a lone surrogate (escaped there, replaced here), or bytes (`{"0":…}`, or
 * `{}` when empty). Other text matching it only takes the slower path.
 */
const MAYBE_SPECIAL = /\\u[dD][89a-fA-F]|\{"0":|\{\}/;

/** `JSON.stringify` that also takes bigints, dates and bytes (as base64). */
export function toJson(value: unknown): string {
  // Plain JSON.stringify first: several times faster than with the replacer
  // (the index writes five per specimen), and the same text unless a value
  // needs the replacer (a bigint throws; the rest MAYBE_SPECIAL finds).
  try {
    const text = JSON.stringify(value);
    if (text !== undefined && !MAYBE_SPECIAL.test(text)) return text;
  } catch { /* a bigint, or a cycle: the replacer's turn */ }
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

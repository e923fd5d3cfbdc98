/**
 * Private: the two output forms of a query result beside the plain
 * JavaScript one ({@linkcode plainRows}): DuckDB's own SQL text of each
 * value (for tables and CSV), and a JSON form that loses nothing.
 *
 * The JSON form (`deno task query --format json`, documented in its HELP):
 *
 * - integers as JSON numbers when within ±(2^53 − 1), else as strings of
 *   their digits (BIGINT, UBIGINT, HUGEINT, UHUGEINT, BIGNUM);
 * - DECIMAL as a string of its exact digits (`"1.25"`);
 * - FLOAT and DOUBLE as numbers; NaN and infinities as the strings `"nan"`,
 *   `"inf"`, `"-inf"` (JSON has no such numbers);
 * - TIMESTAMP (any precision) as ISO 8601 with its full fraction and no
 *   offset (`"2024-01-01T12:00:00.123456789"`); TIMESTAMPTZ with its
 *   offset (`"2024-01-01T10:00:00.123456+00:00"`); DATE as `"2024-01-01"`;
 *   `"infinity"` / `"-infinity"` as such;
 * - TIME, TIMETZ, INTERVAL, UUID, ENUM, BIT as their SQL text;
 * - BLOB as base64;
 * - lists and arrays as arrays, structs as objects, maps as objects when
 *   every key is a string, else as `[{ "key": …, "value": … }]`; JSON
 *   columns as the JSON they hold; NULL as `null`.
 *
 * @module
 */
import {
  DuckDBTypeId,
  type DuckDBValueConverter,
  type JS,
  JSDuckDBValueConverter,
} from "../_deps/duckdb_node_api.ts";
import { safeNumber } from "./duckdb.ts";

/** `"2024-01-01 12:00:00.5+02"` → `"2024-01-01T12:00:00.5+02:00"`. */
export function isoTimestamp(text: string): string {
  const m =
    /^(-?\d+-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d(?::?\d\d)?)?( \(BC\))?$/
      .exec(text);
  if (!m) return text; // infinity, -infinity
  let offset = m[3] ?? "";
  if (/^[+-]\d\d$/.test(offset)) offset += ":00";
  else if (/^[+-]\d{4}$/.test(offset)) {
    offset = `${offset.slice(0, 3)}:${offset.slice(3)}`;
  }
  return `${m[1]}T${m[2]}${offset}${m[4] ?? ""}`;
}

function floatJson(v: number): number | string {
  if (Number.isNaN(v)) return "nan";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  return v;
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** DuckDB value → its JSON form (see the module doc). */
export const jsonConverter: DuckDBValueConverter<JS> = (
  value,
  type,
  converter,
) => {
  if (value === null || value === undefined) return null;
  switch (type.typeId) {
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
      return Number(value);
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.BIGNUM: {
      const n = typeof value === "bigint"
        ? safeNumber(value)
        : safeNumber(BigInt(String(value)));
      return typeof n === "bigint" ? n.toString() : n;
    }
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return floatJson(Number(value));
    case DuckDBTypeId.DECIMAL:
      return String(value);
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return isoTimestamp(String(value));
    case DuckDBTypeId.DATE:
    case DuckDBTypeId.TIME:
    case DuckDBTypeId.TIME_NS:
    case DuckDBTypeId.TIME_TZ:
    case DuckDBTypeId.INTERVAL:
    case DuckDBTypeId.UUID:
    case DuckDBTypeId.BIT:
    case DuckDBTypeId.ENUM:
      return String(value);
    case DuckDBTypeId.BLOB: {
      const bytes = (value as { bytes?: Uint8Array }).bytes;
      return bytes ? base64(bytes) : String(value);
    }
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
    default:
      return JSDuckDBValueConverter(value, type, converter);
  }
};

/** Stands in for -0 while stringifying (no JSON string holds U+0000 raw). */
const NEG_ZERO = "\u0000-0";
const NEG_ZERO_JSON = JSON.stringify(NEG_ZERO);

/**
 * `JSON.stringify` of a row in the JSON form. Values are already JSON-safe;
 * a bigint left over (none should be) prints as a string of its digits, and
 * -0 prints as `-0.0` (`JSON.stringify` would print `0`, losing the sign).
 */
export function stringifyJsonRow(row: Record<string, unknown>): string {
  let negZero = false;
  const text = JSON.stringify(
    row,
    (_k, v) => {
      if (typeof v === "bigint") return v.toString();
      if (Object.is(v, -0)) {
        negZero = true;
        return NEG_ZERO;
      }
      return v;
    },
  );
  return negZero ? text.replaceAll(NEG_ZERO_JSON, "-0.0") : text;
}

/**
 * Which Parquet columns the reader accepts, and how each annotated type
 * becomes exact JavaScript values.
 *
 * hyparquet converts most annotations itself, but lossily for this vault's
 * needs: timestamps to `Date` (µs and ns lost), decimals to `number`, dates
 * to `Date`, and unannotated binary to UTF-8 text. So the reader hands
 * hyparquet a schema whose timestamp, time, date and decimal columns have
 * their annotation removed (hyparquet then returns the stored integers or
 * bytes), reads with `utf8: false` (binary stays bytes; string columns keep
 * a STRING annotation), and converts here:
 *
 * - TIMESTAMP, TIME: `bigint` counts of the column's unit (`ms`, `us`, `ns`)
 *   since the epoch or since midnight; INT96 (legacy Impala/Spark) is `ns`.
 * - DATE: an ISO string `YYYY-MM-DD` (JavaScript's expanded `±YYYYYY-MM-DD`
 *   outside years 0000–9999).
 * - DECIMAL: the exact decimal text with `scale` fraction digits, e.g.
 *   `"-0.01"`, always a string so the JavaScript kind does not depend on the
 *   values.
 *
 * @module
 */
import type { SchemaElement } from "../../_deps/hyparquet.ts";

/** A column's type as the reader reports it (see `ReadColumnInfo`). */
export type ReadType =
  | "INT64"
  | "UINT64"
  | "DOUBLE"
  | "STRING"
  | "BOOLEAN"
  | "BINARY"
  | "TIMESTAMP"
  | "DATE"
  | "TIME"
  | "DECIMAL";

/** What the reader knows of one flat column. */
export interface LeafType {
  type: ReadType;
  /** TIMESTAMP, TIME: the unit of the bigint values. */
  unit?: "ms" | "us" | "ns";
  /** TIMESTAMP, TIME: whether values are UTC instants (else local/naive). */
  utc?: boolean;
  /** DECIMAL: total digits. */
  precision?: number;
  /** DECIMAL: digits after the point. */
  scale?: number;
}

/** A leaf accepted: its type, and the schema element to give hyparquet. */
export interface Classified {
  leaf: LeafType;
  element: SchemaElement;
}

const UNITS = { MILLIS: "ms", MICROS: "us", NANOS: "ns" } as const;
const INTEGER_CONVERTED = new Set([
  "INT_8",
  "INT_16",
  "INT_32",
  "INT_64",
  "UINT_8",
  "UINT_16",
  "UINT_32",
]);
const PLAIN_TYPES: Record<string, ReadType> = {
  INT32: "INT64",
  INT64: "INT64",
  FLOAT: "DOUBLE",
  DOUBLE: "DOUBLE",
  BOOLEAN: "BOOLEAN",
  BYTE_ARRAY: "BINARY",
  FIXED_LEN_BYTE_ARRAY: "BINARY",
};

/**
 * Classifies one leaf of the schema. Returns a description of the type
 * (e.g. `"INT32 (INTERVAL)"`, `"a nested (group or list) column"`) when the
 * reader does not support it.
 */
export function classifyLeaf(el: SchemaElement): Classified | string {
  if (el.num_children || el.repetition_type === "REPEATED") {
    return "a nested (group, list or map) column";
  }
  const physical = el.type;
  const lt = el.logical_type;
  const ct = el.converted_type;
  const what = `of type ${physical ?? "?"}${
    lt || ct ? ` (${lt?.type ?? ct})` : ""
  }`;
  if (!physical) return what;
  const bare: SchemaElement = {
    ...el,
    converted_type: undefined,
    logical_type: undefined,
  };
  const ok = (leaf: LeafType, element = el) => ({ leaf, element });
  const text = physical === "BYTE_ARRAY";

  if (
    lt?.type === "STRING" || ct === "UTF8" || lt?.type === "ENUM" ||
    ct === "ENUM" || lt?.type === "JSON" || ct === "JSON"
  ) {
    if (!text) return what;
    return ok({ type: "STRING" }, {
      ...el,
      converted_type: "UTF8",
      logical_type: { type: "STRING" },
    });
  }
  if (lt?.type === "UUID") {
    return physical === "FIXED_LEN_BYTE_ARRAY" ? ok({ type: "STRING" }) : what;
  }
  if (lt?.type === "BSON" || ct === "BSON") {
    return text ? ok({ type: "BINARY" }, bare) : what;
  }
  if (lt?.type === "FLOAT16") {
    return physical === "FIXED_LEN_BYTE_ARRAY" ? ok({ type: "DOUBLE" }) : what;
  }
  if (lt?.type === "DECIMAL" || ct === "DECIMAL") {
    const precision = lt?.type === "DECIMAL" ? lt.precision : el.precision;
    const scale = (lt?.type === "DECIMAL" ? lt.scale : el.scale) ?? 0;
    if (
      physical === "FLOAT" || physical === "DOUBLE" || physical === "BOOLEAN" ||
      physical === "INT96"
    ) return what;
    return ok({ type: "DECIMAL", precision, scale }, bare);
  }
  if (lt?.type === "DATE" || ct === "DATE") {
    return physical === "INT32" ? ok({ type: "DATE" }, bare) : what;
  }
  if (lt?.type === "TIMESTAMP" || lt?.type === "TIME") {
    if (physical !== "INT64" && !(lt.type === "TIME" && physical === "INT32")) {
      return what;
    }
    return ok({
      type: lt.type,
      unit: UNITS[lt.unit],
      utc: lt.isAdjustedToUTC,
    }, bare);
  }
  // Legacy converted types: UTC instants by the format's definition.
  if (ct === "TIMESTAMP_MILLIS" || ct === "TIMESTAMP_MICROS") {
    if (physical !== "INT64") return what;
    const unit = ct === "TIMESTAMP_MILLIS" ? "ms" : "us";
    return ok({ type: "TIMESTAMP", unit, utc: true }, bare);
  }
  if (ct === "TIME_MILLIS" || ct === "TIME_MICROS") {
    const unit = ct === "TIME_MILLIS" ? "ms" : "us";
    return ok({ type: "TIME", unit, utc: true }, bare);
  }
  if (
    lt?.type === "INTEGER" || ct === "UINT_64" || INTEGER_CONVERTED.has(ct!)
  ) {
    if (physical !== "INT32" && physical !== "INT64") return what;
    const unsigned64 = ct === "UINT_64" ||
      (lt?.type === "INTEGER" && lt.bitWidth === 64 && !lt.isSigned);
    return ok({ type: unsigned64 ? "UINT64" : "INT64" });
  }
  if (lt || ct) return what;
  // INT96: nanoseconds since the epoch (hyparquet gives them as bigint
  // through the parser below), no time zone.
  if (physical === "INT96") {
    return ok({ type: "TIMESTAMP", unit: "ns", utc: false });
  }
  return ok({ type: PLAIN_TYPES[physical] });
}

/** hyparquet parsers: INT96 timestamps as bigint nanoseconds. */
export const PARSERS = {
  timestampFromNanoseconds: (nanos: bigint) => nanos,
};

/**
 * Converts the values hyparquet returned for a column (stored integers or
 * bytes, `null`/`undefined` for missing) to the column's JavaScript values.
 * Returns undefined for a type that needs no conversion here.
 */
export function convertValues(
  values: ArrayLike<unknown>,
  leaf: LeafType,
): unknown[] | undefined {
  const map = (f: (v: never) => unknown) => {
    const out = new Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      out[i] = v === null || v === undefined ? null : f(v as never);
    }
    return out;
  };
  switch (leaf.type) {
    case "TIMESTAMP":
    case "TIME":
      return map((v: number | bigint) => BigInt(v));
    case "DATE":
      return map(isoDate);
    case "DECIMAL": {
      const scale = leaf.scale ?? 0;
      return map((v: number | bigint | Uint8Array) =>
        decimalText(
          v instanceof Uint8Array ? signedBigEndian(v) : BigInt(v),
          scale,
        )
      );
    }
    case "BINARY":
      return map((v: Uint8Array) => v);
    default:
      return undefined;
  }
}

/** A two's-complement big-endian integer of any length. */
function signedBigEndian(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return bytes[0] & 0x80 ? value - (1n << BigInt(bytes.length * 8)) : value;
}

/** An unscaled integer as decimal text with `scale` fraction digits. */
export function decimalText(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString();
  if (scale <= 0) return (negative ? "-" : "") + digits + "0".repeat(-scale);
  const padded = digits.padStart(scale + 1, "0");
  return (negative ? "-" : "") + padded.slice(0, -scale) + "." +
    padded.slice(-scale);
}

/**
 * Days since 1970-01-01 as an ISO date in the proleptic Gregorian calendar
 * (the civil-from-days computation), valid for every INT32 day count.
 */
export function isoDate(days: number): string {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) -
      Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const year = y >= 0 && y <= 9999
    ? String(y).padStart(4, "0")
    : (y < 0 ? "-" : "+") + String(Math.abs(y)).padStart(6, "0");
  return `${year}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

/**
 * Metric columns ↔ Parquet bytes, in memory. The storage layer places the
 * bytes in files; this module only encodes and decodes.
 *
 * Writing: hyparquet-writer's own `parquetWriteBuffer` spends most of its time
 * per value (type checks, a DataView call, a bigint for every INT64), which
 * puts 1M rows × 4 columns at about 0.35 s even tuned (PLAIN, zstd, one row
 * group). Flat numeric
 * columns do not need that: a PLAIN DOUBLE page is the little-endian bytes of
 * a Float64Array. So pages are laid out here and compressed with node:zlib's
 * native zstd, and hyparquet-writer supplies the standard pieces: Thrift page
 * headers and footer (`writePageHeader`, `writeMetadata`, which also encode
 * statistics), RLE definition levels, PLAIN strings and booleans, Snappy.
 *
 * Reading: hyparquet, with the decompressors of `_parquet_codecs.ts` (ZSTD,
 * GZIP, BROTLI, LZ4_RAW, LZ4; Snappy is built in) and the exact conversions
 * of `_parquet_types.ts` (binary, timestamps, dates, decimals).
 *
 * @module
 */
import { show } from "../../cli/show.ts";
import { parquetMetadata, parquetRead } from "hyparquet";
import type { ColumnData, SchemaElement } from "hyparquet";
import { ByteWriter } from "hyparquet-writer";
import { writePageHeader } from "hyparquet-writer/src/datapage.js";
import { writeRleBitPackedHybrid } from "hyparquet-writer/src/encoding.js";
import { writeMetadata } from "hyparquet-writer/src/metadata.js";
import { writePlain } from "hyparquet-writer/src/plain.js";
import { snappyCompress } from "hyparquet-writer/src/snappy.js";
import { zstdCompressSync } from "../../_deps.ts";
import { DECOMPRESSORS, READABLE_CODECS } from "./_codecs.ts";
import {
  classifyLeaf,
  convertValues,
  type LeafType,
  PARSERS,
} from "./_types.ts";
import {
  CorruptFileError,
  errorMessage,
  InvalidInputError,
  UnsupportedFormatError,
} from "../../errors.ts";

/**
 * The values of one metric column: a plain array (`null` marks a missing
 * value) or a typed array.
 *
 * @example
 * ```ts
 * import type { ColumnValues } from "./parquet.ts";
 * const loss: ColumnValues = new Float32Array([0.9, 0.5, 0.3]);
 * const note: ColumnValues = ["warmup", null, "done"];
 * ```
 */
export type ColumnValues =
  | readonly (number | null)[]
  | readonly (bigint | null)[]
  | readonly (string | null)[]
  | readonly (boolean | null)[]
  | Float64Array
  | Float32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array;

/**
 * A table of metrics: column name → values, every column the same length.
 *
 * @example
 * ```ts
 * import type { MetricColumns } from "./parquet.ts";
 * const metrics: MetricColumns = {
 *   step: new Int32Array([0, 1, 2]),
 *   loss: [0.9, 0.5, null],
 * };
 * ```
 */
export type MetricColumns = Record<string, ColumnValues>;

/**
 * One column of a Parquet file as SQL sees it: `INT64` (DuckDB `BIGINT`),
 * `DOUBLE`, `STRING` (`VARCHAR`) or `BOOLEAN`.
 *
 * @example
 * ```ts
 * import type { ParquetColumnInfo } from "./parquet.ts";
 * const step: ParquetColumnInfo = { name: "step", type: "INT64" };
 * ```
 */
export interface ParquetColumnInfo {
  /** The column name. */
  name: string;
  /** Its type (INT32 files report `INT64`, FLOAT files `DOUBLE`). */
  type: "INT64" | "DOUBLE" | "STRING" | "BOOLEAN";
}

/**
 * One column of a Parquet file as {@linkcode decodeMetrics} reads it. Beyond
 * the four types this vault writes, files written elsewhere may hold:
 *
 * - `UINT64`: unsigned 64-bit integers (DuckDB `UBIGINT`), `number` or
 *   `bigint` as for `INT64`;
 * - `BINARY`: unannotated bytes (DuckDB `BLOB`), a `Uint8Array` per row;
 * - `TIMESTAMP`: a `bigint` count of `unit` since 1970-01-01 (`bigint`
 *   rather than `Date`, which would lose µs and ns), UTC when `utc`;
 * - `TIME`: a `bigint` count of `unit` since midnight;
 * - `DATE`: an ISO date string `"YYYY-MM-DD"`;
 * - `DECIMAL`: the exact decimal text, e.g. `"-0.01"` (a string even where a
 *   number would be exact, so a column's JS kind never depends on its values).
 *
 * @example
 * ```ts
 * import type { ReadColumnInfo } from "./parquet.ts";
 * const t: ReadColumnInfo = { name: "t", type: "TIMESTAMP", unit: "us", utc: true };
 * const price: ReadColumnInfo = { name: "price", type: "DECIMAL", precision: 10, scale: 2 };
 * ```
 */
export interface ReadColumnInfo extends LeafType {
  /** The column name. */
  name: string;
}

/**
 * Options for {@linkcode encodeMetrics}.
 *
 * @example
 * ```ts
 * import type { EncodeMetricsOptions } from "./parquet.ts";
 * const options: EncodeMetricsOptions = { compression: "snappy" };
 * ```
 */
export interface EncodeMetricsOptions {
  /**
   * The page compression. zstd (level 3, like polars) keeps files small and
   * meets the write-speed goal; `"none"` is fastest.
   * @default {"zstd"}
   */
  compression?: "zstd" | "snappy" | "none";
}

/**
 * What {@linkcode encodeMetrics} returns.
 *
 * @example
 * ```ts
 * import { encodeMetrics, type EncodedMetrics } from "./parquet.ts";
 * const out: EncodedMetrics = await encodeMetrics({ step: [0, 1] });
 * console.assert(out.rows === 2);
 * ```
 */
export interface EncodedMetrics {
  /** The whole Parquet file. */
  bytes: Uint8Array;
  /** The number of rows. */
  rows: number;
  /** Each column's name and Parquet type, in order. */
  columns: ParquetColumnInfo[];
}

/**
 * One column as {@linkcode decodeMetrics} returns it: the same kind that was
 * written (a typed array stays that typed array), or for files written
 * elsewhere a plain array.
 *
 * @example
 * ```ts
 * import type { ReadColumn } from "./parquet.ts";
 * const col: ReadColumn = [1, null, 3];
 * const blob: ReadColumn = [new Uint8Array([0, 255]), null];
 * ```
 */
export type ReadColumn =
  | (number | null)[]
  | (bigint | null)[]
  | (string | null)[]
  | (boolean | null)[]
  | (Uint8Array | null)[]
  | Float64Array
  | Float32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array;

/**
 * What {@linkcode decodeMetrics} returns.
 *
 * @example
 * ```ts
 * import { decodeMetrics, encodeMetrics, type DecodedMetrics } from "./parquet.ts";
 * const { bytes } = await encodeMetrics({ loss: [0.5] });
 * const out: DecodedMetrics = await decodeMetrics(bytes);
 * console.assert(out.schema[0].type === "DOUBLE");
 * ```
 */
export interface DecodedMetrics {
  /** Column name → values, in file order. */
  columns: Record<string, ReadColumn>;
  /** The number of rows. */
  rows: number;
  /** Each column's name and type, in file order. */
  schema: ReadColumnInfo[];
}

/**
 * Encodes metric columns as one Parquet file in memory.
 *
 * Integer columns (integer typed arrays, `bigint[]`, and `number[]` whose
 * non-null values are all safe integers) become INT64, so a `step` column
 * stays an integer; other numbers become DOUBLE, strings UTF-8 STRING,
 * booleans BOOLEAN. A plain array with no non-null value is a DOUBLE column.
 * Every column is nullable (the same schema whether or not a run had gaps),
 * carries min/max/null-count statistics, and the original JS kind of each
 * column is kept in the file's key-value metadata so that
 * {@linkcode decodeMetrics} gives the same kind back. Zero rows are allowed;
 * at least one column is required.
 *
 * @param columns Column name → values; every column the same length.
 * @param options See {@linkcode EncodeMetricsOptions}.
 * @returns The file bytes, the row count and each column's type.
 * @throws {InvalidInputError} No columns, a blank or duplicate name, unequal
 * lengths, or a value that is not a number, bigint, string, boolean or null
 * (or a column that mixes them).
 *
 * @example
 * ```ts
 * import { encodeMetrics } from "./parquet.ts";
 * const { bytes, rows, columns } = await encodeMetrics({
 *   step: new Int32Array([0, 1, 2]),
 *   loss: new Float32Array([0.9, 0.5, 0.25]),
 *   phase: ["warmup", "train", null],
 * });
 * console.assert(rows === 3 && columns[0].type === "INT64");
 * console.assert(new TextDecoder().decode(bytes.subarray(0, 4)) === "PAR1");
 * ```
 */
export function encodeMetrics(
  columns: MetricColumns,
  options: EncodeMetricsOptions = {},
): Promise<EncodedMetrics> {
  try {
    return Promise.resolve(encodeSync(columns, options));
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * One column for {@linkcode encodeTypedMetrics}: its Parquet type is given,
 * not inferred, and missing values are marked by a mask instead of `null`,
 * so numeric columns stay in typed arrays.
 *
 * @example
 * ```ts
 * import type { TypedMetricColumn } from "./parquet.ts";
 * const loss: TypedMetricColumn = {
 *   name: "loss",
 *   type: "DOUBLE",
 *   values: new Float64Array([0.9, 0, 0.4]),
 *   defined: new Uint8Array([1, 0, 1]), // row 1 is null
 * };
 * ```
 */
export interface TypedMetricColumn {
  /** The column name. */
  name: string;
  /** The Parquet type to write. */
  type: ParquetColumnInfo["type"];
  /**
   * The value of each row (at least as many as there are rows; entries of
   * null rows are ignored). DOUBLE: a Float64Array. INT64: a BigInt64Array,
   * or a Float64Array of safe integers. STRING and BOOLEAN: a plain array in
   * which `null`, `undefined` or a hole marks a missing value (it may be
   * shorter than `rows`: the rest is null).
   */
  values:
    | Float64Array
    | BigInt64Array
    | readonly (string | boolean | null | undefined)[];
  /**
   * 1 for a row that has a value, 0 for a null one.
   * @default {undefined} every row has a value
   */
  defined?: Uint8Array;
  /**
   * The JavaScript kind {@linkcode decodeMetrics} gives back.
   * @default {"number[]"} (`"bigint[]"` for a BigInt64Array, `"string[]"`, `"boolean[]"`)
   */
  kind?: "number[]" | "bigint[]" | "string[]" | "boolean[]";
}

/**
 * Encodes columns whose Parquet types are fixed by the caller as one Parquet
 * file, the same layout as {@linkcode encodeMetrics} (nullable columns,
 * statistics, kinds in the key-value metadata). For writers that must keep a
 * column's type stable across files, e.g. DOUBLE even when a batch happens
 * to hold only whole numbers.
 *
 * @param columns The columns, in order (at least one).
 * @param rows The number of rows.
 * @param options See {@linkcode EncodeMetricsOptions}.
 * @returns The file bytes, the row count and each column's type.
 * @throws {InvalidInputError} No columns, bad names, or values that do not
 * fit the column's type.
 *
 * @example
 * ```ts
 * import { decodeMetrics, encodeTypedMetrics } from "./parquet.ts";
 * const { bytes, columns } = await encodeTypedMetrics([
 *   { name: "step", type: "INT64", values: new Float64Array([0, 1]) },
 *   { name: "lr", type: "DOUBLE", values: new Float64Array([0, 1]) },
 * ], 2);
 * console.assert(columns[1].type === "DOUBLE");
 * console.assert((await decodeMetrics(bytes)).columns.lr[1] === 1);
 * ```
 */
export function encodeTypedMetrics(
  columns: readonly TypedMetricColumn[],
  rows: number,
  options: EncodeMetricsOptions = {},
): Promise<EncodedMetrics> {
  try {
    const codec = resolveCodec(options);
    if (!Array.isArray(columns) || columns.length === 0) {
      throw new InvalidInputError(
        "Cannot encode metrics: no columns given; pass at least one",
      );
    }
    if (!Number.isSafeInteger(rows) || rows < 0) {
      throw new InvalidInputError(
        `Cannot encode metrics: rows must be a whole number ≥ 0, got ${
          show(rows)
        }`,
      );
    }
    checkNames(columns.map((c) => c.name));
    const prepared = columns.map((c) => prepareTypedColumn(c, rows));
    return Promise.resolve(writePrepared(prepared, rows, codec));
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Decodes a Parquet file of metrics (ours, or flat files written by polars,
 * pyarrow, DuckDB and others; any codec but LZO).
 *
 * Columns written by {@linkcode encodeMetrics} come back as the kind they
 * were written as. Other files: INT64/INT32 and UINT64 → `number[]` when
 * every value is a safe integer, else `bigint[]` (exact); DOUBLE/FLOAT →
 * `number[]`; strings and booleans as arrays; binary as a `Uint8Array` per
 * row; timestamps and times as `bigint` in their unit, dates as ISO strings,
 * decimals as exact strings (see {@linkcode ReadColumnInfo}); missing values
 * as `null`.
 *
 * @param bytes The whole file.
 * @param source What to call the bytes in error messages, e.g. the path.
 * @returns Column name → values, the row count and each column's type.
 * @throws {CorruptFileError} The bytes are empty, truncated or not Parquet,
 * or a page does not decode.
 * @throws {UnsupportedFormatError} A valid file with a nested column (list,
 * map, struct), an INTERVAL, GEOMETRY or VARIANT column, or LZO pages.
 *
 * @example
 * ```ts
 * import { decodeMetrics, encodeMetrics } from "./parquet.ts";
 * const { bytes } = await encodeMetrics({ step: [0, 1], acc: [0.5, null] });
 * const { columns, rows } = await decodeMetrics(bytes, "metrics.parquet");
 * console.assert(rows === 2 && columns.acc[1] === null);
 * ```
 */
export async function decodeMetrics(
  bytes: Uint8Array,
  source?: string,
): Promise<DecodedMetrics> {
  const where = source === undefined ? "the given bytes" : `"${source}"`;
  const corrupt = (reason: string, cause?: unknown) =>
    new CorruptFileError(`Cannot read metrics from ${where}: ${reason}`, {
      cause,
    });

  if (bytes.byteLength === 0) {
    throw corrupt("it is empty (0 bytes); write the metrics again");
  }
  if (!hasMagic(bytes)) {
    throw corrupt(
      `it is not a Parquet file (${bytes.byteLength} bytes that do not start and end with "PAR1"); it may be truncated or another format`,
    );
  }
  const buffer = bytes.byteOffset === 0 &&
      bytes.byteLength === bytes.buffer.byteLength &&
      bytes.buffer instanceof ArrayBuffer
    ? bytes.buffer
    : bytes.slice().buffer;

  let metadata;
  try {
    metadata = parquetMetadata(buffer);
  } catch (e) {
    throw corrupt(`its footer does not decode (${errorMessage(e)})`, e);
  }

  const unsupported = (reason: string) =>
    new UnsupportedFormatError(
      `Cannot read metrics from ${where}: ${reason}`,
    );
  const { leaves, schema: readSchema } = flatLeaves(
    metadata.schema,
    corrupt,
    unsupported,
  );
  const kinds = storedKinds(metadata.key_value_metadata);
  for (const rg of metadata.row_groups) {
    for (const c of rg.columns) {
      const codec = c.meta_data?.codec;
      if (codec && !READABLE_CODECS.has(codec)) {
        throw unsupported(
          `column "${
            c.meta_data?.path_in_schema.join(".")
          }" is compressed with ${codec}, which this reader cannot decode (it reads ${
            [...READABLE_CODECS].join(", ")
          }); rewrite the file with zstd, snappy or lz4`,
        );
      }
    }
  }

  const rows = Number(metadata.num_rows);
  const chunks = new Map<string, ColumnData[]>(
    leaves.map((l) => [l.name, []]),
  );
  if (rows > 0) {
    try {
      await parquetRead({
        file: buffer,
        metadata: { ...metadata, schema: readSchema },
        compressors: DECOMPRESSORS,
        utf8: false,
        parsers: PARSERS,
        onChunk: (chunk) => chunks.get(chunk.columnName)?.push(chunk),
      });
    } catch (e) {
      throw corrupt(`its data does not decode (${errorMessage(e)})`, e);
    }
  }

  const columns: Record<string, ReadColumn> = {};
  const schema: ReadColumnInfo[] = [];
  for (const leaf of leaves) {
    const parts = chunks.get(leaf.name)!.sort((a, b) =>
      a.rowStart - b.rowStart
    );
    let n = 0;
    for (const p of parts) {
      if (p.rowStart !== n) {
        throw corrupt(
          `column "${leaf.name}" has rows ${n}..${p.rowStart} missing`,
        );
      }
      n += p.columnData.length;
    }
    if (n !== rows) {
      throw corrupt(
        `column "${leaf.name}" has ${n} values but the footer says ${rows} rows`,
      );
    }
    const data = parts.map((p) => p.columnData as ArrayLike<unknown>);
    // defineProperty: a column may be called "__proto__".
    Object.defineProperty(columns, leaf.name, {
      value: toReadColumn(data, rows, leaf.info, kinds?.[leaf.name]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
    schema.push(leaf.info);
  }
  return { columns, rows, schema };
}

// ---------------------------------------------------------------------------
// Encoding

/**
 * The key in the file's key-value metadata that keeps each column's JS kind
 * (a JSON object: column name → `"number[]"`, `"Float64Array"`, …).
 *
 * @example
 * ```ts
 * import { KINDS_KEY } from "./parquet.ts";
 * console.assert(KINDS_KEY === "specimen_vault.column_kinds");
 * ```
 */
export const KINDS_KEY = "specimen_vault.column_kinds";
/** Arrow's default row-group size: big groups, few footers to parse. */
const ROW_GROUP_ROWS = 1 << 20;
/** 1 MiB of 8-byte values: the customary Parquet page size. */
const PAGE_ROWS = 1 << 17;
/** Strings pages end after about this many bytes. */
const PAGE_BYTES = 1 << 20;
const CREATED_BY = "specimen-vault (hyparquet-writer)";

type PhysicalType = "INT64" | "DOUBLE" | "BYTE_ARRAY" | "BOOLEAN";
type Codec = "ZSTD" | "SNAPPY" | "UNCOMPRESSED";
type Kind =
  | "number[]"
  | "bigint[]"
  | "string[]"
  | "boolean[]"
  | TypedKind;
type TypedKind = keyof typeof TYPED;
type AnyTypedArray = InstanceType<(typeof TYPED)[TypedKind]["ctor"]>;

/** The typed arrays a column may be, and the Parquet type each becomes. */
const TYPED = {
  Float64Array: { ctor: Float64Array, type: "DOUBLE" },
  Float32Array: { ctor: Float32Array, type: "DOUBLE" },
  Int8Array: { ctor: Int8Array, type: "INT64" },
  Int16Array: { ctor: Int16Array, type: "INT64" },
  Int32Array: { ctor: Int32Array, type: "INT64" },
  Uint8Array: { ctor: Uint8Array, type: "INT64" },
  Uint16Array: { ctor: Uint16Array, type: "INT64" },
  Uint32Array: { ctor: Uint32Array, type: "INT64" },
  BigInt64Array: { ctor: BigInt64Array, type: "INT64" },
} as const;
const TYPED_KINDS = Object.keys(TYPED) as TypedKind[];

const CODECS: Record<string, Codec> = {
  zstd: "ZSTD",
  snappy: "SNAPPY",
  none: "UNCOMPRESSED",
};

const INFO_TYPE = {
  INT64: "INT64",
  DOUBLE: "DOUBLE",
  BYTE_ARRAY: "STRING",
  BOOLEAN: "BOOLEAN",
} as const;

/** A column checked and laid out densely (non-null values only). */
interface Prepared {
  name: string;
  kind: Kind;
  type: PhysicalType;
  /** 1 where a row has a value, 0 where it is null; absent without nulls. */
  defined?: Uint8Array;
  /** DOUBLE values. */
  f64?: Float64Array;
  /** INT64 values as (low, high) 32-bit word pairs, little-endian. */
  words?: Int32Array;
  /** BYTE_ARRAY (UTF-8 bytes) or BOOLEAN values. */
  items?: (Uint8Array | boolean)[];
  /** Index of the next dense value to write. */
  cursor: number;
}

type Metadata = Parameters<typeof writeMetadata>[1];
/** hyparquet-writer's own (pinned) hyparquet types, for what it writes. */
type WriteElement = Metadata["schema"][number];
type RowGroup = Metadata["row_groups"][number];
type ColumnChunk = RowGroup["columns"][number];
type Statistics = NonNullable<ColumnChunk["meta_data"]>["statistics"];

function encodeSync(
  columns: MetricColumns,
  options: EncodeMetricsOptions,
): EncodedMetrics {
  const codec = resolveCodec(options);
  if (columns === null || typeof columns !== "object") {
    throw new InvalidInputError(
      `Cannot encode metrics: expected an object of columns, got ${
        show(columns)
      }; pass e.g. { step: [0, 1], loss: [0.9, 0.5] }`,
    );
  }
  const entries = Object.entries(columns);
  if (entries.length === 0) {
    throw new InvalidInputError(
      "Cannot encode metrics: no columns given; pass at least one, e.g. { step: [0, 1] }",
    );
  }
  checkNames(entries.map(([name]) => name));
  const rows = checkLengths(entries);
  const prepared = entries.map(([name, values]) => prepare(name, values));
  return writePrepared(prepared, rows, codec);
}

function resolveCodec(options: EncodeMetricsOptions): Codec {
  const compression = options.compression ?? "zstd";
  const codec = Object.hasOwn(CODECS, compression)
    ? CODECS[compression]
    : undefined;
  if (!codec) {
    throw new InvalidInputError(
      `Cannot encode metrics: compression ${
        JSON.stringify(compression)
      } is not supported; use "zstd", "snappy" or "none"`,
    );
  }
  return codec;
}

/** A typed column checked and laid out densely, for encodeTypedMetrics. */
function prepareTypedColumn(c: TypedMetricColumn, rows: number): Prepared {
  const { name, type, values } = c;
  const bad = (why: string) =>
    new InvalidInputError(`Cannot encode metrics: column "${name}" ${why}`);
  if (!["INT64", "DOUBLE", "STRING", "BOOLEAN"].includes(type)) {
    throw bad(
      `has type ${
        JSON.stringify(type)
      }; use "INT64", "DOUBLE", "STRING" or "BOOLEAN"`,
    );
  }
  // A plain array may end early (a sparse array): the rest is null.
  if (!values || (!Array.isArray(values) && values.length < rows)) {
    throw bad(`has ${values?.length ?? 0} values for ${rows} rows`);
  }
  const mask = c.defined;
  if (mask && mask.length < rows) {
    throw bad(`has a mask of ${mask.length} entries for ${rows} rows`);
  }
  const base = { name, cursor: 0 };
  if (type === "STRING" || type === "BOOLEAN") {
    if (!Array.isArray(values)) throw bad(`needs a plain array of values`);
    const want = type === "STRING" ? "string" : "boolean";
    const defined = new Uint8Array(rows);
    const items: (Uint8Array | boolean)[] = [];
    const encoder = new TextEncoder();
    for (let i = 0; i < rows; i++) {
      const v = values[i];
      if (v === null || v === undefined || (mask && mask[i] === 0)) continue;
      if (want === "string" ? typeof v !== "string" : typeof v !== "boolean") {
        throw bad(`of type ${type} holds ${show(v)} at row ${i}`);
      }
      defined[i] = 1;
      items.push(type === "STRING" ? encoder.encode(v as string) : v);
    }
    return {
      ...base,
      kind: c.kind ?? `${want}[]` as Kind,
      type: type === "STRING" ? "BYTE_ARRAY" : "BOOLEAN",
      defined: items.length < rows ? defined : undefined,
      items,
    };
  }
  const big = values instanceof BigInt64Array;
  if (!(values instanceof Float64Array) && !(big && type === "INT64")) {
    throw bad(
      `of type ${type} needs a Float64Array${
        type === "INT64" ? " or a BigInt64Array" : ""
      }`,
    );
  }
  let dense = rows;
  if (mask) {
    dense = 0;
    for (let i = 0; i < rows; i++) dense += mask[i] === 0 ? 0 : 1;
  }
  const defined = dense < rows
    ? Uint8Array.from(mask!.subarray(0, rows), (m) => m === 0 ? 0 : 1)
    : undefined;
  const kind = c.kind ?? (big ? "bigint[]" : "number[]");
  if (type === "DOUBLE") {
    let f64 = (values as Float64Array).subarray(0, rows);
    if (defined) {
      f64 = new Float64Array(dense);
      for (let i = 0, j = 0; i < rows; i++) {
        if (defined[i]) f64[j++] = values[i] as number;
      }
    }
    return { ...base, kind, type: "DOUBLE", defined, f64 };
  }
  if (big) {
    let b = (values as BigInt64Array).subarray(0, rows);
    if (defined) {
      b = new BigInt64Array(dense);
      for (let i = 0, j = 0; i < rows; i++) {
        if (defined[i]) b[j++] = values[i] as bigint;
      }
    }
    const words = new Int32Array(b.buffer, b.byteOffset, dense * 2);
    return { ...base, kind, type: "INT64", defined, words };
  }
  const words = new Int32Array(dense * 2);
  for (let i = 0, j = 0; i < rows; i++) {
    if (defined && !defined[i]) continue;
    const v = values[i] as number;
    if (!Number.isSafeInteger(v)) {
      throw bad(
        `of type INT64 holds ${show(v)} at row ${i}, not a safe integer`,
      );
    }
    words[j] = v; // ToInt32 keeps the low 32 bits
    words[j + 1] = Math.floor(v / 4294967296);
    j += 2;
  }
  return { ...base, kind, type: "INT64", defined, words };
}

/** Lays out prepared columns as one Parquet file. */
function writePrepared(
  prepared: Prepared[],
  rows: number,
  codec: Codec,
): EncodedMetrics {
  const parts: Uint8Array[] = [MAGIC];
  let offset = MAGIC.length;
  const push = (b: Uint8Array) => {
    parts.push(b);
    offset += b.length;
  };
  const schema: WriteElement[] = [
    { name: "schema", num_children: prepared.length },
    ...prepared.map(schemaElement),
  ];
  const rowGroups: RowGroup[] = [];
  for (let r0 = 0; r0 < rows; r0 += ROW_GROUP_ROWS) {
    const r1 = Math.min(rows, r0 + ROW_GROUP_ROWS);
    const groupStart = offset;
    const chunks: ColumnChunk[] = [];
    let uncompressed = 0n;
    for (const col of prepared) {
      const chunkStart = offset;
      const size = writeChunk(col, r0, r1, codec, push);
      uncompressed += BigInt(size);
      chunks.push({
        file_offset: BigInt(chunkStart),
        meta_data: {
          type: col.type,
          encodings: ["PLAIN", "RLE"],
          path_in_schema: [col.name],
          codec,
          num_values: BigInt(r1 - r0),
          total_uncompressed_size: BigInt(size),
          total_compressed_size: BigInt(offset - chunkStart),
          data_page_offset: BigInt(chunkStart),
          statistics: statistics(col, r0, r1),
        },
      });
    }
    rowGroups.push({
      columns: chunks,
      total_byte_size: uncompressed,
      num_rows: BigInt(r1 - r0),
      file_offset: BigInt(groupStart),
      total_compressed_size: BigInt(offset - groupStart),
    });
  }

  const footer = new ByteWriter();
  writeMetadata(footer, {
    version: 2,
    schema,
    num_rows: BigInt(rows),
    row_groups: rowGroups,
    key_value_metadata: [{
      key: KINDS_KEY,
      value: JSON.stringify(
        Object.fromEntries(prepared.map((c) => [c.name, c.kind])),
      ),
    }],
    created_by: CREATED_BY,
    metadata_length: 0,
  });
  footer.appendUint32(0x31524150); // "PAR1"
  push(footer.getBytes());

  const bytes = new Uint8Array(offset);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return {
    bytes,
    rows,
    columns: prepared.map((c) => ({ name: c.name, type: INFO_TYPE[c.type] })),
  };
}

const MAGIC = new TextEncoder().encode("PAR1");

function checkNames(names: string[]): void {
  const seen = new Map<string, string>();
  for (const name of names) {
    if (name.trim() === "") {
      throw new InvalidInputError(
        `Cannot encode metrics: column name ${
          JSON.stringify(name)
        } is blank; give every column a name, e.g. "loss"`,
      );
    }
    // SQL (DuckDB) treats identifiers case-insensitively: "Loss" and "loss"
    // could not both be queried.
    const key = name.toLowerCase();
    const other = seen.get(key);
    if (other !== undefined) {
      throw new InvalidInputError(
        `Cannot encode metrics: column names "${other}" and "${name}" differ only in case, which SQL cannot tell apart; rename one`,
      );
    }
    seen.set(key, name);
  }
}

function checkLengths(entries: [string, ColumnValues][]): number {
  for (const [name, values] of entries) {
    if (!Array.isArray(values) && !ArrayBuffer.isView(values)) {
      throw new InvalidInputError(
        `Cannot encode metrics: column "${name}" is ${
          show(values)
        }, not an array; pass an array or a typed array of values`,
      );
    }
  }
  const [firstName, firstValues] = entries[0];
  const rows = (firstValues as ArrayLike<unknown>).length;
  for (const [name, values] of entries) {
    const n = (values as ArrayLike<unknown>).length;
    if (n !== rows) {
      throw new InvalidInputError(
        `Cannot encode metrics: column "${name}" has ${n} rows but column "${firstName}" has ${rows}; give every column the same length`,
      );
    }
  }
  return rows;
}

function prepare(name: string, values: ColumnValues): Prepared {
  if (ArrayBuffer.isView(values)) return prepareTyped(name, values);
  return preparePlain(name, values as readonly unknown[]);
}

function prepareTyped(name: string, values: ArrayBufferView): Prepared {
  const kind = TYPED_KINDS.find((k) => values instanceof TYPED[k].ctor);
  if (!kind) {
    throw new InvalidInputError(
      `Cannot encode metrics: column "${name}" is a ${values.constructor.name}, which is not supported; use one of ${
        TYPED_KINDS.join(", ")
      } or a plain array`,
    );
  }
  const col: Prepared = { name, kind, type: TYPED[kind].type, cursor: 0 };
  if (values instanceof Float64Array) {
    col.f64 = values;
  } else if (values instanceof Float32Array) {
    col.f64 = new Float64Array(values);
  } else if (values instanceof BigInt64Array) {
    col.words = new Int32Array(
      values.buffer,
      values.byteOffset,
      values.length * 2,
    );
  } else {
    const ints = values as Exclude<AnyTypedArray, Float64Array | Float32Array>;
    const words = new Int32Array(ints.length * 2);
    for (let i = 0; i < ints.length; i++) {
      const v = ints[i] as number;
      words[2 * i] = v;
      words[2 * i + 1] = v < 0 ? -1 : 0;
    }
    col.words = words;
  }
  return col;
}

function preparePlain(name: string, values: readonly unknown[]): Prepared {
  const n = values.length;
  let kind: string | undefined;
  let firstRow = -1;
  let nulls = 0;
  let integers = true;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null) {
      nulls++;
      continue;
    }
    const t = typeof v;
    if (t !== kind) {
      if (
        t !== "number" && t !== "bigint" && t !== "string" && t !== "boolean"
      ) {
        throw new InvalidInputError(
          `Cannot encode metrics: column "${name}" holds ${
            show(v)
          } at row ${i}; a column holds numbers, bigints, strings or booleans, and null for a missing value`,
        );
      }
      if (kind !== undefined) {
        throw new InvalidInputError(
          `Cannot encode metrics: column "${name}" mixes a ${kind} (${
            show(values[firstRow])
          } at row ${firstRow}) with a ${t} (${
            show(v)
          } at row ${i}); keep one kind of value per column`,
        );
      }
      kind = t;
      firstRow = i;
    }
    if (
      t === "number" && integers &&
      (!Number.isSafeInteger(v) || Object.is(v, -0))
    ) {
      integers = false;
    }
  }

  let defined: Uint8Array | undefined;
  if (nulls > 0) {
    defined = new Uint8Array(n);
    for (let i = 0; i < n; i++) defined[i] = values[i] === null ? 0 : 1;
  }
  const dense = n - nulls;
  const base = { name, defined, cursor: 0 };
  if (kind === undefined || kind === "number") {
    if (kind === undefined || !integers) {
      const f64 = new Float64Array(dense);
      for (let i = 0, j = 0; i < n; i++) {
        const v = values[i];
        if (v !== null) f64[j++] = v as number;
      }
      return { ...base, kind: "number[]", type: "DOUBLE", f64 };
    }
    const words = new Int32Array(dense * 2);
    for (let i = 0, j = 0; i < n; i++) {
      const v = values[i] as number | null;
      if (v === null) continue;
      words[j] = v; // ToInt32 keeps the low 32 bits
      words[j + 1] = Math.floor(v / 4294967296);
      j += 2;
    }
    return { ...base, kind: "number[]", type: "INT64", words };
  }
  if (kind === "bigint") {
    const big = new BigInt64Array(dense);
    for (let i = 0, j = 0; i < n; i++) {
      const v = values[i] as bigint | null;
      if (v === null) continue;
      if (v < INT64_MIN || v > INT64_MAX) {
        throw new InvalidInputError(
          `Cannot encode metrics: column "${name}" holds ${v}n at row ${i}, outside the 64-bit integer range; store it as a number or a string`,
        );
      }
      big[j++] = v;
    }
    const words = new Int32Array(big.buffer, 0, dense * 2);
    return { ...base, kind: "bigint[]", type: "INT64", words };
  }
  const items: (Uint8Array | boolean)[] = new Array(dense);
  if (kind === "string") {
    const encoder = new TextEncoder();
    for (let i = 0, j = 0; i < n; i++) {
      const v = values[i];
      if (v !== null) items[j++] = encoder.encode(v as string);
    }
    return { ...base, kind: "string[]", type: "BYTE_ARRAY", items };
  }
  for (let i = 0, j = 0; i < n; i++) {
    const v = values[i];
    if (v !== null) items[j++] = v as boolean;
  }
  return { ...base, kind: "boolean[]", type: "BOOLEAN", items };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function schemaElement(col: Prepared): WriteElement {
  const element: WriteElement = {
    name: col.name,
    type: col.type,
    repetition_type: "OPTIONAL",
  };
  if (col.type === "BYTE_ARRAY") {
    element.converted_type = "UTF8";
    element.logical_type = { type: "STRING" };
  }
  return element;
}

/**
 * Writes one column chunk (rows r0..r1) as DATA_PAGE_V2 pages, PLAIN values
 * and RLE definition levels; returns its uncompressed size.
 */
function writeChunk(
  col: Prepared,
  r0: number,
  r1: number,
  codec: Codec,
  push: (b: Uint8Array) => void,
): number {
  let uncompressed = 0;
  let start = r0;
  while (start < r1) {
    const end = pageEnd(col, start, r1);
    let nulls = 0;
    const levels = new ByteWriter(16);
    if (col.defined) {
      const defined = col.defined.subarray(start, end);
      for (let i = 0; i < defined.length; i++) nulls += 1 - defined[i];
      writeRleBitPackedHybrid(levels, defined, 1);
    } else {
      // One RLE run of "defined": header (count << 1), then the value byte.
      levels.appendVarInt((end - start) << 1);
      levels.appendUint8(1);
    }
    const d0 = col.cursor;
    const d1 = d0 + (end - start - nulls);
    col.cursor = d1;
    const raw = plainValues(col, d0, d1);
    const packed = compress(raw, codec);
    const levelBytes = levels.getBytes();
    const header = new ByteWriter(64);
    writePageHeader(header, {
      type: "DATA_PAGE_V2",
      uncompressed_page_size: levelBytes.length + raw.length,
      compressed_page_size: levelBytes.length + packed.length,
      data_page_header_v2: {
        num_values: end - start,
        num_nulls: nulls,
        num_rows: end - start,
        encoding: "PLAIN",
        definition_levels_byte_length: levelBytes.length,
        repetition_levels_byte_length: 0,
        is_compressed: codec !== "UNCOMPRESSED",
      },
    });
    const headerBytes = header.getBytes();
    push(headerBytes);
    push(levelBytes);
    push(packed);
    uncompressed += headerBytes.length + levelBytes.length + raw.length;
    start = end;
  }
  return uncompressed;
}

/** Where the page that starts at row `start` ends. */
function pageEnd(col: Prepared, start: number, limit: number): number {
  if (col.type !== "BYTE_ARRAY") return Math.min(limit, start + PAGE_ROWS);
  const items = col.items as Uint8Array[];
  let bytes = 0;
  let d = col.cursor;
  for (let r = start; r < limit; r++) {
    if (col.defined && col.defined[r] === 0) continue;
    bytes += 4 + items[d++].length;
    if (bytes >= PAGE_BYTES) return r + 1;
  }
  return limit;
}

/** PLAIN encoding of dense values d0..d1. */
function plainValues(col: Prepared, d0: number, d1: number): Uint8Array {
  // Deno runs on little-endian CPUs only, so typed-array bytes are PLAIN.
  const dense = col.f64 ?? col.words;
  if (dense) {
    return new Uint8Array(
      dense.buffer,
      dense.byteOffset + d0 * 8,
      (d1 - d0) * 8,
    );
  }
  const writer = new ByteWriter();
  writePlain(writer, col.items!.slice(d0, d1), col.type, undefined);
  return writer.getBytes();
}

function compress(raw: Uint8Array, codec: Codec): Uint8Array {
  if (codec === "ZSTD") return zstdCompressSync(raw);
  if (codec === "SNAPPY") return snappyCompress(raw);
  return raw;
}

/** Column-chunk statistics for rows r0..r1 (the cursor is past them). */
function statistics(
  col: Prepared,
  r0: number,
  r1: number,
): Statistics {
  let nulls = 0;
  if (col.defined) {
    for (let i = r0; i < r1; i++) nulls += 1 - col.defined[i];
  }
  const d1 = col.cursor;
  const d0 = d1 - (r1 - r0 - nulls);
  const stats: Statistics = { null_count: BigInt(nulls) };
  if (d1 === d0) return stats;
  if (col.f64) {
    let min = Infinity;
    let max = -Infinity;
    let seen = false;
    const f = col.f64;
    for (let i = d0; i < d1; i++) {
      const v = f[i];
      if (v < min) min = v;
      if (v > max) max = v;
      if (v === v) seen = true;
    }
    // NaN never enters min/max (Parquet spec); zeros: min -0, max +0.
    if (seen) {
      stats.min_value = min === 0 ? -0 : min;
      stats.max_value = max === 0 ? 0 : max;
    }
  } else if (col.words) {
    const w = col.words;
    let minHi = w[2 * d0 + 1], minLo = w[2 * d0] >>> 0;
    let maxHi = minHi, maxLo = minLo;
    for (let i = d0 + 1; i < d1; i++) {
      const hi = w[2 * i + 1], lo = w[2 * i] >>> 0;
      if (hi < minHi || (hi === minHi && lo < minLo)) {
        minHi = hi;
        minLo = lo;
      }
      if (hi > maxHi || (hi === maxHi && lo > maxLo)) {
        maxHi = hi;
        maxLo = lo;
      }
    }
    stats.min_value = (BigInt(minHi) << 32n) | BigInt(minLo);
    stats.max_value = (BigInt(maxHi) << 32n) | BigInt(maxLo);
  } else if (col.type === "BOOLEAN") {
    const items = col.items!;
    let anyFalse = false, anyTrue = false;
    for (let i = d0; i < d1; i++) {
      if (items[i]) anyTrue = true;
      else anyFalse = true;
    }
    stats.min_value = !anyFalse;
    stats.max_value = anyTrue;
  } else {
    const items = col.items as Uint8Array[];
    let min = items[d0], max = items[d0];
    for (let i = d0 + 1; i < d1; i++) {
      if (compareBytes(items[i], min) < 0) min = items[i];
      if (compareBytes(items[i], max) > 0) max = items[i];
    }
    // writeMetadata truncates long string bounds (and marks them inexact).
    stats.min_value = min;
    stats.max_value = max;
  }
  return stats;
}

/** Unsigned lexicographic order: Parquet's order for UTF-8 strings. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

// ---------------------------------------------------------------------------
// Decoding

interface Leaf {
  name: string;
  info: ReadColumnInfo;
}

/**
 * The file's columns, and the schema to hand hyparquet (annotations it would
 * convert lossily removed, see `_parquet_types.ts`).
 */
function flatLeaves(
  schema: SchemaElement[],
  corrupt: (reason: string) => Error,
  unsupported: (reason: string) => Error,
): { leaves: Leaf[]; schema: SchemaElement[] } {
  const leaves: Leaf[] = [];
  const names = new Set<string>();
  const readSchema: SchemaElement[] = [schema[0]];
  for (const el of schema.slice(1)) {
    const classified = classifyLeaf(el);
    if (typeof classified === "string") {
      throw unsupported(
        `column "${el.name}" is ${classified}, which this reader does not support; metrics columns are flat numbers, strings, booleans, binary, timestamps, dates, times or decimals (cast it in the writer, e.g. to a string)`,
      );
    }
    if (names.has(el.name)) {
      throw corrupt(`two columns are named "${el.name}"`);
    }
    names.add(el.name);
    leaves.push({ name: el.name, info: { name: el.name, ...classified.leaf } });
    readSchema.push(classified.element);
  }
  return { leaves, schema: readSchema };
}

function storedKinds(
  kv: { key: string; value?: string }[] | undefined,
): Record<string, string> | undefined {
  const entry = kv?.find((e) => e.key === KINDS_KEY);
  if (!entry?.value) return undefined;
  try {
    const parsed = JSON.parse(entry.value);
    return parsed && typeof parsed === "object" ? parsed : undefined;
  } catch {
    return undefined; // written by someone else: fall back to the defaults
  }
}

/** Joins decoded chunks into the column's kind. */
function toReadColumn(
  parts: ArrayLike<unknown>[],
  rows: number,
  info: ReadColumnInfo,
  kind: string | undefined,
): ReadColumn {
  const type = info.type;
  const typed = TYPED_KINDS.find((k) => k === kind);
  if (
    typed && TYPED[typed].type === type &&
    !parts.some((p) => !ArrayBuffer.isView(p) && includesNull(p))
  ) {
    const Ctor = TYPED[typed].ctor;
    const out = new Ctor(rows);
    let at = 0;
    for (const p of parts) {
      if (p instanceof Ctor) {
        out.set(p as never, at);
        at += p.length;
      } else if (Ctor === BigInt64Array) {
        for (let i = 0; i < p.length; i++) out[at++] = BigInt(p[i] as bigint);
      } else {
        for (let i = 0; i < p.length; i++) out[at++] = Number(p[i]);
      }
    }
    return out;
  }
  const values = flatten(parts, rows);
  const converted = convertValues(values, info);
  if (converted) return converted as ReadColumn;
  if (type === "INT64" || type === "UINT64") {
    const asBigint = kind === "bigint[]" ||
      (kind !== "number[]" && !values.every(isSafe));
    return asBigint
      ? values.map((v) => v === null ? null : BigInt(v as number | bigint))
      : values.map((v) => v === null ? null : Number(v));
  }
  return values as ReadColumn;
}

function flatten(parts: ArrayLike<unknown>[], rows: number): unknown[] {
  if (parts.length === 1 && Array.isArray(parts[0])) return parts[0];
  const out = new Array(rows);
  let at = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) out[at++] = p[i] ?? null;
  }
  return out;
}

function includesNull(values: ArrayLike<unknown>): boolean {
  for (let i = 0; i < values.length; i++) {
    if (values[i] === null || values[i] === undefined) return true;
  }
  return false;
}

function isSafe(v: unknown): boolean {
  return v === null || typeof v === "number" ||
    (typeof v === "bigint" && v >= MIN_SAFE && v <= MAX_SAFE);
}
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function hasMagic(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 12) return false;
  const n = bytes.byteLength;
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== MAGIC[i] || bytes[n - 4 + i] !== MAGIC[i]) return false;
  }
  return true;
}

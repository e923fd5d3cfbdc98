/**
 * The public types of the metrics Parquet codec: column values in and out,
 * options, and the schema a file reports.
 *
 * @module
 */
import type { LeafType } from "./_types.ts";

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

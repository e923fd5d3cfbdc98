/**
 * Metric columns → Parquet bytes: pages laid out here, compressed with
 * node:zlib's zstd; Thrift headers and footer from hyparquet-writer.
 *
 * @module
 */
import type {
  EncodedMetrics,
  EncodeMetricsOptions,
  MetricColumns,
  TypedMetricColumn,
} from "./types.ts";
import { type Codec, CODECS } from "./_layout.ts";
import {
  checkLengths,
  checkNames,
  prepare,
  prepareTypedColumn,
} from "./_prepare.ts";
import { writePrepared } from "./_write.ts";
import { show } from "./_util.ts";
import { InvalidInputError } from "../../errors.ts";

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

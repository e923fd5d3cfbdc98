/**
 * Parquet bytes → metric columns (see `_decode.ts`).
 *
 * @module
 */
import { checkCodecs, decodeParquet, decodeParquetFile } from "./_decode.ts";
import { flatLeaves } from "./_columns.ts";
import { CorruptFileError, UnsupportedFormatError } from "../../errors.ts";
import type { FileMetaData } from "../../_deps/hyparquet.ts";
import type { DecodedMetrics, ReadColumnInfo } from "./types.ts";

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
export function decodeMetrics(
  bytes: Uint8Array,
  source?: string,
): Promise<DecodedMetrics> {
  return decodeParquet(bytes, source, { fast: true });
}

/**
 * {@linkcode decodeMetrics} of the Parquet file at `path`, a regular file
 * inside `root`, with the same result and errors. A file whose columns are
 * all flat numbers (the common case) is read chunk by chunk into a reused
 * buffer rather than whole.
 *
 * Needs `--allow-read` on `path`.
 *
 * @param path The file.
 * @param root The folder the file must be inside (see `openVaultFile`).
 * @returns Column name → values, the row count and each column's type.
 * @throws {Deno.errors.NotFound} There is no file at `path`.
 * @throws {CorruptFileError} As {@linkcode decodeMetrics}.
 * @throws {UnsupportedFormatError} As {@linkcode decodeMetrics}.
 *
 * @example
 * ```ts
 * import { decodeMetricsFile, encodeMetrics } from "./parquet.ts";
 * const dir = await Deno.makeTempDir();
 * const { bytes } = await encodeMetrics({ step: [0, 1], loss: [0.5, null] });
 * await Deno.writeFile(`${dir}/m.parquet`, bytes);
 * const { columns } = await decodeMetricsFile(`${dir}/m.parquet`, dir);
 * console.assert(columns.loss[1] === null);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function decodeMetricsFile(
  path: string,
  root: string,
): Promise<DecodedMetrics> {
  return decodeParquetFile(path, root);
}

/**
 * The columns of a Parquet file as {@linkcode decodeMetrics} would read
 * them, from its footer alone: checks every column is flat and of a type
 * the reader supports, and every chunk's codec one it decodes.
 *
 * @param metadata The file's footer (e.g. from `readParquetFooter`).
 * @param source What to call the file in error messages.
 * @returns Each column's name and read type.
 * @throws {UnsupportedFormatError} A nested or unsupported column, or a
 * codec the reader cannot decode.
 * @throws {CorruptFileError} Two columns with one name.
 *
 * @example
 * ```ts
 * import { encodeMetrics, readableColumns } from "./parquet.ts";
 * import { parquetMetadata } from "../../_deps/hyparquet.ts";
 * const { bytes } = await encodeMetrics({ step: [0, 1], loss: [0.5, 0.25] });
 * const cols = readableColumns(parquetMetadata(bytes.slice().buffer), "m");
 * console.assert(cols[1].name === "loss" && cols[1].type === "DOUBLE");
 * ```
 */
export function readableColumns(
  metadata: FileMetaData,
  source: string,
): ReadColumnInfo[] {
  const where = `"${source}"`;
  const corrupt = (reason: string) =>
    new CorruptFileError(`Cannot read metrics from ${where}: ${reason}`);
  const unsupported = (reason: string) =>
    new UnsupportedFormatError(`Cannot read metrics from ${where}: ${reason}`);
  const { leaves } = flatLeaves(metadata.schema, corrupt, unsupported);
  checkCodecs(metadata, unsupported);
  return leaves.map((l) => l.info);
}

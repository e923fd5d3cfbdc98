/**
 * Parquet bytes → metric columns, through hyparquet with the vault's
 * decompressors and exact type conversions.
 *
 * @module
 */
import { parquetMetadata, parquetRead } from "../../_deps/hyparquet.ts";
import type { ColumnData, FileMetaData } from "../../_deps/hyparquet.ts";
import { DECOMPRESSORS, READABLE_CODECS } from "./_codecs.ts";
import { PARSERS } from "./_types.ts";
import { CorruptFileError, UnsupportedFormatError } from "../../errors.ts";
import {
  flatLeaves,
  type Leaf,
  storedKinds,
  toReadColumn,
} from "./_columns.ts";
import { hasMagic, messageOf } from "./_util.ts";
import type { DecodedMetrics, ReadColumn, ReadColumnInfo } from "./types.ts";

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
    throw corrupt(`its footer does not decode (${messageOf(e)})`, e);
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
  checkCodecs(metadata, unsupported);

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
      throw corrupt(`its data does not decode (${messageOf(e)})`, e);
    }
  }

  return assemble(leaves, chunks, rows, kinds, corrupt);
}

/** Refuses a file with a column compressed by a codec the reader lacks. */
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

function checkCodecs(
  metadata: FileMetaData,
  unsupported: (reason: string) => Error,
): void {
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
}

/** Joins each column's decoded pages in row order, checking none is missing. */
function assemble(
  leaves: Leaf[],
  chunks: Map<string, ColumnData[]>,
  rows: number,
  kinds: ReturnType<typeof storedKinds>,
  corrupt: (reason: string) => Error,
): DecodedMetrics {
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

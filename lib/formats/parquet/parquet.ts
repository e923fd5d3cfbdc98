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
 * Reading: flat INT32/INT64/FLOAT/DOUBLE columns in PLAIN or dictionary
 * pages on the fast path of `_fast.ts` (straight into typed arrays, 5× and
 * more faster than hyparquet's value-by-value assembly); every other column
 * through hyparquet, with the decompressors of `_codecs.ts` (ZSTD, GZIP,
 * BROTLI, SNAPPY, LZ4_RAW, LZ4) and the exact conversions of `_types.ts`
 * (binary, timestamps, dates, decimals).
 *
 * @module
 */
export type {
  ColumnValues,
  DecodedMetrics,
  EncodedMetrics,
  EncodeMetricsOptions,
  MetricColumns,
  ParquetColumnInfo,
  ReadColumn,
  ReadColumnInfo,
  TypedMetricColumn,
} from "./types.ts";
export { KINDS_KEY } from "./types.ts";
export { encodeMetrics, encodeTypedMetrics } from "./encode.ts";
export { decodeMetrics, decodeMetricsFile, readableColumns } from "./decode.ts";

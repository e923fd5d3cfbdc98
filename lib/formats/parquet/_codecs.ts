/**
 * The page decompressors the Parquet reader passes to hyparquet, one per
 * codec that pyarrow, polars, DuckDB, Spark and hyparquet-writer write.
 *
 * - ZSTD, GZIP, BROTLI: node:zlib (native; ZSTD is polars' default).
 * - SNAPPY: hyparquet's own, built in.
 * - LZ4_RAW (what pyarrow, polars and DuckDB write for "lz4") and the
 *   deprecated Hadoop-framed LZ4: hyparquet-compressors, the hyparquet
 *   authors' decompressors (pure JavaScript, so no `--allow-ffi`). Its LZ4
 *   reads the Hadoop framing and falls back to a plain block, as Arrow does.
 *
 * LZO is not readable (no maintained JavaScript decoder; no current writer
 * produces it).
 *
 * @module
 */
import type { Compressors } from "../../_deps/hyparquet.ts";
import {
  decompressLz4,
  decompressLz4Raw,
} from "../../_deps/hyparquet_compressors.ts";
import {
  brotliDecompressSync,
  gunzipSync,
  zstdDecompressSync,
} from "../../_deps.ts";

type Decompress = (input: Uint8Array, outputLength: number) => Uint8Array;

/** Codec name (as in the column chunk metadata) → decompressor. */
export const DECOMPRESSORS: Compressors = {
  ZSTD: (input) => zstdDecompressSync(input),
  GZIP: (input) => gunzipSync(input),
  BROTLI: (input) => brotliDecompressSync(input),
  LZ4: decompressLz4 as Decompress,
  LZ4_RAW: decompressLz4Raw as Decompress,
};

/** Every codec the reader decodes. */
export const READABLE_CODECS: ReadonlySet<string> = new Set([
  "UNCOMPRESSED",
  "SNAPPY",
  ...Object.keys(DECOMPRESSORS),
]);

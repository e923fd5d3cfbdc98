/**
 * The page decompressors the Parquet reader passes to hyparquet, one per
 * codec that pyarrow, polars, DuckDB, Spark and hyparquet-writer write.
 *
 * - ZSTD, GZIP, BROTLI: node:zlib (native; ZSTD is polars' default).
 * - SNAPPY: hysnappy, the hyparquet authors' WebAssembly build of Google's
 *   decoder (a third faster than hyparquet's JavaScript one on 1 MiB pages),
 *   after checking the length the stream declares.
 * - LZ4_RAW (what pyarrow, polars and DuckDB write for "lz4") and the
 *   deprecated Hadoop-framed LZ4: hyparquet-compressors, the hyparquet
 *   authors' decompressors (pure JavaScript, so no `--allow-ffi`). Its LZ4
 *   reads the Hadoop framing and falls back to a plain block, as Arrow does.
 *
 * LZO is not readable (no maintained JavaScript decoder; no current writer
 * produces it).
 *
 * A page never decompresses to more than the size its header declares (the
 * native codecs stop there): a small page cannot claim gigabytes of memory.
 *
 * @module
 */
import type { Compressors } from "../../_deps/hyparquet.ts";
import { snappyUncompressor } from "../../_deps/hysnappy.ts";
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
  SNAPPY: snappy,
  ZSTD: (input, size) => zstdDecompressSync(input, capped(size)),
  GZIP: (input, size) => gunzipSync(input, capped(size)),
  BROTLI: (input, size) => brotliDecompressSync(input, capped(size)),
  LZ4: decompressLz4 as Decompress,
  LZ4_RAW: decompressLz4Raw as Decompress,
};

/**
 * node:zlib's bound on the output (it must be at least 1), and one output
 * buffer of the page's size instead of 16 KiB chunks joined at the end
 * (half the time of a 1 MiB page; one byte more lets it see the end).
 */
function capped(size: number): { maxOutputLength: number; chunkSize?: number } {
  return {
    maxOutputLength: Math.max(1, size),
    ...(size >= 64 && size < 2 ** 30 ? { chunkSize: size + 1 } : {}),
  };
}

/**
 * Decompresses one page to exactly `size` bytes with `codec` (a codec of
 * {@linkcode READABLE_CODECS}); throws if the page holds more or less.
 */
export function decompressPage(
  codec: string,
  input: Uint8Array,
  size: number,
): Uint8Array {
  let out: Uint8Array;
  if (codec === "UNCOMPRESSED") {
    out = input;
  } else {
    const decompress = DECOMPRESSORS[codec as keyof typeof DECOMPRESSORS];
    if (!decompress) throw new Error(`no decompressor for ${codec}`);
    out = decompress(input, size);
  }
  if (out.length !== size) {
    throw new Error(
      `a ${codec} page holds ${out.length} bytes but its header declares ${size}`,
    );
  }
  return out;
}

/** Every codec the reader decodes. */
export const READABLE_CODECS: ReadonlySet<string> = new Set([
  "UNCOMPRESSED",
  ...Object.keys(DECOMPRESSORS),
]);

let snappyWasm: ((input: Uint8Array, size: number) => Uint8Array) | undefined;

/**
 * A Snappy page of `size` bytes. The WebAssembly decoder writes as many
 * bytes as the stream's own length header says, so that length must be the
 * page's: checked first.
 */
function snappy(input: Uint8Array, size: number): Uint8Array {
  let length = 0;
  let pos = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= input.length) throw new Error("a SNAPPY page is empty");
    const b = input[pos++];
    length += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) break;
  }
  if (length !== size) {
    throw new Error(
      `a SNAPPY page holds ${length} bytes but its header declares ${size}`,
    );
  }
  const decode = snappyWasm ??= snappyUncompressor();
  return decode(input, size);
}

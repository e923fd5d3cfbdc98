/**
 * Bounded chunk decoding for the Zarr reader: every decompressor gets the
 * size the chunk must decode to as a hard limit, so a small hostile chunk
 * cannot expand to gigabytes; and the sharding codec's index (at the start
 * or the end of a shard file), checked before any byte range is trusted.
 *
 * @module
 */
import {
  crc32c,
  gunzipSync,
  inflateSync,
  zstdDecompressSync,
} from "../../_deps.ts";
import { CorruptFileError, UnsupportedFormatError } from "../../errors.ts";

/** Decodes one bytes→bytes stage; `limit` is the most it may produce. */
export type BytesDecoder = (
  bytes: Uint8Array,
  limit: number,
) => Promise<Uint8Array> | Uint8Array;

/** The codecs the reader decodes, v3 names (v2 ids map onto them). */
export const SUPPORTED_CODECS = [
  "bytes",
  "transpose",
  "sharding_indexed",
  "zstd",
  "gzip",
  "zlib",
  "blosc",
  "lz4",
  "crc32c",
] as const;

function tooLarge(e: unknown): boolean {
  return (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
}

class ExpandsTooMuch extends Error {
  constructor(limit: number) {
    super(`it decodes to more than the ${limit} bytes it may hold`);
  }
}

function zlibBounded(
  fn: (
    b: Uint8Array,
    o: { maxOutputLength: number; chunkSize?: number },
  ) => Uint8Array,
): BytesDecoder {
  return (bytes, limit) => {
    try {
      return fn(bytes, {
        // maxOutputLength must be >= 1.
        maxOutputLength: Math.max(1, limit),
        // One output buffer of the expected size instead of many joined at
        // the end: about half the decode time for large chunks.
        ...(limit >= 64 && limit < 2 ** 30 ? { chunkSize: limit + 1 } : {}),
      });
    } catch (e) {
      if (tooLarge(e)) throw new ExpandsTooMuch(limit);
      throw e;
    }
  };
}

let bloscModule: Promise<{ fromConfig(c: unknown): Decoder }> | undefined;
let lz4Module: Promise<{ fromConfig(c: unknown): Decoder }> | undefined;
interface Decoder {
  decode(bytes: Uint8Array): Promise<Uint8Array> | Uint8Array;
}

const u32 = (b: Uint8Array, at: number) =>
  new DataView(b.buffer, b.byteOffset + at, 4).getUint32(0, true);

/**
 * The decoder for a bytes→bytes codec, from its v3 name and configuration.
 *
 * @throws {UnsupportedFormatError} For a codec the reader does not know.
 */
export function bytesDecoder(name: string, config: unknown): BytesDecoder {
  switch (name) {
    case "zstd":
      return zlibBounded(zstdDecompressSync);
    case "gzip":
      return zlibBounded(gunzipSync);
    case "zlib":
      return zlibBounded(inflateSync);
    case "crc32c":
      return (bytes) => {
        if (bytes.length < 4) throw new Error("it is shorter than its crc32c");
        const body = bytes.subarray(0, bytes.length - 4);
        const stored = u32(bytes, bytes.length - 4);
        const actual = crc32c(body);
        if (stored !== actual) {
          throw new Error(
            `its crc32c is 0x${hex(actual)}, but 0x${hex(stored)} is stored`,
          );
        }
        return body;
      };
    case "blosc":
      return async (bytes, limit) => {
        // Blosc's header holds the decoded size (bytes 4..7): check it before
        // the WebAssembly decoder allocates it.
        if (bytes.length < 16) throw new Error("its blosc header is truncated");
        const n = u32(bytes, 4);
        if (n > limit) throw new ExpandsTooMuch(limit);
        bloscModule ??= import("numcodecs/blosc").then((m) => m.default);
        const codec = (await bloscModule).fromConfig(config ?? {});
        return await codec.decode(bytes);
      };
    case "lz4":
      return async (bytes, limit) => {
        // numcodecs' LZ4 frames start with the decoded size, little endian.
        if (bytes.length < 4) throw new Error("its lz4 header is truncated");
        if (u32(bytes, 0) > limit) throw new ExpandsTooMuch(limit);
        lz4Module ??= import("numcodecs/lz4").then((m) => m.default);
        const codec = (await lz4Module).fromConfig(config ?? {});
        return await codec.decode(bytes);
      };
  }
  throw new UnsupportedFormatError(
    `codec "${name}" is not supported by the vault (supported: ${
      SUPPORTED_CODECS.join(", ")
    })`,
  );
}

function hex(n: number): string {
  return n.toString(16).padStart(8, "0");
}

/**
 * Runs a chain of bytes→bytes decoders (given in encoding order) on `bytes`.
 * The last decoder must produce exactly `expected` bytes; earlier ones may
 * produce a little more (compressed data can grow slightly).
 */
export async function decodeBytes(
  bytes: Uint8Array,
  decoders: BytesDecoder[],
  expected: number,
): Promise<Uint8Array> {
  let out = bytes;
  for (let i = decoders.length - 1; i >= 0; i--) {
    const limit = i === 0
      ? expected
      : expected + (expected >> 3) + 65536 + 4 * decoders.length;
    out = await decoders[i](out, limit);
    if (out.length > limit) throw new ExpandsTooMuch(limit);
  }
  if (out.length !== expected) {
    throw new Error(`it decodes to ${out.length} bytes, expected ${expected}`);
  }
  return out;
}

/** Where the inner chunks of one shard are: `[offset, length]` per chunk. */
export interface ShardIndex {
  /** Byte offset of each inner chunk, -1 where it is missing (fill). */
  offsets: Float64Array;
  /** Byte length of each inner chunk. */
  lengths: Float64Array;
}

const MISSING = 0xffffffffffffffffn;

/**
 * Parses and checks a shard index: every entry is either "missing" (both
 * 2^64-1) or a byte range inside the shard's data part (the file minus the
 * index), so no later read trusts an impossible offset or length.
 */
export function parseShardIndex(
  raw: Uint8Array,
  entries: number,
  fileSize: number,
  indexBytes: number,
  location: "start" | "end",
  describe: (i: number) => string,
): ShardIndex {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const offsets = new Float64Array(entries);
  const lengths = new Float64Array(entries);
  const lo = location === "start" ? indexBytes : 0;
  const hi = location === "start" ? fileSize : fileSize - indexBytes;
  for (let i = 0; i < entries; i++) {
    const off = view.getBigUint64(16 * i, true);
    const len = view.getBigUint64(16 * i + 8, true);
    if (off === MISSING && len === MISSING) {
      offsets[i] = -1;
      continue;
    }
    if (off === MISSING || len === MISSING) {
      throw new CorruptFileError(
        `its shard index marks inner chunk ${
          describe(i)
        } half missing (offset ${off}, length ${len})`,
      );
    }
    if (off < BigInt(lo) || off + len > BigInt(hi)) {
      throw new CorruptFileError(
        `its shard index puts inner chunk ${describe(i)} at bytes ${off}..${
          off + len
        }, outside the data part ${lo}..${hi} of the ${fileSize}-byte file (index at the ${location})`,
      );
    }
    offsets[i] = Number(off);
    lengths[i] = Number(len);
  }
  return { offsets, lengths };
}

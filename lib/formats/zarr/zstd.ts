/**
 * Zarr's `zstd` codec backed by `node:zlib` (compression on the libuv
 * thread pool), registered in zarrita's codec registry.
 *
 * @module
 */
import { zarr } from "../../_deps/zarrita.ts";
import {
  zlibConstants,
  zstdCompress,
  zstdDecompressSync,
} from "../../_deps.ts";

export const ZSTD_MIN_LEVEL = -131072;
export const ZSTD_MAX_LEVEL = 22;

/** Compresses on the libuv thread pool, so several chunks use several cores. */
export function compressZstd(
  bytes: Uint8Array,
  level: number,
  checksum: boolean,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    // `pledgedSrcSize` is missing from the type declarations.
    const options = {
      params: {
        [zlibConstants.ZSTD_c_compressionLevel]: level,
        [zlibConstants.ZSTD_c_checksumFlag]: checksum ? 1 : 0,
      },
      // Records the content size in the frame header, as tensorstore and
      // numcodecs do (older numcodecs cannot decode frames without it).
      pledgedSrcSize: bytes.byteLength,
      // One output buffer instead of many small ones joined at the end.
      chunkSize: bytes.byteLength + (bytes.byteLength >> 8) + 1024,
    } as Parameters<typeof zstdCompress>[1];
    zstdCompress(
      bytes,
      options,
      (err, out) => err ? reject(err) : resolve(out),
    );
  });
}

const BYTES_PER_ELEMENT: Record<string, number> = {
  bool: 1,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  float16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  int64: 8,
  uint64: 8,
  float64: 8,
};

/** Zarr's `zstd` codec backed by `node:zlib` (zarrita's default is WebAssembly). */
class ZstdCodec {
  readonly kind = "bytes_to_bytes" as const;
  #level: number;
  #checksum: boolean;
  #sizeHint: number;

  constructor(level: number, checksum: boolean, sizeHint: number) {
    this.#level = level;
    this.#checksum = checksum;
    this.#sizeHint = sizeHint;
  }

  static fromConfig(
    config: unknown,
    meta?: { dataType?: string; shape?: number[] },
  ): ZstdCodec {
    const { level, checksum } = (config ?? {}) as {
      level?: number;
      checksum?: boolean;
    };
    // The decoded size of a chunk: one output buffer halves decode time.
    const elements = meta?.shape?.reduce((a, b) => a * b, 1) ?? 0;
    const hint = elements * (BYTES_PER_ELEMENT[meta?.dataType ?? ""] ?? 0);
    return new ZstdCodec(level ?? 0, checksum ?? false, hint);
  }

  encode(bytes: Uint8Array): Promise<Uint8Array> {
    return compressZstd(bytes, this.#level, this.#checksum);
  }

  // deno-lint-ignore require-await -- a throw must become a rejection
  async decode(bytes: Uint8Array): Promise<Uint8Array> {
    const hint = this.#sizeHint;
    return zstdDecompressSync(
      bytes,
      hint >= 64 && hint <= 2 ** 30 ? { chunkSize: hint + 1 } : {},
    );
  }
}

let codecsRegistered = false;

/**
 * Registers the vault's codecs in zarrita's registry: `zstd` (and v2's
 * `numcodecs.zstd`) backed by `node:zlib`. zarrita's other codecs (blosc,
 * lz4, gzip, …) stay as they are for reading other implementations' files.
 * Idempotent; the functions of this module call it themselves.
 *
 * @example
 * ```ts
 * import { registerCodecs } from "./zarr.ts";
 * registerCodecs();
 * registerCodecs(); // a second call changes nothing
 * ```
 */
export function registerCodecs(): void {
  if (codecsRegistered) return;
  codecsRegistered = true;
  const entry = () => Promise.resolve(ZstdCodec);
  zarr.registry.set("zstd", entry);
  zarr.registry.set("numcodecs.zstd", entry);
}

/**
 * Private: the pieces both adoption paths share: the element types a source
 * file may hold and their sizes, where a tensor's bytes are (`RawTensor`,
 * `ByteSource`), reading them exactly, and turning them into the stored
 * dtype (byte order swapped, `bfloat16` widened to `float32`).
 *
 * @module
 */
import { CorruptFileError } from "../../errors.ts";
import type { DType, TensorData, TensorInfo } from "../zarr/zarr.ts";
import { quote } from "./_quote.ts";

/** Element types a source file may hold: the vault's, plus three it widens. */
export type SourceDType = DType | "bool" | "float16" | "bfloat16";

/** Options of an adoption. */
export interface AdoptOptions {
  /**
   * The compressor of each chunk.
   * @default "zstd"
   */
  compression?: "zstd" | "none";
  /**
   * The zstd level.
   * @default 1
   */
  level?: number;
  /**
   * Bytes read from the source file at a time (memory holds about two
   * pieces plus the chunks being compressed).
   * @default 16 MiB
   */
  pieceBytes?: number;
  /**
   * Zarr attributes written into the array's `zarr.json` (e.g. the tensor's
   * name in its source file).
   * @default {}
   */
  attributes?: Record<string, unknown>;
}

/**
 * Where a tensor's bytes are read from: an open file (`Deno.FsFile`), or a
 * stream that only seeks forward (a deflated `.npz` member). Reads go in
 * increasing positions.
 */
export interface ByteSource {
  /** Moves to `offset` (only `Deno.SeekMode.Start` is used). */
  seek(offset: number, whence: Deno.SeekMode): Promise<number>;
  /** Reads into `p`; null at the end. */
  read(p: Uint8Array): Promise<number | null>;
}

/** What an adoption wrote, and what it read. */
export interface AdoptedTensor {
  /** The Zarr array as written (shape, dtype, chunks, codecs, bytes). */
  info: TensorInfo;
  /** The element type in the source file. */
  source_dtype: SourceDType;
  /** The memory order in the source file. */
  source_order: "C" | "F";
}

/** One tensor's bytes inside a file. */
export interface RawTensor {
  /** The file, named in errors. */
  path: string;
  /** The tensor's name inside the file, if it holds several. */
  tensor?: string;
  /** Where the tensor's first byte is. */
  offset: number;
  dtype: SourceDType;
  shape: number[];
  order: "C" | "F";
  littleEndian: boolean;
}

export const SIZES: Record<SourceDType, number> = {
  bool: 1,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  int64: 8,
  uint64: 8,
  float64: 8,
};

const CTORS: Record<
  DType,
  new (b: ArrayBuffer, o: number, n: number) => TensorData
> = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
  float16: Float16Array,
};

/** The bytes one element of `dtype` takes in a source file. */
export function itemSize(dtype: SourceDType): number {
  return SIZES[dtype];
}

/** The vault dtype `dtype` is stored as. */
export function storedDType(dtype: SourceDType): DType {
  return dtype === "bfloat16" ? "float32" : dtype;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The tensor, for messages: the file, and its name inside when it has one. */
export function label(src: RawTensor): string {
  return src.tensor === undefined
    ? `"${src.path}"`
    : `"${src.path}" tensor ${quote(src.tensor)}`;
}

/**
 * Reads exactly `buf.byteLength` bytes of `file` at `position`; throws
 * `Deno.errors.UnexpectedEof` when the file ends first (the caller names it).
 */
export async function readAt(
  file: ByteSource,
  position: number,
  buf: Uint8Array,
): Promise<void> {
  await file.seek(position, Deno.SeekMode.Start);
  let got = 0;
  while (got < buf.byteLength) {
    const n = await file.read(buf.subarray(got));
    if (n === null) throw new Deno.errors.UnexpectedEof();
    got += n;
  }
}

/** Reads exactly `buf.byteLength` bytes at `position`, or says the file is cut short. */
export async function readExactly(
  file: ByteSource,
  src: RawTensor,
  position: number,
  buf: Uint8Array,
): Promise<void> {
  await file.seek(position, Deno.SeekMode.Start);
  let got = 0;
  while (got < buf.byteLength) {
    const n = await file.read(buf.subarray(got));
    if (n === null) {
      throw new CorruptFileError(
        `Cannot adopt ${label(src)}: the file ended at byte ${
          position + got
        }, inside the tensor's data: the file is truncated; write it again`,
      );
    }
    got += n;
  }
}

/** Source bytes → a typed array of the stored dtype (little-endian host). */
export function convert(src: RawTensor, bytes: Uint8Array): TensorData {
  const size = SIZES[src.dtype];
  if (src.littleEndian !== LITTLE_ENDIAN_HOST && size > 1) {
    swapBytes(bytes, size);
  }
  const n = bytes.byteLength / size;
  if (src.dtype === "bfloat16") {
    const half = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = half[i] << 16;
    return new Float32Array(out.buffer);
  }
  const Ctor = CTORS[storedDType(src.dtype)];
  return new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, n);
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.byteLength; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

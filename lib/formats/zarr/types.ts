/**
 * The public types of the Zarr module: element types, layouts, selections.
 *
 * @module
 */

/**
 * The most dimensions a tensor may have: numpy's own limit (`NPY_MAXDIMS`),
 * applied where a tensor comes in (adoption) and where the catalog reads one.
 *
 * @example
 * ```ts
 * import { MAX_TENSOR_DIMS } from "./types.ts";
 * console.assert(MAX_TENSOR_DIMS === 64);
 * ```
 */
export const MAX_TENSOR_DIMS = 64;

/**
 * The element types a tensor can have (Zarr v3 `data_type` names).
 *
 * @example
 * ```ts
 * import type { DType } from "./zarr.ts";
 * const dtype: DType = "int64"; // values in a BigInt64Array
 * ```
 */
export type DType =
  | "bool"
  | "float16"
  | "float32"
  | "float64"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "uint8"
  | "uint16"
  | "uint32"
  | "uint64";

/**
 * The typed arrays that hold tensor values (flat, C order). `bool` values
 * are a `Uint8Array` of 0 and 1; `float16` values a `Float16Array`.
 *
 * @example
 * ```ts
 * import type { TensorData } from "./zarr.ts";
 * // A 2 × 3 tensor, row by row.
 * const data: TensorData = Float32Array.from([1, 2, 3, 4, 5, 6]);
 * ```
 */
export type TensorData =
  | Float16Array
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/**
 * How to lay out a tensor on disk.
 *
 * @example
 * ```ts
 * import type { TensorOptions } from "./zarr.ts";
 * const options: TensorOptions = { shape: [1000, 768], level: 3 };
 * ```
 */
export interface TensorOptions {
  /** The tensor's dimensions, e.g. `[100_000, 768]`; positive integers. */
  shape: number[];
  /**
   * The element type.
   * @default the type of the typed array passed in
   */
  dtype?: DType;
  /**
   * The chunk shape, one size per axis.
   * @default about 4 MB per chunk: full trailing dimensions, split along the
   * leading axis (one chunk for small tensors)
   */
  chunks?: number[];
  /**
   * The compressor applied to each chunk.
   * @default "zstd"
   */
  compression?: "zstd" | "none";
  /**
   * The zstd level (1 = fastest, 22 = smallest; negative levels are faster
   * still).
   * @default 1
   */
  level?: number;
}

/**
 * What a Zarr array on disk holds; recorded in the manifest.
 *
 * @example
 * ```ts
 * import type { TensorInfo } from "./zarr.ts";
 * const info: TensorInfo = {
 *   shape: [1000, 768], dtype: "float32", chunks: [1000, 768],
 *   codecs: ["bytes", "zstd"], bytes: 2_841_000, zarr_format: 3,
 * };
 * ```
 */
export interface TensorInfo {
  /** The array's dimensions. */
  shape: number[];
  /** The element type (Zarr v3 name; other implementations may use more). */
  dtype: DType | string;
  /** The chunk shape (the shard shape for sharded arrays). */
  chunks: number[];
  /** Codec names in order, e.g. `["bytes", "zstd"]`. */
  codecs: string[];
  /** Bytes on disk: every file of the array, metadata included. */
  bytes: number;
  /** The Zarr format version of the files. */
  zarr_format: 2 | 3;
}

/**
 * Writes a tensor row block by row block (blocks along the leading axis), for
 * tensors larger than memory. Create one with {@linkcode createZarrWriter}.
 *
 * @example
 * ```ts ignore
 * import { createZarrWriter } from "./zarr.ts";
 * await using writer = await createZarrWriter("/tmp/s/strata/a.zarr", {
 *   shape: [2, 3],
 *   dtype: "int32",
 * });
 * await writer.write(Int32Array.from([1, 2, 3]));
 * await writer.write(Int32Array.from([4, 5, 6]));
 * await writer.close();
 * ```
 */
export interface ZarrWriter extends AsyncDisposable {
  /** Rows (leading-axis entries) accepted so far. */
  readonly rowsWritten: number;
  /**
   * Appends whole rows, in order; any number of rows per call. The block can
   * be reused once the returned promise settles.
   */
  write(block: TensorData): Promise<void>;
  /**
   * Checks that every row was written, finishes the chunks in flight and
   * moves the array into place. On failure the temp folder is removed.
   */
  close(): Promise<TensorInfo>;
  /** Discards everything written so far (removes the temp folder). */
  abort(): Promise<void>;
}

/**
 * What to read, one entry per axis: an index (the axis is dropped), a
 * half-open `[start, stop]` range, or `null` for the whole axis. A shorter
 * list reads the remaining trailing axes whole.
 *
 * @example
 * ```ts
 * import type { Selection } from "./zarr.ts";
 * const row42: Selection = [42];
 * const column3OfRows10To20: Selection = [[10, 20], 3];
 * const firstEightFeatures: Selection = [null, [0, 8]];
 * ```
 */
export type Selection = (number | [start: number, stop: number] | null)[];

/**
 * Values read from a tensor: flat data in C order and its shape.
 *
 * @example
 * ```ts
 * import type { TensorSlice } from "./zarr.ts";
 * const slice: TensorSlice = { data: Float64Array.from([1, 2]), shape: [2] };
 * ```
 */
export interface TensorSlice {
  /** The values, C order. */
  data: TensorData;
  /** The shape of `data` (axes selected by an index are dropped). */
  shape: number[];
}

/**
 * Options for {@linkcode readZarr}.
 *
 * @example
 * ```ts
 * import type { ReadOptions } from "./zarr.ts";
 * let bytesRead = 0;
 * const options: ReadOptions = { onRead: (_key, n) => bytesRead += n };
 * ```
 */
export interface ReadOptions {
  /**
   * Called for every file (or byte range) read from the array folder, with
   * its key inside the folder (e.g. `c/0/0`) and the bytes read: lets a
   * caller observe that a slice touches only the chunks it needs.
   */
  onRead?: (key: string, byteLength: number) => void;
  /**
   * A folder the array folder must be inside (compared by real paths), e.g.
   * the specimen's. Every file read must be inside the array folder itself
   * either way.
   * @default no check of the array folder
   */
  root?: string;
  /**
   * The most bytes the selection may hold; a larger one is refused with
   * {@linkcode InvalidInputError}.
   * @default {@linkcode MAX_SELECTION_BYTES} (2 GiB)
   */
  maxBytes?: number;
  /**
   * The most bytes one chunk (one inner chunk of a shard) may decode to; a
   * larger one is refused before it is decoded.
   * @default {@linkcode MAX_CHUNK_BYTES} (512 MiB)
   */
  maxChunkBytes?: number;
  /**
   * Chunks read and decoded at once (memory is up to this many decoded
   * chunks besides the selection).
   * @default 8
   */
  concurrency?: number;
}

/**
 * Tensors ↔ Zarr v3 folders (`<specimen>/strata/<name>.zarr`).
 *
 * Metadata is written and every array is read through zarrita; the chunks of
 * the common layout (chunks spanning the full trailing dimensions, C order)
 * are written by a loop of our own, straight from the caller's memory, with
 * zstd from `node:zlib` running on the thread pool. Writes go to a hidden temp
 * folder beside the target that is renamed into place at the end, so a crash
 * never leaves a partial array under the real name, and an existing array is
 * never replaced.
 *
 * Permissions: `--allow-read` for reading, `--allow-read --allow-write` for
 * writing.
 *
 * @module
 */
import * as zarr from "zarrita";
import FileSystemStore from "@zarrita/storage/fs";
import {
  basename,
  dirname,
  join,
  resolve,
  SEPARATOR,
  zlibConstants,
  zstdCompress,
  zstdDecompressSync,
} from "../../_deps.ts";
import { exists, placeDir, tempPathFor } from "../../_fs.ts";
import {
  ImmutableArtifactError,
  InvalidInputError,
  NotFoundError,
  UnsafeFileError,
} from "../../errors.ts";
import {
  corruptMeta,
  MAX_CHUNK_BYTES,
  MAX_SELECTION_BYTES,
  type MetaDoc,
  planOf,
  readBox,
  readMetaDoc,
  v2DType,
} from "./_read.ts";

export { MAX_CHUNK_BYTES, MAX_SELECTION_BYTES };

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

// ---------------------------------------------------------------------------
// Codecs

const ZSTD_MIN_LEVEL = -131072;
const ZSTD_MAX_LEVEL = 22;

/** Compresses on the libuv thread pool, so several chunks use several cores. */
function compressZstd(
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

// ---------------------------------------------------------------------------
// Data types and validation

type TypedArrayCtor = {
  new (length: number): TensorData;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

const CTORS: Record<DType, TypedArrayCtor> = {
  bool: Uint8Array,
  float16: Float16Array,
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
};
const DTYPES = Object.keys(CTORS) as DType[];

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Chunks encoded and written at the same time (2 cores, async zstd). */
const WRITES_IN_FLIGHT = 4;
const READS_IN_FLIGHT = 8;
const CHUNK_TARGET_BYTES = 4 * 1024 * 1024;

function isDType(value: unknown): value is DType {
  return typeof value === "string" && value in CTORS;
}

/** The dtype of a typed array (a Uint8Array is "uint8", never "bool"). */
function dtypeOf(data: unknown): DType | undefined {
  return DTYPES.find((d) => d !== "bool" && data instanceof CTORS[d]);
}

/** Whether `data` may hold values of `dtype` (bool: a Uint8Array of 0/1). */
function fits(data: TensorData, dtype: DType): boolean {
  const actual = dtypeOf(data);
  return actual === dtype || (dtype === "bool" && actual === "uint8");
}

/** The index of the first value of a bool tensor that is not 0 or 1. */
function notBool(data: Uint8Array): number {
  for (let i = 0; i < data.length; i++) if (data[i] > 1) return i;
  return -1;
}

function product(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function cStrides(shape: number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = step;
    step *= shape[i];
  }
  return strides;
}

function isPositiveInt(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) > 0;
}

function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Chunks of about 4 MB: full trailing axes, split at the first axis that overflows. */
function defaultChunks(shape: number[], bytesPerElement: number): number[] {
  const chunks = shape.slice();
  let inner = bytesPerElement;
  for (let k = shape.length - 1; k >= 0; k--) {
    if (inner * shape[k] <= CHUNK_TARGET_BYTES) {
      inner *= shape[k];
      continue;
    }
    chunks[k] = Math.max(1, Math.floor(CHUNK_TARGET_BYTES / inner));
    for (let j = 0; j < k; j++) chunks[j] = 1;
    break;
  }
  return chunks;
}

interface Spec {
  path: string;
  shape: number[];
  dtype: DType;
  chunks: number[];
  compression: "zstd" | "none";
  level: number;
}

function checkSpec(
  path: string,
  options: TensorOptions & { dtype: DType },
): Spec {
  const fail = (why: string) =>
    new InvalidInputError(`Cannot write tensor "${path}": ${why}`);
  const name = typeof path === "string" ? basename(path) : "";
  if (!name || name === "." || name === "..") {
    throw fail(
      "the path must name the array folder, e.g. <specimen>/strata/embeddings.zarr",
    );
  }
  const { shape, dtype } = options;
  if (
    !Array.isArray(shape) || shape.length === 0 || !shape.every(isPositiveInt)
  ) {
    throw fail(
      `shape must be a non-empty list of positive integers, got ${
        JSON.stringify(shape)
      }`,
    );
  }
  if (!isDType(dtype)) {
    throw fail(
      `unknown dtype ${JSON.stringify(dtype)}: use one of ${DTYPES.join(", ")}`,
    );
  }
  const chunks = options.chunks ??
    defaultChunks(shape, CTORS[dtype].BYTES_PER_ELEMENT);
  if (!Array.isArray(chunks) || chunks.length !== shape.length) {
    throw fail(
      `chunks ${JSON.stringify(chunks)} do not match shape ${
        JSON.stringify(shape)
      }: give one chunk size per axis (${shape.length})`,
    );
  }
  if (!chunks.every(isPositiveInt)) {
    throw fail(
      `chunks must be positive integers, got ${JSON.stringify(chunks)}`,
    );
  }
  const compression = options.compression ?? "zstd";
  if (compression !== "zstd" && compression !== "none") {
    throw fail(
      `compression must be "zstd" or "none", got ${
        JSON.stringify(compression)
      }`,
    );
  }
  const level = options.level ?? 1;
  if (
    !Number.isInteger(level) || level < ZSTD_MIN_LEVEL || level > ZSTD_MAX_LEVEL
  ) {
    throw fail(
      `zstd level must be an integer from ${ZSTD_MIN_LEVEL} to ${ZSTD_MAX_LEVEL} (1 = fast), got ${
        JSON.stringify(level)
      }`,
    );
  }
  return {
    path,
    shape: shape.slice(),
    dtype,
    chunks: chunks.slice(),
    compression,
    level,
  };
}

function codecsFor(spec: Spec): zarr.CodecMetadata[] {
  const codecs: zarr.CodecMetadata[] = [
    { name: "bytes", configuration: { endian: "little" } },
  ];
  if (spec.compression === "zstd") {
    codecs.push({
      name: "zstd",
      configuration: { level: spec.level, checksum: false },
    });
  }
  return codecs;
}

function immutable(path: string): ImmutableArtifactError {
  return new ImmutableArtifactError(
    `Cannot write tensor "${path}": it already exists, and specimens are immutable: create a new specimen for a variation`,
  );
}

// ---------------------------------------------------------------------------
// Stores and queues

const METADATA_FILES = new Set(["/zarr.json", "/.zarray", "/.zattrs"]);

/**
 * A FileSystemStore that reports reads, keeps the (small) metadata files it
 * read so zarrita does not read them again, and remembers the size of each
 * write.
 */
class ObservedStore {
  readonly sizes = new Map<string, number>();
  #inner: FileSystemStore;
  #onRead?: (key: string, byteLength: number) => void;
  #metadata = new Map<string, Uint8Array | undefined>();

  constructor(root: string, onRead?: (key: string, n: number) => void) {
    this.#inner = new FileSystemStore(root);
    this.#onRead = onRead;
  }

  async get(
    key: zarr.AbsolutePath,
    opts?: zarr.GetOptions,
  ): Promise<Uint8Array | undefined> {
    const isMetadata = METADATA_FILES.has(key);
    if (isMetadata && this.#metadata.has(key)) return this.#metadata.get(key);
    const bytes = await this.#inner.get(key, opts);
    if (bytes) this.#onRead?.(key.slice(1), bytes.byteLength);
    if (isMetadata) this.#metadata.set(key, bytes);
    return bytes;
  }

  async getRange(
    key: zarr.AbsolutePath,
    range: zarr.RangeQuery,
    opts?: zarr.GetOptions,
  ): Promise<Uint8Array | undefined> {
    const bytes = await this.#inner.getRange(key, range, opts);
    if (bytes) this.#onRead?.(key.slice(1), bytes.byteLength);
    return bytes;
  }

  async set(key: zarr.AbsolutePath, value: Uint8Array): Promise<void> {
    await this.#inner.set(key, value);
    this.sizes.set(key.slice(1), value.byteLength);
  }
}

/** zarrita's chunk queue with at most `limit` chunks in flight. */
function boundedQueue(limit: number) {
  const tasks: (() => Promise<void>)[] = [];
  return {
    add(fn: () => Promise<void>): void {
      tasks.push(fn);
    },
    async onIdle(): Promise<void[]> {
      let next = 0;
      let failed = false;
      const worker = async () => {
        while (!failed && next < tasks.length) {
          try {
            await tasks[next++]();
          } catch (e) {
            failed = true;
            throw e;
          }
        }
      };
      await Promise.all(
        Array.from({ length: Math.min(limit, tasks.length) }, worker),
      );
      return [];
    },
  };
}

// ---------------------------------------------------------------------------
// Writing

/**
 * Chunks whose bytes are one contiguous run of the C-order data: axes before
 * `axis` chunked by 1, axes after it whole. Chunks then follow each other in
 * the data, so each can be written straight from the caller's memory.
 */
interface ContiguousLayout {
  axis: number;
  /** Chunks along each axis up to `axis`. */
  grid: number[];
  chunkBytes: number;
  /** Bytes of one step along `axis`. */
  stepBytes: number;
}

function contiguousLayout(spec: Spec): ContiguousLayout | null {
  // Big-endian hosts go through zarrita, which swaps bytes.
  if (!LITTLE_ENDIAN) return null;
  const { shape, chunks } = spec;
  let axis = 0;
  for (let j = shape.length - 1; j >= 0; j--) {
    if (chunks[j] !== shape[j]) {
      axis = j;
      break;
    }
  }
  for (let j = 0; j < axis; j++) if (chunks[j] !== 1) return null;
  const stepBytes = product(shape.slice(axis + 1)) *
    CTORS[spec.dtype].BYTES_PER_ELEMENT;
  return {
    axis,
    grid: shape.slice(0, axis + 1).map((n, j) => Math.ceil(n / chunks[j])),
    chunkBytes: chunks[axis] * stepBytes,
    stepBytes,
  };
}

class Writer implements ZarrWriter {
  #spec: Spec;
  #tmp: string;
  #store: ObservedStore;
  #array: zarr.Array<zarr.DataType, ObservedStore>;
  #layout: ContiguousLayout | null;
  #rowBytes: number;
  #rowsWritten = 0;
  #state: "open" | "closed" | "aborted" = "open";
  #queue: Promise<unknown> = Promise.resolve();
  #error: unknown = undefined;
  #inflight = new Set<Promise<void>>();
  #dirs = new Map<string, Promise<void>>();
  // Contiguous layout: the next chunk's coordinates and its partial bytes.
  #coords: number[];
  #pending: Uint8Array | null = null;
  #filled = 0;
  #free: Uint8Array[] = [];
  // Other layouts: a band of whole chunk rows handed to zarrita.
  #band: Uint8Array | null = null;
  #bandFilled = 0;
  #rowsStored = 0;

  constructor(
    spec: Spec,
    tmp: string,
    store: ObservedStore,
    array: zarr.Array<zarr.DataType, ObservedStore>,
  ) {
    this.#spec = spec;
    this.#tmp = tmp;
    this.#store = store;
    this.#array = array;
    this.#layout = contiguousLayout(spec);
    this.#rowBytes = product(spec.shape.slice(1)) *
      CTORS[spec.dtype].BYTES_PER_ELEMENT;
    this.#coords = new Array(spec.shape.length).fill(0);
  }

  get rowsWritten(): number {
    return this.#rowsWritten;
  }

  write(block: TensorData): Promise<void> {
    // Calls run one after another, in the order they were made.
    const run = this.#queue.then(() => this.#write(block));
    this.#queue = run.catch(() => {});
    return run;
  }

  async close(): Promise<TensorInfo> {
    const run = this.#queue.then(() => this.#close());
    this.#queue = run.catch(() => {});
    try {
      return await run;
    } catch (e) {
      await this.abort();
      throw e;
    }
  }

  async abort(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "aborted";
    await this.#queue;
    await Promise.all(this.#inflight);
    await Deno.remove(this.#tmp, { recursive: true }).catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.abort();
  }

  #fail(why: string): InvalidInputError {
    return new InvalidInputError(
      `Cannot write tensor "${this.#spec.path}": ${why}`,
    );
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  async #write(block: TensorData): Promise<void> {
    if (this.#state !== "open") {
      throw this.#fail(`the writer is already ${this.#state}`);
    }
    this.#throwIfFailed();
    const { shape, dtype } = this.#spec;
    if (!fits(block, dtype)) {
      throw this.#fail(
        `a block must be a ${CTORS[dtype].name} (dtype "${dtype}"), got ${
          describe(block)
        }`,
      );
    }
    const bad = dtype === "bool" ? notBool(block as Uint8Array) : -1;
    if (bad >= 0) {
      throw this.#fail(
        `a bool block holds only 0 and 1, got ${
          (block as Uint8Array)[bad]
        } at index ${bad}`,
      );
    }
    const bytes = bytesOf(block);
    const rowElements = this.#rowBytes / CTORS[dtype].BYTES_PER_ELEMENT;
    if (bytes.byteLength % this.#rowBytes !== 0) {
      throw this.#fail(
        `a block must hold whole rows of ${rowElements} values (shape ${
          JSON.stringify(shape)
        }), got ${block.length} values`,
      );
    }
    const rows = bytes.byteLength / this.#rowBytes;
    if (this.#rowsWritten + rows > shape[0]) {
      throw this.#fail(
        `too many rows: ${this.#rowsWritten} written + ${rows} in this block > ${
          shape[0]
        } in shape ${JSON.stringify(shape)}`,
      );
    }
    this.#rowsWritten += rows;
    if (this.#layout) await this.#writeContiguous(bytes, this.#layout);
    else await this.#writeBands(bytes, false);
  }

  async #writeContiguous(
    bytes: Uint8Array,
    layout: ContiguousLayout,
  ): Promise<void> {
    // Chunks written straight from `bytes` must finish before write() returns.
    const borrowed: Promise<void>[] = [];
    try {
      let pos = 0;
      while (pos < bytes.byteLength) {
        const len = this.#currentChunkBytes(layout);
        if (
          this.#filled === 0 && len === layout.chunkBytes &&
          bytes.byteLength - pos >= len
        ) {
          const key = this.#chunkKey();
          const { done } = await this.#submit(
            key,
            bytes.subarray(pos, pos + len),
          );
          borrowed.push(done);
          pos += len;
          this.#advance(layout);
          continue;
        }
        this.#pending ??= this.#free.pop() ?? new Uint8Array(layout.chunkBytes);
        const n = Math.min(len - this.#filled, bytes.byteLength - pos);
        this.#pending.set(bytes.subarray(pos, pos + n), this.#filled);
        this.#filled += n;
        pos += n;
        if (this.#filled === len) {
          // Edge chunks are padded with the fill value (0).
          if (len < layout.chunkBytes) this.#pending.fill(0, len);
          const chunk = this.#pending;
          this.#pending = null;
          this.#filled = 0;
          const { done } = await this.#submit(this.#chunkKey(), chunk);
          done.then(() => this.#free.push(chunk));
          this.#advance(layout);
        }
      }
    } finally {
      await Promise.all(borrowed);
    }
    this.#throwIfFailed();
  }

  #currentChunkBytes(layout: ContiguousLayout): number {
    const { axis, stepBytes } = layout;
    const size = this.#spec.chunks[axis];
    const start = this.#coords[axis] * size;
    return Math.min(size, this.#spec.shape[axis] - start) * stepBytes;
  }

  #advance(layout: ContiguousLayout): void {
    for (let j = layout.axis; j >= 0; j--) {
      if (++this.#coords[j] < layout.grid[j] || j === 0) return;
      this.#coords[j] = 0;
    }
  }

  #chunkKey(): string {
    return `c/${this.#coords.join("/")}`;
  }

  /**
   * Waits for a free slot, then starts encoding and writing one chunk;
   * `done` settles (never rejects) when the chunk is on disk.
   */
  async #submit(
    key: string,
    chunk: Uint8Array,
  ): Promise<{ done: Promise<void> }> {
    while (this.#inflight.size >= WRITES_IN_FLIGHT) {
      await Promise.race(this.#inflight);
    }
    this.#throwIfFailed();
    const done: Promise<void> = this.#writeChunk(key, chunk)
      .catch((e) => {
        this.#error ??= e;
      })
      .finally(() => this.#inflight.delete(done));
    this.#inflight.add(done);
    return { done };
  }

  async #writeChunk(key: string, chunk: Uint8Array): Promise<void> {
    const { compression, level } = this.#spec;
    const encoded = compression === "zstd"
      ? await compressZstd(chunk, level, false)
      : chunk;
    const file = join(this.#tmp, ...key.split("/"));
    const dir = dirname(file);
    let made = this.#dirs.get(dir);
    if (!made) {
      made = Deno.mkdir(dir, { recursive: true });
      this.#dirs.set(dir, made);
    }
    await made;
    await Deno.writeFile(file, encoded);
    this.#store.sizes.set(key, encoded.byteLength);
  }

  /** General layouts: whole bands of chunk rows go through `zarr.set`. */
  async #writeBands(bytes: Uint8Array, last: boolean): Promise<void> {
    const bandBytes = this.#spec.chunks[0] * this.#rowBytes;
    let pos = 0;
    while (pos < bytes.byteLength) {
      if (this.#bandFilled === 0) {
        const whole = Math.floor((bytes.byteLength - pos) / bandBytes) *
          bandBytes;
        if (whole > 0) {
          await this.#storeRows(bytes.subarray(pos, pos + whole));
          pos += whole;
          continue;
        }
      }
      this.#band ??= new Uint8Array(bandBytes);
      const n = Math.min(bandBytes - this.#bandFilled, bytes.byteLength - pos);
      this.#band.set(bytes.subarray(pos, pos + n), this.#bandFilled);
      this.#bandFilled += n;
      pos += n;
      if (this.#bandFilled === bandBytes) {
        this.#bandFilled = 0;
        await this.#storeRows(this.#band);
      }
    }
    if (last && this.#bandFilled > 0) {
      const rest = this.#band!.subarray(0, this.#bandFilled);
      this.#bandFilled = 0;
      await this.#storeRows(rest);
    }
  }

  async #storeRows(bytes: Uint8Array): Promise<void> {
    const { shape, dtype } = this.#spec;
    const Ctor = CTORS[dtype];
    const rows = bytes.byteLength / this.#rowBytes;
    const start = this.#rowsStored;
    const valueShape = [rows, ...shape.slice(1)];
    const value = {
      data: new Ctor(
        bytes.buffer,
        bytes.byteOffset,
        bytes.byteLength / Ctor.BYTES_PER_ELEMENT,
      ),
      shape: valueShape,
      stride: cStrides(valueShape),
    } as zarr.Chunk<zarr.DataType>;
    const selection = [
      zarr.slice(start, start + rows),
      ...shape.slice(1).map(() => null),
    ];
    try {
      await zarr.set(this.#array, selection, value, {
        createQueue: () => boundedQueue(WRITES_IN_FLIGHT),
      });
    } catch (e) {
      this.#error ??= e;
      throw e;
    }
    this.#rowsStored += rows;
  }

  async #close(): Promise<TensorInfo> {
    if (this.#state !== "open") {
      throw this.#fail(`the writer is already ${this.#state}`);
    }
    this.#throwIfFailed();
    const expected = this.#spec.shape[0];
    if (this.#rowsWritten !== expected) {
      throw this.#fail(
        `expected ${expected} rows, ${this.#rowsWritten} written: write the missing rows before close(), or abort()`,
      );
    }
    if (!this.#layout) await this.#writeBands(new Uint8Array(0), true);
    await Promise.all(this.#inflight);
    this.#throwIfFailed();
    try {
      await placeDir(this.#tmp, this.#spec.path);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        throw immutable(this.#spec.path);
      }
      throw e;
    }
    this.#state = "closed";
    const { shape, dtype, chunks } = this.#spec;
    let bytes = 0;
    for (const n of this.#store.sizes.values()) bytes += n;
    return {
      shape,
      dtype,
      chunks,
      codecs: codecsFor(this.#spec).map((c) => c.name),
      bytes,
      zarr_format: 3,
    };
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return (value as object).constructor?.name ?? "an object";
}

/**
 * Starts writing a tensor whose rows arrive in blocks (e.g. activations of
 * one batch at a time), for tensors larger than memory. Each chunk is written
 * as soon as its rows are complete; memory stays about one band of chunk rows
 * plus the chunks in flight. Everything goes to a hidden temp folder beside
 * `path`, moved into place by `close()`.
 *
 * Needs `--allow-read --allow-write`.
 *
 * @param path The array folder to create, e.g. `<specimen>/strata/acts.zarr`.
 * @param options The layout; `dtype` is required here.
 * @returns A writer; use it with `await using` so it aborts on failure.
 * @throws {ImmutableArtifactError} If `path` already exists.
 * @throws {InvalidInputError} If an option is invalid.
 * @throws {NotFoundError} If the folder that should hold `path` is missing.
 * @example
 * ```ts ignore
 * import { createZarrWriter } from "./zarr.ts";
 * await using writer = await createZarrWriter("/tmp/s/strata/acts.zarr", {
 *   shape: [1000, 64],
 *   dtype: "float32",
 * });
 * for (let row = 0; row < 1000; row += 100) {
 *   await writer.write(new Float32Array(100 * 64).fill(row));
 * }
 * const info = await writer.close();
 * console.log(info.chunks, info.bytes);
 * ```
 */
export async function createZarrWriter(
  path: string,
  options: TensorOptions & { dtype: DType },
): Promise<ZarrWriter> {
  registerCodecs();
  const spec = checkSpec(path, options);
  spec.path = resolve(path);
  if (await exists(spec.path)) throw immutable(path);
  const tmp = tempPathFor(spec.path);
  try {
    await Deno.mkdir(tmp);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `Cannot write tensor "${path}": the folder "${
          dirname(spec.path)
        }" does not exist: create the specimen (and its strata/ folder) first`,
        { cause: e },
      );
    }
    throw e;
  }
  try {
    const store = new ObservedStore(tmp);
    const array = await zarr.create(zarr.root(store), {
      shape: spec.shape,
      chunkShape: spec.chunks,
      dtype: spec.dtype,
      codecs: codecsFor(spec),
      // A literal 0 (never a BigInt) so the JSON stays valid for int64;
      // the spec's fill value of a bool array is a JSON boolean.
      fillValue: (spec.dtype === "bool" ? false : 0) as zarr.Scalar<DType>,
    });
    return new Writer(spec, tmp, store, array);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/**
 * Writes a whole tensor as a Zarr v3 array (`bytes` little endian, then
 * `zstd` unless `compression: "none"`), readable by zarr-python and
 * tensorstore. Atomic and write-once: the array appears complete under
 * `path` or not at all, and an existing `path` is never replaced.
 *
 * Needs `--allow-read --allow-write`.
 *
 * @param path The array folder to create, e.g. `<specimen>/strata/emb.zarr`.
 * @param data The values, flat in C order.
 * @param options The layout: `shape` is required.
 * @returns What was written (shape, dtype, chunks, codecs, bytes on disk).
 * @throws {ImmutableArtifactError} If `path` already exists.
 * @throws {InvalidInputError} If the data does not match the options.
 * @throws {NotFoundError} If the folder that should hold `path` is missing.
 * @example
 * ```ts ignore
 * import { writeZarr } from "./zarr.ts";
 * const info = await writeZarr(
 *   "/tmp/s/strata/embeddings.zarr",
 *   new Float32Array(1000 * 768),
 *   { shape: [1000, 768] },
 * );
 * console.log(info.codecs); // ["bytes", "zstd"]
 * ```
 */
export async function writeZarr(
  path: string,
  data: TensorData,
  options: TensorOptions,
): Promise<TensorInfo> {
  const fail = (why: string) =>
    new InvalidInputError(`Cannot write tensor "${path}": ${why}`);
  const actual = dtypeOf(data);
  if (!actual) {
    throw fail(
      `data must be a typed array (${
        DTYPES.map((d) => CTORS[d].name).join(", ")
      }), got ${describe(data)}`,
    );
  }
  const dtype = options?.dtype ?? actual;
  if (isDType(dtype) && !fits(data, dtype)) {
    throw fail(
      `dtype "${dtype}" does not match the data, a ${
        CTORS[actual].name
      } ("${actual}"): convert the data or leave dtype out (bool takes a Uint8Array of 0/1)`,
    );
  }
  const spec = checkSpec(path, { ...options, dtype });
  const size = product(spec.shape);
  if (size !== data.length) {
    throw fail(
      `shape ${
        JSON.stringify(spec.shape)
      } holds ${size} values but the data has ${data.length}: pass the shape of the data`,
    );
  }
  await using writer = await createZarrWriter(path, spec);
  await writer.write(data);
  return await writer.close();
}

// ---------------------------------------------------------------------------
// Reading

interface RawMeta {
  format: 2 | 3;
  shape: number[];
  dtype: string;
  chunks: number[];
  codecs: string[];
}

/** What zarrInfo reports; lenient, so the index lists arrays we cannot read. */
function describeMeta(path: string, meta: MetaDoc): RawMeta {
  const { file, doc } = meta;
  const isDims = (value: unknown): value is number[] =>
    Array.isArray(value) &&
    value.every((n) => Number.isSafeInteger(n) && n >= 0);
  if (file === "zarr.json") {
    if (doc.node_type === "group") {
      throw new NotFoundError(
        `No tensor at "${path}": it is a Zarr group, not an array: name one of its arrays`,
      );
    }
    const grid = (doc.chunk_grid as Json)?.configuration as Json;
    const codecs = doc.codecs;
    if (
      !isDims(doc.shape) || typeof doc.data_type !== "string" ||
      !isDims(grid?.chunk_shape) || !Array.isArray(codecs)
    ) {
      throw corruptMeta(
        path,
        file,
        "lacks shape, data_type, chunk_grid or codecs",
      );
    }
    return {
      format: 3,
      shape: doc.shape,
      dtype: doc.data_type,
      chunks: grid.chunk_shape as number[],
      codecs: codecs.map((c) => String(c?.name)),
    };
  }
  if (
    !isDims(doc.shape) || !isDims(doc.chunks) || typeof doc.dtype !== "string"
  ) {
    throw corruptMeta(path, file, "lacks shape, chunks or dtype");
  }
  const filters = (doc.filters ?? []) as Json[];
  const compressor = doc.compressor as Json | null;
  return {
    format: 2,
    shape: doc.shape,
    dtype: v2DType(doc.dtype),
    chunks: doc.chunks,
    codecs: [...filters, ...(compressor ? [compressor] : [])].map((c) =>
      String(c?.id)
    ),
  };
}

type Json = Record<string, unknown>;

async function bytesOnDisk(dir: string): Promise<number> {
  let total = 0;
  const subdirs: Promise<number>[] = [];
  const files: Promise<Deno.FileInfo>[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const p = join(dir, entry.name);
    if (entry.isDirectory) subdirs.push(bytesOnDisk(p));
    else files.push(Deno.lstat(p));
  }
  for (const info of await Promise.all(files)) total += info.size;
  for (const n of await Promise.all(subdirs)) total += n;
  return total;
}

/**
 * The folder every file of the array must be inside: its own real path,
 * which must itself be inside `root` when given.
 */
async function arrayRoot(path: string, root?: string): Promise<string> {
  try {
    const real = await Deno.realPath(path);
    if (root !== undefined) {
      const outer = await Deno.realPath(root);
      if (
        !real.startsWith(outer.endsWith(SEPARATOR) ? outer : outer + SEPARATOR)
      ) {
        throw new UnsafeFileError(
          `Cannot read tensor "${path}": its folder leads to ${real}, outside ${outer}; the vault reads only files inside it, so copy the array into the specimen instead of linking to it`,
        );
      }
    }
    return real;
  } catch (e) {
    if (
      e instanceof Deno.errors.NotFound ||
      e instanceof Deno.errors.NotADirectory
    ) {
      throw new NotFoundError(
        `No tensor at "${path}": expected a Zarr array folder (zarr.json or .zarray): check the name in the manifest's artifacts`,
        { cause: e },
      );
    }
    throw e;
  }
}

/**
 * Describes the Zarr array at `path` (v3, or v2 as the original Python vault
 * wrote): shape, dtype, chunks, codec names and bytes on disk. Arrays of a
 * data type or codec {@linkcode readZarr} refuses are described too.
 *
 * Needs `--allow-read`.
 *
 * @param path The array folder.
 * @param options `root`: a folder the array folder must be inside.
 * @returns Its metadata and size.
 * @throws {NotFoundError} If there is no array at `path`.
 * @throws {CorruptFileError} If its metadata cannot be parsed.
 * @throws {UnsafeFileError} If its metadata file is not a regular file
 *   inside the folder.
 * @example
 * ```ts ignore
 * import { zarrInfo } from "./zarr.ts";
 * const info = await zarrInfo("/tmp/s/strata/embeddings.zarr");
 * console.log(info.shape, info.dtype, info.bytes);
 * ```
 */
export async function zarrInfo(
  path: string,
  options: { root?: string } = {},
): Promise<TensorInfo> {
  const root = await arrayRoot(path, options.root);
  const meta = describeMeta(path, await readMetaDoc(path, root));
  return {
    shape: meta.shape,
    dtype: meta.dtype,
    chunks: meta.chunks,
    codecs: meta.codecs,
    bytes: await bytesOnDisk(path),
    zarr_format: meta.format,
  };
}

/** The selection as one `[start, stop)` per axis, and the axes it keeps. */
function toRanges(
  path: string,
  selection: Selection,
  shape: number[],
): { ranges: [number, number][]; kept: number[] } {
  const fail = (why: string) =>
    new InvalidInputError(`Cannot read tensor "${path}": ${why}`);
  if (!Array.isArray(selection)) {
    throw fail(
      `selection must be a list (one entry per axis), got ${
        JSON.stringify(selection)
      }`,
    );
  }
  if (selection.length > shape.length) {
    throw fail(
      `selection ${
        JSON.stringify(selection)
      } has ${selection.length} entries but shape ${
        JSON.stringify(shape)
      } has ${shape.length} axes`,
    );
  }
  const kept: number[] = [];
  const ranges = shape.map((n, axis): [number, number] => {
    const s = selection[axis] ?? null;
    if (s === null) {
      kept.push(n);
      return [0, n];
    }
    if (typeof s === "number") {
      if (!Number.isSafeInteger(s) || s < 0 || s >= n) {
        throw fail(
          `index ${s} on axis ${axis} is outside 0..${n - 1} (shape ${
            JSON.stringify(shape)
          })`,
        );
      }
      return [s, s + 1];
    }
    if (
      Array.isArray(s) && s.length === 2 && Number.isSafeInteger(s[0]) &&
      Number.isSafeInteger(s[1]) && s[0] >= 0 && s[0] <= s[1] && s[1] <= n
    ) {
      kept.push(s[1] - s[0]);
      return [s[0], s[1]];
    }
    throw fail(
      `range ${
        JSON.stringify(s)
      } on axis ${axis} must be [start, stop] with 0 <= start <= stop <= ${n}`,
    );
  });
  return { ranges, kept };
}

/**
 * Reads a tensor, or a slice of it, from a Zarr array: v3 (codecs `bytes`,
 * `transpose`, `sharding_indexed` with its index at the start or the end,
 * `zstd`, `gzip`, `blosc`, `crc32c`), or v2 as zarr-python 2 wrote it
 * (compressors zstd, gzip, zlib, blosc, lz4; C or F order). Lazy: only the
 * chunks the selection touches are read, and memory is the selection plus
 * the chunks being decoded. Chunks that were never written read as the fill
 * value (every fill value encoding of the v3 spec, NaN payloads kept).
 *
 * `bool` reads as a `Uint8Array` of 0 and 1; `float16` as a `Float16Array`.
 * An axis of length 0 gives an empty tensor of that shape.
 *
 * Every file is opened only if it is a regular file inside the array folder
 * (or `options.root`): a symlink leading out of it, a FIFO or a device is
 * refused.
 *
 * Needs `--allow-read`.
 *
 * @param path The array folder.
 * @param selection Per axis: an index (drops the axis), `[start, stop]`, or
 *   `null` (whole axis); missing trailing entries mean whole axes.
 * @param options `onRead` observes every read (key, bytes); `maxBytes` and
 *   `maxChunkBytes` bound memory.
 * @returns The values in C order and their shape.
 * @throws {NotFoundError} If there is no array at `path`.
 * @throws {InvalidInputError} If the selection is out of bounds, or holds
 *   more than `maxBytes`.
 * @throws {CorruptFileError} If a chunk, a shard index or the metadata is
 *   damaged (the message names the file).
 * @throws {UnsupportedFormatError} If the array uses a data type or codec the
 *   vault does not read (the message names it), or a chunk decodes to more
 *   than `maxChunkBytes`.
 * @throws {UnsafeFileError} If a file of the array is not a regular file
 *   inside it.
 * @example
 * ```ts ignore
 * import { readZarr } from "./zarr.ts";
 * // Row 42 of a [100000, 768] tensor: reads one chunk, returns shape [768].
 * const { data, shape } = await readZarr("/tmp/s/strata/emb.zarr", [42]);
 * // Rows 10..20, columns 0..8: shape [10, 8].
 * const block = await readZarr("/tmp/s/strata/emb.zarr", [[10, 20], [0, 8]]);
 * ```
 */
export async function readZarr(
  path: string,
  selection: Selection = [],
  options: ReadOptions = {},
): Promise<TensorSlice> {
  const root = await arrayRoot(path, options.root);
  const plan = planOf(
    path,
    root,
    await readMetaDoc(path, root, options.onRead),
  );
  const { ranges, kept } = toRanges(path, selection, plan.shape);
  const raw = await readBox(plan, ranges, {
    maxBytes: options.maxBytes ?? MAX_SELECTION_BYTES,
    maxChunkBytes: options.maxChunkBytes ?? MAX_CHUNK_BYTES,
    concurrency: options.concurrency ?? READS_IN_FLIGHT,
    onRead: options.onRead,
  });
  const Ctor = CTORS[plan.dtype as DType];
  return {
    data: new Ctor(
      raw.buffer,
      raw.byteOffset,
      raw.byteLength / Ctor.BYTES_PER_ELEMENT,
    ),
    shape: kept,
  };
}

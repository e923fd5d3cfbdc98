/**
 * The Zarr reader behind `readZarr`: metadata (v3, and v2 as zarr-python 2
 * wrote it) turned into a plan, then only the chunks a selection touches are
 * read, each file opened through the vault's safe opener (a regular file
 * inside the array folder, never a symlink out of it or a FIFO), decoded
 * with its expected size as a hard bound, and copied straight into an output
 * buffer the size of the selection. Missing chunks cost nothing but the fill
 * of their selected part.
 *
 * @module
 */
import { join } from "../../_deps.ts";
import {
  CorruptFileError,
  InvalidInputError,
  NotFoundError,
  UnsupportedFormatError,
  VaultError,
} from "../../errors.ts";
import { openInside } from "./_file.ts";
import { ELEMENT_BYTES, fillBytes, fillRaw } from "./_fill.ts";
import {
  type BytesDecoder,
  bytesDecoder,
  decodeBytes,
  parseShardIndex,
  type ShardIndex,
} from "./_codecs.ts";

/**
 * Largest decoded chunk (or inner chunk, or shard index) a read decodes by
 * default: 512 MiB. A larger chunk is refused before it is read.
 *
 * @example
 * ```ts
 * import { MAX_CHUNK_BYTES } from "./zarr.ts";
 * console.assert(MAX_CHUNK_BYTES === 2 ** 29);
 * ```
 */
export const MAX_CHUNK_BYTES = 512 * 1024 * 1024;
/**
 * Largest selection one read returns by default: 2 GiB. A larger one is
 * refused before anything is allocated.
 *
 * @example
 * ```ts
 * import { MAX_SELECTION_BYTES } from "./zarr.ts";
 * console.assert(MAX_SELECTION_BYTES === 2 ** 31);
 * ```
 */
export const MAX_SELECTION_BYTES = 2 * 1024 * 1024 * 1024;
/** Largest metadata file read (zarr.json, .zarray): 16 MiB. */
const MAX_METADATA_BYTES = 16 * 1024 * 1024;

type Json = Record<string, unknown>;

/** Limits and observers of one read. */
export interface ReadLimits {
  /** Most bytes one decoded chunk may have. */
  maxChunkBytes: number;
  /** Most bytes the selection may have. */
  maxBytes: number;
  /** Chunks read and decoded at once. */
  concurrency: number;
  onRead?: (key: string, byteLength: number) => void;
}

/** A parsed metadata document and the file it came from. */
export interface MetaDoc {
  file: "zarr.json" | ".zarray";
  doc: Json;
}

const V2_DTYPES: Record<string, string> = {
  b1: "bool",
  i1: "int8",
  u1: "uint8",
  i2: "int16",
  u2: "uint16",
  i4: "int32",
  u4: "uint32",
  i8: "int64",
  u8: "uint64",
  f2: "float16",
  f4: "float32",
  f8: "float64",
};

/** A v2 dtype string (`<f4`) as its v3 name, or the string as it is. */
export function v2DType(dtype: string): string {
  return V2_DTYPES[dtype.slice(1)] ?? dtype;
}

/**
 * Reads and parses the array's metadata file (zarr.json, else .zarray).
 * Integers are parsed from their source text where JSON numbers would lose
 * digits (a uint64 fill value).
 */
export async function readMetaDoc(
  path: string,
  root: string,
  onRead?: (key: string, n: number) => void,
): Promise<MetaDoc> {
  for (const file of ["zarr.json", ".zarray"] as const) {
    const bytes = await readWhole(path, root, file, MAX_METADATA_BYTES);
    if (!bytes) continue;
    onRead?.(file, bytes.byteLength);
    let doc: unknown;
    try {
      doc = JSON.parse(
        new TextDecoder().decode(bytes),
        function (_key, value, context?: { source?: string }) {
          return typeof value === "number" && !Number.isSafeInteger(value) &&
              context?.source && /^-?\d+$/.test(context.source)
            ? context.source
            : value;
        },
      );
    } catch (e) {
      throw corruptMeta(path, file, "is not valid JSON", e);
    }
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
      throw corruptMeta(path, file, "is not a map");
    }
    return { file, doc: doc as Json };
  }
  throw new NotFoundError(
    `No tensor at "${path}": expected a Zarr array folder (zarr.json or .zarray): check the name in the manifest's artifacts`,
  );
}

export function corruptMeta(
  path: string,
  file: string,
  why: string,
  cause?: unknown,
): CorruptFileError {
  return new CorruptFileError(
    `Cannot read tensor "${path}": ${file} ${why}: the array is damaged; restore it or re-run its specimen`,
    { cause },
  );
}

async function readWhole(
  path: string,
  root: string,
  key: string,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  const opened = await openInside(path, root, key);
  if (!opened) return undefined;
  using file = opened.file;
  if (opened.size > maxBytes) {
    throw new UnsupportedFormatError(
      `Cannot read tensor "${path}": ${key} has ${opened.size} bytes, more than the reader's limit of ${maxBytes}`,
    );
  }
  return await readExactly(file, 0, opened.size);
}

async function readExactly(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  if (offset) await file.seek(offset, Deno.SeekMode.Start);
  let at = 0;
  while (at < length) {
    const n = await file.read(out.subarray(at));
    if (n === null) break;
    at += n;
  }
  if (at < length) {
    throw new Error(
      `it ends at byte ${offset + at}, expected ${offset + length}`,
    );
  }
  return out;
}

// ---------------------------------------------------------------------------
// Plans

/** How to turn one stored chunk's bytes into C-order little-endian values. */
interface Chain {
  /** Axis order of the stored array (a transpose codec, v2 order "F"). */
  order?: number[];
  bigEndian: boolean;
  decoders: BytesDecoder[];
  shard?: ShardSpec;
}

interface ShardSpec {
  inner: number[];
  /** Inner chunks per shard, per axis. */
  perShard: number[];
  chain: Chain;
  indexBytes: number;
  indexCrc: boolean;
  location: "start" | "end";
}

/** Everything a read needs, from the metadata. */
export interface Plan {
  path: string;
  root: string;
  format: 2 | 3;
  shape: number[];
  dtype: string;
  /** The shape of the unit read and decoded: the inner chunk when sharded. */
  unit: number[];
  /** The chunk (or shard) shape of the grid. */
  chunks: number[];
  fill: Uint8Array;
  chain: Chain;
  /** The store key of the chunk (or shard) at grid `coords`. */
  keyOf: (coords: number[]) => string;
}

function unsupported(path: string, what: string): UnsupportedFormatError {
  return new UnsupportedFormatError(
    `Cannot read tensor "${path}": ${what}; the vault reads ${
      Object.keys(ELEMENT_BYTES).join(", ")
    } with codecs bytes, transpose, sharding_indexed, zstd, gzip, zlib, blosc, lz4 and crc32c: convert the array with zarr-python or tensorstore`,
  );
}

/** One chunk size per axis, positive except on an axis of length 0. */
function chunksFit(chunks: number[], shape: number[]): boolean {
  return chunks.length === shape.length &&
    chunks.every((n, i) => n >= 1 || shape[i] === 0);
}

function isDims(value: unknown): value is number[] {
  return Array.isArray(value) &&
    value.every((n) => Number.isSafeInteger(n) && n >= 0);
}

/** Builds the read plan; refuses what the reader does not support. */
export function planOf(path: string, root: string, meta: MetaDoc): Plan {
  const { file, doc } = meta;
  const corrupt = (why: string) => corruptMeta(path, file, why);
  if (file === "zarr.json") {
    if (doc.node_type === "group") {
      throw new NotFoundError(
        `No tensor at "${path}": it is a Zarr group, not an array: name one of its arrays`,
      );
    }
    const grid = doc.chunk_grid as Json | undefined;
    const chunks = (grid?.configuration as Json | undefined)?.chunk_shape;
    if (
      !isDims(doc.shape) || typeof doc.data_type !== "string" ||
      !isDims(chunks) || !Array.isArray(doc.codecs)
    ) {
      throw corrupt("lacks shape, data_type, chunk_grid or codecs");
    }
    if (grid?.name !== "regular") {
      throw unsupported(path, `chunk grid "${String(grid?.name)}"`);
    }
    const shape = doc.shape;
    if (!chunksFit(chunks, shape)) {
      throw corrupt(
        `has chunk_shape ${JSON.stringify(chunks)} for shape ${
          JSON.stringify(shape)
        }`,
      );
    }
    const dtype = doc.data_type;
    if (!(dtype in ELEMENT_BYTES)) {
      throw unsupported(path, `data type "${dtype}" is not supported`);
    }
    // A chunk size of 0 (zarr-python 2 on an empty axis) reads nothing.
    const grid1 = chunks.map((n) => Math.max(1, n));
    const chain = chainOf(path, doc.codecs as Json[], grid1, corrupt);
    const encoding = doc.chunk_key_encoding as Json | undefined;
    const v2Keys = encoding?.name === "v2";
    const sep = ((encoding?.configuration as Json)?.separator as string) ??
      (v2Keys ? "." : "/");
    return {
      path,
      root,
      format: 3,
      shape,
      dtype,
      chunks: grid1,
      unit: chain.shard?.inner ?? grid1,
      fill: fillBytes(dtype, doc.fill_value, `Cannot read tensor "${path}"`),
      chain,
      keyOf: v2Keys ? (c) => c.join(sep) || "0" : (c) => ["c", ...c].join(sep),
    };
  }
  if (
    !isDims(doc.shape) || !isDims(doc.chunks) || typeof doc.dtype !== "string"
  ) {
    throw corrupt("lacks shape, chunks or dtype");
  }
  const shape = doc.shape;
  const chunks = doc.chunks.map((n) => Math.max(1, n));
  if (!chunksFit(doc.chunks, shape)) {
    throw corrupt(
      `has chunks ${JSON.stringify(chunks)} for shape ${JSON.stringify(shape)}`,
    );
  }
  const dtype = v2DType(doc.dtype);
  if (!(dtype in ELEMENT_BYTES)) {
    throw unsupported(path, `data type "${doc.dtype}" is not supported`);
  }
  const filters = (doc.filters ?? []) as Json[];
  if (filters.length) {
    throw unsupported(
      path,
      `filters ${
        filters.map((f) => `"${String(f?.id)}"`).join(", ")
      } are not supported`,
    );
  }
  const compressor = doc.compressor as Json | null;
  const decoders: BytesDecoder[] = [];
  if (compressor) {
    const id = String(compressor.id);
    const name = id === "numcodecs.zstd" ? "zstd" : id;
    try {
      decoders.push(bytesDecoder(name, compressor));
    } catch (e) {
      if (e instanceof UnsupportedFormatError) {
        throw unsupported(path, `compressor "${id}" is not supported`);
      }
      throw e;
    }
  }
  const sep = (doc.dimension_separator as string) ?? ".";
  return {
    path,
    root,
    format: 2,
    shape,
    dtype,
    chunks,
    unit: chunks,
    fill: fillBytes(dtype, doc.fill_value, `Cannot read tensor "${path}"`),
    chain: {
      order: doc.order === "F"
        ? shape.map((_, i) => shape.length - 1 - i)
        : undefined,
      bigEndian: doc.dtype.startsWith(">"),
      decoders,
    },
    keyOf: (c) => c.join(sep) || "0",
  };
}

function chainOf(
  path: string,
  codecs: Json[],
  chunkShape: number[],
  corrupt: (why: string) => Error,
): Chain {
  const chain: Chain = { bigEndian: false, decoders: [] };
  let stage: "array" | "bytes" = "array";
  for (const codec of codecs) {
    const name = String(codec?.name);
    const config = (codec?.configuration ?? {}) as Json;
    if (stage === "array" && name === "transpose") {
      const order = config.order;
      const n = chunkShape.length;
      if (
        !Array.isArray(order) || order.length !== n ||
        [...order].sort((a, b) => a - b).some((v, i) => v !== i)
      ) {
        throw corrupt(`has transpose order ${JSON.stringify(order)}`);
      }
      // Two transposes compose.
      chain.order = chain.order
        ? order.map((a: number) => chain.order![a])
        : order as number[];
      continue;
    }
    if (stage === "array" && name === "bytes") {
      chain.bigEndian = config.endian === "big";
      stage = "bytes";
      continue;
    }
    if (stage === "array" && name === "sharding_indexed") {
      chain.shard = shardOf(path, config, chunkShape, corrupt);
      stage = "bytes";
      continue;
    }
    if (stage === "array") {
      throw corrupt(
        `has codec "${name}" where an array→bytes codec (bytes or sharding_indexed) belongs`,
      );
    }
    try {
      chain.decoders.push(bytesDecoder(name, config));
    } catch (e) {
      if (e instanceof UnsupportedFormatError) {
        throw unsupported(path, `codec "${name}" is not supported`);
      }
      throw e;
    }
  }
  if (stage === "array") throw corrupt("has no bytes codec");
  return chain;
}

function shardOf(
  path: string,
  config: Json,
  shardShape: number[],
  corrupt: (why: string) => Error,
): ShardSpec {
  const inner = config.chunk_shape;
  if (
    !isDims(inner) || inner.length !== shardShape.length ||
    inner.some((n, i) => n < 1 || shardShape[i] % n !== 0)
  ) {
    throw corrupt(
      `has sharding chunk_shape ${
        JSON.stringify(inner)
      }, which must divide the shard shape ${JSON.stringify(shardShape)}`,
    );
  }
  const location = config.index_location ?? "end";
  if (location !== "start" && location !== "end") {
    throw corrupt(
      `has index_location ${JSON.stringify(location)} (start or end)`,
    );
  }
  const indexCodecs = (config.index_codecs ?? []) as Json[];
  const names = indexCodecs.map((c) => String(c?.name));
  const indexCrc = names.length === 2 && names[1] === "crc32c";
  if (
    names[0] !== "bytes" || names.length > 2 ||
    (names.length === 2 && !indexCrc) ||
    (indexCodecs[0].configuration as Json | undefined)?.endian === "big"
  ) {
    throw unsupported(
      path,
      `shard index codecs ${
        JSON.stringify(names)
      } are not supported (bytes little endian, then optionally crc32c)`,
    );
  }
  const perShard = shardShape.map((n, i) => n / inner[i]);
  const entries = perShard.reduce((a, b) => a * b, 1);
  return {
    inner,
    perShard,
    chain: chainOf(path, (config.codecs ?? []) as Json[], inner, corrupt),
    indexBytes: entries * 16 + (indexCrc ? 4 : 0),
    indexCrc,
    location,
  };
}

// ---------------------------------------------------------------------------
// Reading

function product(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Calls `fn` for every index vector in the box `[lo, hi)` (C order). */
function* box(lo: number[], hi: number[]): Generator<number[]> {
  if (lo.some((l, i) => l >= hi[i])) return;
  const at = lo.slice();
  while (true) {
    yield at.slice();
    let axis = at.length - 1;
    for (; axis >= 0; axis--) {
      if (++at[axis] < hi[axis]) break;
      at[axis] = lo[axis];
    }
    if (axis < 0) return;
  }
}

/**
 * Copies the box `count` from `src` (shape `srcShape`, at `srcAt`) into
 * `dst` (shape `dstShape`, at `dstAt`); raw bytes, `size` per element.
 */
function copyBox(
  src: Uint8Array,
  srcShape: number[],
  srcAt: number[],
  dst: Uint8Array,
  dstShape: number[],
  dstAt: number[],
  count: number[],
  size: number,
): void {
  // Trailing axes taken whole on both sides are one contiguous run.
  let n = count.length;
  while (
    n > 1 && count[n - 1] === srcShape[n - 1] &&
    count[n - 1] === dstShape[n - 1]
  ) {
    size *= count[n - 1];
    n--;
  }
  if (n < count.length) {
    srcShape = srcShape.slice(0, n);
    dstShape = dstShape.slice(0, n);
    srcAt = srcAt.slice(0, n);
    dstAt = dstAt.slice(0, n);
    count = count.slice(0, n);
  }
  if (n === 0) {
    dst.set(src.subarray(0, size));
    return;
  }
  const srcStride = strides(srcShape, size);
  const dstStride = strides(dstShape, size);
  const run = count[n - 1] * size;
  const outer = count.slice(0, -1);
  for (const idx of box(outer.map(() => 0), outer)) {
    let s = srcAt[n - 1] * size, d = dstAt[n - 1] * size;
    for (let j = 0; j < n - 1; j++) {
      s += (srcAt[j] + idx[j]) * srcStride[j];
      d += (dstAt[j] + idx[j]) * dstStride[j];
    }
    dst.set(src.subarray(s, s + run), d);
  }
}

function strides(shape: number[], size: number): number[] {
  const out = new Array<number>(shape.length);
  let step = size;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = step;
    step *= shape[i];
  }
  return out;
}

/** Stored axis order → C order of `shape` (raw bytes). */
function untranspose(
  raw: Uint8Array,
  shape: number[],
  order: number[],
  size: number,
): Uint8Array {
  if (order.every((a, i) => a === i)) return raw;
  const stored = order.map((a) => shape[a]);
  const storedStride = strides(stored, size);
  // The stride, in the stored bytes, of each axis of `shape`.
  const stride = new Array<number>(shape.length);
  order.forEach((a, j) => stride[a] = storedStride[j]);
  const out = new Uint8Array(raw.length);
  let o = 0;
  for (const idx of box(shape.map(() => 0), shape)) {
    let s = 0;
    for (let j = 0; j < idx.length; j++) s += idx[j] * stride[j];
    for (let b = 0; b < size; b++) out[o++] = raw[s + b];
  }
  return out;
}

function swapBytes(raw: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < raw.length; i += size) {
    raw.subarray(i, i + size).reverse();
  }
}

/** A per-read cache of shard indexes, keyed by shard file. */
type ShardCache = Map<string, Promise<ShardIndex | undefined>>;

class ChunkReader {
  #plan: Plan;
  #limits: ReadLimits;
  #size: number;
  #shards: ShardCache = new Map();

  constructor(plan: Plan, limits: ReadLimits) {
    this.#plan = plan;
    this.#limits = limits;
    this.#size = ELEMENT_BYTES[plan.dtype];
  }

  #where(): string {
    return `Cannot read tensor "${this.#plan.path}"`;
  }

  #damaged(key: string, why: string, cause?: unknown): CorruptFileError {
    return new CorruptFileError(
      `${this.#where()}: chunk "${key}" ${why}: the file is damaged; restore it or re-run its specimen`,
      { cause },
    );
  }

  #checkSize(bytes: number, what: string): void {
    if (bytes > this.#limits.maxChunkBytes) {
      throw new UnsupportedFormatError(
        `${this.#where()}: ${what} decodes to ${bytes} bytes, more than the reader's limit of ${this.#limits.maxChunkBytes} bytes per chunk: rechunk the array into smaller chunks`,
      );
    }
  }

  /** The decoded C-order bytes of read unit `coords`, or undefined (fill). */
  async unit(coords: number[]): Promise<Uint8Array | undefined> {
    const { chain, unit, keyOf } = this.#plan;
    const expected = product(unit) * this.#size;
    if (!chain.shard) {
      const key = keyOf(coords);
      const bytes = await this.#read(key);
      if (!bytes) return undefined;
      this.#checkSize(expected, `chunk "${key}"`);
      return await this.#decode(bytes, chain, unit, expected, key);
    }
    const shard = chain.shard;
    const shardCoords = coords.map((c, i) => Math.floor(c / shard.perShard[i]));
    const key = keyOf(shardCoords);
    const index = await this.#index(key, shard);
    if (!index) return undefined;
    const local = coords.map((c, i) => c % shard.perShard[i]);
    let entry = 0;
    for (let i = 0; i < local.length; i++) {
      entry = entry * shard.perShard[i] + local[i];
    }
    const offset = index.offsets[entry];
    if (offset < 0) return undefined;
    const name = `${key} (inner chunk [${local.join(",")}])`;
    this.#checkSize(expected, `inner chunk [${local.join(",")}] of "${key}"`);
    const bytes = await this.#read(key, offset, index.lengths[entry]);
    if (!bytes) throw this.#damaged(key, "disappeared during the read");
    return await this.#decode(bytes, shard.chain, unit, expected, name);
  }

  async #decode(
    bytes: Uint8Array,
    chain: Chain,
    shape: number[],
    expected: number,
    key: string,
  ): Promise<Uint8Array> {
    let raw: Uint8Array;
    try {
      raw = await decodeBytes(bytes, chain.decoders, expected);
    } catch (e) {
      if (e instanceof VaultError) throw e;
      throw this.#damaged(
        key,
        `does not decode (${(e as Error).message})`,
        e,
      );
    }
    if (chain.bigEndian) {
      if (raw === bytes) raw = raw.slice();
      swapBytes(raw, this.#size);
    }
    if (chain.order) raw = untranspose(raw, shape, chain.order, this.#size);
    return raw;
  }

  #index(key: string, shard: ShardSpec): Promise<ShardIndex | undefined> {
    let cached = this.#shards.get(key);
    if (!cached) {
      cached = this.#readIndex(key, shard);
      this.#shards.set(key, cached);
    }
    return cached;
  }

  async #readIndex(
    key: string,
    shard: ShardSpec,
  ): Promise<ShardIndex | undefined> {
    const { path, root } = this.#plan;
    const opened = await openInside(path, root, key);
    if (!opened) return undefined;
    try {
      this.#checkSize(shard.indexBytes, `the shard index of "${key}"`);
    } catch (e) {
      opened.file.close();
      throw e;
    }
    using file = opened.file;
    const size = opened.size;
    const damaged = (why: string, cause?: unknown) =>
      new CorruptFileError(
        `${this.#where()}: shard "${key}" ${why}: the file is damaged; restore it or re-run its specimen`,
        { cause },
      );
    if (size < shard.indexBytes) {
      throw damaged(
        `has ${size} bytes, fewer than its ${shard.indexBytes}-byte index (index at the ${shard.location})`,
      );
    }
    const at = shard.location === "start" ? 0 : size - shard.indexBytes;
    let raw: Uint8Array;
    try {
      raw = await readExactly(file, at, shard.indexBytes);
    } catch (e) {
      throw damaged(`cannot be read (${(e as Error).message})`, e);
    }
    this.#limits.onRead?.(key, raw.byteLength);
    if (shard.indexCrc) {
      try {
        raw = await decodeBytes(
          raw,
          [bytesDecoder("crc32c", {})],
          shard.indexBytes - 4,
        );
      } catch (e) {
        throw damaged(`has a bad index: ${(e as Error).message}`, e);
      }
    }
    const perShard = shard.perShard;
    const describe = (i: number) => {
      const c: number[] = [];
      for (let j = perShard.length - 1; j >= 0; j--) {
        c.unshift(i % perShard[j]);
        i = Math.floor(i / perShard[j]);
      }
      return `[${c.join(",")}]`;
    };
    try {
      return parseShardIndex(
        raw,
        product(perShard),
        size,
        shard.indexBytes,
        shard.location,
        describe,
      );
    } catch (e) {
      if (e instanceof CorruptFileError) throw damaged(e.message, e);
      throw e;
    }
  }

  async #read(
    key: string,
    offset = 0,
    length?: number,
  ): Promise<Uint8Array | undefined> {
    const { path, root } = this.#plan;
    const opened = await openInside(path, root, key);
    if (!opened) return undefined;
    using file = opened.file;
    const n = length ?? opened.size;
    // An encoded chunk far larger than its decoded size is not a chunk.
    const bound = this.#limits.maxChunkBytes + 65536;
    if (n > bound) {
      throw new UnsupportedFormatError(
        `${this.#where()}: chunk "${key}" has ${n} bytes on disk, more than the reader's limit of ${bound}: rechunk the array into smaller chunks`,
      );
    }
    let bytes: Uint8Array;
    try {
      bytes = await readExactly(file, offset, n);
    } catch (e) {
      throw this.#damaged(key, `cannot be read (${(e as Error).message})`, e);
    }
    this.#limits.onRead?.(key, bytes.byteLength);
    return bytes;
  }
}

/**
 * Reads the box `ranges` (`[start, stop)` per axis) of the planned array as
 * raw C-order little-endian bytes.
 */
export async function readBox(
  plan: Plan,
  ranges: [number, number][],
  limits: ReadLimits,
): Promise<Uint8Array> {
  const size = ELEMENT_BYTES[plan.dtype];
  const outShape = ranges.map(([a, b]) => b - a);
  const elements = product(outShape);
  if (elements * size > limits.maxBytes) {
    throw new InvalidInputError(
      `Cannot read tensor "${plan.path}": the selection [${
        ranges.map(([a, b]) => `${a}:${b}`).join(", ")
      }] holds ${elements} values (${
        elements * size
      } bytes), more than the limit of ${limits.maxBytes} bytes per read: read it in slices`,
    );
  }
  const out = new Uint8Array(elements * size);
  if (elements === 0) return out;
  // Unwritten chunks keep this.
  if (plan.fill.some((b) => b !== 0)) fillRaw(out, plan.fill);
  const unit = plan.unit;
  const reader = new ChunkReader(plan, limits);
  const lo = ranges.map(([a], i) => Math.floor(a / unit[i]));
  const hi = ranges.map(([, b], i) => Math.floor((b - 1) / unit[i]) + 1);
  const units = box(lo, hi);
  let failed = false;
  const worker = async () => {
    for (let next = units.next(); !next.done && !failed; next = units.next()) {
      const coords = next.value;
      const raw = await reader.unit(coords);
      if (!raw) continue;
      const srcAt: number[] = [], dstAt: number[] = [], count: number[] = [];
      coords.forEach((c, i) => {
        const first = Math.max(ranges[i][0], c * unit[i]);
        const last = Math.min(ranges[i][1], (c + 1) * unit[i]);
        srcAt.push(first - c * unit[i]);
        dstAt.push(first - ranges[i][0]);
        count.push(last - first);
      });
      copyBox(raw, unit, srcAt, out, outShape, dstAt, count, size);
    }
  };
  await Promise.all(
    Array.from(
      { length: Math.max(1, limits.concurrency) },
      () =>
        worker().catch((e) => {
          failed = true;
          throw e;
        }),
    ),
  );
  return out;
}

/** The array folder's key for a file, as a path. */
export function keyPath(path: string, key: string): string {
  return join(path, ...key.split("/"));
}

/**
 * Turns an array's metadata into a read plan: shape, data type, fill value,
 * chunk keys and the codec chain of each chunk; refuses what the reader does
 * not support.
 *
 * @module
 */
import { NotFoundError, UnsupportedFormatError } from "../../errors.ts";
import { type BytesDecoder, bytesDecoder } from "./_codecs.ts";
import { ELEMENT_BYTES, fillBytes } from "./_fill.ts";
import { corruptMeta, type Json, type MetaDoc, v2DType } from "./_meta.ts";

/** How to turn one stored chunk's bytes into C-order little-endian values. */
export interface Chain {
  /** Axis order of the stored array (a transpose codec, v2 order "F"). */
  order?: number[];
  bigEndian: boolean;
  decoders: BytesDecoder[];
  shard?: ShardSpec;
}

export interface ShardSpec {
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
  return file === "zarr.json"
    ? planV3(path, root, doc, corrupt)
    : planV2(path, root, doc, corrupt);
}

/** The plan of a v3 array (zarr.json). */
function planV3(
  path: string,
  root: string,
  doc: Json,
  corrupt: (why: string) => Error,
): Plan {
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

/** The plan of a v2 array (.zarray), as zarr-python 2 wrote it. */
function planV2(
  path: string,
  root: string,
  doc: Json,
  corrupt: (why: string) => Error,
): Plan {
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

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
  UnsupportedFormatError,
  VaultError,
} from "../../errors.ts";
import { openInside } from "./_file.ts";
import { ELEMENT_BYTES, fillRaw } from "./_fill.ts";
import {
  bytesDecoder,
  decodeBytes,
  parseShardIndex,
  type ShardIndex,
} from "./_codecs.ts";
import { box, copyBox, product, swapBytes, untranspose } from "./_copy.ts";
import { readExactly } from "./_meta.ts";
import type { Chain, Plan, ShardSpec } from "./_plan.ts";

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

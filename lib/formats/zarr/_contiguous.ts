/**
 * The contiguous layout: chunks that are runs of the C-order data, cut from
 * each block as it arrives (whole chunks straight from the caller's memory,
 * partial ones gathered in a buffer).
 *
 * @module
 */
import { CTORS, LITTLE_ENDIAN, product } from "./_dtypes.ts";
import type { ChunkPool } from "./_chunk_pool.ts";
import type { Spec } from "./_spec.ts";

export /**
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

export function contiguousLayout(spec: Spec): ContiguousLayout | null {
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

/** Cuts the rows of a contiguous layout into chunks, in order. */
export class ContiguousChunker {
  #spec: Spec;
  #layout: ContiguousLayout;
  #pool: ChunkPool;
  // The next chunk's coordinates and its partial bytes.
  #coords: number[];
  #pending: Uint8Array | null = null;
  #filled = 0;
  #free: Uint8Array[] = [];

  constructor(spec: Spec, layout: ContiguousLayout, pool: ChunkPool) {
    this.#spec = spec;
    this.#layout = layout;
    this.#pool = pool;
    this.#coords = new Array(spec.shape.length).fill(0);
  }

  /** Takes whole rows; chunks written from `bytes` are done on return. */
  write(bytes: Uint8Array): Promise<void> {
    return this.#writeContiguous(bytes, this.#layout);
  }

  /** Nothing is left over: the last chunk completes with the last row. */
  finish(): Promise<void> {
    return Promise.resolve();
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
          const { done } = await this.#pool.submit(
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
          const { done } = await this.#pool.submit(this.#chunkKey(), chunk);
          done.then(() => this.#free.push(chunk));
          this.#advance(layout);
        }
      }
    } finally {
      await Promise.all(borrowed);
    }
    this.#pool.throwIfFailed();
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
}

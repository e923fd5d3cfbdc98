/**
 * The writer behind `createZarrWriter`: checks each block, then writes the
 * chunks of the contiguous layout itself and hands other layouts to zarrita.
 *
 * @module
 */
import * as zarr from "zarrita";
import { dirname, join } from "../../_deps.ts";
import { placeDir } from "../../_fs.ts";
import { InvalidInputError } from "../../errors.ts";
import {
  bytesOf,
  cStrides,
  CTORS,
  describe,
  fits,
  LITTLE_ENDIAN,
  notBool,
  product,
} from "./_dtypes.ts";
import { codecsFor, immutable, type Spec } from "./_spec.ts";
import { boundedQueue, type ObservedStore } from "./_store.ts";
import type { TensorData, TensorInfo, ZarrWriter } from "./types.ts";
import { compressZstd } from "./zstd.ts";

/** Chunks encoded and written at the same time (2 cores, async zstd). */
const WRITES_IN_FLIGHT = 4;

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

export class Writer implements ZarrWriter {
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

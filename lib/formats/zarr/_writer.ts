/**
 * The writer behind `createZarrWriter`: checks each block, then writes the
 * chunks of the contiguous layout itself and hands other layouts to zarrita.
 *
 * @module
 */
import type { zarr } from "../../_deps/zarrita.ts";
import { placeDir } from "../../_fs.ts";
import { InvalidInputError } from "../../errors.ts";
import { BandWriter } from "./_bands.ts";
import { ChunkPool } from "./_chunk_pool.ts";
import { ContiguousChunker, contiguousLayout } from "./_contiguous.ts";
import { bytesOf, CTORS, describe, fits, notBool, product } from "./_dtypes.ts";
import { codecsFor, immutable, type Spec } from "./_spec.ts";
import type { ObservedStore } from "./_store.ts";
import type { TensorData, TensorInfo, ZarrWriter } from "./types.ts";

/** Checks each block, hands its rows on, and moves the array into place. */
export class Writer implements ZarrWriter {
  #spec: Spec;
  #tmp: string;
  #store: ObservedStore;
  #rowBytes: number;
  #rowsWritten = 0;
  #state: "open" | "closed" | "aborted" = "open";
  #queue: Promise<unknown> = Promise.resolve();
  #pool: ChunkPool;
  #chunker: ContiguousChunker | BandWriter;

  constructor(
    spec: Spec,
    tmp: string,
    store: ObservedStore,
    array: zarr.Array<zarr.DataType, ObservedStore>,
  ) {
    this.#spec = spec;
    this.#tmp = tmp;
    this.#store = store;
    this.#rowBytes = product(spec.shape.slice(1)) *
      CTORS[spec.dtype].BYTES_PER_ELEMENT;
    this.#pool = new ChunkPool(spec, tmp, store);
    const layout = contiguousLayout(spec);
    this.#chunker = layout
      ? new ContiguousChunker(spec, layout, this.#pool)
      : new BandWriter(spec, array, this.#rowBytes, this.#pool);
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
    await this.#pool.settle();
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

  async #write(block: TensorData): Promise<void> {
    if (this.#state !== "open") {
      throw this.#fail(`the writer is already ${this.#state}`);
    }
    this.#pool.throwIfFailed();
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
    await this.#chunker.write(bytes);
  }

  async #close(): Promise<TensorInfo> {
    if (this.#state !== "open") {
      throw this.#fail(`the writer is already ${this.#state}`);
    }
    this.#pool.throwIfFailed();
    const expected = this.#spec.shape[0];
    if (this.#rowsWritten !== expected) {
      throw this.#fail(
        `expected ${expected} rows, ${this.#rowsWritten} written: write the missing rows before close(), or abort()`,
      );
    }
    await this.#chunker.finish();
    await this.#pool.settle();
    this.#pool.throwIfFailed();
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

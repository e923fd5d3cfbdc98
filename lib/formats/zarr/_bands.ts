/**
 * Other layouts: bands of whole chunk rows handed to zarrita's `set`.
 *
 * @module
 */
import { zarr } from "../../_deps/zarrita.ts";
import { cStrides, CTORS } from "./_dtypes.ts";
import { type ChunkPool, WRITES_IN_FLIGHT } from "./_chunk_pool.ts";
import type { Spec } from "./_spec.ts";
import { boundedQueue, type ObservedStore } from "./_store.ts";

/** Gathers rows into bands of whole chunk rows and stores each through zarrita. */
export class BandWriter {
  #spec: Spec;
  #array: zarr.Array<zarr.DataType, ObservedStore>;
  #rowBytes: number;
  #pool: ChunkPool;
  #band: Uint8Array | null = null;
  #bandFilled = 0;
  #rowsStored = 0;

  constructor(
    spec: Spec,
    array: zarr.Array<zarr.DataType, ObservedStore>,
    rowBytes: number,
    pool: ChunkPool,
  ) {
    this.#spec = spec;
    this.#array = array;
    this.#rowBytes = rowBytes;
    this.#pool = pool;
  }

  /** Takes whole rows; stores every band they complete. */
  write(bytes: Uint8Array): Promise<void> {
    return this.#writeBands(bytes, false);
  }

  /** Stores the last, partial band. */
  finish(): Promise<void> {
    return this.#writeBands(new Uint8Array(0), true);
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
      this.#pool.error ??= e;
      throw e;
    }
    this.#rowsStored += rows;
  }
}

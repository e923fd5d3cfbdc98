/**
 * Encodes and writes chunks into the temp folder, a few at a time, and keeps
 * the first failure for the writer to report.
 *
 * @module
 */
import { dirname, join } from "../../_deps.ts";
import type { Spec } from "./_spec.ts";
import type { ObservedStore } from "./_store.ts";
import { compressZstd } from "./zstd.ts";

/** Chunks encoded and written at the same time (2 cores, async zstd). */
export const WRITES_IN_FLIGHT = 4;

/** The chunks being encoded and written, and the first error among them. */
export class ChunkPool {
  /** The first failure of a chunk write (or of zarrita's writes). */
  error: unknown = undefined;
  #spec: Spec;
  #tmp: string;
  #store: ObservedStore;
  #inflight = new Set<Promise<void>>();
  #dirs = new Map<string, Promise<void>>();

  constructor(spec: Spec, tmp: string, store: ObservedStore) {
    this.#spec = spec;
    this.#tmp = tmp;
    this.#store = store;
  }

  throwIfFailed(): void {
    if (this.error !== undefined) throw this.error;
  }

  /** Waits for every chunk in flight to settle. */
  async settle(): Promise<void> {
    await Promise.all(this.#inflight);
  }

  /**
   * Waits for a free slot, then starts encoding and writing one chunk;
   * `done` settles (never rejects) when the chunk is on disk.
   */
  async submit(
    key: string,
    chunk: Uint8Array,
  ): Promise<{ done: Promise<void> }> {
    while (this.#inflight.size >= WRITES_IN_FLIGHT) {
      await Promise.race(this.#inflight);
    }
    this.throwIfFailed();
    const done: Promise<void> = this.#writeChunk(key, chunk)
      .catch((e) => {
        this.error ??= e;
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
}

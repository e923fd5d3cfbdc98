/**
 * The store zarrita writes metadata through, and its bounded chunk queue.
 *
 * @module
 */
import type { zarr } from "../../_deps/zarrita.ts";
import { FileSystemStore } from "../../_deps/zarrita_storage.ts";

const METADATA_FILES = new Set(["/zarr.json", "/.zarray", "/.zattrs"]);

/**
 * A FileSystemStore that reports reads, keeps the (small) metadata files it
 * read so zarrita does not read them again, and remembers the size of each
 * write.
 */
export class ObservedStore {
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
export function boundedQueue(limit: number) {
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

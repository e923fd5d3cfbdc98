/**
 * The decode worker's entry point (see `_pool.ts`): decodes one column's
 * chunks, given as bytes, to raw values on the fast path and sends them
 * back as transferred buffers. It reads no file and keeps no state.
 *
 * @module
 */
import { parentPort } from "../../_deps.ts";
import type { FileMetaData, SchemaElement } from "../../_deps/hyparquet.ts";
import { decodeRaw } from "./_fast.ts";

/**
 * One column to decode: its chunks' bytes, one per row group, in order.
 * Buffers travel as ArrayBuffers, never as views: Deno's node:worker_threads
 * walks a typed array in a message index by index (8 MiB: seconds).
 */
export interface WorkerRequest {
  id: number;
  /**
   * One Int32 slot per column of the read: 0 open, 1 taken here, 2 taken
   * back by the reading thread (which got to it first: then this skips it).
   */
  claims: SharedArrayBuffer;
  slot: number;
  el: SchemaElement;
  metadata: FileMetaData;
  parts: ArrayBuffer[];
}

/** What the worker sends: that it is up, or one column's result. */
export type WorkerReply =
  | { ready: true }
  | { id: number; data: ArrayBuffer; defined?: ArrayBuffer; nulls: number }
  | { id: number; error: string }
  | { id: number; skipped: true };

// Imported outside a worker (a type check, a doc tool): nothing to serve.
if (parentPort) serve(parentPort);

function serve(port: NonNullable<typeof parentPort>): void {
  port.on("message", (request: WorkerRequest) => {
    const { id, el, metadata, parts, claims, slot } = request;
    if (Atomics.compareExchange(new Int32Array(claims), slot, 0, 1) !== 0) {
      port.postMessage({ id, skipped: true } satisfies WorkerReply);
      return;
    }
    let next = 0;
    try {
      const raw = decodeRaw(
        (start, end) => {
          const part = parts[next++];
          if (!part || part.byteLength !== end - start) {
            throw new Error("column chunk missing");
          }
          return new Uint8Array(part);
        },
        metadata,
        el,
      );
      const defined = raw.defined?.buffer as ArrayBuffer | undefined;
      port.postMessage(
        { id, data: raw.data, defined, nulls: raw.nulls } satisfies WorkerReply,
        defined ? [raw.data, defined] : [raw.data],
      );
    } catch (e) {
      port.postMessage({ id, error: String(e) } satisfies WorkerReply);
    }
  });
  port.postMessage({ ready: true } satisfies WorkerReply);
}

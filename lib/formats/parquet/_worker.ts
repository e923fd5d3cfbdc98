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
  /** Each chunk is the first `lengths[i]` bytes of `parts[i]` (reused). */
  parts: ArrayBuffer[];
  lengths: number[];
}

/**
 * What the worker sends: that it is up, or one column's result, with the
 * request's buffers given back for reuse.
 */
export type WorkerReply =
  | { ready: true }
  | { id: number; parts: ArrayBuffer[] }
    & (
      | { data: ArrayBuffer; defined?: ArrayBuffer; nulls: number }
      | { error: string }
      | { skipped: true }
    );

// Imported outside a worker (a type check, a doc tool): nothing to serve.
if (parentPort) serve(parentPort);

function serve(port: NonNullable<typeof parentPort>): void {
  port.on("message", (request: WorkerRequest) => {
    const { id, el, metadata, parts, lengths, claims, slot } = request;
    if (Atomics.compareExchange(new Int32Array(claims), slot, 0, 1) !== 0) {
      port.postMessage(
        { id, parts, skipped: true } satisfies WorkerReply,
        parts,
      );
      return;
    }
    let next = 0;
    try {
      const raw = decodeRaw(
        (start, end) => {
          const i = next++;
          if (i >= parts.length || lengths[i] !== end - start) {
            throw new Error("column chunk missing");
          }
          return new Uint8Array(parts[i], 0, lengths[i]);
        },
        metadata,
        el,
      );
      const defined = raw.defined?.buffer as ArrayBuffer | undefined;
      const reply = { id, parts, data: raw.data, defined, nulls: raw.nulls };
      port.postMessage(
        reply satisfies WorkerReply,
        [...parts, raw.data, ...defined ? [defined] : []],
      );
    } catch (e) {
      const reply = { id, parts, error: String(e) };
      port.postMessage(reply satisfies WorkerReply, parts);
    }
  });
  port.postMessage({ ready: true } satisfies WorkerReply);
}

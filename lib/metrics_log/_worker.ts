/**
 * Private: the thread that turns a {@linkcode MetricsLogger}'s buffers into
 * part files, so that `log()` never encodes or touches the disk. Parts
 * arrive in order; each is encoded as Parquet and written under a temp name,
 * then renamed to `part-<seq>.parquet`. After each rename the part's number
 * is published in shared memory (the logger reads it without waiting for a
 * message, and can block on it at exit), then acknowledged by message.
 *
 * @module
 */
import { recordChange } from "../vault_changes.ts";
import { dirname } from "../_deps/path.ts";
import { errorMessage } from "../errors.ts";
import { parentPort, workerData } from "../_deps.ts";
import { atomicWriteFile } from "../_fs.ts";
import {
  type EncodeMetricsOptions,
  encodeTypedMetrics,
  type TypedMetricColumn,
} from "../formats/parquet/parquet.ts";

/** What the logger passes when it starts the worker. */
export interface WorkerInit {
  compression: EncodeMetricsOptions["compression"];
  sync: boolean;
  /** Int32Array view: [0] last part on disk, [1] 1 once a write failed. */
  state: SharedArrayBuffer;
}

/**
 * One column of a part, as sent: values by row — numbers and bigints in a
 * shared buffer (the memory of a Float64Array / BigInt64Array) that the
 * logger does not touch again until this part is on disk — and `defined`
 * (a shared Uint8Array's memory) marking the rows with a value. Bare
 * buffers, not typed arrays: node:worker_threads walks the elements of a
 * typed array in a message one by one.
 */
export interface WireColumn {
  name: string;
  kind: "number" | "bigint" | "string" | "boolean";
  values: SharedArrayBuffer | (string | boolean | undefined)[];
  /** null when every row has a value. */
  defined: SharedArrayBuffer | null;
}

/** A message to the worker. */
export interface PartMessage {
  seq: number;
  /** Where the part goes: `<parts folder>/part-<seq>.parquet`. */
  path: string;
  rows: number;
  columns: WireColumn[];
}

/** A message from the worker. */
export type WorkerReply =
  | { type: "written"; seq: number; rows: number; bytes: number; path: string }
  | { type: "failed"; seq: number; message: string };

/** Slots of the shared state. */
export const WRITTEN = 0;
export const FAILED = 1;

if (parentPort) {
  const port = parentPort;
  const init = workerData as WorkerInit;
  const state = new Int32Array(init.state);
  // A number column is INT64 while every value so far is a whole number, and
  // DOUBLE from the first part that holds a fraction on: readers promote the
  // earlier INT64 parts (the union of INT64 and DOUBLE is DOUBLE).
  const integral = new Map<string, boolean>();
  // INT64 words of whole-number columns, reused part after part: what the
  // worker allocates per part is garbage, and garbage is resident memory
  // until the next GC.
  const scratch = new Map<string, BigInt64Array>();
  let failed = false;
  let queue = Promise.resolve();

  const write = async (part: PartMessage) => {
    if (failed) return;
    try {
      const columns = part.columns.map((c) =>
        toTyped(c, part.rows, integral, scratch)
      );
      const { bytes } = await encodeTypedMetrics(columns, part.rows, {
        compression: init.compression,
      });
      await atomicWriteFile(part.path, bytes, { sync: init.sync });
      // <specimen>/strata/<name>.parts/<part>
      recordChange(dirname(dirname(dirname(part.path))));
      Atomics.store(state, WRITTEN, part.seq);
      Atomics.notify(state, WRITTEN);
      port.postMessage(
        {
          type: "written",
          seq: part.seq,
          rows: part.rows,
          bytes: bytes.length,
          path: part.path,
        } satisfies WorkerReply,
      );
    } catch (e) {
      failed = true;
      Atomics.store(state, FAILED, 1);
      Atomics.notify(state, WRITTEN);
      port.postMessage(
        {
          type: "failed",
          seq: part.seq,
          message: errorMessage(e),
        } satisfies WorkerReply,
      );
    }
  };
  port.on("message", (part: PartMessage) => {
    queue = queue.then(() => write(part));
  });
}

function toTyped(
  c: WireColumn,
  rows: number,
  integral: Map<string, boolean>,
  scratch: Map<string, BigInt64Array>,
): TypedMetricColumn {
  const defined = c.defined ? new Uint8Array(c.defined) : undefined;
  if (c.kind === "number") {
    const values = new Float64Array(c.values as SharedArrayBuffer);
    let whole = integral.get(c.name) ?? true;
    for (let i = 0; whole && i < rows; i++) {
      if (defined && defined[i] === 0) continue;
      const v = values[i];
      // -0 is not an integer to Parquet: it would come back as 0.
      if (!Number.isSafeInteger(v) || (v === 0 && 1 / v < 0)) whole = false;
    }
    integral.set(c.name, whole);
    if (!whole) {
      return {
        name: c.name,
        type: "DOUBLE",
        values,
        defined,
        kind: "number[]",
      };
    }
    let big = scratch.get(c.name);
    if (!big || big.length < rows) {
      big = new BigInt64Array(values.length);
      scratch.set(c.name, big);
    }
    // Two's complement words, little-endian: no bigint per value.
    const words = new Int32Array(big.buffer);
    for (let i = 0; i < rows; i++) {
      const v = values[i];
      words[2 * i] = v; // ToInt32 keeps the low 32 bits
      words[2 * i + 1] = Math.floor(v / 4294967296);
    }
    return {
      name: c.name,
      type: "INT64",
      values: big.subarray(0, rows),
      defined,
      kind: "number[]",
    };
  }
  if (c.kind === "bigint") {
    return {
      name: c.name,
      type: "INT64",
      values: new BigInt64Array(c.values as SharedArrayBuffer),
      defined,
      kind: "bigint[]",
    };
  }
  return {
    name: c.name,
    type: c.kind === "string" ? "STRING" : "BOOLEAN",
    values: c.values as (string | boolean | undefined)[],
    defined,
  };
}

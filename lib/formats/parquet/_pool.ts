/**
 * The fast path on two threads: a large file's columns are split between
 * this thread and one long-lived decode worker (`_worker.ts`), which gets
 * each column chunk's bytes by transfer and hands back the raw values the
 * same way. The worker is started by the first large read and used from
 * the read after it has booted (a read never waits for it: booting takes
 * longer than decoding a file does). Once it is up, large reads go the way
 * that has been faster lately, per MiB, on this machine (one or two
 * threads: with the other core busy, one is), trying the other way one
 * read in 8. It holds the process open only while
 * a read waits on it (`ref`/`unref`), so a CLI exits as soon as its work
 * is done; it stays up otherwise (no timer: tests' sanitizers would see
 * one), ready for the next read.
 *
 * A column the worker has not begun when this thread is done with its own
 * is taken back (a shared claim slot per column), so a worker without a
 * free core delays a read by at most the column it is on. Whatever fails
 * in the worker (a corrupt page, the worker itself) sends the column back
 * to this thread's fast path, which then decides as it
 * would alone: the result and the errors are the same on either path.
 *
 * @module
 */
import { NodeWorker } from "../../_deps.ts";
import type { FileMetaData } from "../../_deps/hyparquet.ts";
import type { Leaf } from "./_columns.ts";
import {
  chunkOf,
  chunkRanges,
  type ChunkSource,
  type FastPlan,
  finishRaw,
  planFastColumns,
  type RawColumn,
  readFastColumn,
} from "./_fast.ts";
import type { WorkerReply, WorkerRequest } from "./_worker.ts";
import type { ReadColumn } from "./types.ts";

/**
 * Below this many bytes of column data (uncompressed, all columns: 16 MiB
 * is 500k rows of 4 numbers), a file is decoded on this thread alone:
 * handing columns over costs a message round trip and fresh buffers, and
 * on a busy machine the second core is not free. At 300k rows × 4 the
 * worker lost, at 1M × 4 it won (a shared, loaded 2-core machine).
 */
export const WORKER_MIN_BYTES = 16 << 20;

/**
 * Whether a read may use the worker: `"auto"` above
 * {@linkcode WORKER_MIN_BYTES} once it is up, `"always"` waits for it and
 * uses it for any file of two columns or more (tests), `"never"` not.
 */
export type WorkerMode = "auto" | "always" | "never";

/**
 * Since the process started: columns the worker decoded, reads that gave
 * it columns, columns taken back from it, and worker starts (for tests).
 */
export const workerStats = { columns: 0, reads: 0, takenBack: 0, starts: 0 };

interface Pool {
  worker: InstanceType<typeof NodeWorker>;
  ready: Promise<boolean>;
  isReady: boolean;
  pending: Map<number, (raw: RawColumn | undefined) => void>;
}

let pool: Pool | undefined;
/** The worker could not start here (no permission, no file URL): never again. */
let unavailable = false;
let nextId = 0;
/**
 * Chunk buffers the worker gave back, reused for the next large read:
 * fresh memory costs a page fault per 4 KiB (reading into it took 3× as
 * long as into a reused buffer).
 */
const spare: ArrayBuffer[] = [];
const MAX_SPARE = 8;
const MAX_SPARE_BYTES = 64 << 20;

/** A spare buffer of at least `n` bytes (the smallest), else a new one. */
function buffer(n: number): Uint8Array {
  let best = -1;
  for (let i = 0; i < spare.length; i++) {
    const size = spare[i].byteLength;
    if (size >= n && (best < 0 || size < spare[best].byteLength)) best = i;
  }
  if (best < 0) return new Uint8Array(n);
  return new Uint8Array(spare.splice(best, 1)[0]);
}
/**
 * Milliseconds per MiB of column data that large reads took lately, on one
 * thread and on two (moving averages; NaN until measured), and how many
 * large reads there have been.
 */
const rate = { one: NaN, two: NaN, reads: 0 };
/** One large read in this many tries the way that was slower lately. */
const EXPLORE = 8;

/** Whether the next large read should use the worker. */
function twoThreads(): boolean {
  const n = rate.reads++;
  if (Number.isNaN(rate.two)) return true;
  if (Number.isNaN(rate.one)) return false;
  const faster = rate.two < rate.one;
  return n % EXPLORE === 0 ? !faster : faster;
}

function learn(which: "one" | "two", ms: number, bytes: number): void {
  const r = ms / (bytes / (1 << 20));
  rate[which] = Number.isNaN(rate[which]) ? r : 0.7 * rate[which] + 0.3 * r;
}

/** The worker, booting it if there is none; undefined until it is up. */
function readyPool(): Pool | undefined {
  const p = startPool();
  return p?.isReady ? p : undefined;
}

function startPool(): Pool | undefined {
  if (pool || unavailable) return pool;
  let worker: InstanceType<typeof NodeWorker>;
  try {
    worker = new NodeWorker(new URL("./_worker.ts", import.meta.url));
  } catch {
    unavailable = true;
    return undefined;
  }
  worker.unref();
  workerStats.starts++;
  let boot!: (ok: boolean) => void;
  const p: Pool = {
    worker,
    ready: new Promise<boolean>((resolve) => boot = resolve),
    isReady: false,
    pending: new Map(),
  };
  const end = () => {
    if (pool === p) pool = undefined;
    if (!p.isReady) unavailable = true;
    boot(false);
    for (const done of p.pending.values()) done(undefined);
    p.pending.clear();
  };
  worker.on("message", (reply: WorkerReply) => {
    if ("ready" in reply) {
      p.isReady = true;
      boot(true);
      return;
    }
    spare.push(...reply.parts);
    let bytes = 0;
    for (const b of spare) bytes += b.byteLength;
    while (spare.length > MAX_SPARE || bytes > MAX_SPARE_BYTES) {
      bytes -= spare.shift()!.byteLength;
    }
    const done = p.pending.get(reply.id);
    if (!done) return;
    p.pending.delete(reply.id);
    if (p.pending.size === 0) worker.unref();
    done(
      "data" in reply
        ? {
          data: reply.data,
          defined: reply.defined && new Uint8Array(reply.defined),
          nulls: reply.nulls,
          unsafe: false,
        }
        : undefined,
    );
  });
  worker.on("error", () => {
    end();
    worker.terminate();
  });
  worker.on("exit", end);
  pool = p;
  return p;
}

/**
 * Ends the worker now, if there is one (a later large read starts another):
 * for tests, and for a long-lived process done with large reads.
 */
export function stopDecodeWorker(): void {
  const p = pool;
  if (!p) return;
  pool = undefined;
  p.worker.terminate();
}

/** One column decoded by the worker; undefined if it could not. */
function decodeInWorker(
  p: Pool,
  metadata: FileMetaData,
  plan: FastPlan,
  parts: Uint8Array[],
  claims: SharedArrayBuffer,
  slot: number,
): Job {
  const id = nextId++;
  const el = plan.el;
  // Only this column's chunks: the worker needs no more of the footer.
  const request: WorkerRequest = {
    id,
    claims,
    slot,
    el,
    metadata: {
      ...metadata,
      schema: [],
      key_value_metadata: undefined,
      row_groups: metadata.row_groups.map((rg) => ({
        ...rg,
        columns: [chunkOf(rg, el)!],
      })),
    },
    parts: parts.map((b) => b.buffer as ArrayBuffer),
    lengths: parts.map((b) => b.length),
  };
  const result = new Promise<RawColumn | undefined>((resolve) =>
    p.pending.set(id, resolve)
  );
  if (p.pending.size === 1) p.worker.ref(); // the process waits for the reply
  p.worker.postMessage(request, request.parts);
  return {
    result,
    slot,
    forget: () => {
      p.pending.delete(id);
      if (p.pending.size === 0) p.worker.unref();
    },
  };
}

/** A column sent to the worker. */
interface Job {
  result: Promise<RawColumn | undefined>;
  /** Its claim slot (see `WorkerRequest.claims`). */
  slot: number;
  /** Stops waiting for its reply (taken back). */
  forget: () => void;
}

/** How much work a column is: its bytes out, and in again if compressed. */
function cost(metadata: FileMetaData, plan: FastPlan): number {
  let n = 0;
  for (const rg of metadata.row_groups) {
    const meta = chunkOf(rg, plan.el)?.meta_data;
    if (!meta) continue;
    n += Number(meta.total_uncompressed_size);
    if (meta.codec !== "UNCOMPRESSED") {
      n += Number(meta.total_compressed_size);
    }
  }
  return n;
}

/**
 * `readFastColumns` of `_fast.ts`, with the columns of a large file split
 * between this thread and the worker (see the module doc). The same
 * result as on one thread, column for column.
 */
export async function readFastColumnsParallel(
  source: ChunkSource,
  metadata: FileMetaData,
  leaves: Leaf[],
  kinds: Record<string, string> | undefined,
  mode: WorkerMode = "never",
): Promise<Map<string, ReadColumn>> {
  const out = new Map<string, ReadColumn>();
  const plans = planFastColumns(metadata, leaves, kinds);
  const costs = plans.map((plan) => cost(metadata, plan));
  let total = 0;
  for (const rg of metadata.row_groups) total += Number(rg.total_byte_size);
  let p: Pool | undefined;
  if (mode === "always" && plans.length > 1) {
    const started = startPool();
    started?.worker.ref(); // the process waits for the worker to boot
    if (started && await started.ready) p = started;
    if (started?.pending.size === 0) started.worker.unref();
  }
  const large = mode === "auto" && plans.length > 1 &&
    total >= WORKER_MIN_BYTES;
  if (large && readyPool() && twoThreads()) p = readyPool();

  // Greedy halves by cost, heaviest first; the worker's columns go first.
  const t0 = performance.now();
  const jobs = new Map<FastPlan, Job>();
  const claims = new Int32Array(new SharedArrayBuffer(4 * plans.length));
  if (p) {
    let mine = 0;
    let theirs = 0;
    const order = plans.map((_, i) => i).sort((a, b) => costs[b] - costs[a]);
    for (const i of order) {
      if (theirs > mine) {
        mine += costs[i];
        continue;
      }
      const ranges = chunkRanges(metadata, plans[i].el);
      if (!ranges) continue;
      let parts: Uint8Array[];
      try {
        parts = ranges.map(([start, end]) =>
          source(start, end, buffer(end - start))
        );
      } catch {
        continue; // this thread's path words it
      }
      theirs += costs[i];
      jobs.set(
        plans[i],
        decodeInWorker(p, metadata, plans[i], parts, claims.buffer, jobs.size),
      );
    }
  }
  if (jobs.size > 0) workerStats.reads++;
  for (const plan of plans) {
    if (jobs.has(plan)) continue;
    const column = readFastColumn(source, metadata, plan);
    if (column) out.set(plan.leaf.name, column);
  }
  // Columns the worker has not begun (it is slow to get a core) are taken
  // back and decoded here; only those it has begun are waited for.
  const results = new Map<FastPlan, RawColumn | undefined>();
  for (const [plan, job] of jobs) {
    if (
      mode === "auto" && Atomics.compareExchange(claims, job.slot, 0, 2) === 0
    ) {
      job.forget();
      workerStats.takenBack++;
    } else {
      results.set(plan, await job.result);
    }
  }
  for (const plan of jobs.keys()) {
    const raw = results.get(plan);
    let column: ReadColumn | undefined;
    try {
      if (raw) column = finishRaw(raw, plan);
    } catch {
      // as if the worker had failed
    }
    if (column) workerStats.columns++;
    else column = readFastColumn(source, metadata, plan);
    if (column) out.set(plan.leaf.name, column);
  }
  if (large && pool?.isReady) {
    learn(jobs.size > 0 ? "two" : "one", performance.now() - t0, total);
  }
  return out;
}

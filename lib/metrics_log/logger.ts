/**
 * `MetricsLogger`: metrics logged one row per training step, for hours,
 * that survive the process dying at any moment.
 *
 * `log(row)` only stores the row's values into column buffers (typed arrays
 * over shared memory). Every `flushRows` rows, or when the oldest buffered
 * row is `flushSeconds` old, the buffers are handed (not copied) to a worker
 * thread that encodes them as a Parquet part file and writes it under a
 * temp name, then renames it to `strata/<name>.parts/part-000001.parquet`,
 * `part-000002.parquet`, … Each column has a ring of 5 buffers: the one
 * being filled and up to 4 parts in flight, so memory stays bounded.
 * `close()` compacts the parts into `strata/<name>.parquet`, records the
 * artifact in the manifest and removes the parts.
 *
 * What a crash can lose: a process killed outright (SIGKILL, OOM, power
 * off) loses only the rows not yet in a part file — at most the last
 * `flushRows` rows or `flushSeconds` seconds, plus a part being written at
 * that instant. A process that ends without `close()` — the script returns,
 * `Deno.exit()`, an uncaught error — writes its buffered rows as a last part
 * first, so it loses nothing. Parts are never visible half-written, and the
 * readers (`readMetrics`, the catalog) read surviving parts as the table.
 *
 * @module
 */
import { show } from "../cli/show.ts";
import { join, NodeWorker } from "../_deps.ts";
import { exists, tempPathFor } from "../_fs.ts";
import { updateManifest } from "../specimen/_lock.ts";
import {
  ImmutableArtifactError,
  InvalidInputError,
  VaultError,
} from "../errors.ts";
import { type ArtifactRecord, readManifest } from "../specimen/manifest.ts";
import { compactLog } from "./table.ts";
import {
  clearLog,
  isNotEmpty,
  listParts,
  lockLog,
  LOG_LOCK_FILE,
  partFileName,
  PARTS_SUFFIX,
  partsDir,
  showEntries,
} from "./parts.ts";
import type { EncodeMetricsOptions } from "../formats/parquet/parquet.ts";
import { assertWritable } from "../specimen/seal.ts";
import { validateArtifactName } from "../specimen/artifact_name.ts";
import { STRATA_DIR } from "../vault.ts";
import {
  FAILED,
  type PartMessage,
  type WireColumn,
  type WorkerInit,
  type WorkerReply,
  WRITTEN,
} from "./_worker.ts";

/**
 * A value `log()` accepts: a number (INT64 while every value of its key is a
 * whole number, else DOUBLE), a bigint (INT64), a string, a boolean, or
 * `null` / `undefined` for a missing value.
 *
 * @example
 * ```ts
 * import type { LogValue } from "./logger.ts";
 * const values: LogValue[] = [0.25, 3, 10n, "warmup", true, null];
 * ```
 */
export type LogValue = number | bigint | string | boolean | null | undefined;

/**
 * One row: metric name → value, e.g. `{ step, loss, lr }`. Keys may appear
 * in later rows (earlier rows read as null) and may be missing (null).
 *
 * @example
 * ```ts
 * import type { LogRow } from "./logger.ts";
 * const row: LogRow = { step: 100, loss: 0.42, lr: 3e-4 };
 * ```
 */
export type LogRow = { readonly [key: string]: LogValue };

/**
 * What `onFlush` receives after a part file is on disk.
 *
 * @example
 * ```ts
 * import type { FlushInfo } from "./logger.ts";
 * const info: FlushInfo = { part: 1, path: "strata/metrics.parts/part-000001.parquet", rows: 10, totalRows: 10, bytes: 900 };
 * ```
 */
export interface FlushInfo {
  /** The part's sequence number, from 1. */
  part: number;
  /** The part file's absolute path. */
  path: string;
  /** Rows in this part. */
  rows: number;
  /** Rows on disk in all: every row logged before them is safe. */
  totalRows: number;
  /** The part's size in bytes. */
  bytes: number;
}

/**
 * Options for `SpecimenStorage.logger()`.
 *
 * @example
 * ```ts
 * import type { MetricsLoggerOptions } from "./logger.ts";
 * const options: MetricsLoggerOptions = { flushRows: 10_000, flushSeconds: 5 };
 * ```
 */
export interface MetricsLoggerOptions {
  /**
   * Rows buffered in memory before they are written as a part. Also the
   * buffer size: about 9 bytes per row and numeric key.
   * @default {65536}
   */
  flushRows?: number;
  /**
   * Longest time, in seconds, a logged row stays in memory only: at most
   * this much logging is lost when the process is killed. `Infinity` turns
   * time-based flushing off.
   * @default {10}
   */
  flushSeconds?: number;
  /**
   * Page compression of parts and of the compacted table.
   * @default {"zstd"}
   */
  compression?: EncodeMetricsOptions["compression"];
  /**
   * Flush every part (and the compacted table) to the disk before renaming
   * it, so that it also survives power loss, not just a crash of the
   * process. Costs an fsync per part.
   * @default {false}
   */
  sync?: boolean;
  /** Called after each part is on disk (when the event loop is free). */
  onFlush?: (info: FlushInfo) => void;
}

/**
 * Slots of memory per column: the one being filled, and up to 4 parts
 * handed to the worker and not yet on disk before `log()` waits.
 */
const SLOTS = 5;
/** How long an exit (or `close()`) waits for parts being written. */
const EXIT_WAIT_MS = 30_000;
/** How long opening waits for a lock held for a moment (a probe, a repair). */
const LOCK_RETRY_MS = 300;

const NUMBER = 0;
const BIGINT = 1;
const STRING = 2;
const BOOLEAN = 3;
const KIND_NAMES = ["number", "bigint", "string", "boolean"] as const;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * One column's memory, shared with the worker: a ring of slots, one per
 * part. The slot being filled is the logger's; a slot handed over is the
 * worker's until its part is on disk.
 */
interface Slot {
  values: SharedArrayBuffer | null;
  defined: SharedArrayBuffer;
  /** The last part that used it. */
  usedBy: number;
}

/** One column: views of the slot being filled since the last flush. */
interface Column {
  name: string;
  kind: number;
  slots: Slot[];
  slot: number;
  f64: Float64Array | null;
  big: BigInt64Array | null;
  items: (string | boolean | undefined)[] | null;
  /** 1 for a row that has a value. */
  defined: Uint8Array;
  /** Values in the buffer. */
  count: number;
  /** Values ever logged (a column only exists once it had one). */
  total: number;
}

/**
 * What `SpecimenStorage.logger()` passes to {@linkcode MetricsLogger.open}.
 *
 * @example
 * ```ts
 * import type { MetricsLoggerInit } from "./logger.ts";
 * const init: MetricsLoggerInit = {
 *   dir: "specimens/my_run", name: "train", options: { flushSeconds: 30 },
 * };
 * ```
 */
export interface MetricsLoggerInit {
  /** The specimen folder. */
  dir: string;
  /** The table name: `strata/<name>.parquet`. */
  name: string;
  /** See {@linkcode MetricsLoggerOptions}. */
  options?: MetricsLoggerOptions;
  /**
   * Records the compacted table in the manifest and returns the record.
   * @default {undefined} the manifest is updated directly, under its lock
   */
  record?: (record: ArtifactRecord) => Promise<ArtifactRecord>;
}

/**
 * Logs metric rows step by step into a specimen's `strata/<name>.parquet`,
 * crash-safe (see the module documentation). Get one from
 * `SpecimenStorage.logger()`; close it with `close()` or `await using`.
 *
 * @example
 * ```ts
 * import { createSpecimen, SpecimenStorage } from "../../mod.ts";
 * const vault = await Deno.makeTempDir();
 * const { dir } = await createSpecimen({
 *   vault, id: "doc_logger", domain: "training", method: "fine_tuning",
 * });
 * const storage = await SpecimenStorage.open(dir);
 * {
 *   await using log = await storage.logger("train");
 *   for (let step = 0; step < 100; step++) {
 *     log.log({ step, loss: 1 / (step + 1) });
 *     if (step % 10 === 0) log.log({ step, eval_loss: 2 / (step + 1) });
 *   }
 * } // closed here: compacted into strata/train.parquet and recorded
 * const train = await storage.readMetrics("train");
 * console.assert(train.step.length === 110 && train.eval_loss[0] === 2);
 * await Deno.remove(vault, { recursive: true });
 * ```
 */
export class MetricsLogger implements AsyncDisposable {
  /** The table name. */
  readonly name: string;
  /** The id of the specimen (its folder name). */
  readonly specimenId: string;
  /** The parts folder, `strata/<name>.parts/`. */
  readonly partsDir: string;

  readonly #dir: string;
  readonly #capacity: number;
  readonly #flushMs: number;
  readonly #sync: boolean;
  readonly #onFlush?: (info: FlushInfo) => void;
  readonly #record: (record: ArtifactRecord) => Promise<ArtifactRecord>;
  readonly #lock: Deno.FsFile;
  readonly #worker: InstanceType<typeof NodeWorker>;
  readonly #state: Int32Array;

  #columns = new Map<string, Column>();
  #folded = new Map<string, string>();
  #rows = 0;
  #logged = 0;
  #deadline = Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #posted = 0;
  #acked = 0;
  #ackedRows = 0;
  #pending: { seq: number; rows: number }[] = [];
  #waiters: { seq: number; resolve: () => void; reject: (e: Error) => void }[] =
    [];
  #refs = 0;
  #failure: VaultError | undefined;
  #closed = false;
  #closing: Promise<ArtifactRecord | null> | undefined;
  #onExit = (event: Event) => this.#exitFlush(event.type === "unload");

  private constructor(
    init: MetricsLoggerInit,
    id: string,
    lock: Deno.FsFile,
    options: Required<Pick<MetricsLoggerOptions, "flushRows" | "flushSeconds">>,
  ) {
    const o = init.options ?? {};
    this.name = init.name;
    this.specimenId = id;
    this.#dir = init.dir;
    this.partsDir = partsDir(init.dir, init.name);
    this.#capacity = options.flushRows;
    this.#flushMs = options.flushSeconds * 1000;
    this.#sync = o.sync ?? false;
    this.#onFlush = o.onFlush;
    this.#record = init.record ??
      ((r) => recordDirectly(init.dir, init.name, r));
    this.#lock = lock;
    const shared = new SharedArrayBuffer(8);
    this.#state = new Int32Array(shared);
    this.#worker = new NodeWorker(
      new URL("./_worker.ts", import.meta.url),
      {
        workerData: {
          compression: o.compression ?? "zstd",
          sync: this.#sync,
          state: shared,
        } satisfies WorkerInit,
        // A small young generation: the worker allocates few objects but
        // large buffers (pages, zstd output), freed only when a GC runs.
        resourceLimits: { maxYoungGenerationSizeMb: 1 },
      },
    );
    // The worker alone never keeps the process alive (see #ref).
    this.#worker.unref();
    this.#worker.on("message", (m: WorkerReply) => this.#onReply(m));
    this.#worker.on("error", (e: Error) => this.#fail(e.message));
    this.#worker.on("exit", () => {
      if (!this.#closed) this.#fail("the writer thread stopped");
    });
    for (const type of ["unload", "error", "unhandledrejection"]) {
      globalThis.addEventListener(type, this.#onExit);
    }
  }

  /**
   * Opens the logger of table `name` in the specimen at `dir`: refuses a
   * table that exists (file or manifest record) or an interrupted log of
   * that name ({@linkcode ImmutableArtifactError}), and a log another
   * logger holds open ({@linkcode VaultError}). `SpecimenStorage.logger()`
   * calls it; use that.
   *
   * Needs `--allow-read` and `--allow-write` on `dir`.
   *
   * @example
   * ```ts ignore
   * import { MetricsLogger } from "./logger.ts";
   * await using log = await MetricsLogger.open({ dir: "specimens/my_run", name: "train" });
   * log.log({ step: 0, loss: 2.3 });
   * ```
   */
  static async open(init: MetricsLoggerInit): Promise<MetricsLogger> {
    const { dir, name } = init;
    validateArtifactName(name);
    const options = checkOptions(init.options ?? {});
    // From disk, not a cached copy: another process may have sealed it.
    const manifest = await readManifest(dir);
    assertWritable(manifest);
    const id = manifest.specimen_id;
    await refuseExisting(dir, id, name, manifest.artifacts);
    const lock = await claimLog(dir, id, name);
    try {
      // Checked again under the lock: a logger may have closed meanwhile.
      await refuseExisting(dir, id, name, (await readManifest(dir)).artifacts);
      return new MetricsLogger(init, id, lock, options);
    } catch (e) {
      // Leave no empty log behind to block the name.
      const parts = partsDir(dir, name);
      if ((await listParts(parts)).length === 0) {
        await clearLog(parts, name).catch(() => {});
      }
      lock.close();
      throw e;
    }
  }

  /** Rows `log()` accepted so far. */
  get rowsLogged(): number {
    return this.#logged;
  }

  /** Rows in part files on disk so far (safe from a crash). */
  get rowsFlushed(): number {
    const written = Atomics.load(this.#state, WRITTEN);
    let rows = this.#ackedRows;
    for (const p of this.#pending) if (p.seq <= written) rows += p.rows;
    return rows;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds one row. Never waits for the disk: it stores the values in memory
   * and, when a part is due, hands the buffers to the writer thread. (Only
   * if that thread is 4 parts behind — logging faster than it can encode,
   * tens of millions of values per second — does the call that fills a
   * part wait for it, so that memory stays bounded.)
   *
   * Throws {@linkcode InvalidInputError} (and logs nothing of the row) for
   * a row with no value, a value that is not a number, bigint, string,
   * boolean or null, a value whose type differs from earlier values of its
   * key, or a key that differs from another only in case; and once closed.
   * Throws {@linkcode VaultError} if writing a part failed.
   */
  log(row: LogRow): void {
    if (this.#closed) throw this.#closedError();
    if (this.#failure) throw this.#failure;
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      throw this.#badRow(row);
    }
    const r = this.#rows;
    const columns = this.#columns;
    let stored = 0;
    for (const key in row) {
      const v = row[key];
      let col = columns.get(key);
      if (col === undefined) {
        if (v === null || v === undefined) continue;
        col = this.#addColumn(key, v, row);
      }
      if (typeof v === "number" && col.kind === NUMBER) {
        col.f64![r] = v;
      } else if (v === null || v === undefined) {
        continue;
      } else {
        this.#storeOther(col, v, row, r);
      }
      col.defined[r] = 1;
      col.count++;
      col.total++;
      stored++;
    }
    if (stored === 0) throw this.#badRow(row);
    this.#rows = r + 1;
    this.#logged++;
    if (r === 0) this.#startClock();
    if (r + 1 === this.#capacity) {
      this.#flushBuffer();
    } else if ((r & 255) === 255 && performance.now() >= this.#deadline) {
      // The timer cannot fire while a synchronous loop holds the thread.
      this.#flushBuffer();
    }
  }

  /**
   * Writes the buffered rows as a part now; resolves once every row logged
   * so far is in a part file on disk.
   */
  async flush(): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (!this.#closed) this.#flushBuffer();
    await this.#drain();
  }

  /**
   * Flushes, compacts the parts into `strata/<name>.parquet` (memory
   * bounded: parts are copied row group by row group), records the
   * artifact in the manifest (path, format, columns, rows, bytes — as
   * `writeMetrics` does) and removes the parts. Returns the record, or
   * `null` if no row was logged (then nothing is written). Calling it again
   * returns the same result.
   *
   * If it fails (a write error, the specimen sealed meanwhile), the parts
   * stay on disk: readers still read them and `repairLogs` (run by
   * `deno task index`) compacts them.
   */
  close(): Promise<ArtifactRecord | null> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Same as {@linkcode MetricsLogger.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<ArtifactRecord | null> {
    this.#closed = true;
    try {
      if (!this.#failure) this.#flushBuffer();
      await this.#drain();
    } finally {
      clearTimeout(this.#timer);
      for (const type of ["unload", "error", "unhandledrejection"]) {
        globalThis.removeEventListener(type, this.#onExit);
      }
      await this.#worker.terminate();
      if (this.#failure) this.#lock.close();
    }
    try {
      const compacted = await compactLog(this.#dir, this.name, {
        sync: this.#sync,
      });
      let record: ArtifactRecord | null = null;
      if (compacted) {
        record = await this.#record({
          path: `${STRATA_DIR}/${this.name}.parquet`,
          format: "parquet",
          columns: compacted.columns,
          rows: compacted.rows,
          bytes: compacted.bytes,
        });
      }
      await this.#clear();
      return record;
    } finally {
      this.#lock.close();
    }
  }

  /**
   * Removes the parts folder: only what this logger wrote. A failure to
   * remove it is a warning, not an error of close(): the table is placed
   * and recorded, and readers ignore a folder beside it.
   */
  async #clear(): Promise<void> {
    let left: string[];
    try {
      left = await clearLog(this.partsDir, this.name);
    } catch (e) {
      console.error(
        `warning: metrics table "${this.name}" of specimen "${this.specimenId}" is saved, but its parts folder ${this.partsDir} could not be removed (${
          (e as Error).message
        }); deno task index removes it`,
      );
      return;
    }
    if (left.length) {
      console.error(
        `warning: metrics table "${this.name}" of specimen "${this.specimenId}" is saved; ${this.partsDir} is left because it holds ${
          showEntries(left)
        }, which the logger did not write`,
      );
    }
  }

  #addColumn(key: string, v: LogValue, row: LogRow): Column {
    const t = typeof v;
    const kind = t === "number"
      ? NUMBER
      : t === "bigint"
      ? BIGINT
      : t === "string"
      ? STRING
      : t === "boolean"
      ? BOOLEAN
      : -1;
    if (kind < 0) throw this.#badValue(key, v, row);
    if (key.trim() === "") {
      this.#rollback(row);
      throw new InvalidInputError(
        `Cannot log ${JSON.stringify(key)}${
          this.#at(row)
        }: a metric name must not be blank; give it a name, e.g. "loss"`,
      );
    }
    // SQL (DuckDB) treats names case-insensitively: both could not be queried.
    const folded = key.toLowerCase();
    const other = this.#folded.get(folded);
    if (other !== undefined) {
      this.#rollback(row);
      throw new InvalidInputError(
        `Cannot log "${key}"${
          this.#at(row)
        }: it differs from "${other}" only in case, which SQL cannot tell apart; use one spelling`,
      );
    }
    const col = this.#newColumn(key, kind);
    this.#columns.set(key, col);
    this.#folded.set(folded, key);
    return col;
  }

  #newColumn(name: string, kind: number): Column {
    const col: Column = {
      name,
      kind,
      slots: [],
      slot: 0,
      f64: null,
      big: null,
      items: null,
      defined: new Uint8Array(0),
      count: 0,
      total: 0,
    };
    this.#useSlot(col, 0);
    return col;
  }

  /**
   * Points the column at slot `j`, allocated on first use. A slot handed
   * over before is reused once its part is on disk: this wait is what
   * bounds memory when rows come faster than the worker writes them.
   */
  #useSlot(col: Column, j: number): void {
    const n = this.#capacity;
    let slot = col.slots[j];
    if (!slot) {
      const numeric = col.kind === NUMBER || col.kind === BIGINT;
      slot = {
        values: numeric ? new SharedArrayBuffer(n * 8) : null,
        defined: new SharedArrayBuffer(n),
        usedBy: 0,
      };
      col.slots[j] = slot;
    } else if (slot.usedBy > Atomics.load(this.#state, WRITTEN)) {
      this.#waitWritten(slot.usedBy, EXIT_WAIT_MS);
    }
    col.slot = j;
    col.f64 = col.kind === NUMBER ? new Float64Array(slot.values!) : null;
    col.big = col.kind === BIGINT ? new BigInt64Array(slot.values!) : null;
    col.items = col.kind === STRING || col.kind === BOOLEAN ? [] : null;
    col.defined = new Uint8Array(slot.defined);
    if (slot.usedBy) col.defined.fill(0);
  }

  /** Stores a bigint, string or boolean, or throws for a type conflict. */
  #storeOther(col: Column, v: LogValue, row: LogRow, r: number): void {
    const t = typeof v;
    if (t === "bigint" && col.kind === BIGINT) {
      const b = v as bigint;
      if (b < INT64_MIN || b > INT64_MAX) {
        this.#rollback(row);
        throw new InvalidInputError(
          `Cannot log "${col.name}"${
            this.#at(row)
          }: ${b}n is outside the 64-bit integer range; log it as a number or a string`,
        );
      }
      col.big![r] = b;
    } else if (
      (t === "string" && col.kind === STRING) ||
      (t === "boolean" && col.kind === BOOLEAN)
    ) {
      col.items![r] = v as string | boolean;
    } else if (
      t === "number" || t === "bigint" || t === "string" || t === "boolean"
    ) {
      this.#rollback(row);
      const kind = KIND_NAMES[col.kind];
      throw new InvalidInputError(
        `Cannot log "${col.name}"${this.#at(row)}: ${
          show(v)
        } is a ${t}, but "${col.name}" holds ${kind}s (since its first value); log one type per key${
          kind === "number" && t === "string" ? " (e.g. Number(x))" : ""
        }, or use another key for the ${t}s`,
      );
    } else {
      throw this.#badValue(col.name, v, row);
    }
  }

  /** Undoes the values of the row being logged (it is refused whole). */
  #rollback(row: LogRow): void {
    const r = this.#rows;
    for (const key in row) {
      const col = this.#columns.get(key);
      if (!col) continue;
      if (col.defined[r] === 1) {
        col.defined[r] = 0;
        col.count--;
        col.total--;
      }
      if (col.total === 0) {
        this.#columns.delete(key);
        this.#folded.delete(key.toLowerCase());
      }
    }
  }

  /** " at step 12 (row 12)": where a refused row was. */
  #at(row: LogRow): string {
    const step = Object.hasOwn(row, "step") ? row.step : undefined;
    const n = this.#logged;
    return step === undefined || step === null
      ? ` in row ${n}`
      : ` at step ${show(step)} (row ${n})`;
  }

  #badValue(key: string, v: unknown, row: LogRow): InvalidInputError {
    this.#rollback(row);
    return new InvalidInputError(
      `Cannot log "${key}"${this.#at(row)}: ${
        show(v)
      } is not a number, bigint, string, boolean or null; log scalars (e.g. loss.item(), or a tensor's mean) and write arrays with writeTensor()`,
    );
  }

  #badRow(row: unknown): InvalidInputError {
    return new InvalidInputError(
      `Cannot log ${
        show(row)
      } to "${this.name}": a row is an object of metric values with at least one value, e.g. { step: 1, loss: 0.5 }`,
    );
  }

  #closedError(): InvalidInputError {
    return new InvalidInputError(
      `Cannot log to "${this.name}" of specimen "${this.specimenId}": the logger is closed (after ${this.#logged} rows); open a logger for another table, e.g. storage.logger("${this.name}_2")`,
    );
  }

  #startClock(): void {
    if (!Number.isFinite(this.#flushMs)) return;
    this.#deadline = performance.now() + this.#flushMs;
    clearTimeout(this.#timer);
    const timer = setTimeout(() => {
      if (!this.#closed && !this.#failure) this.#flushBuffer();
    }, this.#flushMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Hands the buffered rows to the worker as the next part. */
  #flushBuffer(): void {
    const rows = this.#rows;
    if (rows === 0) return;
    const seq = ++this.#posted;
    const columns: WireColumn[] = [];
    const flushed: Column[] = [];
    for (const col of this.#columns.values()) {
      if (col.count === 0) continue; // readers fill the part's rows with null
      const slot = col.slots[col.slot];
      slot.usedBy = seq;
      columns.push({
        name: col.name,
        kind: KIND_NAMES[col.kind],
        values: slot.values ?? col.items!,
        defined: col.count === rows ? null : slot.defined,
      });
      flushed.push(col);
    }
    this.#rows = 0;
    this.#deadline = Infinity;
    clearTimeout(this.#timer);
    const path = join(this.partsDir, partFileName(seq));
    this.#worker.postMessage(
      { seq, path, rows, columns } satisfies PartMessage,
    );
    this.#pending.push({ seq, rows });
    this.#ref(1);
    for (const col of flushed) {
      col.count = 0;
      this.#useSlot(col, (col.slot + 1) % SLOTS);
    }
  }

  /** Blocks the thread until part `seq` is on disk (or a write failed). */
  #waitWritten(seq: number, timeoutMs: number): boolean {
    const end = performance.now() + timeoutMs;
    while (true) {
      const written = Atomics.load(this.#state, WRITTEN);
      if (written >= seq) return true;
      if (Atomics.load(this.#state, FAILED)) return false;
      const left = end - performance.now();
      if (left <= 0) return false;
      Atomics.wait(this.#state, WRITTEN, written, left);
    }
  }

  /** Keeps the process alive while parts are being written. */
  #ref(delta: number): void {
    const before = this.#refs;
    this.#refs += delta;
    if (before === 0 && this.#refs > 0) this.#worker.ref();
    if (before > 0 && this.#refs === 0) this.#worker.unref();
  }

  #onReply(m: WorkerReply): void {
    if (m.type === "failed") {
      this.#fail(m.message, m.seq);
      return;
    }
    while (this.#pending.length && this.#pending[0].seq <= m.seq) {
      const p = this.#pending.shift()!;
      this.#ackedRows += p.rows;
      this.#ref(-1);
    }
    this.#acked = m.seq;
    const info: FlushInfo = {
      part: m.seq,
      path: m.path,
      rows: m.rows,
      totalRows: this.#ackedRows,
      bytes: m.bytes,
    };
    this.#waiters = this.#waiters.filter((w) => {
      if (w.seq > m.seq) return true;
      w.resolve();
      return false;
    });
    this.#onFlush?.(info);
  }

  #fail(message: string, seq?: number): void {
    this.#failure ??= new VaultError(
      `Cannot write ${
        seq ? partFileName(seq) : "a part"
      } of metrics log "${this.name}" (specimen "${this.specimenId}"): ${message}. Rows in earlier parts are safe in ${this.partsDir}; deno task index compacts them`,
    );
    Atomics.store(this.#state, FAILED, 1);
    for (const w of this.#waiters) w.reject(this.#failure);
    this.#waiters = [];
    if (this.#refs > 0) {
      this.#refs = 0;
      this.#worker.unref();
    }
  }

  /** Resolves when every posted part is on disk. */
  #drain(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#acked >= this.#posted) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ seq: this.#posted, resolve, reject });
    });
  }

  /**
   * The process is ending without close(): write what is buffered and
   * wait for it (synchronously: no more event loop turns are coming).
   */
  #exitFlush(unload: boolean): void {
    if (this.#closed || this.#failure) return;
    if (unload && this.#logged === 0) {
      // Nothing was logged: leave no empty log to block the name.
      try {
        Deno.removeSync(join(this.partsDir, LOG_LOCK_FILE));
        Deno.removeSync(this.partsDir); // not recursive: only if empty
      } catch { /* repairLogs removes it */ }
      return;
    }
    this.#flushBuffer();
    const ok = this.#waitWritten(this.#posted, EXIT_WAIT_MS);
    if (unload && ok && this.#logged > 0) {
      console.error(
        `warning: metrics logger "${this.name}" of specimen "${this.specimenId}" was not closed: its ${this.#logged} rows are safe as parts in ${this.partsDir}; close() it, or let deno task index compact them`,
      );
    }
  }
}

/** Checks the options and fills in the defaults. */
function checkOptions(
  o: MetricsLoggerOptions,
): Required<Pick<MetricsLoggerOptions, "flushRows" | "flushSeconds">> {
  const flushRows = o.flushRows ?? 65_536;
  if (
    !Number.isSafeInteger(flushRows) || flushRows < 1 || flushRows > 2 ** 24
  ) {
    throw new InvalidInputError(
      `Invalid flushRows ${
        show(flushRows)
      }: give a whole number of rows from 1 to 16,777,216 (default 65,536)`,
    );
  }
  const flushSeconds = o.flushSeconds ?? 10;
  if (typeof flushSeconds !== "number" || !(flushSeconds > 0)) {
    throw new InvalidInputError(
      `Invalid flushSeconds ${
        show(flushSeconds)
      }: give a number of seconds above 0, or Infinity for no time-based flush (default 10)`,
    );
  }
  const compression = o.compression ?? "zstd";
  if (!["zstd", "snappy", "none"].includes(compression)) {
    throw new InvalidInputError(
      `Invalid compression ${
        show(compression)
      }: use "zstd", "snappy" or "none"`,
    );
  }
  return { flushRows, flushSeconds };
}

/** Refuses a table that exists as a file, a tensor or a manifest record. */
async function refuseExisting(
  dir: string,
  id: string,
  name: string,
  artifacts: Record<string, ArtifactRecord>,
): Promise<void> {
  const strata = join(dir, STRATA_DIR);
  let where = Object.hasOwn(artifacts, name) ? "in the manifest" : "";
  for (const file of [`${name}.parquet`, `${name}.zarr`]) {
    if (!where && await exists(join(strata, file))) where = `strata/${file}`;
  }
  if (where) {
    throw new ImmutableArtifactError(
      `Artifact "${name}" of specimen "${id}" already exists (${where}): specimens are immutable: log to another table name, or create a new specimen for a variation (deno task create --id ${id}_v2 ...)`,
    );
  }
}

/**
 * Creates and locks `strata/<name>.parts/`. The folder is made under a temp
 * name with its lock already held, then renamed, so that a repair never
 * sees it unlocked; an existing folder is taken over only when its lock is
 * free and it holds no part.
 */
async function claimLog(
  dir: string,
  id: string,
  name: string,
): Promise<Deno.FsFile> {
  const target = partsDir(dir, name);
  const started = performance.now();
  let goneSince: number | undefined;
  while (true) {
    const tmp = tempPathFor(target);
    await Deno.mkdir(tmp);
    const lock = await Deno.open(join(tmp, LOG_LOCK_FILE), {
      read: true,
      write: true,
      createNew: true,
    });
    await lock.lock(true); // nobody else can know this folder yet
    try {
      await Deno.rename(tmp, target);
      return lock;
    } catch (e) {
      lock.close();
      await Deno.remove(join(tmp, LOG_LOCK_FILE)).catch(() => {});
      await Deno.remove(tmp).catch(() => {});
      if (!isNotEmpty(e)) throw e;
    }
    // Taken: by a live logger (busy), a dead one (free lock), or a folder
    // being removed or not made by a logger (no lock file: "gone").
    const held = await lockLog(dir, name);
    if (held !== "busy" && held !== "gone") {
      const parts = await listParts(target);
      if (parts.length === 0) return held; // a logger that died before its first part
      held.close();
      throw new ImmutableArtifactError(
        `Metrics table "${name}" of specimen "${id}" has an interrupted log: ${parts.length} parts in strata/${name}${PARTS_SUFFIX}/ from a logger that stopped without closing. Specimens are immutable, so it is not continued: run deno task index to compact it (or call repairLogs()), and log to another table name or a new specimen`,
      );
    }
    // No lock file is the instant a closing logger removes its folder; a
    // folder that stays without one for a while was not made by a logger.
    const now = performance.now();
    if (held === "busy") goneSince = undefined;
    else goneSince ??= now;
    const waited = goneSince === undefined
      ? now - started > LOCK_RETRY_MS
      : now - goneSince > LOCK_RETRY_MS || now - started > 10 * LOCK_RETRY_MS;
    if (waited) {
      if (held === "gone") {
        throw new VaultError(
          `Metrics table "${name}" of specimen "${id}" cannot be logged: strata/${name}${PARTS_SUFFIX}/ exists but has no ${LOG_LOCK_FILE} file, so no logger made it; look at what it holds and remove it, or log to another table name`,
        );
      }
      throw new VaultError(
        `Metrics table "${name}" of specimen "${id}" is being written by another logger (strata/${name}${PARTS_SUFFIX}/${LOG_LOCK_FILE} is locked, by this or another process); two writers cannot share a table: log to another name (e.g. "${name}_2"), or close the other logger first`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Records the table when no SpecimenStorage is at hand. */
async function recordDirectly(
  dir: string,
  name: string,
  record: ArtifactRecord,
): Promise<ArtifactRecord> {
  const { result } = await updateManifest(dir, (m) => {
    assertWritable(m);
    m.artifacts[name] = { ...record, created: new Date().toISOString() };
    return m.artifacts[name];
  });
  return result;
}

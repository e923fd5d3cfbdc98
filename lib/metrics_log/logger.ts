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
import { join, NodeWorker } from "../_deps.ts";
import { InvalidInputError, VaultError } from "../errors.ts";
import { type ArtifactRecord, readManifest } from "../specimen/manifest.ts";
import { compactLog } from "./compact.ts";
import {
  clearLog,
  listParts,
  LOG_LOCK_FILE,
  partFileName,
  partsDir,
  showEntries,
} from "./parts.ts";
import { assertWritable } from "../specimen/seal.ts";
import { STRATA_DIR } from "../vault.ts";
import { validateArtifactName } from "../specimen/artifact_name.ts";
import {
  FAILED,
  type PartMessage,
  type WorkerInit,
  type WorkerReply,
  WRITTEN,
} from "./_worker.ts";
import type {
  FlushInfo,
  LogRow,
  MetricsLoggerInit,
  MetricsLoggerOptions,
} from "./options.ts";
import { ColumnBuffers, EXIT_WAIT_MS, waitWritten } from "./_columns.ts";
import {
  checkOptions,
  claimLog,
  recordDirectly,
  refuseExisting,
} from "./_open.ts";

export type {
  FlushInfo,
  LogRow,
  LogValue,
  MetricsLoggerInit,
  MetricsLoggerOptions,
} from "./options.ts";

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
 * console.assert(train.step.length === 110 && train.eval_loss[1] === 2);
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
  readonly #buffers: ColumnBuffers;
  readonly #flushMs: number;
  readonly #sync: boolean;
  readonly #onFlush?: (info: FlushInfo) => void;
  readonly #record: (record: ArtifactRecord) => Promise<ArtifactRecord>;
  readonly #lock: Deno.FsFile;
  readonly #worker: InstanceType<typeof NodeWorker>;
  readonly #state: Int32Array;

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
    this.#buffers = new ColumnBuffers(init.name, this.#capacity, this.#state);
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
    return this.#buffers.logged;
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
    const r = this.#buffers.store(row);
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
   * `deno task repair`) compacts them.
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
        }); deno task repair removes it`,
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

  #closedError(): InvalidInputError {
    return new InvalidInputError(
      `Cannot log to "${this.name}" of specimen "${this.specimenId}": the logger is closed (after ${this.#buffers.logged} rows); open a logger for another table, e.g. storage.logger("${this.name}_2")`,
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
    const rows = this.#buffers.rows;
    if (rows === 0) return;
    const seq = ++this.#posted;
    const { columns, flushed } = this.#buffers.take(seq);
    this.#deadline = Infinity;
    clearTimeout(this.#timer);
    const path = join(this.partsDir, partFileName(seq));
    this.#worker.postMessage(
      { seq, path, rows, columns } satisfies PartMessage,
    );
    this.#pending.push({ seq, rows });
    this.#ref(1);
    this.#buffers.advance(flushed);
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
      } of metrics log "${this.name}" (specimen "${this.specimenId}"): ${message}. Rows in earlier parts are safe in ${this.partsDir}; deno task repair compacts them`,
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
    if (unload && this.#buffers.logged === 0) {
      // Nothing was logged: leave no empty log to block the name.
      try {
        Deno.removeSync(join(this.partsDir, LOG_LOCK_FILE));
        Deno.removeSync(this.partsDir); // not recursive: only if empty
      } catch { /* repairLogs removes it */ }
      return;
    }
    this.#flushBuffer();
    const ok = waitWritten(this.#state, this.#posted, EXIT_WAIT_MS);
    if (unload && ok && this.#buffers.logged > 0) {
      console.error(
        `warning: metrics logger "${this.name}" of specimen "${this.specimenId}" was not closed: its ${this.#buffers.logged} rows are safe as parts in ${this.partsDir}; close() it, or let deno task repair compact them`,
      );
    }
  }
}

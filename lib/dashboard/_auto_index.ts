/**
 * Keeping the catalog up to date from inside the server: every interval a
 * check that costs no DuckDB and no stat per specimen (`indexIfUnchanged`:
 * the catalog's sidecar, the change journal `vault.duckdb.changes`, one stat
 * of `specimens/`), and when it cannot prove the catalog current, an
 * incremental `indexVault`, which reads only the folders the journal names
 * and writes a new `vault.duckdb` beside the old one. Readers never wait:
 * they keep the old file until the rename, then `LiveCatalog` opens the new
 * one on the next request (as after `deno task index`). An index run by
 * hand meanwhile is waited for through the index lock.
 *
 * @module
 */
import { indexVault } from "../catalog/index_vault.ts";
import { indexIfUnchanged } from "../catalog/unchanged.ts";
import { errorMessage } from "../errors.ts";

/** Milliseconds between two checks unless told otherwise. */
export const DEFAULT_AUTO_INDEX_MS = 1000;
/** The longest wait after a failed index before the next try. */
const MAX_BACKOFF_MS = 60_000;
/**
 * After an index that took `t` ms, the next starts no sooner than
 * `IDLE_FACTOR × t` later (at most {@linkcode MAX_IDLE_MS}): while a run
 * logs a part every second into a large vault, the server spends at most a
 * fifth of a core indexing. The first index is not counted: it loads
 * DuckDB.
 */
const IDLE_FACTOR = 4;
const MAX_IDLE_MS = 10_000;

/** What `GET /api/info` says of the automatic index. */
export interface AutoIndexState {
  /** Milliseconds between checks. */
  interval_ms: number;
  /** When the last check ran (ISO-8601), null before the first. */
  checked_at: string | null;
  /** When the server last brought the catalog up to date, or null. */
  updated_at: string | null;
  /** Specimens read by that update. */
  updated_read: number;
  /** Whether an index is running now. */
  indexing: boolean;
  /** Why the last index failed (it is tried again later), else null. */
  error: string | null;
  /** The last index's warnings (specimens skipped and why), at most 20. */
  warnings: string[];
}

/** A loop keeping one vault's catalog current; stop it with `stop()`. */
export class AutoIndexer {
  readonly #vault: string;
  readonly #interval: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #failures = 0;
  #lastMs = 0;
  #indexed = 0;
  #running: Promise<void> | undefined;
  readonly state: AutoIndexState;

  constructor(vault: string, intervalMs = DEFAULT_AUTO_INDEX_MS) {
    this.#vault = vault;
    this.#interval = intervalMs;
    this.state = {
      interval_ms: intervalMs,
      checked_at: null,
      updated_at: null,
      updated_read: 0,
      indexing: false,
      error: null,
      warnings: [],
    };
  }

  /** Starts checking (the first check at once). */
  start(): void {
    this.#schedule(0);
  }

  /** Runs one check now (and an index if needed); resolves when done. */
  check(): Promise<void> {
    this.#running ??= this.#check().finally(() => this.#running = undefined);
    return this.#running;
  }

  /** Stops checking; resolves once a running index has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => {});
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(async () => {
      await this.check();
      const next = this.#failures
        ? Math.min(MAX_BACKOFF_MS, this.#interval * 2 ** this.#failures)
        : Math.max(
          this.#interval,
          Math.min(MAX_IDLE_MS, IDLE_FACTOR * this.#lastMs),
        );
      this.#lastMs = 0;
      this.#schedule(next);
    }, ms);
  }

  async #check(): Promise<void> {
    this.state.checked_at = new Date().toISOString();
    let current: boolean;
    try {
      current = indexIfUnchanged({ vault: this.#vault }) !== undefined;
    } catch {
      current = false;
    }
    if (current || this.#stopped) return;
    this.state.indexing = true;
    const started = performance.now();
    try {
      const report = await indexVault({ vault: this.#vault });
      if (report.mode !== "unchanged") {
        this.state.updated_at = new Date().toISOString();
        this.state.updated_read = report.read;
      }
      this.state.error = null;
      this.state.warnings = report.warnings.slice(0, 20);
      this.#failures = 0;
    } catch (e) {
      this.#failures++;
      this.state.error = errorMessage(e);
    } finally {
      this.state.indexing = false;
      if (this.#indexed++) this.#lastMs = performance.now() - started;
    }
  }
}

/**
 * The types a {@linkcode MetricsLogger} takes and gives: rows, options,
 * flush reports. `logger.ts` re-exports them.
 *
 * @module
 */
import type { ArtifactRecord } from "../specimen/manifest.ts";
import type { EncodeMetricsOptions } from "../formats/parquet/parquet.ts";

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
 * The most columns one table holds (`log()`, `writeMetrics()`, a child's
 * JSON lines, adopted CSV and JSONL files). Each column costs memory and a worker
 * encoding pass per part, and the catalog a column per metric: a row of
 * 200,000 keys (2.4 MB of JSON) once took a run to 23.9 GB. 16,384 is far
 * above any real table of metrics (per-item values belong in a tensor), and
 * the same limit as imports (`MAX_IMPORT_TABLE_COLUMNS`: a TensorBoard run
 * of 10,000 tags is one table of 10,002 columns).
 */
export const MAX_COLUMNS = 16_384;

/**
 * Metrics logs: {@linkcode MetricsLogger} writes a table row by row as
 * crash-safe part files and compacts them on close; the tables are listed
 * and read whether compacted or not ({@linkcode listMetricTables},
 * {@linkcode readMetricTable}); {@linkcode repairLogs} and
 * {@linkcode repairVault} (`deno task repair`) compact the logs a dead
 * process left.
 *
 * @example
 * ```ts
 * import { partFileName, repairVault } from "./mod.ts";
 * console.assert(partFileName(1) === "part-000001.parquet");
 * const vault = await Deno.makeTempDir();
 * await Deno.mkdir(`${vault}/specimens`);
 * console.assert((await repairVault(`${vault}/specimens`)).length === 0);
 * await Deno.remove(vault, { recursive: true });
 * ```
 *
 * @module
 */
export {
  type FlushInfo,
  type LogRow,
  type LogValue,
  MetricsLogger,
  type MetricsLoggerInit,
  type MetricsLoggerOptions,
} from "./logger.ts";
export { listMetricTables, type MetricTable, readMetricTable } from "./read.ts";
export {
  type CompactedLog,
  compactLog,
  type CompactLogOptions,
} from "./compact.ts";
export {
  repairLogs,
  type RepairReport,
  repairVault,
  type SpecimenRepair,
} from "./repair.ts";
export { LOG_LOCK_FILE, partFileName, PARTS_SUFFIX } from "./parts.ts";

/**
 * A metrics table on disk, however it was left: the compacted file
 * `strata/<name>.parquet`, or — while a {@linkcode MetricsLogger} writes it,
 * or after its process died — the part files
 * `strata/<name>.parts/part-000001.parquet`, `part-000002.parquet`, …
 *
 * The reader rule (the catalog follows it too): if `strata/<name>.parquet`
 * exists it is the table, and a `.parts/` folder beside it is the leftover
 * of a crash during cleanup, ignored. Otherwise the parts, in sequence
 * order, unioned by column name (INT64 and DOUBLE make DOUBLE; a column a
 * part lacks is null there), are the table.
 *
 * A parts folder holds a `.lock` file that its logger keeps locked
 * (exclusive `flock`) while it is open; the kernel releases the lock when
 * the process dies, so an unlocked folder is an interrupted log, and
 * {@linkcode repairLogs} compacts it.
 *
 * @module
 */
export { LOG_LOCK_FILE, partFileName, PARTS_SUFFIX } from "./parts.ts";
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

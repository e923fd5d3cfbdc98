/**
 * The catalog: `vault.duckdb`, a rebuildable DuckDB cache of every
 * specimen, built by {@linkcode indexVault} in phases: lock, scan (stat
 * only), plan (what changed), read (manifests, Parquet footers, Zarr
 * metadata), write (a temp catalog renamed into place).
 *
 * @example
 * ```ts ignore
 * import { indexVault } from "./mod.ts";
 * const report = await indexVault({ vault: "." });
 * console.log(report.mode, report.indexed);
 * ```
 *
 * @module
 */
export {
  CATALOG_SCHEMA_VERSION,
  INDEX_LOCK_FILE,
  type IndexOptions,
  type IndexProgress,
  type IndexReport,
  indexVault,
} from "./index_vault.ts";
export { indexIfUnchanged, type IndexIfUnchangedOptions } from "./unchanged.ts";

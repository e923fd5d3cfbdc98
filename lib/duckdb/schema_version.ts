/**
 * The catalog's schema version, in a module of its own so that code which
 * only compares it (the index's up-to-date check) need not load DuckDB.
 *
 * @module
 */

/**
 * Version of the catalog's tables (public as `CATALOG_SCHEMA_VERSION`).
 *
 * @example
 * ```ts
 * import { SCHEMA_VERSION } from "./schema_version.ts";
 * console.assert(Number.isInteger(SCHEMA_VERSION));
 * ```
 */
export const SCHEMA_VERSION = 5;

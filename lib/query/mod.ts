/**
 * SQL over a vault's catalog, read-only: {@linkcode VaultQuery} (in
 * `vault_query.ts`, with its types in `types.ts`), the SQL gate that lets
 * only reading statements through (`sql_gate.ts`), and CSV output
 * (`csv.ts`).
 *
 * @example
 * ```ts
 * import { DEFAULT_QUERY_TIMEOUT_SECONDS, toCsv } from "./mod.ts";
 * console.assert(DEFAULT_QUERY_TIMEOUT_SECONDS === 60);
 * console.assert(toCsv(["n"], [[1]]).startsWith("n"));
 * ```
 *
 * @module
 */
export {
  type ColumnInfo,
  type CompareOptions,
  type CompareResult,
  DEFAULT_QUERY_TIMEOUT_SECONDS,
  MAX_RESULT_BYTES,
  type MetricAcrossOptions,
  type MetricSummary,
  type QueryParams,
  type QueryResult,
  type Row,
  type RunOptions,
  type SpecimenFilter,
  type ValueForm,
  VaultQuery,
  type VaultQueryOptions,
} from "./vault_query.ts";
export { toCsv } from "./csv.ts";

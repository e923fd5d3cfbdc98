/**
 * The types and default limits of `VaultQuery`: rows, results,
 * parameters, and the options of its methods.
 *
 * @module
 */
import type { ParamDiffRow } from "../specimen/params.ts";
import type { ColumnInfo } from "../duckdb/duckdb.ts";

export type { ColumnInfo };

/** One result row: column name → plain JavaScript value. */
export type Row = Record<string, unknown>;

/** Query parameters: positional (`$1`, `?`) or named (`$name`). */
export type QueryParams = unknown[] | Record<string, unknown>;

/** A result with its column names and SQL types. */
export interface QueryResult {
  /** Columns in order: name and DuckDB type (`JSON` for JSON columns). */
  columns: ColumnInfo[];
  /** The rows, see {@linkcode VaultQuery.search} for the value types. */
  rows: Row[];
}

/**
 * How {@linkcode VaultQuery.run} gives values: `plain` JavaScript values
 * (see {@linkcode VaultQuery.search}); `sql`, each as DuckDB's own text
 * (`CAST(x AS VARCHAR)`: full precision, NULL as `null`); or `json`, a form
 * that JSON holds without loss (big integers and decimals as strings,
 * timestamps as ISO 8601 with their full fraction, blobs as base64).
 */
export type ValueForm = "plain" | "sql" | "json";

/** Options of {@linkcode VaultQuery.run}. */
export interface RunOptions {
  /** The form of the values. @default "plain" */
  values?: ValueForm;
}

/** Options of {@linkcode VaultQuery.open}. */
export interface VaultQueryOptions {
  /**
   * The vault root. Default: `$SPECIMEN_VAULT`, else the nearest folder at
   * or above the working directory that has `specimens/`.
   */
  vault?: string;
  /**
   * The longest a query may run, in seconds: a runaway query (a cross join,
   * a recursive CTE that never ends) is then interrupted with a
   * {@linkcode VaultError} naming the limit, and the connection stays
   * usable. `0` or `Infinity`: no limit.
   * @default {60}
   */
  timeoutSeconds?: number;
  /**
   * The most a result of {@linkcode VaultQuery.run} may hold, in bytes of
   * values (about the size of its JSON): a larger one is refused with a
   * {@linkcode VaultError} naming the limit, instead of failing deep inside
   * JavaScript ("Invalid string length") or taking the memory.
   * {@linkcode VaultQuery.writeParquet} streams and has no such limit.
   * @default {134217728} (128 MiB, {@linkcode MAX_RESULT_BYTES})
   */
  maxResultBytes?: number;
}

/** The size limit of a result unless {@linkcode VaultQueryOptions.maxResultBytes} says otherwise: 128 MiB. */
export const MAX_RESULT_BYTES = 128 * 1024 * 1024;

/** The time limit of a query unless {@linkcode VaultQueryOptions.timeoutSeconds} says otherwise. */
export const DEFAULT_QUERY_TIMEOUT_SECONDS = 60;

/** Filters of {@linkcode VaultQuery.specimens}; all optional, all must hold. */
export interface SpecimenFilter {
  /** Research domain, e.g. `"interpretability"`. */
  domain?: string;
  /** Method, e.g. `"sae_analysis"`. */
  method?: string;
  /** A tag the specimen must have. */
  tag?: string;
  /** Tags the specimen must all have. */
  tags?: string[];
  /** The model, e.g. `"gpt2"`. */
  model?: string;
  /** The status, e.g. `"active"`. */
  status?: string;
  /** Created at or after this instant. */
  since?: Date | string;
  /** Created before this instant. */
  until?: Date | string;
  /** At most this many (newest first). */
  limit?: number;
  /**
   * Params the specimen must have, each equal to the given leaf value:
   * nested records (`{ optimizer: { name: "adam" } }`) or dotted keys
   * (`{ "optimizer.name": "adam" }`). Numbers compare numerically (`3e-4`
   * matches `0.0003`); a string matches a string leaf only; booleans, null
   * and lists match their JSON text.
   */
  params?: Record<string, unknown>;
}

/** Options of {@linkcode VaultQuery.compare}. */
export interface CompareOptions {
  /** The metric column summarized per specimen. @default "loss" */
  metric?: string;
  /** The metric table. @default "metrics" */
  table?: string;
}

/** One specimen's summary of the compared metric. */
export interface MetricSummary {
  specimen_id: string;
  /** The value at the highest `step` (null without a `step` column or rows). */
  final: number | null;
  min: number | null;
  max: number | null;
  /** Rows of the metric table for this specimen. */
  rows: number;
}

/** What {@linkcode VaultQuery.compare} returns. */
export interface CompareResult {
  /** One row per param key across the specimens, `differs` flagged. */
  params: ParamDiffRow[];
  /** One summary per specimen, in the order of the ids given. */
  metric: MetricSummary[];
}

/** Options of {@linkcode VaultQuery.metricAcross}. */
export interface MetricAcrossOptions {
  /**
   * Which value per specimen: `"last"` / `"first"` (at the highest / lowest
   * `step`), `"min"`, `"max"`, `"mean"`, or a step number.
   * @default "last"
   */
  at?: "last" | "first" | "min" | "max" | "mean" | number;
  /** The metric table. @default "metrics" */
  table?: string;
  /** Only specimens of this domain. */
  domain?: string;
  /** Only specimens of this method. */
  method?: string;
  /** Only specimens with this tag. */
  tag?: string;
}

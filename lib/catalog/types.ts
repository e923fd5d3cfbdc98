/**
 * The options and report of `indexVault`.
 *
 * @module
 */
/** Options of {@linkcode indexVault}. */
export interface IndexOptions {
  /**
   * The vault root. Default: `$SPECIMEN_VAULT`, else the nearest folder at
   * or above the working directory that has `specimens/`.
   */
  vault?: string;
  /** Re-read every specimen instead of only new and changed ones. @default false */
  full?: boolean;
  /**
   * Look at every specimen folder (stat only) instead of only those the
   * change journal names (`vault.duckdb.changes`), and read the changed ones:
   * for changes made inside specimen folders by other means than the
   * library (an editor, a copy into `strata/`). @default false
   */
  rescan?: boolean;
  /**
   * Treat any warning as an error: the catalog is left as it was and
   * {@linkcode indexVault} throws a {@linkcode VaultError}.
   * @default false
   */
  strict?: boolean;
  /**
   * Store every `exp_<id>` view in the file, for DuckDB clients other than
   * {@linkcode VaultQuery} (which creates the ones a query needs).
   * @default false
   */
  views?: boolean;
  /** Called with each warning (a specimen or file skipped, and why). */
  onWarning?: (message: string) => void;
  /** Called as the work advances (for a progress line). */
  onProgress?: (progress: IndexProgress) => void;
}

/** Where {@linkcode indexVault} is. */
export interface IndexProgress {
  /** `waiting` for another indexer, `scanning` folders, `reading` changed specimens, `writing` the catalog. */
  phase: "waiting" | "scanning" | "reading" | "writing";
  /** Items done in this phase. */
  done: number;
  /** Items in this phase. */
  total: number;
  /** For `waiting`: who holds the lock. */
  message?: string;
}

/** What {@linkcode indexVault} did. */
export interface IndexReport {
  /** The catalog file. */
  catalog: string;
  /** `full` rebuild, `incremental` update, or `unchanged` (nothing to do). */
  mode: "full" | "incremental" | "unchanged";
  /** Specimens in the catalog now. */
  indexed: number;
  /** Specimens read this run (new or changed; all of them when full). */
  read: number;
  /** Specimens dropped from the catalog (folder gone or now invalid). */
  removed: number;
  /** Folders skipped (no manifest, invalid manifest, id taken). */
  skipped: number;
  /** Every warning, in order. */
  warnings: string[];
  /** Wall time in milliseconds. */
  ms: number;
  /**
   * Where the time went, in milliseconds: `lock`, `scan` (stat every
   * folder), `previous` (the old catalog's fingerprints; a new catalog's
   * opening and the listing that starts its bulk read), `read` (manifests,
   * Parquet footers, Zarr metadata), `copy` (old catalog → temp), `catalog`
   * (specimen rows, tensors, params), `bulk` (waiting for the bulk read),
   * `metrics` (metric rows), `checkpoint`, `close`, `finish` (rename,
   * sidecar); `check` alone when `indexIfUnchanged` answered.
   */
  timings: Record<string, number>;
}

/**
 * The write phase: the new catalog is staged beside the old one (a copy of
 * it, updated, or a new file) and renamed into place, so that a reader sees
 * the old or the new catalog, never a partial one.
 *
 * @module
 */
import {
  type Database,
  type DuckDBConnection,
  ident,
  MAIN_METRICS,
  openDatabase,
} from "../duckdb/duckdb.ts";
import { exists, tempPathFor, withWriteContext } from "../_fs.ts";
import { VaultError } from "../errors.ts";
import type { SpecimenRecord } from "./_records.ts";
import { CATALOG_SCHEMA_VERSION, SCHEMA_SQL } from "./schema.ts";
import {
  deleteSpecimens,
  stageCatalog,
  writeCatalogRows,
  writeParams,
  writeTensors,
  writeViews,
} from "./_write_catalog.ts";
import { writeMetrics } from "./_write_metrics.ts";
import { dropBulk, EarlyCatalog } from "./_bulk.ts";

/** What {@linkcode writeCatalog} writes, and how it reports. */
export interface CatalogChanges {
  /** The temp catalog: a copy of the old one to update, or none yet. */
  tmp: string;
  /** Whether `tmp` is a copy of the old catalog (else it gets the schema). */
  update: boolean;
  /** Store every `exp_` view. */
  views: boolean;
  /** Specimens whose rows stay. */
  kept: number;
  /** Ids whose rows go. */
  toDelete: string[];
  /** Specimens read this run. */
  records: SpecimenRecord[];
  /** Folders skipped so far (for the message when none is valid). */
  skipped: number;
  /** The vault's `specimens/` folder, for messages. */
  specimensDir: string;
  warn: (message: string) => void;
  /** Steps done of 5. */
  step: (done: number) => void;
  /** Ends a timed phase. */
  lap: (phase: string) => void;
  /** The new catalog, opened early, and its bulk read (a new catalog only). */
  early?: EarlyCatalog;
  /** `tmp`, already open (the spare catalog, updated in place). */
  db?: Database;
}

/**
 * The most memory DuckDB may take while it builds a new catalog. Its bulk
 * read writes full row groups to the file as it goes, so a low limit costs
 * no time and keeps the peak RSS down (10,000 files of 1,000 rows: about
 * 330 MB at 128 MB, 460 MB at 256 MB, 630 MB unlimited).
 */
const NEW_CATALOG_MEMORY_LIMIT = "128MB";

/**
 * Opens the catalog at `path` for indexing. DuckDB's external file cache is
 * off: the index reads each file once, and the cache kept every file read
 * in memory (about 40 MB at 10,000 files) and took 1.5 s to free on close.
 */
export function openCatalog(
  path: string,
  config: Record<string, string> = {},
): Promise<Database> {
  return openDatabase(path, {
    autoload_known_extensions: "false",
    enable_external_file_cache: "false",
    ...config,
  });
}

/**
 * Starts opening a new catalog at `tmp` once `ready` resolves (the old one's
 * copy there is gone), while the caller goes on scanning.
 */
export function openEarly(
  tmp: string,
  ready: () => Promise<void>,
): EarlyCatalog {
  return new EarlyCatalog(
    ready().then(() =>
      openCatalog(tmp, { memory_limit: NEW_CATALOG_MEMORY_LIMIT })
    ),
  );
}

/**
 * Writes the changes into the temp catalog and checkpoints it. Returns the
 * records stored (those DuckDB can hold). Throws {@linkcode VaultError}
 * when no valid specimen would be left.
 */
export async function writeCatalog(
  w: CatalogChanges,
): Promise<SpecimenRecord[]> {
  const db = await (w.early?.db ?? w.db ?? openCatalog(w.tmp));
  // A bulk read may still be running on the main connection: the catalog's
  // own tables are written on a second one meanwhile (its staging tables
  // are its own: TEMP tables belong to one connection).
  let side: DuckDBConnection | undefined;
  let done = false;
  const closeSide = () => {
    side?.closeSync();
    side = undefined;
  };
  try {
    if (w.early) side = await db.instance.connect();
    const c = db.connection;
    const s = side ?? c;
    if (!w.update) {
      await s.run(SCHEMA_SQL);
      await s.run(
        `INSERT INTO vault_info VALUES ('schema_version', '${CATALOG_SCHEMA_VERSION}'), ('views', '${w.views}')`,
      );
    }
    w.step(0);
    if (w.toDelete.length) await deleteSpecimens(c, w.toDelete, w.views);
    const valid = await stageCatalog(s, w.records, w.warn);
    if (w.kept + valid.length === 0) {
      throw noValidSpecimens(
        w.specimensDir,
        w.skipped + w.records.length - valid.length,
      );
    }
    await writeTensors(s, valid);
    await writeParams(s, valid);
    w.lap("catalog");
    const loads = await w.early?.loads() ?? new Map();
    w.lap("bulk");
    w.step(1);
    await writeMetrics(c, valid, w.warn, loads, !w.update);
    await dropBulk(c, loads);
    w.lap("metrics");
    w.step(2);
    await writeCatalogRows(s, valid);
    w.lap("catalog");
    w.step(3);
    if (w.views) await writeViews(c, valid);
    // Queries may name `metrics` before any specimen has written one.
    await c.run(
      `CREATE TABLE IF NOT EXISTS ${ident(MAIN_METRICS)} (specimen_id VARCHAR)`,
    );
    await c.run(
      `DELETE FROM vault_info WHERE key IN ('built_at', 'specimens', 'fingerprint_logs');
       INSERT INTO vault_info VALUES ('built_at', now()::VARCHAR), ('specimens', '${
        w.kept + valid.length
      }'), ('fingerprint_logs', 'true');`,
    );
    closeSide();
    await c.run("CHECKPOINT");
    w.step(4);
    w.lap("checkpoint");
    done = true;
    return valid;
  } finally {
    closeSide();
    // Never close the database under a bulk read still running (a failure
    // before the write phase waited for it): stop it first.
    if (!done) await w.early?.stop();
    db.close();
    w.lap("close");
  }
}

/**
 * Runs `build` with a temp path beside `catalog` to build the new catalog
 * in, and `place` to rename it into place. Whatever fails, the temp is
 * removed and the old catalog stays as it was (the error says so).
 */
export async function withStagedCatalog<T>(
  catalog: string,
  build: (tmp: string, place: () => Promise<void>) => Promise<T>,
): Promise<T> {
  const tmp = tempPathFor(catalog);
  let placed = false;
  try {
    return await build(tmp, async () => {
      await placeCatalog(tmp, catalog);
      placed = true;
    });
  } catch (e) {
    // A full disk or a read-only vault: say so, and that nothing was lost.
    throw withWriteContext(
      e,
      `Cannot write the catalog ${catalog} (the previous catalog is left as it was)`,
    );
  } finally {
    if (!placed) {
      await Deno.remove(tmp).catch(() => {});
      await Deno.remove(`${tmp}.wal`).catch(() => {});
    }
  }
}

/** Renames the temp catalog `tmp` into place as `catalog`. */
async function placeCatalog(tmp: string, catalog: string) {
  // DuckDB removes the WAL on a clean close; a leftover one would mean the
  // file alone is not the whole database.
  if (await exists(`${tmp}.wal`)) {
    throw new VaultError(
      `DuckDB left a write-ahead log beside ${tmp}; the catalog was not replaced. Run the index again`,
    );
  }
  await Deno.rename(tmp, catalog);
}

export function noValidSpecimens(dir: string, skipped: number): VaultError {
  return new VaultError(
    `No valid specimens found to index in ${dir}${
      skipped ? ` (${skipped} folder(s) skipped: see the warnings above)` : ""
    }. Create one with \`deno task create\`, or fix the manifests named above; the previous catalog was left untouched`,
  );
}

export function strictFailure(warnings: string[]): VaultError {
  return new VaultError(
    `--strict: ${warnings.length} warning(s) (see above); the catalog was not replaced. Fix them, or index without --strict`,
  );
}

/**
 * The catalog: `vault.duckdb`, built from every `specimens/<id>/` folder by
 * {@linkcode indexVault}. It is a cache: everything in it is derived from the
 * specimen folders and can be rebuilt at any time. Paths in it are relative
 * to the vault root and every relation is a table inside the file, so the
 * vault can be moved or copied and queried from any working directory.
 *
 * Tables:
 *
 * - `catalog`: one row per specimen: `specimen_id` (the key: one row per
 *   folder), `created` (TIMESTAMPTZ: the instant, whatever offset the
 *   manifest used), `domain`, `method`, `model`, `tags` (VARCHAR[]),
 *   `status`, `path` (`specimens/<id>`), `description`, `parent` (the
 *   specimen it was derived from, `deno task create --from`), `dependencies`
 *   (MAP(VARCHAR, VARCHAR)), `artifacts` and `provenance` (JSON, as the
 *   manifest records them; `provenance` NULL when absent), `metrics_rows`,
 *   `issues` (VARCHAR[]: what indexing found wrong with it), `manifest`
 *   (JSON: all of it, extra keys included), `fingerprint`, `indexed_at`.
 * - `metrics`: every specimen's `strata/metrics.parquet` rows with a
 *   `specimen_id` column, columns unioned by name into the narrowest type
 *   that holds every specimen's values exactly (integers as BIGINT, else
 *   UBIGINT or HUGEINT; decimals, with integers, as a DECIMAL wide enough),
 *   and DOUBLE where none does (a FLOAT or DOUBLE among them). Where DOUBLE
 *   changes a specimen's values (an INT64 beyond 2^53, a DECIMAL of 18
 *   digits), the index reports the column and the specimen, and its
 *   `exp_<id>` reads an exact copy of its file (a `_exact__<id>__<name>`
 *   table). A file whose column types clash with the other
 *   specimens' (text where they have numbers) is kept out of it, reported,
 *   and loaded into a table of its own instead.
 * - `metrics__<name>`: the same for every other `strata/<name>.parquet`.
 *   A metrics log not compacted yet (`strata/<name>.parts/`, a run in
 *   progress) counts as that file: its parts, unioned by column name as
 *   compaction would. A log whose logger died is read the same way, as it
 *   is, and reported (an issue of its specimen: compact it with
 *   `deno task repair <id>`): the index only reads specimen folders.
 * - `metric_tables`: one row per Parquet file (or log: `path` is then its
 *   `.parts` folder): `specimen_id`, `name`, `path`,
 *   `rows`, `columns`, `relation` (`exp_<id>`, or `exp_<id>__<name>`),
 *   `source` (the table holding its rows), `definition` (the SELECT behind
 *   the relation) and `issue`.
 * - `tensors`: one row per Zarr array (v3 `zarr.json` or v2 `.zarray`) under
 *   `strata/`: `specimen_id`, `name`, `path`, `shape`, `dtype`, `chunks`,
 *   `codecs`, `bytes` (on disk), `zarr_format`.
 * - `vault_info`: `key`/`value` pairs (schema version, build time).
 *
 * `exp_<id>` (one specimen's metrics, named as the original vault named
 * them, with its own file's column types and values) is a view: {@linkcode VaultQuery} creates the ones a query mentions
 * as it runs it. `indexVault({ views: true })` stores all of them in the file
 * instead, for other DuckDB clients; they are not stored by default because
 * each costs about 0.15 ms to build and 20 µs on every open of the file
 * (10,000 of them: +1.5 s per index, +0.2 s per query).
 *
 * `specimen_id` is unique by construction (one folder per id) but not a
 * declared PRIMARY KEY: keeping that index costs about 0.1 s on every
 * incremental index.
 *
 * @module
 */
import { removeStaleTemps } from "../_fs.ts";
import { CHANGES_FILE, vaultState } from "../vault_changes.ts";
import { NotFoundError } from "../errors.ts";
import {
  findVault,
  SPECIMENS_DIR,
  type VaultPaths,
  vaultPaths,
} from "../vault.ts";
import { lockIndex } from "./lock.ts";
import type { Previous } from "./_plan.ts";
import { listFolders, scanVault, type VaultScan } from "./_scan.ts";
import {
  fileIdentity,
  readSidecar,
  type ScanState,
  unchangedWarnings,
} from "./_sidecar.ts";
import { removeSidecar, writeSidecar } from "./_sidecar_write.ts";
import {
  dropSpare,
  linkSpare,
  recordSpare,
  takeSpare,
  usableSpare,
} from "./_spare.ts";
import {
  type Changed,
  changedSince,
  JOURNAL_ROTATE_BYTES,
} from "./_changed.ts";
import type { IndexOptions, IndexReport } from "./types.ts";

export { CATALOG_SCHEMA_VERSION } from "./schema.ts";
export { INDEX_LOCK_FILE } from "./lock.ts";
export type { IndexOptions, IndexProgress, IndexReport } from "./types.ts";

/**
 * Builds or updates `vault.duckdb` from the vault's specimen folders.
 *
 * The new catalog is built beside the old one under a hidden temp name and
 * renamed into place, so a reader sees the old or the new catalog, never a
 * partial one, and a crash leaves the old one intact. Only one indexer runs
 * per vault at a time (a lock file; a second one waits). By default only new
 * and changed specimens are read (change = a different size or mtime of the
 * manifest or of a file under `strata/`, or a log's new parts); `full`
 * rebuilds everything. Metrics logs not compacted are read as their parts;
 * an interrupted one is reported (`deno task repair <id>` compacts it). The
 * index writes nothing into specimen folders.
 *
 * Bad specimens never stop the index: each is named in a warning and
 * skipped. With no valid specimen at all it throws a {@linkcode VaultError}
 * and the old catalog stays as it was.
 *
 * Needs `--allow-read`, `--allow-write` on the vault, `--allow-ffi`,
 * `--allow-env` and `--allow-sys` (DuckDB).
 *
 * @example
 * ```ts ignore
 * import { indexVault } from "./index_vault.ts";
 * const report = await indexVault({ vault: ".", onWarning: console.warn });
 * console.log(`${report.indexed} specimens in ${report.ms.toFixed(0)} ms`);
 * ```
 */
export async function indexVault(
  options: IndexOptions = {},
): Promise<IndexReport> {
  const clock = new Clock();
  const paths = await vaultOf(options.vault);
  const views = options.views ?? false;
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    options.onWarning?.(message);
  };
  const progress = options.onProgress;
  const tick = (phase: "scanning" | "reading") =>
    progress &&
    ((done: number, total: number) => progress({ phase, done, total }));
  // Loaded only when the catalog must be read or written (they load DuckDB).
  const loaded: { strictFailure?: (warnings: string[]) => Error } = {};
  const report = (mode: IndexReport["mode"], counts: Counts): IndexReport => {
    if (options.strict && warnings.length) {
      throw loaded.strictFailure!(warnings);
    }
    return {
      catalog: paths.catalog,
      mode,
      ...counts,
      warnings,
      ...clock.end(),
    };
  };

  using _lock = await lockIndex(paths.root, progress);
  const catalogName = paths.catalog.slice(paths.root.length + 1);
  await removeStaleTemps(paths.root, `.tmp-${catalogName}-`, {
    exclusive: true,
  });
  clock.lap("lock");
  // The vault as a whole before any folder is looked at: whatever changes
  // from now on shows up in the next index.
  const before = vaultState(paths.root);
  // With the catalog's sidecar, a scan alone tells that nothing changed; and
  // with the change journal, a scan of only the folders it names.
  const known = options.full ? undefined : readSidecar(paths.catalog, views);
  const changed = known && !options.rescan
    ? changedSince(paths.root, known, before)
    : undefined;
  if (!changed) before.journal = rotateJournal(paths.root, before);
  let scanned: { found: VaultScan; warnings: string[] } | undefined;
  if (known) {
    const held: string[] = [...(changed?.held ?? [])];
    const found = await scanVault(
      paths.specimens,
      (f) => known.lookup(f),
      (message) => held.push(message),
      tick("scanning"),
      // A folder added or removed changes specimens/: then it is listed
      // once, and only the new folders are looked at besides those the
      // journal names (a folder replaced by hand under its own name, like
      // any change by hand inside one, is seen by --rescan).
      changed
        ? {
          folders: changed.sameFolders
            ? known.ids
            : listFolders(paths.specimens, (message) => held.push(message)),
          toScan: changed.toScan,
        }
        : undefined,
    );
    clock.lap("scan");
    const same = unchangedWarnings(found, known);
    if (same && !(options.strict && held.length + same.length)) {
      for (const message of [...held, ...same]) warn(message);
      const state = scanState(found, known.ids, held, changed, before);
      if (!sameState(state, known.state)) {
        // So that the next index need not look at these folders again.
        await writeSidecar(
          paths.catalog,
          views,
          known.previous(),
          fileIdentity(paths.catalog),
          state,
        ).catch(() => {});
      }
      return report("unchanged", {
        read: 0,
        skipped: 0,
        indexed: found.scans.length,
        removed: 0,
      });
    }
    scanned = { found, warnings: held };
  }
  const [
    { openOldCatalog, planChanges, readPrevious, toWrite },
    { readChanged },
    { storeFunctionList },
    { openDatabase },
  ] = await Promise.all([
    import("./_plan.ts"),
    import("./_read.ts"),
    import("../duckdb/function_list.ts"),
    import("../duckdb/duckdb.ts"),
  ]);
  // For queries' SQL gate, once per DuckDB version (see function_list.ts).
  const functionList = () =>
    storeFunctionList(paths.catalog, () => openDatabase(":memory:"))
      .catch(() => {});
  const { noValidSpecimens, withStagedCatalog, writeCatalog, ...write } =
    await import("./_write.ts");
  const strictFailure = loaded.strictFailure = write.strictFailure;
  return await withStagedCatalog(paths.catalog, async (tmp, place) => {
    const identity = fileIdentity(paths.catalog);
    const old = await openOldCatalog(
      paths.catalog,
      tmp,
      !!options.full,
      views,
      known?.previous(),
      spareOffer(paths.catalog, known !== undefined && !options.full),
    );
    const previous = old.previous;
    // A new catalog opens, and reads the metric files, while the vault is
    // scanned and the manifests are read.
    await using early = previous
      ? undefined
      : write.openEarly(tmp, () => old.settle(false));
    await early?.load(paths.specimens);
    clock.lap("previous");
    const fingerprint = previous?.logs
      ? (f: string) => previous.fingerprints.get(f)?.fingerprint
      : undefined;
    let found: VaultScan;
    const held: string[] = [];
    if (scanned) {
      // Scanned above with these same fingerprints (the sidecar's).
      held.push(...scanned.warnings);
      found = scanned.found;
    } else {
      found = await scanVault(
        paths.specimens,
        fingerprint,
        (message) => held.push(message),
        tick("scanning"),
      );
      clock.lap("scan");
    }
    for (const message of held) warn(message);
    const plan = planChanges(found.scans, previous, warn);
    const read = await readChanged(
      plan.toRead,
      found.folders,
      warn,
      tick("reading"),
    );
    clock.lap("read");
    const counts = {
      read: plan.toRead.length,
      skipped: found.skipped + read.skipped,
    };
    const unchanged = previous?.logs && plan.toDelete.length === 0 &&
      read.records.length === 0;
    await old.settle(!unchanged);
    if (unchanged) {
      if (plan.kept.size === 0) {
        throw noValidSpecimens(paths.specimens, counts.skipped);
      }
      // So that the next index, if nothing changes, need not open it.
      await writeSidecar(
        paths.catalog,
        views,
        previous,
        identity,
        scanState(found, [...plan.kept].sort(), held, changed, before),
      ).catch(() => {});
      await functionList();
      return report("unchanged", {
        ...counts,
        indexed: plan.kept.size,
        removed: 0,
      });
    }
    // On the spare catalog: also what the last index changed.
    const changes = await toWrite(
      plan,
      read.records,
      old.spare,
      async (ids) => {
        const only = { folders: ids, toScan: new Set(ids) };
        const again = await scanVault(
          paths.specimens,
          fingerprint,
          () => {},
          undefined,
          only,
        );
        return (await readChanged(again.scans, found.folders, () => {}))
          .records;
      },
    ).catch((e) => {
      old.spare?.db.close();
      throw e;
    });
    clock.lap("copy");
    // Writing can add an issue to a specimen it keeps (a later specimen
    // widened a column they share): then the sidecar is read back from the
    // catalog rather than built from the records.
    let keptIssues = false;
    const valid = await writeCatalog({
      tmp,
      update: previous !== undefined,
      views,
      kept: changes.kept.size,
      toDelete: changes.toDelete,
      records: changes.records,
      skipped: counts.skipped,
      specimensDir: paths.specimens,
      warn: (message) => {
        const id = /^[^/]+\/([^:]+):/.exec(message)?.[1];
        if (id !== undefined && changes.kept.has(id)) keptIssues = true;
        warn(message);
      },
      step: (done) => progress?.({ phase: "writing", done, total: 5 }),
      lap: (phase) => clock.lap(phase),
      early,
      db: old.spare?.db,
    });
    counts.skipped += changes.records.length - valid.length;
    if (options.strict && warnings.length) {
      throw strictFailure(warnings);
    }
    await removeSidecar(paths.catalog);
    // The catalog being replaced becomes the next index's spare.
    if (previous) linkSpare(paths.catalog);
    else dropSpare(paths.catalog);
    await place();
    const stored = keptIssues
      ? await readPrevious(paths.catalog, views).catch(() => undefined)
      : undefined;
    const record = stored ?? recorded(changes.kept, previous, valid);
    await writeSidecar(
      paths.catalog,
      views,
      record,
      undefined,
      scanState(
        found,
        [...record.fingerprints.keys()].sort(),
        held,
        changed,
        before,
      ),
    ).catch(() => {}); // without one, the next index reads the catalog
    recordSpare(
      paths.catalog,
      previous &&
        [...new Set([...plan.toDelete, ...plan.toRead.map((s) => s.folder)])],
    );
    await functionList();
    progress?.({ phase: "writing", done: 5, total: 5 });
    clock.lap("finish");
    const reinserted = new Set(valid.map((r) => r.id));
    return report(previous ? "incremental" : "full", {
      ...counts,
      indexed: changes.kept.size + valid.length,
      removed: plan.toDelete.filter((id) => !reinserted.has(id)).length,
    });
  });
}

/**
 * What the sidecar records of the vault for the next index: `before` (or,
 * when only some folders were looked at, how far the journal was read), if
 * the scan listed exactly the specimens `ids` the catalog holds; else
 * nothing (the next index then looks at every folder).
 */
function scanState(
  found: VaultScan,
  ids: string[],
  held: string[],
  changed: Changed | undefined,
  before: { specimens: number; journal: ScanState["journal"] },
): ScanState | undefined {
  if (found.skipped || found.folders.length !== ids.length) return undefined;
  for (let i = 0; i < ids.length; i++) {
    if (found.folders[i] !== ids[i]) return undefined;
  }
  const { specimens, journal } = changed?.state ?? before;
  return { specimens, journal, held };
}

/** Whether two recorded states are the same. */
function sameState(a: ScanState | undefined, b: ScanState | undefined) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Removes the change journal when it has grown past
 * {@linkcode JOURNAL_ROTATE_BYTES}, before a scan of every folder (which
 * needs none of it); returns the journal state to record.
 */
function rotateJournal(
  root: string,
  before: { journal: ScanState["journal"] },
): ScanState["journal"] {
  if (!before.journal || before.journal.size <= JOURNAL_ROTATE_BYTES) {
    return before.journal;
  }
  try {
    Deno.removeSync(`${root}/${CHANGES_FILE}`);
    return null;
  } catch {
    return before.journal; // still there: read again from here next time
  }
}

/** What the new catalog records: the rows kept, and those written. */
function recorded(
  kept: Set<string>,
  previous: Previous | undefined,
  written: { id: string; fingerprint: string; issues: string[] }[],
): Previous {
  const fingerprints: Previous["fingerprints"] = new Map();
  for (const id of kept) {
    const entry = previous?.fingerprints.get(id);
    if (entry) fingerprints.set(id, entry);
  }
  for (const r of written) {
    fingerprints.set(r.id, { fingerprint: r.fingerprint, issues: r.issues });
  }
  return { fingerprints, logs: true };
}

/** The spare catalog, if the index may update it in place (`_spare.ts`). */
function spareOffer(catalog: string, incremental: boolean) {
  const touched = incremental ? usableSpare(catalog) : undefined;
  return touched && { touched, take: (tmp: string) => takeSpare(catalog, tmp) };
}

type Counts = Pick<IndexReport, "indexed" | "read" | "removed" | "skipped">;

/** The vault's paths; throws {@linkcode NotFoundError} without `specimens/`. */
async function vaultOf(vault: string | undefined): Promise<VaultPaths> {
  const paths = vault !== undefined ? vaultPaths(vault) : await findVault();
  try {
    if (!(await Deno.stat(paths.specimens)).isDirectory) throw new Error();
  } catch {
    throw new NotFoundError(
      `No "${SPECIMENS_DIR}/" folder in ${paths.root}: is it a vault? Pass the vault root with --vault, or create a specimen with \`deno task create\``,
    );
  }
  return paths;
}

/** Wall time, and where it went (the report's `ms` and `timings`). */
class Clock {
  readonly started: number = performance.now();
  readonly timings: Record<string, number> = {};
  #mark = this.started;

  /** Ends the phase `phase` now (phases may repeat: their times add up). */
  lap(phase: string) {
    const now = performance.now();
    this.timings[phase] = (this.timings[phase] ?? 0) + now - this.#mark;
    this.#mark = now;
  }

  end(): { ms: number; timings: Record<string, number> } {
    return { ms: performance.now() - this.started, timings: this.timings };
  }
}

/**
 * The plan phase: what the last index recorded, and what changed since
 * (added, removed, changed specimens).
 *
 * @module
 */
import { type Database, openDatabase } from "../duckdb/duckdb.ts";
import { exists } from "../_fs.ts";
import { SPECIMENS_DIR } from "../vault.ts";
import { CATALOG_SCHEMA_VERSION } from "./schema.ts";
import type { FolderScan } from "./_scan.ts";
import type { SpecimenRecord } from "./_records.ts";
import { sameFiles } from "./_fingerprint.ts";
import { openCatalog } from "./_write.ts";

export interface Previous {
  fingerprints: Map<string, { fingerprint: string; issues: string[] }>;
  /**
   * Its fingerprints record logs' parts (`l:`). An older catalog's do not,
   * so its `strata/` mtimes cannot vouch that no log is there: every folder
   * is listed once (the fingerprints of those without logs still match).
   */
  logs: boolean;
}

export async function readPrevious(
  catalog: string,
  views: boolean,
): Promise<Previous | undefined> {
  try {
    using db = await openDatabase(catalog, { access_mode: "READ_ONLY" });
    // One round trip, and two strings instead of 20,000 values to convert.
    const [[info, fingerprints, issues]] = (await db.connection.runAndReadAll(
      `SELECT
         (SELECT json_group_object(key, value) FROM vault_info)::VARCHAR,
         (SELECT string_agg(specimen_id || chr(9) || fingerprint, chr(10)) FROM catalog),
         (SELECT json_group_object(specimen_id, issues) FROM catalog WHERE len(issues) > 0)::VARCHAR`,
    )).getRows() as [string, string | null, string | null][];
    const meta = JSON.parse(info);
    if (
      meta.schema_version !== String(CATALOG_SCHEMA_VERSION) ||
      meta.views !== String(views)
    ) {
      return undefined;
    }
    const map = new Map<string, { fingerprint: string; issues: string[] }>();
    for (const line of (fingerprints ?? "").split("\n")) {
      const tab = line.indexOf("\t");
      if (tab > 0) {
        map.set(line.slice(0, tab), {
          fingerprint: line.slice(tab + 1),
          issues: [],
        });
      }
    }
    for (const [id, list] of Object.entries(JSON.parse(issues ?? "{}"))) {
      const entry = map.get(id);
      if (entry) entry.issues = list as string[];
    }
    return { fingerprints: map, logs: meta.fingerprint_logs === "true" };
  } catch {
    return undefined; // unreadable or foreign: rebuild from scratch
  }
}

/** Copies `from` to `to`, then flushes the copy to disk if still wanted. */
async function copyFlushed(
  from: string,
  to: string,
  wanted: { flush: boolean },
): Promise<void> {
  await Deno.copyFile(from, to);
  if (!wanted.flush) return;
  using file = await Deno.open(to, { read: true, write: true });
  await file.syncData();
}

/** What changed since the last index. */
export interface Plan {
  /** Folders whose catalog rows stay as they are. */
  kept: Set<string>;
  /** Folders to read: new, or changed since the last index. */
  toRead: FolderScan[];
  /** Ids whose rows go (folder gone, or changed: read again). */
  toDelete: string[];
}

/**
 * Compares each scan's fingerprint with the last index's: a match is kept
 * (its recorded issues are warned again), the rest are read.
 */
export function planChanges(
  scans: FolderScan[],
  previous: Previous | undefined,
  warn: (message: string) => void,
): Plan {
  const kept = new Set<string>();
  const toRead: FolderScan[] = [];
  for (const scan of scans) {
    const old = previous?.fingerprints.get(scan.folder);
    if (old && sameFiles(old.fingerprint, scan.fingerprint) && scan.manifest) {
      kept.add(scan.folder);
      for (const issue of old.issues) {
        warn(`${SPECIMENS_DIR}/${scan.folder}: ${issue}`);
      }
    } else {
      toRead.push(scan);
    }
  }
  const toDelete = previous
    ? [...previous.fingerprints.keys()].filter((id) => !kept.has(id))
    : [];
  return { kept, toRead, toDelete };
}

/** A spare catalog to update in place (`_spare.ts` `usableSpare`). */
export interface SpareOffer {
  /** The ids whose rows it holds as the catalog before the current one did. */
  touched: string[];
  /** Renames it to `tmp` (`_spare.ts` `takeSpare`). */
  take(tmp: string): void;
}

/** The catalog being replaced, as the index starts. */
export interface OldCatalog {
  /** What it recorded; undefined for a first or full index (or a foreign file). */
  previous?: Previous;
  /**
   * Set once `settle(true)` took the spare catalog (`_spare.ts`) to `tmp`
   * instead of a copy: its database, open for writing, and the ids whose
   * rows it holds as the catalog before the current one did (to delete and
   * read again).
   */
  spare?: { db: Database; touched: string[] };
  /**
   * Waits for the copy of it to `tmp` (made meanwhile on another thread);
   * `used`: the copy will be updated, so it is flushed to disk. A copy of a
   * catalog that cannot be updated is removed: the new one starts afresh.
   * Later calls wait for the first one's.
   */
  settle(used: boolean): Promise<void>;
}

/**
 * Starts copying the old catalog to `tmp` (unless `full` or none, or a
 * `spare` is offered with `known`: then nothing is copied until `settle`)
 * and reads what it recorded (or takes `known`: the same, from its sidecar).
 */
export async function openOldCatalog(
  catalog: string,
  tmp: string,
  full: boolean,
  views: boolean,
  known?: Previous,
  spare?: SpareOffer,
): Promise<OldCatalog> {
  const hasOld = !full && await exists(catalog);
  if (!hasOld) return { settle: () => Promise.resolve() };
  if (known && spare) return withSpare(catalog, tmp, known, spare);
  // Copied while the folders are scanned, then flushed, so that the
  // checkpoint's fsync has little left to do.
  const copy = { flush: true };
  const copied = copyFlushed(catalog, tmp, copy);
  copied.catch(() => {}); // awaited in settle(); never an unhandled rejection
  const previous = known ?? await readPrevious(catalog, views);
  let settled: Promise<void> | undefined;
  return {
    previous,
    settle(used: boolean) {
      copy.flush = used; // an unused copy need not reach the disk
      return settled ??= copied.then(() =>
        previous ? undefined : Deno.remove(tmp)
      );
    },
  };
}

/**
 * The old catalog when its spare can be updated in place: nothing is copied
 * unless the spare turns out to be locked by a reader (DuckDB cannot open
 * it for writing), and nothing at all when the index finds no change.
 */
function withSpare(
  catalog: string,
  tmp: string,
  previous: Previous,
  spare: SpareOffer,
): OldCatalog {
  let settled: Promise<void> | undefined;
  const old: OldCatalog = {
    previous,
    settle(used: boolean) {
      return settled ??= used ? take() : Promise.resolve();
    },
  };
  const take = async () => {
    spare.take(tmp);
    try {
      old.spare = { db: await openCatalog(tmp), touched: spare.touched };
    } catch {
      // A reader holds it: it is theirs now; copy the catalog as before.
      await Deno.remove(tmp).catch(() => {});
      await Deno.remove(`${tmp}.wal`).catch(() => {});
      await copyFlushed(catalog, tmp, { flush: true });
    }
  };
  return old;
}

/** What the write phase applies to its temp catalog. */
export interface ToWrite {
  kept: Set<string>;
  toDelete: string[];
  records: SpecimenRecord[];
}

/**
 * The plan as the write phase applies it: as planned on a copy of the
 * catalog; on the spare, also every id it holds as the catalog before the
 * current one did (`touched`), deleted and, if still kept, read again by
 * `reread` (scanned and read afresh: the plan kept them unscanned; their
 * issues were said then).
 */
export async function toWrite(
  plan: Plan,
  records: SpecimenRecord[],
  spare: OldCatalog["spare"],
  reread: (ids: string[]) => Promise<SpecimenRecord[]>,
): Promise<ToWrite> {
  if (!spare) return { kept: plan.kept, toDelete: plan.toDelete, records };
  const again = spare.touched.filter((id) => plan.kept.has(id)).sort();
  const kept = new Set(plan.kept);
  for (const id of again) kept.delete(id);
  const toDelete = [...new Set([...plan.toDelete, ...spare.touched])];
  const more = await reread(again);
  return { kept, toDelete, records: [...records, ...more] };
}

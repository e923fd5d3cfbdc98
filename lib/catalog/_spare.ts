/**
 * The spare catalog, `.vault.duckdb.spare`: the catalog one index before
 * the current one, kept (a hard link made just before the new catalog is
 * renamed over it) so that the next incremental index can update it in
 * place instead of copying the whole current catalog (150–180 MB at 10,000
 * to 100,000 specimens, O(vault) for every index).
 *
 * Its record, `.vault.duckdb.spare.json`, names the spare's and the current
 * catalog's file identities and the ids whose rows differ between them
 * (`touched`: what the last index removed, read or re-read). The next index
 * uses the spare only when both identities still match (nobody wrote either
 * file since), when this process holds no descriptor of it (a `serve` that
 * indexes by itself may still read it), and when DuckDB can open it for
 * writing (its file lock: no other process reads it). It then renames the
 * spare to its temp path, deletes and re-reads the touched ids beside the
 * new changes, and renames it over the catalog as a copy would have been.
 * In every other case the index copies the catalog as before.
 *
 * A kill at any point leaves the catalog as it was: the spare is renamed to
 * a temp name before it is written (a stale temp is removed by the next
 * index), and the record is removed before a new spare is linked and
 * written only after the new catalog is in place.
 *
 * @module
 */
import { basename, dirname, join } from "../_deps/path.ts";
import { isHeld } from "../duckdb/_held.ts";
import { type FileIdentity, fileIdentity, sameIdentity } from "./_sidecar.ts";

/**
 * A spare is kept only when the index changed at most this many ids: the
 * next index re-reads them all.
 */
export const MAX_TOUCHED = 1000;

/** The spare's path beside `catalog`. */
export function sparePath(catalog: string): string {
  return join(dirname(catalog), `.${basename(catalog)}.spare`);
}

function recordPath(catalog: string): string {
  return `${sparePath(catalog)}.json`;
}

interface SpareRecord {
  spare: FileIdentity;
  catalog: FileIdentity;
  touched: string[];
}

/**
 * The ids to re-read if the spare of `catalog` can be updated in place
 * (identities match, no descriptor of it in this process), else undefined.
 * Takes no lock and changes nothing.
 */
export function usableSpare(catalog: string): string[] | undefined {
  let record: SpareRecord;
  try {
    record = JSON.parse(Deno.readTextFileSync(recordPath(catalog)));
  } catch {
    return undefined;
  }
  const spare = fileIdentity(sparePath(catalog));
  const current = fileIdentity(catalog);
  if (
    !spare || !current || spare.ino === current.ino ||
    !sameIdentity(spare, record.spare) ||
    !sameIdentity(current, record.catalog) ||
    !Array.isArray(record.touched) ||
    !record.touched.every((id) => typeof id === "string") ||
    heldHere(spare)
  ) {
    return undefined;
  }
  return record.touched;
}

/**
 * Renames the spare to `tmp` (its record goes first): from here on a kill
 * leaves a stale temp, never a spare that a record vouches for.
 */
export function takeSpare(catalog: string, tmp: string): void {
  Deno.removeSync(recordPath(catalog));
  Deno.renameSync(sparePath(catalog), tmp);
}

/**
 * Just before the new catalog is renamed over `catalog`: the current one
 * becomes the spare (a hard link; readers keep their open file either way).
 * Any older spare and its record are removed first.
 */
export function linkSpare(catalog: string): void {
  dropSpare(catalog);
  try {
    Deno.linkSync(catalog, sparePath(catalog));
  } catch {
    // No spare (a file system without hard links): the next index copies.
  }
}

/**
 * Once the new catalog is in place: records the spare linked by
 * {@linkcode linkSpare}, one index behind it by `touched`; or drops it when
 * `touched` is undefined or too long to be worth re-reading.
 */
export function recordSpare(
  catalog: string,
  touched: string[] | undefined,
): void {
  const spare = fileIdentity(sparePath(catalog));
  const current = fileIdentity(catalog);
  if (!touched || touched.length > MAX_TOUCHED || !spare || !current) {
    dropSpare(catalog);
    return;
  }
  const record: SpareRecord = { spare, catalog: current, touched };
  const path = recordPath(catalog);
  const tmp = `${dirname(path)}/.tmp-${basename(path)}-${Deno.pid}`;
  try {
    Deno.writeTextFileSync(tmp, JSON.stringify(record));
    Deno.renameSync(tmp, path);
  } catch {
    Deno.remove(tmp).catch(() => {});
  }
}

/** Removes the spare and its record, if any. */
export function dropSpare(catalog: string): void {
  for (const path of [recordPath(catalog), sparePath(catalog)]) {
    try {
      Deno.removeSync(path);
    } catch { /* none */ }
  }
}

/**
 * Whether this process holds the file `id` (a dashboard's reader: DuckDB's
 * file lock does not guard against its own process): open through
 * `openDatabase`, or, where Deno may read `/proc` (`--allow-all`), any
 * descriptor of it.
 */
function heldHere(id: FileIdentity): boolean {
  if (isHeld(id.dev, id.ino)) return true;
  try {
    for (const entry of Deno.readDirSync("/proc/self/fd")) {
      try {
        const s = Deno.statSync(`/proc/self/fd/${entry.name}`);
        if (s.ino === id.ino && s.dev === id.dev) return true;
      } catch { /* closed meanwhile, or not a file */ }
    }
    return false;
  } catch {
    return false; // no /proc access: openDatabase's count said no
  }
}

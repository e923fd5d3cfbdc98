/**
 * The fingerprints sidecar, `vault.duckdb.fingerprints`: what the catalog
 * recorded of each specimen (its fingerprint and issues), as a small JSON
 * file beside it, so that an index with nothing to do can tell so from a
 * scan alone, without loading DuckDB.
 *
 * It is tied to one catalog file by that file's identity (device, inode,
 * size, mtime, ctime): a catalog replaced, rebuilt by other code, edited by
 * another DuckDB client or deleted no longer matches, and the index then
 * reads the catalog itself. The index removes the sidecar before it renames
 * a new catalog into place and writes it again after, so a crash in between
 * leaves none (never a stale one). Anything unexpected in it (unreadable,
 * not JSON, another format version, another schema version, another
 * `views` setting) counts as no sidecar.
 *
 * @module
 */
import { basename, dirname } from "../_deps.ts";
import { atomicWriteFile, removeStaleTemps } from "../_fs.ts";
import { SPECIMENS_DIR } from "../vault.ts";
import { CATALOG_SCHEMA_VERSION } from "./schema.ts";
import type { Previous } from "./_plan.ts";
import type { VaultScan } from "./_scan.ts";

/** The sidecar's name: the catalog's, with this suffix. */
export const SIDECAR_SUFFIX = ".fingerprints";

/** Bumped whenever the sidecar's content changes meaning. */
const FORMAT = "specimen-vault catalog fingerprints";
const FORMAT_VERSION = 1;

/** What identifies one catalog file on disk. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtime: number;
  ctime: number;
}

interface SidecarFile {
  format: string;
  version: number;
  schema: number;
  views: boolean;
  catalog: FileIdentity;
  /**
   * The specimen ids, sorted as the scan lists folders, one per line; and
   * their fingerprints, in the same order. Two strings, split in two native
   * calls: a fresh process takes several times longer to parse an object
   * of 10,000 keys, or to build a Map of them.
   */
  ids: string;
  fingerprints: string;
  issues: Record<string, string[]>;
}

/** What the sidecar says the catalog recorded. */
export interface Known {
  /** Specimen ids, sorted (as `scanVault` lists folders). */
  ids: string[];
  /** Their fingerprints, in the same order. */
  fingerprints: string[];
  /** The issues recorded of each id that has some. */
  issues: Record<string, string[]>;
  /** The fingerprint recorded of `id` (fastest asked in sorted order). */
  lookup(id: string): string | undefined;
  /** The same as the catalog's own record (for the plan). */
  previous(): Previous;
}

/** The identity of the file at `path`, or undefined if there is none. */
export function fileIdentity(path: string): FileIdentity | undefined {
  let s: Deno.FileInfo;
  try {
    s = Deno.statSync(path);
  } catch {
    return undefined;
  }
  if (!s.isFile || s.ino === null) return undefined;
  return {
    dev: s.dev,
    ino: s.ino,
    size: s.size,
    mtime: s.mtime?.getTime() ?? -1,
    ctime: s.ctime?.getTime() ?? -1,
  };
}

function sameIdentity(a: FileIdentity, b: unknown): boolean {
  if (typeof b !== "object" || b === null) return false;
  const o = b as Record<string, unknown>;
  return a.dev === o.dev && a.ino === o.ino && a.size === o.size &&
    a.mtime === o.mtime && a.ctime === o.ctime;
}

/**
 * What the catalog at `catalog` recorded, from its sidecar; undefined when
 * the sidecar is missing, malformed, of another version or `views` setting,
 * or belongs to another catalog file (or there is no catalog).
 */
export function readSidecar(
  catalog: string,
  views: boolean,
): Known | undefined {
  const identity = fileIdentity(catalog);
  if (!identity) return undefined;
  let data: SidecarFile;
  try {
    data = JSON.parse(Deno.readTextFileSync(catalog + SIDECAR_SUFFIX));
  } catch {
    return undefined;
  }
  if (
    typeof data !== "object" || data === null ||
    data.format !== FORMAT || data.version !== FORMAT_VERSION ||
    data.schema !== CATALOG_SCHEMA_VERSION || data.views !== views ||
    !sameIdentity(identity, data.catalog) ||
    typeof data.ids !== "string" || typeof data.fingerprints !== "string" ||
    typeof data.issues !== "object" || data.issues === null
  ) {
    return undefined;
  }
  const ids = data.ids ? data.ids.split("\n") : [];
  const fingerprints = data.ids ? data.fingerprints.split("\n") : [];
  if (ids.length !== fingerprints.length) return undefined;
  for (let i = 1; i < ids.length; i++) {
    if (!(ids[i - 1] < ids[i])) return undefined; // sorted, unique
  }
  if (ids[0] === "") return undefined;
  const issues = data.issues;
  for (const [id, list] of Object.entries(issues)) {
    if (
      indexOf(ids, id) < 0 || !Array.isArray(list) ||
      !list.every((i) => typeof i === "string")
    ) {
      return undefined;
    }
  }
  let cursor = 0;
  return {
    ids,
    fingerprints,
    issues,
    lookup(id) {
      // The scan asks in sorted order: one step on, else a search.
      const at = ids[cursor] === id ? cursor : indexOf(ids, id);
      if (at < 0) return undefined;
      cursor = at + 1;
      return fingerprints[at];
    },
    previous() {
      const map: Previous["fingerprints"] = new Map();
      for (let i = 0; i < ids.length; i++) {
        map.set(ids[i], {
          fingerprint: fingerprints[i],
          issues: issues[ids[i]] ?? [],
        });
      }
      return { fingerprints: map, logs: true };
    },
  };
}

/** Where `id` is in the sorted `ids`, or -1. */
function indexOf(ids: string[], id: string): number {
  let lo = 0;
  let hi = ids.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid] === id) return mid;
    if (ids[mid] < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * Writes the sidecar of `catalog` (renamed into place: a reader sees a
 * whole one or none), recording `previous` for the catalog file whose
 * identity is `identity` now. Writes nothing if the file is no longer that
 * one (it changed meanwhile), or `previous` predates log fingerprints. The
 * caller holds the index lock.
 */
export async function writeSidecar(
  catalog: string,
  views: boolean,
  previous: Previous,
  identity: FileIdentity | undefined = fileIdentity(catalog),
): Promise<void> {
  if (!identity || !previous.logs) return;
  const ids = [...previous.fingerprints.keys()].sort();
  const fingerprints: string[] = [];
  const issues: Record<string, string[]> = {};
  for (const id of ids) {
    const entry = previous.fingerprints.get(id)!;
    // A name with a newline (never a valid id): no sidecar.
    if (/\n/.test(id + entry.fingerprint) || id === "") return;
    fingerprints.push(entry.fingerprint);
    if (entry.issues.length) issues[id] = entry.issues;
  }
  const data: SidecarFile = {
    format: FORMAT,
    version: FORMAT_VERSION,
    schema: CATALOG_SCHEMA_VERSION,
    views,
    catalog: identity,
    ids: ids.join("\n"),
    fingerprints: fingerprints.join("\n"),
    issues,
  };
  const path = catalog + SIDECAR_SUFFIX;
  // Temps of a writer killed midway (the caller holds the index lock).
  await removeStaleTemps(
    dirname(catalog),
    `.tmp-${basename(catalog)}${SIDECAR_SUFFIX}-`,
    { exclusive: true },
  );
  if (!sameIdentity(identity, fileIdentity(catalog))) return;
  // No fsync: after a power loss, a sidecar cut short is not JSON, and one
  // that names a catalog rename the disk lost names the wrong inode.
  await atomicWriteFile(path, new TextEncoder().encode(JSON.stringify(data)));
}

/** Removes the sidecar of `catalog`, if any (before the catalog changes). */
export async function removeSidecar(catalog: string): Promise<void> {
  await Deno.remove(catalog + SIDECAR_SUFFIX).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/**
 * The warnings of an index that finds nothing changed since `known` (the
 * issues recorded of each specimen, in folder order, as the plan repeats
 * them), or undefined if anything did change: a folder added, removed,
 * skipped or without a manifest, or a fingerprint that differs. The
 * caller then takes the whole path, which decides the same way from the
 * catalog itself.
 */
export function unchangedWarnings(
  found: VaultScan,
  known: Known,
): string[] | undefined {
  const { ids, fingerprints, issues } = known;
  if (
    found.skipped || found.scans.length === 0 ||
    found.scans.length !== ids.length
  ) {
    return undefined;
  }
  const warnings: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    const scan = found.scans[i];
    if (
      scan.folder !== ids[i] || !scan.manifest ||
      scan.fingerprint !== fingerprints[i]
    ) {
      return undefined;
    }
    for (const issue of issues[ids[i]] ?? []) {
      warnings.push(`${SPECIMENS_DIR}/${scan.folder}: ${issue}`);
    }
  }
  return warnings;
}

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
   * `<id>\t<fingerprint>` lines: one string parses several times faster
   * than an object of 10,000 keys, in a process that has just started.
   */
  fingerprints: string;
  issues: Record<string, string[]>;
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
): Previous | undefined {
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
    typeof data.fingerprints !== "string" ||
    typeof data.issues !== "object" || data.issues === null
  ) {
    return undefined;
  }
  const fingerprints: Previous["fingerprints"] = new Map();
  if (data.fingerprints) {
    for (const line of data.fingerprints.split("\n")) {
      const tab = line.indexOf("\t");
      if (tab <= 0) return undefined;
      fingerprints.set(line.slice(0, tab), {
        fingerprint: line.slice(tab + 1),
        issues: [],
      });
    }
  }
  for (const [id, list] of Object.entries(data.issues)) {
    const entry = fingerprints.get(id);
    if (
      !entry || !Array.isArray(list) ||
      !list.every((i) => typeof i === "string")
    ) {
      return undefined;
    }
    entry.issues = list;
  }
  return { fingerprints, logs: true };
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
  const lines: string[] = [];
  const issues: Record<string, string[]> = {};
  for (const [id, entry] of previous.fingerprints) {
    // A name with a tab or newline (never a valid id): no sidecar.
    if (/[\t\n]/.test(id + entry.fingerprint)) return;
    lines.push(`${id}\t${entry.fingerprint}`);
    if (entry.issues.length) issues[id] = entry.issues;
  }
  const data: SidecarFile = {
    format: FORMAT,
    version: FORMAT_VERSION,
    schema: CATALOG_SCHEMA_VERSION,
    views,
    catalog: identity,
    fingerprints: lines.join("\n"),
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
  known: Previous,
): string[] | undefined {
  if (
    found.skipped || found.scans.length === 0 ||
    found.scans.length !== known.fingerprints.size
  ) {
    return undefined;
  }
  const warnings: string[] = [];
  for (const scan of found.scans) {
    const old = known.fingerprints.get(scan.folder);
    if (!old || !scan.manifest || old.fingerprint !== scan.fingerprint) {
      return undefined;
    }
    for (const issue of old.issues) {
      warnings.push(`${SPECIMENS_DIR}/${scan.folder}: ${issue}`);
    }
  }
  return warnings;
}

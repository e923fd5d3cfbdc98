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
 * Two JSON texts, one per line: a small header (identity, settings, issues,
 * the vault's state when scanned; {@linkcode SidecarHeader}), then the body
 * (ids and fingerprints). An index with nothing to do reads the header
 * alone: a few kilobytes instead of about 85 bytes per specimen.
 *
 * @module
 */
import type { JournalState } from "../vault_changes.ts";
import { SPECIMENS_DIR } from "../vault.ts";
import { CATALOG_SCHEMA_VERSION } from "./schema.ts";
import type { Previous } from "./_plan.ts";
import type { VaultScan } from "./_scan.ts";
import { sameFiles } from "./_fingerprint.ts";

/** The sidecar's name: the catalog's, with this suffix. */
export const SIDECAR_SUFFIX = ".fingerprints";

/** Bumped whenever the sidecar's content changes meaning. */
export const FORMAT = "specimen-vault catalog fingerprints";
export const FORMAT_VERSION = 2;

/**
 * What the index saw of the vault as a whole before the scan whose
 * fingerprints the sidecar holds, when that scan listed exactly the
 * specimens the catalog holds (none skipped): enough for the next index to
 * know which folders can have changed since (see `vault_changes.ts`).
 */
export interface ScanState {
  /** `specimens/`'s mtime, or -1 when it was too recent to trust. */
  specimens: number;
  /** The change journal's state (`vault.duckdb.changes`). */
  journal: JournalState;
  /** The scan's own warnings (links in `specimens/`), said again. */
  held: string[];
}

/** What identifies one catalog file on disk. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtime: number;
  ctime: number;
}

/** The sidecar's first line. */
export interface SidecarHeader {
  format: string;
  version: number;
  schema: number;
  views: boolean;
  catalog: FileIdentity;
  /** How many specimens the body lists. */
  count: number;
  /** The body's length in bytes (with its newline): a cut file is seen. */
  body: number;
  /** The issues recorded of each id that has some. */
  issues: Record<string, string[]>;
  /** The ids whose fingerprint holds a metrics log (`|l:`), sorted. */
  logs: string[];
  /** The vault as the recorded scan began, if it listed only these ids. */
  scan?: ScanState;
}

/** The sidecar's second line. */
export interface SidecarBody {
  /**
   * The specimen ids, sorted as the scan lists folders, one per line; and
   * their fingerprints, in the same order. Two strings, split in two native
   * calls: a fresh process takes several times longer to parse an object
   * of 10,000 keys, or to build a Map of them.
   */
  ids: string;
  fingerprints: string;
}

/** What the sidecar's header says (valid, and of this catalog). */
export interface KnownHeader {
  /** How many specimens the catalog holds. */
  count: number;
  /** The issues recorded of each id that has some. */
  issues: Record<string, string[]>;
  /** The ids whose fingerprint holds a metrics log. */
  logs: string[];
  /** The vault as the recorded scan began, if it listed only these ids. */
  state?: ScanState;
}

/** What the sidecar says the catalog recorded. */
export interface Known extends KnownHeader {
  /** Specimen ids, sorted (as `scanVault` lists folders). */
  ids: string[];
  /** Their fingerprints, in the same order. */
  fingerprints: string[];
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

/** Whether `b` (from JSON) is the identity `a`. */
export function sameIdentity(a: FileIdentity, b: unknown): boolean {
  if (typeof b !== "object" || b === null) return false;
  const o = b as Record<string, unknown>;
  return a.dev === o.dev && a.ino === o.ino && a.size === o.size &&
    a.mtime === o.mtime && a.ctime === o.ctime;
}

/**
 * The sidecar's header, if it is valid and belongs to the catalog file at
 * `catalog` as it is now (and to this `views` setting); with the rest of the
 * file's text when `body`.
 */
function readHeader(
  catalog: string,
  views: boolean,
  body: boolean,
): { header: KnownHeader; rest?: string } | undefined {
  const identity = fileIdentity(catalog);
  if (!identity) return undefined;
  let first: Uint8Array;
  let size: number;
  let rest: Uint8Array | undefined;
  try {
    if (body) {
      const bytes = Deno.readFileSync(catalog + SIDECAR_SUFFIX);
      const nl = bytes.indexOf(0x0a);
      if (nl < 0) return undefined;
      first = bytes.subarray(0, nl);
      rest = bytes.subarray(nl + 1);
      size = bytes.length;
    } else {
      const line = firstLine(catalog + SIDECAR_SUFFIX);
      if (line === undefined) return undefined;
      ({ line: first, size } = line);
    }
  } catch {
    return undefined;
  }
  let data: SidecarHeader;
  try {
    data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(first));
  } catch {
    return undefined;
  }
  if (
    typeof data !== "object" || data === null ||
    data.format !== FORMAT || data.version !== FORMAT_VERSION ||
    data.schema !== CATALOG_SCHEMA_VERSION || data.views !== views ||
    !sameIdentity(identity, data.catalog) ||
    !Number.isSafeInteger(data.count) || data.count < 1 ||
    size !== first.length + 1 + data.body ||
    typeof data.issues !== "object" || data.issues === null ||
    Array.isArray(data.issues) || !Array.isArray(data.logs) ||
    !data.logs.every((id) => typeof id === "string") ||
    !Object.values(data.issues).every((list) =>
      Array.isArray(list) && list.every((i) => typeof i === "string")
    )
  ) {
    return undefined;
  }
  return {
    header: {
      count: data.count,
      issues: data.issues,
      logs: data.logs,
      state: validState(data.scan),
    },
    rest: rest && new TextDecoder().decode(rest),
  };
}

/**
 * The first line of the file at `path` (read in blocks), if it has one,
 * and the file's size.
 */
function firstLine(
  path: string,
): { line: Uint8Array; size: number } | undefined {
  using file = Deno.openSync(path);
  const size = file.statSync().size;
  let line = new Uint8Array(0);
  const block = new Uint8Array(16384);
  while (true) {
    const n = file.readSync(block);
    if (n === null) return undefined;
    const nl = block.subarray(0, n).indexOf(0x0a);
    const next = new Uint8Array(line.length + (nl < 0 ? n : nl));
    next.set(line);
    next.set(block.subarray(0, nl < 0 ? n : nl), line.length);
    line = next;
    if (nl >= 0) return { line, size };
  }
}

/**
 * What the sidecar's header says of the catalog at `catalog` (no body is
 * read), or undefined as for {@linkcode readSidecar}.
 */
export function readSidecarHeader(
  catalog: string,
  views: boolean,
): KnownHeader | undefined {
  return readHeader(catalog, views, false)?.header;
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
  const read = readHeader(catalog, views, true);
  if (!read) return undefined;
  const { header, rest } = read;
  let data: SidecarBody;
  try {
    data = JSON.parse(rest!);
  } catch {
    return undefined;
  }
  if (
    typeof data !== "object" || data === null ||
    typeof data.ids !== "string" || typeof data.fingerprints !== "string"
  ) {
    return undefined;
  }
  const ids = data.ids.split("\n");
  const fingerprints = data.fingerprints.split("\n");
  if (ids.length !== fingerprints.length || ids.length !== header.count) {
    return undefined;
  }
  if (ids[0] === "") return undefined;
  for (let i = 1; i < ids.length; i++) {
    if (!(ids[i - 1] < ids[i])) return undefined; // sorted, unique
  }
  const { issues } = header;
  for (const id of Object.keys(issues)) {
    if (indexOf(ids, id) < 0) return undefined;
  }
  const logs = ids.filter((_, i) => fingerprints[i].includes("|l:"));
  if (logs.join("\n") !== header.logs.join("\n")) return undefined;
  let cursor = 0;
  return {
    ...header,
    ids,
    fingerprints,
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

/** `scan` if it is a well-formed {@linkcode ScanState}. */
function validState(scan: unknown): ScanState | undefined {
  if (typeof scan !== "object" || scan === null) return undefined;
  const { specimens, journal, held } = scan as Record<string, unknown>;
  const j = journal as Record<string, unknown> | null;
  if (
    typeof specimens !== "number" || !Array.isArray(held) ||
    !held.every((h) => typeof h === "string") ||
    !(j === null || (typeof j === "object" && Number.isSafeInteger(j.ino) &&
      typeof j.born === "number" && Number.isSafeInteger(j.size) &&
      (j.size as number) >= 0))
  ) {
    return undefined;
  }
  return {
    specimens,
    journal: j && {
      ino: j.ino as number,
      born: j.born as number,
      size: j.size as number,
    },
    held: held as string[],
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
      !sameFiles(scan.fingerprint, fingerprints[i])
    ) {
      return undefined;
    }
    for (const issue of issues[ids[i]] ?? []) {
      warnings.push(`${SPECIMENS_DIR}/${scan.folder}: ${issue}`);
    }
  }
  return warnings;
}

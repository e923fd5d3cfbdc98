/**
 * The scan phase: stat only, so that unchanged specimens cost a few
 * syscalls. Each folder gets a fingerprint (sizes and mtimes of its
 * manifest and results) that the plan compares with the last index's.
 *
 * @module
 */
import { join, setImmediate } from "../_deps.ts";
import { MANIFEST_FILE } from "../specimen/manifest.ts";
import { LABELS_FILE } from "../specimen/labels.ts";
import {
  isLocked,
  LOG_LOCK_FILE,
  PART_FILE,
  PARTS_SUFFIX,
} from "../metrics_log/parts.ts";
import { SPECIMENS_DIR, STRATA_DIR as STRATA } from "../vault.ts";
import { SETTLED_MS } from "../vault_changes.ts";

export interface FileStat {
  name: string;
  size: number;
  mtime: number;
}

export interface ZarrEntry {
  name: string;
  meta: string; // "zarr.json" (v3) or ".zarray" (v2)
  stat: FileStat;
}

/** A metrics log's parts folder, `strata/<name>.parts/`. */
export interface LogEntry {
  name: string;
  parts: number;
  mtime: number; // of the folder: each new part changes it, not strata/'s
}

export interface FolderScan {
  folder: string;
  dir: string;
  manifest?: FileStat;
  parquet: FileStat[];
  zarr: ZarrEntry[];
  logs: LogEntry[];
  notes: string[]; // strata entries that cannot be indexed
  fingerprint: string;
}

export function statOf(path: string, name: string): FileStat | undefined {
  try {
    const s = Deno.statSync(path);
    return { name, size: s.size, mtime: s.mtime?.getTime() ?? 0 };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** The entry names a fingerprint lists, or undefined if it cannot tell. */
function entriesFrom(
  fingerprint: string,
): { parquet: string[]; zarr: [string, string][] } | undefined {
  const parquet: string[] = [];
  const zarr: [string, string][] = [];
  for (const part of fingerprint.split("|")) {
    // "<kind>:<name>:<size>:<mtime>": the name may itself hold ':'.
    const name = part.slice(
      2,
      part.lastIndexOf(":", part.lastIndexOf(":") - 1),
    );
    if (part.startsWith("p:")) parquet.push(name);
    else if (part.startsWith("z:")) {
      const slash = name.lastIndexOf("/");
      zarr.push([name.slice(0, slash), name.slice(slash + 1)]);
    }
  }
  return { parquet, zarr };
}

/**
 * Stats one folder: its manifest, and each Parquet file and Zarr array under
 * `strata/`; the fingerprint says whether any changed since the last index.
 *
 * Listing `strata/` is the dearest call, so it is skipped when the folder's
 * mtime equals the one in the previous fingerprint: adding, removing or
 * renaming an entry changes it, and files changed in place are still caught
 * by their own size and mtime. Only an mtime that had settled (older than
 * {@linkcode SETTLED_MS} when recorded) is trusted, so that two changes
 * within one clock tick cannot hide each other.
 */
// Sync file system calls on purpose: a scan of 10,000 specimens is ~30,000
// tiny calls, and the async ones cost several times more each.
function scanFolder(
  specimensDir: string,
  folder: string,
  previous: string | undefined,
  now: number,
): FolderScan {
  const dir = join(specimensDir, folder);
  const manifest = statOf(join(dir, MANIFEST_FILE), MANIFEST_FILE);
  const strata = statOf(join(dir, STRATA), STRATA);
  const settled = strata && now - strata.mtime > SETTLED_MS
    ? `d:${strata.mtime}`
    : "d:-";
  // A log adds parts without touching strata/'s mtime: always list it.
  if (
    strata && previous && settled !== "d:-" && !previous.includes("|l:")
  ) {
    const known = previous.includes(`|${settled}|`) ||
        previous.endsWith(`|${settled}`)
      ? entriesFrom(previous)
      : undefined;
    const scan = known &&
      statEntries(dir, folder, manifest, settled, known, true);
    if (scan) return scan;
  }
  let entries: Deno.DirEntry[] = [];
  if (strata) {
    try {
      entries = [...Deno.readDirSync(join(dir, STRATA))];
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const parquet: string[] = [];
  const zarr: [string, string][] = [];
  const logs: LogEntry[] = [];
  const notes: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    // A link could point outside the vault: only real files are results.
    if (entry.name.endsWith(".parquet") && entry.isFile) {
      parquet.push(entry.name);
    } else if (entry.name.endsWith(".parquet") && !entry.isDirectory) {
      notes.push(
        `${STRATA}/${entry.name} is ${
          entry.isSymlink ? "a symbolic link" : "not a regular file"
        }; not indexed (only regular files inside the vault are read)`,
      );
    } else if (entry.name.endsWith(".zarr") && entry.isDirectory) {
      const path = join(dir, STRATA, entry.name);
      const meta = statOf(join(path, "zarr.json"), "zarr.json")
        ? "zarr.json"
        : statOf(join(path, ".zarray"), ".zarray")
        ? ".zarray"
        : undefined;
      if (meta) zarr.push([entry.name, meta]);
      else {
        notes.push(
          `${STRATA}/${entry.name} has neither zarr.json nor .zarray; not indexed as a tensor`,
        );
      }
    } else if (entry.name.endsWith(PARTS_SUFFIX) && entry.isDirectory) {
      const log = statLog(join(dir, STRATA), entry.name);
      if (log) logs.push(log);
    }
  }
  return {
    ...statEntries(
      dir,
      folder,
      manifest,
      settled,
      { parquet, zarr, logs },
      false,
    )!,
    notes,
  };
}

/** A parts folder's mtime and number of parts (undefined if it is gone). */
function statLog(strata: string, entry: string): LogEntry | undefined {
  const path = join(strata, entry);
  // Stat before listing: a part added in between changes the mtime later.
  const folder = statOf(path, entry);
  if (!folder) return undefined;
  let parts = 0;
  try {
    for (const e of Deno.readDirSync(path)) {
      if (PART_FILE.test(e.name)) parts++;
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  return {
    name: folder.name.slice(0, -PARTS_SUFFIX.length),
    parts,
    mtime: folder.mtime,
  };
}

/**
 * Stats the named entries. One that is gone makes it return undefined when
 * `strict` (the names came from the last index), else it is left out (it
 * vanished since the listing).
 */
function statEntries(
  dir: string,
  folder: string,
  manifest: FileStat | undefined,
  settled: string,
  known: { parquet: string[]; zarr: [string, string][]; logs?: LogEntry[] },
  strict: boolean,
): FolderScan | undefined {
  const parquet: FileStat[] = [];
  const zarr: ZarrEntry[] = [];
  for (const name of [...known.parquet].sort()) {
    const s = statOf(join(dir, STRATA, name), name);
    if (s) parquet.push(s);
    else if (strict) return undefined;
  }
  for (
    const [name, meta] of [...known.zarr].sort((a, b) => a[0] < b[0] ? -1 : 1)
  ) {
    const s = statOf(join(dir, STRATA, name, meta), name);
    if (s) zarr.push({ name, meta, stat: s });
    else if (strict) return undefined;
  }
  const parts = [
    manifest ? `m:${manifest.size}:${manifest.mtime}` : "m:-",
    settled,
  ];
  const labels = labelsStat(dir);
  if (labels) parts.push(labels);
  for (const p of parquet) parts.push(`p:${p.name}:${p.size}:${p.mtime}`);
  for (const z of zarr) {
    parts.push(`z:${z.name}/${z.meta}:${z.stat.size}:${z.stat.mtime}`);
  }
  const logs = [...(known.logs ?? [])].sort((a, b) => a.name < b.name ? -1 : 1);
  for (const l of logs) parts.push(`l:${l.name}:${l.parts}:${l.mtime}`);
  return {
    folder,
    dir,
    manifest,
    parquet,
    zarr,
    logs,
    notes: [],
    fingerprint: parts.join("|"),
  };
}

/**
 * The fingerprint part of a specimen's labels file (`g:` with its inode,
 * size and mtime: each change is an atomic rename, so a new inode), or
 * undefined when there is none.
 */
function labelsStat(dir: string): string | undefined {
  try {
    const s = Deno.statSync(join(dir, LABELS_FILE));
    return `g:${s.ino ?? 0}:${s.size}:${s.mtime?.getTime() ?? 0}`;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * The specimen folders under `specimensDir`, sorted; a symbolic link is
 * warned about and left out.
 */
export function listFolders(
  specimensDir: string,
  warn: (message: string) => void,
): string[] {
  const names: string[] = [];
  const links: string[] = [];
  for (const entry of Deno.readDirSync(specimensDir)) {
    if (entry.name.startsWith(".")) continue;
    if (entry.isDirectory) names.push(entry.name);
    else if (entry.isSymlink) links.push(entry.name);
  }
  for (const name of links.sort()) {
    // A link could change a specimen's results from outside the vault, and
    // would not move with it: specimens are real folders (see readManifest).
    warn(
      `${SPECIMENS_DIR}/${name} is a symbolic link; skipped (a specimen must be a real folder inside the vault: move it into ${SPECIMENS_DIR}/ instead of linking it)`,
    );
  }
  return names.sort();
}

// ---------------------------------------------------------------------------
// Reading one specimen: its manifest, the footer of each Parquet file, the
// metadata of each Zarr array.

/** What {@linkcode scanVault} found. */
export interface VaultScan {
  /** Every folder name under `specimens/`, sorted. */
  folders: string[];
  /** The folders that could be scanned. */
  scans: FolderScan[];
  /** Folders that could not be. */
  skipped: number;
}

/** Which folders {@linkcode scanVault} looks at, when not all. */
export interface ScanOnly {
  /** Every folder name under `specimens/`, sorted (not listed again). */
  folders: string[];
  /** The folders to stat; the others keep their recorded fingerprint. */
  toScan: Set<string>;
}

/**
 * Scans every folder of `specimensDir` (stat only), or with `only` just
 * some: the others are taken as the last index recorded them (`previous`).
 * `previous` gives the last index's fingerprint of a folder, to skip
 * listing its `strata/`.
 */
export async function scanVault(
  specimensDir: string,
  previous: ((folder: string) => string | undefined) | undefined,
  warn: (message: string) => void,
  progress?: (done: number, total: number) => void,
  only?: ScanOnly,
): Promise<VaultScan> {
  const folders = only?.folders ?? listFolders(specimensDir, warn);
  const scans: FolderScan[] = [];
  const now = Date.now();
  let skipped = 0;
  for (let i = 0; i < folders.length; i++) {
    const folder = folders[i];
    const recorded = previous?.(folder);
    // Not named as changed, and known: as recorded.
    if (only && !only.toScan.has(folder) && recorded !== undefined) {
      scans.push(asRecorded(specimensDir, folder, recorded));
      continue;
    }
    try {
      const scan = scanFolder(specimensDir, folder, recorded, now);
      if (scan.logs.length) await markStoppedLogs(scan);
      scans.push(scan);
    } catch (e) {
      warn(
        `${SPECIMENS_DIR}/${folder}: cannot be scanned (${
          (e as Error).message
        }); skipped`,
      );
      skipped++;
    }
    if (progress && (i % 500 === 499 || i === folders.length - 1)) {
      progress(i + 1, folders.length);
    }
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
  }
  return { folders, scans, skipped };
}

/**
 * A folder not looked at, as the last index recorded it: only its name and
 * fingerprint count (the plan keeps it when the fingerprint matches).
 */
function asRecorded(
  specimensDir: string,
  folder: string,
  fingerprint: string,
): FolderScan {
  return {
    folder,
    // Not join(): a folder name holds no separator, and normalizing 100,000
    // paths took 0.1 s of an index of one new specimen.
    dir: `${specimensDir}/${folder}`,
    manifest: fingerprint.startsWith("m:-")
      ? undefined
      : { name: MANIFEST_FILE, size: -1, mtime: -1 },
    parquet: [],
    zarr: [],
    logs: [],
    notes: [],
    fingerprint,
  };
}

/** Folders or specimens between two turns of the event loop. */
export const YIELD_EVERY = 64;

/**
 * Lets the event loop turn: the scan and read phases are sync calls, and a
 * new catalog is opened, and bulk-read, by DuckDB calls that each need a
 * turn to hand over to the next one (the reads themselves run on DuckDB's
 * threads, beside these phases). `setImmediate`, not `setTimeout(0)`:
 * chained timers are clamped to 4 ms each (the HTML rule Deno follows),
 * which cost a 10,000-specimen scan 340 ms of idle time.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Adds to the fingerprint which logs no logger holds now (interrupted, or
 * leftover parts): a logger that dies changes no mtime, but must get its
 * specimen read again, to report the log as interrupted.
 */
async function markStoppedLogs(scan: FolderScan): Promise<void> {
  for (const log of scan.logs) {
    const lock = join(
      scan.dir,
      STRATA,
      `${log.name}${PARTS_SUFFIX}`,
      LOG_LOCK_FILE,
    );
    if (!(await isLocked(lock))) scan.fingerprint += `|s:${log.name}`;
  }
}

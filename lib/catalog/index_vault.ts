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
 *   compaction would. A log whose logger died is compacted first
 *   (`repairLogs`: recorded with `interrupted: true`, and reported).
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
import { parquetMetadata } from "hyparquet";
import { join } from "../_deps.ts";
import {
  type DuckDBConnection,
  duckdbMessage,
  ident,
  literal,
  literalList,
  MAIN_METRICS,
  metricsTableName,
  openDatabase,
  relationName,
  SCHEMA_VERSION,
  toJson,
} from "../duckdb/duckdb.ts";
import {
  exists,
  openVaultFileSync,
  readVaultFileSync,
  tempPathFor,
  withWriteContext,
} from "../_fs.ts";
import { NotFoundError, VaultError } from "../errors.ts";
import {
  decodeManifest,
  type Manifest,
  MANIFEST_FILE,
  MAX_MANIFEST_BYTES,
} from "../specimen/manifest.ts";
import type { MetricTable } from "../metrics_log/table.ts";
import { PART_FILE, PARTS_SUFFIX } from "../metrics_log/parts.ts";
import { findVault, SPECIMENS_DIR, STRATA_DIR, vaultPaths } from "../vault.ts";

/**
 * Version of the catalog's tables. The indexer rebuilds a catalog of another
 * version from scratch; readers refuse it (and say to run the index).
 *
 * @example
 * ```ts
 * import { CATALOG_SCHEMA_VERSION } from "./index_vault.ts";
 * console.assert(Number.isInteger(CATALOG_SCHEMA_VERSION));
 * ```
 */
export const CATALOG_SCHEMA_VERSION: number = SCHEMA_VERSION;

/**
 * The lock file in the vault root that keeps two indexers apart (a kernel
 * file lock: released when its holder exits, however it exits).
 *
 * @example
 * ```ts
 * import { INDEX_LOCK_FILE } from "./index_vault.ts";
 * console.assert(INDEX_LOCK_FILE === "vault.duckdb.lock");
 * ```
 */
export const INDEX_LOCK_FILE = "vault.duckdb.lock";

const STRATA = STRATA_DIR;
const NAME_RULE = /^[A-Za-z0-9_]+$/;

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
   * folder), `previous` (the old catalog's fingerprints), `read` (manifests,
   * Parquet footers, Zarr metadata), `copy` (old catalog → temp), `catalog`
   * (specimen rows), `metrics` (metric rows), `finish` (checkpoint, close,
   * rename).
   */
  timings: Record<string, number>;
}

// ---------------------------------------------------------------------------
// Scanning: stat only, so that unchanged specimens cost a few syscalls.

interface FileStat {
  name: string;
  size: number;
  mtime: number;
}

interface ZarrEntry {
  name: string;
  meta: string; // "zarr.json" (v3) or ".zarray" (v2)
  stat: FileStat;
}

/** A metrics log's parts folder, `strata/<name>.parts/`. */
interface LogEntry {
  name: string;
  parts: number;
  mtime: number; // of the folder: each new part changes it, not strata/'s
}

interface FolderScan {
  folder: string;
  dir: string;
  manifest?: FileStat;
  parquet: FileStat[];
  zarr: ZarrEntry[];
  logs: LogEntry[];
  notes: string[]; // strata entries that cannot be indexed
  fingerprint: string;
}

function statOf(path: string, name: string): FileStat | undefined {
  try {
    const s = Deno.statSync(path);
    return { name, size: s.size, mtime: s.mtime?.getTime() ?? 0 };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * How long a `strata/` folder's mtime must have been still before the next
 * index may trust it to mean "same entries" (see {@linkcode scanFolder}).
 */
const SETTLED_MS = 5000;

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
 * Compacts the interrupted logs of a scanned folder (their writer died
 * without closing) and scans it again if that changed it. What cannot be
 * repaired becomes a note (an issue of the specimen); live logs are left
 * to be read as their parts.
 */
async function repairFolder(
  specimensDir: string,
  scan: FolderScan,
  now: number,
  warn: (message: string) => void,
): Promise<FolderScan> {
  const { repairLogs } = await import("../metrics_log/table.ts");
  let report: Awaited<ReturnType<typeof repairLogs>>;
  try {
    report = await repairLogs(scan.dir);
  } catch (e) {
    scan.notes.push(
      `its interrupted logs cannot be repaired (${
        (e as Error).message
      }); their parts are read as they are`,
    );
    return scan;
  }
  const files = new Set(scan.parquet.map((p) => p.name));
  for (const name of report.repaired) {
    warn(
      files.has(`${name}.parquet`)
        ? `removed the leftover parts of the log ${scan.folder}/${name} (${STRATA}/${name}.parquet was already compacted)`
        : `compacted interrupted log ${scan.folder}/${name} into ${STRATA}/${name}.parquet (its logger stopped without closing: the rows it had flushed are kept, the manifest records it with interrupted: true)`,
    );
  }
  const notes = report.problems.map((p) => `cannot repair the log ${p}`);
  if (report.repaired.length) {
    scan = scanFolder(specimensDir, scan.folder, undefined, now);
  }
  scan.notes.push(...notes);
  return scan;
}

function listFolders(
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

interface Column {
  name: string;
  type: string;
}

interface MetricFile {
  id: string;
  name: string;
  abs: string;
  rel: string;
  rows: number;
  signature: string;
  columns?: Column[];
  issue?: string;
  source?: string;
  definition?: string;
  /**
   * Set when its union table's column changes some of its values: the
   * report (its relation reads an exact copy instead).
   */
  widened?: string;
  /** A log not compacted: its part files (absolute), read as one table. */
  parts?: string[];
  /**
   * Read as a log's parts (it may be a file now, if its logger closed
   * since): its specimen folder, to list the log again. Such a file is
   * alone in its signature group.
   */
  logDir?: string;
}

interface TensorRow {
  id: string;
  name: string;
  path: string;
  shape: number[] | null;
  dtype: string | null;
  chunks: number[] | null;
  codecs: string[];
  bytes: number;
  zarrFormat: number;
}

interface SpecimenRecord {
  id: string;
  rel: string;
  manifest: Manifest;
  createdIso: string | null;
  fingerprint: string;
  issues: string[];
  metricFiles: MetricFile[];
  tensors: TensorRow[];
}

/**
 * Reads the Parquet footer of `path`, a regular file inside `root` (the
 * specimen folder): a FIFO, device or link leading out is refused, never
 * waited on.
 */
function readTail(path: string, size: number, root: string): Uint8Array {
  using file = openVaultFileSync(path, { root });
  const readAt = (offset: number, length: number) => {
    const buf = new Uint8Array(length);
    file.seekSync(offset, Deno.SeekMode.Start);
    let off = 0;
    while (off < length) {
      const n = file.readSync(buf.subarray(off));
      if (n === null) throw new Error(`unexpected end of file at ${off}`);
      off += n;
    }
    return buf;
  };
  if (size < 12) throw new Error(`${size} bytes is too short for Parquet`);
  // A footer of a few columns is well under 4 KiB; read more only if not.
  let len = Math.min(size, 4096);
  let tail = readAt(size - len, len);
  const view = new DataView(tail.buffer);
  const footer = view.getUint32(len - 8, true);
  if (footer + 8 > len) {
    if (footer + 12 > size) {
      throw new Error(`footer length ${footer} exceeds the file (${size} B)`);
    }
    len = footer + 8;
    tail = readAt(size - len, len);
  }
  return tail;
}

/** The rows of a metric file, or of a log's parts unioned as if compacted. */
function parquetSql(f: MetricFile): string {
  return f.parts
    ? `read_parquet(${literalList(f.parts)}, union_by_name = true)`
    : `read_parquet(${literal(f.abs)})`;
}

/** How messages name a metric file, or a log by its parts folder. */
function label(f: MetricFile): string {
  return f.parts
    ? `${STRATA}/${f.name}${PARTS_SUFFIX}/ (a log not compacted)`
    : `${STRATA}/${f.name}.parquet`;
}

/**
 * The metrics logs of a specimen that are still parts (a run in progress,
 * or an interrupted log the repair left), each as one table; and a table
 * that became a file since the scan (its logger closed). `skip` names the
 * files already read. A logger closing while its parts are read makes it
 * list again.
 */
async function readLogs(
  id: string,
  dir: string,
  skip: (name: string) => boolean,
): Promise<MetricFile[]> {
  // Loaded only for a vault with logs: it brings the Parquet writer along.
  const { listMetricTables } = await import("../metrics_log/table.ts");
  for (let attempt = 0;; attempt++) {
    const files: MetricFile[] = [];
    try {
      for (const t of await listMetricTables(dir)) {
        if (skip(t.name)) continue;
        files.push(readLog(id, dir, t));
      }
      return files;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) || attempt === 3) throw e;
    }
  }
}

/** One table of {@linkcode readLogs}; throws NotFound if a part vanished. */
function readLog(id: string, dir: string, t: MetricTable): MetricFile {
  if (t.kind === "file") {
    const name = `${t.name}.parquet`;
    const stat = statOf(join(dir, STRATA, name), name);
    if (!stat) throw new Deno.errors.NotFound(`${t.paths[0]} vanished`);
    return readMetricFile(id, dir, stat);
  }
  const file: MetricFile = {
    id,
    name: t.name,
    abs: join(dir, STRATA, `${t.name}${PARTS_SUFFIX}`),
    rel: `${SPECIMENS_DIR}/${id}/${STRATA}/${t.name}${PARTS_SUFFIX}`,
    rows: 0,
    // Each log is described and loaded on its own.
    signature: `log:${id}/${t.name}`,
    parts: t.paths.map((p) => join(dir, p)),
    logDir: dir,
  };
  for (const [i, part] of file.parts!.entries()) {
    let tail: Uint8Array;
    try {
      tail = readTail(part, Deno.statSync(part).size, dir);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw e;
      file.issue = `${t.paths[i]} cannot be read (${
        (e as Error).message
      }); the log's rows are not in the catalog`;
      return file;
    }
    try {
      file.rows += Number(parquetMetadata(tail).num_rows);
    } catch (e) {
      file.issue = `${t.paths[i]} is not readable Parquet (${
        (e as Error).message
      }); the log's rows are not in the catalog`;
      return file;
    }
  }
  return file;
}

/**
 * Runs `read` (a DuckDB read of `f`); if `f` is a log whose parts vanished
 * (its logger closed: the parts became the file), lists it again and
 * retries.
 */
async function retryLog<T>(f: MetricFile, read: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await read();
    } catch (e) {
      if (
        !f.parts || attempt === 3 ||
        !/IO Error|No files found|No such file/i.test(duckdbMessage(e))
      ) {
        throw e;
      }
      const [fresh] = await readLogs(
        f.id,
        f.logDir!,
        (name) => name !== f.name,
      );
      if (!fresh || fresh.issue) throw e;
      Object.assign(f, { parts: undefined }, fresh, {
        columns: f.columns,
        signature: f.signature,
      });
    }
  }
}

function readMetricFile(
  id: string,
  dir: string,
  stat: FileStat,
): MetricFile {
  const name = stat.name.slice(0, -".parquet".length);
  const rel = `${SPECIMENS_DIR}/${id}/${STRATA}/${stat.name}`;
  const abs = join(dir, STRATA, stat.name);
  const file: MetricFile = { id, name, abs, rel, rows: 0, signature: "" };
  if (!NAME_RULE.test(name)) {
    file.issue =
      `${STRATA}/${stat.name}: a metric table name must match ^[A-Za-z0-9_]+$ to be a SQL name; not indexed (rename it)`;
    return file;
  }
  try {
    const md = parquetMetadata(readTail(abs, stat.size, dir));
    file.rows = Number(md.num_rows);
    file.signature = toJson(md.schema.map((e) => [
      e.name,
      e.type,
      e.type_length,
      e.repetition_type,
      e.num_children,
      e.converted_type,
      e.scale,
      e.precision,
      e.logical_type,
    ]));
  } catch (e) {
    file.issue = `${STRATA}/${stat.name} is not readable Parquet (${
      (e as Error).message
    }); its rows are not in the catalog`;
  }
  return file;
}

const V2_DTYPES: Record<string, string> = {
  b1: "bool",
  i1: "int8",
  i2: "int16",
  i4: "int32",
  i8: "int64",
  u1: "uint8",
  u2: "uint16",
  u4: "uint32",
  u8: "uint64",
  f2: "float16",
  f4: "float32",
  f8: "float64",
  c8: "complex64",
  c16: "complex128",
};

function duBytes(path: string): number {
  let total = 0;
  for (const entry of Deno.readDirSync(path)) {
    const p = join(path, entry.name);
    if (entry.isDirectory) total += duBytes(p);
    else if (entry.isFile) total += Deno.statSync(p).size;
  }
  return total;
}

/** The largest Zarr metadata file read (zarr.json, .zarray): 1 MiB. */
const MAX_ZARR_META_BYTES = 1024 * 1024;
/** The most dimensions a tensor may have in the catalog. */
const MAX_DIMS = 64;

/**
 * Why `v` cannot be a `BIGINT[]` of dimensions, or undefined when it can (or
 * is absent: recorded as NULL). A dimension must be a whole number from 0 to
 * 2^53 - 1: what JSON numbers hold exactly, and far inside BIGINT.
 */
function badDims(what: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return `${what} is ${typeof v}, not a list`;
  if (v.length > MAX_DIMS) {
    return `${what} has ${v.length} dimensions, more than ${MAX_DIMS}`;
  }
  const i = v.findIndex((x) => !Number.isSafeInteger(x) || x < 0);
  if (i < 0) return undefined;
  const x = v[i];
  // Never JSON.stringify: a hostile value may nest deeper than the stack.
  const shown = typeof x === "string"
    ? JSON.stringify(x.slice(0, 40))
    : Array.isArray(x)
    ? "a list"
    : x !== null && typeof x === "object"
    ? "an object"
    : String(x);
  return `${what} dimension ${i} is ${shown}, not a whole number from 0 to 2^53 - 1`;
}

function numbers(v: unknown): number[] | null {
  return Array.isArray(v) && v.every((x) => typeof x === "number")
    ? v as number[]
    : null;
}

function readTensor(
  id: string,
  dir: string,
  z: ZarrEntry,
): TensorRow | string {
  const path = join(dir, STRATA, z.name);
  let meta: Record<string, unknown>;
  try {
    const bytes = readVaultFileSync(join(path, z.meta), {
      root: dir,
      maxBytes: MAX_ZARR_META_BYTES,
    });
    meta = JSON.parse(new TextDecoder().decode(bytes));
    if (meta === null || typeof meta !== "object" || Array.isArray(meta)) {
      throw new TypeError("not a JSON object");
    }
  } catch (e) {
    return `${STRATA}/${z.name}/${z.meta} is not readable JSON (${
      (e as Error).message
    }); not indexed as a tensor`;
  }
  const bad = badDims("shape", meta.shape) ??
    badDims(
      "chunk shape",
      z.meta === "zarr.json"
        ? (meta.chunk_grid as { configuration?: { chunk_shape?: unknown } })
          ?.configuration?.chunk_shape
        : meta.chunks,
    );
  if (bad) {
    return `${STRATA}/${z.name}/${z.meta}: ${bad}; not indexed as a tensor`;
  }
  const row: TensorRow = {
    id,
    name: z.name.slice(0, -".zarr".length),
    path: `${SPECIMENS_DIR}/${id}/${STRATA}/${z.name}`,
    shape: numbers(meta.shape),
    dtype: null,
    chunks: null,
    codecs: [],
    bytes: duBytes(path),
    zarrFormat: z.meta === "zarr.json" ? 3 : 2,
  };
  if (z.meta === "zarr.json") {
    if (meta.node_type !== undefined && meta.node_type !== "array") {
      return `${STRATA}/${z.name} is a Zarr ${
        String(meta.node_type)
      }, not an array; not indexed as a tensor`;
    }
    row.dtype = typeof meta.data_type === "string" ? meta.data_type : null;
    const grid = meta.chunk_grid as
      | { configuration?: { chunk_shape?: unknown } }
      | undefined;
    row.chunks = numbers(grid?.configuration?.chunk_shape);
    if (Array.isArray(meta.codecs)) {
      row.codecs = meta.codecs.map((c) =>
        typeof c === "string" ? c : String((c as { name?: unknown }).name)
      );
    }
  } else {
    const dtype = typeof meta.dtype === "string" ? meta.dtype : null;
    row.dtype = dtype ? V2_DTYPES[dtype.slice(1)] ?? dtype : null;
    row.chunks = numbers(meta.chunks);
    const filters = Array.isArray(meta.filters) ? meta.filters : [];
    for (const f of [...filters, meta.compressor]) {
      const codec = (f as { id?: unknown } | null)?.id;
      if (typeof codec === "string") row.codecs.push(codec);
    }
  }
  return row;
}

// ---------------------------------------------------------------------------
// Column types across specimens.

/** Integer types: their range, for the exact union of several. */
const INTEGER_RANGE: Record<string, [bigint, bigint]> = {
  TINYINT: [-(2n ** 7n), 2n ** 7n - 1n],
  SMALLINT: [-(2n ** 15n), 2n ** 15n - 1n],
  INTEGER: [-(2n ** 31n), 2n ** 31n - 1n],
  BIGINT: [-(2n ** 63n), 2n ** 63n - 1n],
  HUGEINT: [-(2n ** 127n), 2n ** 127n - 1n],
  UTINYINT: [0n, 2n ** 8n - 1n],
  USMALLINT: [0n, 2n ** 16n - 1n],
  UINTEGER: [0n, 2n ** 32n - 1n],
  UBIGINT: [0n, 2n ** 64n - 1n],
  UHUGEINT: [0n, 2n ** 128n - 1n],
};
/** The integer types a union column may get, narrowest first. */
const UNION_INTEGERS = ["BIGINT", "UBIGINT", "HUGEINT", "UHUGEINT"];
const FLOAT_TYPES = new Set(["FLOAT", "DOUBLE"]);
/** Integers a DOUBLE holds exactly: any value of these types. */
const EXACT_IN_DOUBLE = new Set([
  "TINYINT",
  "SMALLINT",
  "INTEGER",
  "UTINYINT",
  "USMALLINT",
  "UINTEGER",
  "FLOAT",
  "DOUBLE",
]);
const DECIMAL = /^DECIMAL\((\d+),\s*(\d+)\)$/;

function isNumeric(type: string): boolean {
  return type in INTEGER_RANGE || FLOAT_TYPES.has(type) ||
    DECIMAL.test(type);
}

/** What must agree across specimens: numbers mix freely, the rest exactly. */
function kindOf(type: string): string {
  return isNumeric(type) ? "number" : type;
}

/** Digits before and after the point a numeric type needs, if exact. */
function digitsOf(type: string): [number, number] | undefined {
  const range = INTEGER_RANGE[type];
  if (range) {
    const big = -range[0] > range[1] ? -range[0] : range[1];
    return [big.toString().length, 0];
  }
  const m = DECIMAL.exec(type);
  return m ? [Number(m[1]) - Number(m[2]), Number(m[2])] : undefined;
}

/**
 * The type a column gets in a union table, given the types it comes in:
 * the narrowest type that holds every value of each exactly (BIGINT for
 * integers that fit, then UBIGINT, HUGEINT, UHUGEINT; a DECIMAL wide enough
 * for decimals, or decimals with integers, up to 38 digits), else DOUBLE
 * (FLOAT only when every file has FLOAT). A union to DOUBLE may change
 * values: {@linkcode lossyColumns} finds where it does.
 */
function unionType(types: Iterable<string>): string {
  const all = [...new Set(types)];
  if (all.length === 0) return "VARCHAR";
  if (!isNumeric(all[0])) return all[0];
  if (all.every((t) => t === "FLOAT")) return "FLOAT";
  if (all.some((t) => FLOAT_TYPES.has(t))) return "DOUBLE";
  if (all.every((t) => t in INTEGER_RANGE)) {
    const lo = all.reduce((m, t) => {
      const v = INTEGER_RANGE[t][0];
      return v < m ? v : m;
    }, 0n);
    const hi = all.reduce((m, t) => {
      const v = INTEGER_RANGE[t][1];
      return v > m ? v : m;
    }, 0n);
    const fit = UNION_INTEGERS.find((t) =>
      INTEGER_RANGE[t][0] <= lo && hi <= INTEGER_RANGE[t][1]
    );
    if (fit) return fit;
  }
  let whole = 0;
  let scale = 0;
  for (const t of all) {
    const [w, s] = digitsOf(t)!;
    whole = Math.max(whole, w);
    scale = Math.max(scale, s);
  }
  return whole + scale <= 38 ? `DECIMAL(${whole + scale},${scale})` : "DOUBLE";
}

/** Whether every value of numeric type `from` is exact in type `to`. */
function holdsExactly(from: string, to: string): boolean {
  if (from === to || !isNumeric(from)) return true;
  if (to === "DOUBLE") return EXACT_IN_DOUBLE.has(from);
  if (to === "FLOAT") return from === "FLOAT";
  return unionType([from, to]) === to;
}

function isolatedTableName(id: string, name: string): string {
  return `_isolated__${id}__${name}`;
}

// ---------------------------------------------------------------------------
// The catalog's tables.

const SCHEMA_SQL = `
CREATE TABLE catalog (
  specimen_id VARCHAR NOT NULL,
  created TIMESTAMPTZ NOT NULL,
  domain VARCHAR,
  method VARCHAR,
  model VARCHAR,
  tags VARCHAR[],
  status VARCHAR,
  path VARCHAR,
  description VARCHAR,
  parent VARCHAR,
  dependencies MAP(VARCHAR, VARCHAR),
  artifacts JSON,
  provenance JSON,
  metrics_rows BIGINT,
  issues VARCHAR[],
  manifest JSON,
  fingerprint VARCHAR,
  indexed_at TIMESTAMPTZ
);
CREATE TABLE metric_tables (
  specimen_id VARCHAR,
  name VARCHAR,
  path VARCHAR,
  rows BIGINT,
  columns STRUCT(name VARCHAR, type VARCHAR)[],
  relation VARCHAR,
  source VARCHAR,
  definition VARCHAR,
  issue VARCHAR
);
CREATE TABLE tensors (
  specimen_id VARCHAR,
  name VARCHAR,
  path VARCHAR,
  shape BIGINT[],
  dtype VARCHAR,
  chunks BIGINT[],
  codecs VARCHAR[],
  bytes BIGINT,
  zarr_format INTEGER
);
CREATE TABLE vault_info (key VARCHAR, value VARCHAR);
`;

interface Previous {
  fingerprints: Map<string, { fingerprint: string; issues: string[] }>;
  /**
   * Its fingerprints record logs' parts (`l:`). An older catalog's do not,
   * so its `strata/` mtimes cannot vouch that no log is there: every folder
   * is listed once (the fingerprints of those without logs still match).
   */
  logs: boolean;
}

async function readPrevious(
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

// ---------------------------------------------------------------------------
// The lock that keeps two indexers of one vault apart.

async function lockIndex(
  root: string,
  onProgress?: (p: IndexProgress) => void,
): Promise<Disposable> {
  const path = join(root, INDEX_LOCK_FILE);
  const file = await Deno.open(path, { create: true, read: true, write: true });
  try {
    // flock: released by the kernel when the holder exits, even on kill -9,
    // so there is never a stale lock to clean up.
    if (!(await file.tryLock(true))) {
      let holder = "another process";
      try {
        const pid = (await Deno.readTextFile(path)).trim();
        if (/^\d+$/.test(pid)) holder = `process ${pid}`;
      } catch { /* the holder's pid is only for the message */ }
      onProgress?.({
        phase: "waiting",
        done: 0,
        total: 1,
        message:
          `Waiting for ${holder} to finish indexing this vault (lock ${path})`,
      });
      await file.lock(true);
    }
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch (e) {
    file.close();
    throw e;
  }
  return {
    [Symbol.dispose]() {
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}

async function removeStaleTemps(root: string, catalogName: string) {
  const prefix = `.tmp-${catalogName}-`;
  for await (const entry of Deno.readDir(root)) {
    if (entry.name.startsWith(prefix)) {
      await Deno.remove(join(root, entry.name), { recursive: true }).catch(
        () => {},
      );
    }
  }
}

// ---------------------------------------------------------------------------

/**
 * Builds or updates `vault.duckdb` from the vault's specimen folders.
 *
 * The new catalog is built beside the old one under a hidden temp name and
 * renamed into place, so a reader sees the old or the new catalog, never a
 * partial one, and a crash leaves the old one intact. Only one indexer runs
 * per vault at a time (a lock file; a second one waits). By default only new
 * and changed specimens are read (change = a different size or mtime of the
 * manifest or of a file under `strata/`, or a log's new parts); `full`
 * rebuilds everything. Interrupted metrics logs are compacted on the way
 * (one warning each); live ones are read as their parts.
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
  const started = performance.now();
  const timings: Record<string, number> = {};
  let mark = started;
  const lap = (phase: string) => {
    const now = performance.now();
    timings[phase] = (timings[phase] ?? 0) + now - mark;
    mark = now;
  };
  const paths = options.vault !== undefined
    ? vaultPaths(options.vault)
    : await findVault();
  const views = options.views ?? false;
  try {
    if (!(await Deno.stat(paths.specimens)).isDirectory) throw new Error();
  } catch {
    throw new NotFoundError(
      `No "${SPECIMENS_DIR}/" folder in ${paths.root}: is it a vault? Pass the vault root with --vault, or create a specimen with \`deno task create\``,
    );
  }
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    options.onWarning?.(message);
  };
  const progress = options.onProgress;

  using _lock = await lockIndex(paths.root, progress);
  const catalogName = paths.catalog.slice(paths.root.length + 1);
  await removeStaleTemps(paths.root, catalogName);
  lap("lock");

  const tmp = tempPathFor(paths.catalog);
  let placed = false;
  try {
    const hasOld = !options.full && await exists(paths.catalog);
    // The copy of the old catalog to update is made on another thread while
    // this one scans the folders (then flushed, so that the checkpoint's
    // fsync has little left to do).
    const copy = { flush: true };
    const copyP = hasOld
      ? copyFlushed(paths.catalog, tmp, copy)
      : Promise.resolve();
    copyP.catch(() => {}); // awaited below; never an unhandled rejection
    const previous = hasOld
      ? await readPrevious(paths.catalog, views)
      : undefined;
    lap("previous");

    // 1. Scan every folder (stat only).
    const folders = listFolders(paths.specimens, warn);
    const scans: FolderScan[] = [];
    const now = Date.now();
    let skipped = 0;
    for (let i = 0; i < folders.length; i++) {
      const old = previous?.logs
        ? previous.fingerprints.get(folders[i])?.fingerprint
        : undefined;
      try {
        const scan = scanFolder(paths.specimens, folders[i], old, now);
        scans.push(
          scan.logs.length
            ? await repairFolder(paths.specimens, scan, now, warn)
            : scan,
        );
      } catch (e) {
        warn(
          `${SPECIMENS_DIR}/${folders[i]}: cannot be scanned (${
            (e as Error).message
          }); skipped`,
        );
        skipped++;
      }
      if (progress && (i % 500 === 499 || i === folders.length - 1)) {
        progress({ phase: "scanning", done: i + 1, total: folders.length });
      }
    }
    lap("scan");

    // 2. Decide what to read.
    const kept = new Set<string>();
    const toRead: FolderScan[] = [];
    for (const scan of scans) {
      const old = previous?.fingerprints.get(scan.folder);
      if (old && old.fingerprint === scan.fingerprint && scan.manifest) {
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

    // 3. Read new and changed specimens.
    const folderNames = new Set(folders);
    const records: SpecimenRecord[] = [];
    for (let i = 0; i < toRead.length; i++) {
      let record: SpecimenRecord | undefined;
      try {
        const scan = toRead[i];
        const logs = scan.logs.length
          ? await readLogs(
            scan.folder,
            scan.dir,
            (name) => scan.parquet.some((p) => p.name === `${name}.parquet`),
          )
          : [];
        record = readSpecimen(scan, folderNames, warn, logs);
      } catch (e) {
        warn(
          `${SPECIMENS_DIR}/${toRead[i].folder}: cannot be read (${
            (e as Error).message
          }); skipped`,
        );
      }
      if (record) records.push(record);
      else skipped++;
      if (progress && (i % 500 === 499 || i === toRead.length - 1)) {
        progress({ phase: "reading", done: i + 1, total: toRead.length });
      }
    }
    lap("read");

    const unchanged = previous?.logs && toDelete.length === 0 &&
      records.length === 0;
    copy.flush = !unchanged; // an unused copy need not reach the disk
    await copyP;
    if (unchanged) {
      if (kept.size === 0) throw noValidSpecimens(paths.specimens, skipped);
      if (options.strict && warnings.length) throw strictFailure(warnings);
      return {
        catalog: paths.catalog,
        mode: "unchanged",
        indexed: kept.size,
        read: toRead.length,
        removed: 0,
        skipped,
        warnings,
        ms: performance.now() - started,
        timings,
      };
    }
    // An old catalog of another version (or unreadable): start afresh.
    if (hasOld && !previous) await Deno.remove(tmp);
    lap("copy");

    // 4. Build the new catalog beside the old one.
    const db = await openDatabase(tmp, { autoload_known_extensions: "false" });
    let valid: SpecimenRecord[];
    try {
      const c = db.connection;
      if (!previous) {
        await c.run(SCHEMA_SQL);
        await c.run(
          `INSERT INTO vault_info VALUES ('schema_version', '${CATALOG_SCHEMA_VERSION}'), ('views', '${views}')`,
        );
      }
      const step = (done: number) =>
        progress?.({ phase: "writing", done, total: 5 });
      step(0);
      if (toDelete.length) await deleteSpecimens(c, toDelete, views);
      valid = await stageCatalog(c, records, warn);
      skipped += records.length - valid.length;
      if (kept.size + valid.length === 0) {
        throw noValidSpecimens(paths.specimens, skipped);
      }
      lap("catalog");
      step(1);
      await writeMetrics(c, valid, warn);
      lap("metrics");
      step(2);
      await writeCatalogRows(c, valid);
      await writeTensors(c, valid);
      lap("catalog");
      step(3);
      if (views) await writeViews(c, valid);
      // Queries may name `metrics` before any specimen has written one.
      await c.run(
        `CREATE TABLE IF NOT EXISTS ${
          ident(MAIN_METRICS)
        } (specimen_id VARCHAR)`,
      );
      await c.run(
        `DELETE FROM vault_info WHERE key IN ('built_at', 'specimens', 'fingerprint_logs');
         INSERT INTO vault_info VALUES ('built_at', now()::VARCHAR), ('specimens', '${
          kept.size + valid.length
        }'), ('fingerprint_logs', 'true');`,
      );
      await c.run("CHECKPOINT");
      step(4);
    } finally {
      db.close();
    }
    if (options.strict && warnings.length) throw strictFailure(warnings);
    // DuckDB removes the WAL on a clean close; a leftover one would mean the
    // file alone is not the whole database.
    if (await exists(`${tmp}.wal`)) {
      throw new VaultError(
        `DuckDB left a write-ahead log beside ${tmp}; the catalog was not replaced. Run the index again`,
      );
    }
    await Deno.rename(tmp, paths.catalog);
    placed = true;
    progress?.({ phase: "writing", done: 5, total: 5 });
    lap("finish");
    const reinserted = new Set(valid.map((r) => r.id));
    return {
      catalog: paths.catalog,
      mode: previous ? "incremental" : "full",
      indexed: kept.size + valid.length,
      read: toRead.length,
      removed: toDelete.filter((id) => !reinserted.has(id)).length,
      skipped,
      warnings,
      ms: performance.now() - started,
      timings,
    };
  } catch (e) {
    // A full disk or a read-only vault: say so, and that nothing was lost.
    throw withWriteContext(
      e,
      `Cannot write the catalog ${paths.catalog} (the previous catalog is left as it was)`,
    );
  } finally {
    if (!placed) {
      await Deno.remove(tmp).catch(() => {});
      await Deno.remove(`${tmp}.wal`).catch(() => {});
    }
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

function noValidSpecimens(dir: string, skipped: number): VaultError {
  return new VaultError(
    `No valid specimens found to index in ${dir}${
      skipped ? ` (${skipped} folder(s) skipped: see the warnings above)` : ""
    }. Create one with \`deno task create\`, or fix the manifests named above; the previous catalog was left untouched`,
  );
}

function strictFailure(warnings: string[]): VaultError {
  return new VaultError(
    `--strict: ${warnings.length} warning(s) (see above); the catalog was not replaced. Fix them, or index without --strict`,
  );
}

function readSpecimen(
  scan: FolderScan,
  folderNames: Set<string>,
  warn: (message: string) => void,
  logs: MetricFile[] = [],
): SpecimenRecord | undefined {
  const rel = `${SPECIMENS_DIR}/${scan.folder}`;
  if (!scan.manifest) {
    warn(
      `${rel}: no ${MANIFEST_FILE}; skipped (not a specimen folder? create specimens with \`deno task create\`)`,
    );
    return undefined;
  }
  const source = `${rel}/${MANIFEST_FILE}`;
  let manifest: Manifest;
  try {
    const bytes = readVaultFileSync(join(scan.dir, MANIFEST_FILE), {
      root: scan.dir,
      maxBytes: MAX_MANIFEST_BYTES,
    });
    manifest = decodeManifest(bytes, source);
  } catch (e) {
    warn(`${(e as Error).message}; skipped`);
    return undefined;
  }
  if (manifest.specimen_id !== scan.folder) {
    const claimed = manifest.specimen_id;
    warn(
      folderNames.has(claimed)
        ? `${source}: claims id "${claimed}", which is the id of ${SPECIMENS_DIR}/${claimed}: two folders claim one id; ${rel} skipped, ${SPECIMENS_DIR}/${claimed} kept (a specimen's id must match its folder name)`
        : `${source}: "specimen_id" is "${claimed}" but the folder is "${scan.folder}"; skipped (rename the folder or fix the manifest)`,
    );
    return undefined;
  }
  const ms = Date.parse(manifest.created);
  const record: SpecimenRecord = {
    id: scan.folder,
    rel,
    manifest,
    createdIso: Number.isNaN(ms) ? null : new Date(ms).toISOString(),
    fingerprint: scan.fingerprint,
    issues: [...scan.notes],
    metricFiles: [],
    tensors: [],
  };
  for (const p of scan.parquet) {
    const file = readMetricFile(scan.folder, scan.dir, p);
    if (file.issue) record.issues.push(file.issue);
    record.metricFiles.push(file);
  }
  for (const file of logs) {
    if (file.issue) record.issues.push(file.issue);
    record.metricFiles.push(file);
  }
  for (const z of scan.zarr) {
    const tensor = readTensor(scan.folder, scan.dir, z);
    if (typeof tensor === "string") record.issues.push(tensor);
    else record.tensors.push(tensor);
  }
  const onDisk = new Set([
    ...scan.parquet.map((p) => `${STRATA}/${p.name}`),
    ...scan.zarr.map((z) => `${STRATA}/${z.name}`),
  ]);
  for (const [key, artifact] of Object.entries(manifest.artifacts)) {
    const path = typeof artifact?.path === "string" ? artifact.path : "";
    if (
      path.startsWith(`${STRATA}/`) &&
      !onDisk.has(path.replace(/\/+$/, "")) &&
      // Written after the scan (a run in progress): not missing; its new
      // fingerprint gets it read by the next index.
      !statOf(join(scan.dir, path), path)
    ) {
      record.issues.push(
        `the manifest records artifact "${key}" at ${path}, which is missing or unreadable`,
      );
    }
  }
  return record;
}

/**
 * Stages the catalog rows of `records` and drops (with a warning) those whose
 * `created` DuckDB cannot read as an instant; returns the rest.
 */
async function stageCatalog(
  c: DuckDBConnection,
  records: SpecimenRecord[],
  warn: (message: string) => void,
): Promise<SpecimenRecord[]> {
  const appender = await stage(c, "_stage_catalog", [
    "specimen_id",
    "created",
    "created_iso",
    "domain",
    "method",
    "model",
    "tags",
    "status",
    "path",
    "description",
    "dependencies",
    "artifacts",
    "provenance",
    "manifest",
    "fingerprint",
  ]);
  const unfit = new Map<string, string>();
  for (const r of records) {
    const m = r.manifest;
    let row: (string | null)[];
    try {
      row = [
        r.id,
        m.created,
        r.createdIso,
        m.taxonomy.domain,
        m.taxonomy.method,
        m.model,
        toJson(m.tags),
        m.status,
        r.rel,
        m.description,
        toJson(m.dependencies),
        toJson(m.artifacts),
        m.provenance === undefined ? null : toJson(m.provenance),
        toJson(m),
        r.fingerprint,
      ];
    } catch (e) {
      unfit.set(r.id, (e as Error).message);
      continue;
    }
    appendRow(appender, row);
  }
  appender.closeSync();
  // One row DuckDB cannot take would fail the insert of all: each column
  // read as JSON must be valid JSON, checked row by row before the insert.
  for (
    const [id] of (await c.runAndReadAll(
      `DELETE FROM _stage_catalog WHERE NOT (json_valid(tags) AND json_valid(dependencies)
         AND json_valid(artifacts) AND coalesce(json_valid(provenance), true) AND json_valid(manifest)
         AND TRY_CAST(tags::JSON AS VARCHAR[]) IS NOT NULL
         AND TRY_CAST(dependencies::JSON AS MAP(VARCHAR, VARCHAR)) IS NOT NULL)
       RETURNING specimen_id`,
    )).getRows()
  ) unfit.set(String(id), "a value DuckDB cannot read as JSON");
  const bad = new Set(
    (await c.runAndReadAll(
      `DELETE FROM _stage_catalog WHERE coalesce(TRY_CAST(created AS TIMESTAMPTZ), TRY_CAST(created_iso AS TIMESTAMPTZ)) IS NULL RETURNING specimen_id`,
    )).getRows().map(([id]) => String(id)),
  );
  return records.filter((r) => {
    const why = unfit.get(r.id);
    if (why !== undefined) {
      warn(
        `${r.rel}/${MANIFEST_FILE}: cannot be stored in the catalog (${why}); skipped`,
      );
      return false;
    }
    if (!bad.has(r.id)) return true;
    warn(
      `${r.rel}/${MANIFEST_FILE}: "created" ${
        JSON.stringify(r.manifest.created)
      } is not a timestamp DuckDB can read; skipped (write ISO-8601 with an offset, e.g. 2024-01-01T00:00:00+00:00)`,
    );
    return false;
  });
}

async function deleteSpecimens(
  c: DuckDBConnection,
  ids: string[],
  views: boolean,
) {
  const list = `(SELECT unnest(${literalList(ids)}))`;
  const sources = (await c.runAndReadAll(
    `SELECT DISTINCT source, relation FROM metric_tables WHERE specimen_id IN ${list} AND source IS NOT NULL`,
  )).getRows() as [string, string][];
  const drops: string[] = [];
  const exact = (await c.runAndReadAll(
    `SELECT specimen_id, name FROM metric_tables WHERE specimen_id IN ${list} AND starts_with(definition, 'SELECT * FROM "_exact__')`,
  )).getRows() as [string, string][];
  for (const [id, name] of exact) {
    drops.push(`DROP TABLE IF EXISTS ${ident(exactTableName(id, name))};`);
  }
  for (const [source, relation] of sources) {
    if (source.startsWith("_isolated__")) {
      drops.push(`DROP TABLE IF EXISTS ${ident(source)};`);
    }
    if (views) drops.push(`DROP VIEW IF EXISTS ${ident(relation)};`);
  }
  if (drops.length) await c.run(drops.join("\n"));
  const unions = (await c.runAndReadAll(
    `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND (table_name = 'metrics' OR table_name LIKE 'metrics\\_\\_%' ESCAPE '\\')`,
  )).getRows().map(([t]) => String(t));
  for (const table of [...unions, "metric_tables", "tensors", "catalog"]) {
    await c.run(`DELETE FROM ${ident(table)} WHERE specimen_id IN ${list}`);
  }
  // A union table left empty goes, so its column types are decided afresh.
  for (const table of unions) {
    const [[n]] = (await c.runAndReadAll(
      `SELECT count(*) FROM ${ident(table)}`,
    )).getRows();
    if (Number(n) === 0) await c.run(`DROP TABLE ${ident(table)}`);
  }
}

async function existingColumns(
  c: DuckDBConnection,
  table: string,
): Promise<Map<string, string> | undefined> {
  const rows = (await c.runAndReadAll(
    `SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ${
      literal(table)
    } ORDER BY column_index`,
  )).getRows() as [string, string][];
  if (rows.length === 0) return undefined;
  return new Map(rows.filter(([n]) => n !== "specimen_id"));
}

/**
 * Loads every readable metric file: into its union table when its column
 * types agree with the other specimens', else into a table of its own.
 */
async function writeMetrics(
  c: DuckDBConnection,
  records: SpecimenRecord[],
  warn: (message: string) => void,
) {
  await keepCaseTwinsApart(c, records);
  const files = records.flatMap((r) => r.metricFiles.filter((f) => !f.issue));
  // The exact DuckDB types, asked once per distinct Parquet schema.
  const bySignature = new Map<string, MetricFile[]>();
  for (const f of files) {
    const group = bySignature.get(f.signature) ?? [];
    group.push(f);
    bySignature.set(f.signature, group);
  }
  for (const group of bySignature.values()) {
    let columns: Column[] | undefined;
    for (const f of group) {
      if (!columns) {
        try {
          columns = await retryLog(f, async () =>
            (await c.runAndReadAll(
              `DESCRIBE SELECT * FROM ${parquetSql(f)}`,
            )).getRows().map(([name, type]) => ({
              name: String(name),
              type: String(type),
            })));
        } catch (e) {
          f.issue = `${label(f)} is not readable Parquet (${
            firstLine(duckdbMessage(e))
          }); its rows are not in the catalog`;
          continue;
        }
      }
      f.columns = columns;
    }
  }
  const byName = new Map<string, MetricFile[]>();
  for (const f of files) {
    if (!f.columns) continue;
    const list = byName.get(f.name) ?? [];
    list.push(f);
    byName.set(f.name, list);
  }
  // Relations must be unique: "exp_a__b" is both (a__b, metrics) and (a, b),
  // and SQL names ignore case: "exp_A" is "exp_a".
  const relations = new Map<string, MetricFile>();
  const existingRelations = new Map(
    (await c.runAndReadAll(
      `SELECT lower(relation), path FROM metric_tables WHERE lower(relation) IN (SELECT unnest(${
        literalList(
          files.map((f) => relationName(f.id, f.name).toLowerCase()),
        )
      }))`,
    )).getRows().map(([r, path]) => [String(r), String(path)]),
  );
  for (const f of files) {
    if (!f.columns) continue;
    const relation = relationName(f.id, f.name);
    const key = relation.toLowerCase();
    const other = relations.get(key)?.rel ?? existingRelations.get(key);
    if (other) {
      f.issue = `${
        label(f)
      } would be queried as ${relation}, a name already taken by ${other} (SQL names ignore case); not indexed (rename the file)`;
      f.columns = undefined;
    } else relations.set(key, f);
  }
  for (const [name, list] of byName) {
    await writeMetricTable(c, name, list.filter((f) => f.columns), warn);
  }
  for (const r of records) {
    for (const f of r.metricFiles) {
      if (f.issue && !r.issues.includes(f.issue)) r.issues.push(f.issue);
      if (f.widened) r.issues.push(f.widened);
    }
    for (const issue of r.issues) warn(`${r.rel}: ${issue}`);
  }
  await writeMetricTableRows(c, records);
}

/**
 * Finds ids that differ only in case from another specimen's (one in the
 * catalog, or read before it in this run: folder names sort capitals
 * first). SQL names ignore case, so both cannot have `exp_` views: the
 * later one's metric tables are not indexed, and it gets an issue naming
 * both ids. Its catalog row and tensors are kept.
 */
async function keepCaseTwinsApart(
  c: DuckDBConnection,
  records: SpecimenRecord[],
) {
  const seen = new Map(
    (await c.runAndReadAll(
      `SELECT lower(specimen_id), specimen_id FROM catalog WHERE lower(specimen_id) IN (SELECT unnest(${
        literalList(records.map((r) => r.id.toLowerCase()))
      }))`,
    )).getRows().map(([k, id]) => [String(k), String(id)]),
  );
  for (const r of records) {
    const key = r.id.toLowerCase();
    const twin = seen.get(key);
    if (twin === undefined || twin === r.id) {
      seen.set(key, r.id);
      continue;
    }
    r.issues.push(
      `its id differs only in case from "${twin}" (${SPECIMENS_DIR}/${twin}), and SQL names ignore case: ${
        relationName(twin, MAIN_METRICS)
      } and the like are ${twin}'s, so this specimen's metric tables are not indexed (its catalog row and tensors are); rename one of them (folder and manifest specimen_id) to index both`,
    );
    for (const f of r.metricFiles) {
      f.issue ??= `${
        label(f)
      }: not indexed (id differs only in case from "${twin}")`;
    }
  }
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0];
}

async function writeMetricTable(
  c: DuckDBConnection,
  name: string,
  files: MetricFile[],
  warn: (message: string) => void,
) {
  if (files.length === 0) return;
  const table = metricsTableName(name);
  const existing = await existingColumns(c, table);
  // Per column: the kind most specimens agree on (an existing table's wins).
  const votes = new Map<string, Map<string, number>>();
  const order: string[] = [...(existing?.keys() ?? [])];
  for (const f of files) {
    for (const col of f.columns!) {
      let v = votes.get(col.name);
      if (!v) {
        v = new Map();
        votes.set(col.name, v);
        if (!existing?.has(col.name)) order.push(col.name);
      }
      const kind = kindOf(col.type);
      v.set(kind, (v.get(kind) ?? 0) + 1);
    }
  }
  const winner = new Map<string, string>();
  for (const [col, v] of votes) {
    const fixed = existing?.get(col);
    if (fixed) winner.set(col, kindOf(fixed));
    else winner.set(col, [...v.entries()].sort((a, b) => b[1] - a[1])[0][0]);
  }
  const good: MetricFile[] = [];
  for (const f of files) {
    const reasons: string[] = [];
    for (const col of f.columns!) {
      if (col.name.toLowerCase() === "specimen_id") {
        reasons.push(
          `it has a column "specimen_id", which the catalog adds itself`,
        );
      } else if (kindOf(col.type) !== winner.get(col.name)) {
        reasons.push(
          `column "${col.name}" is ${col.type} here but ${
            winner.get(col.name) === "number" ? "numeric" : winner.get(col.name)
          } in ${existing?.has(col.name) ? "the catalog" : "most specimens"}`,
        );
      }
    }
    if (reasons.length === 0) {
      good.push(f);
      continue;
    }
    f.issue = `${label(f)}: ${
      reasons.join("; ")
    }; kept out of "${table}", queryable alone as ${
      relationName(f.id, f.name)
    }`;
    await loadIsolated(c, f);
  }
  if (good.length === 0) return;
  // Column types of the union table: widened over the agreeing files.
  const types = new Map<string, string[]>();
  for (const f of good) {
    for (const col of f.columns!) {
      const list = types.get(col.name) ?? [];
      list.push(col.type);
      types.set(col.name, list);
    }
  }
  if (!existing) {
    const cols = order.filter((n) => types.has(n)).map((n) =>
      `${ident(n)} ${unionType(types.get(n)!)}`
    );
    await c.run(
      `CREATE TABLE ${ident(table)} (specimen_id VARCHAR NOT NULL, ${
        cols.join(", ")
      })`,
    );
  } else {
    const widen: Widening[] = [];
    for (const [col, list] of types) {
      const now = existing.get(col);
      const wanted = unionType([now ?? list[0], ...list]);
      if (now && wanted !== now && !holdsExactly(now, wanted)) {
        widen.push({ col, now, wanted });
      }
    }
    if (widen.length) await keepExactBeforeWidening(c, table, widen, warn);
    for (const [col, list] of types) {
      const now = existing.get(col);
      if (now === undefined) {
        await c.run(
          `ALTER TABLE ${ident(table)} ADD COLUMN ${ident(col)} ${
            unionType(list)
          }`,
        );
      } else {
        const wanted = unionType([now, ...list]);
        if (wanted !== now) {
          await c.run(
            `ALTER TABLE ${ident(table)} ALTER ${ident(col)} TYPE ${wanted}`,
          );
        }
      }
    }
  }
  // One INSERT per distinct schema; the specimen id comes from a join on
  // file_index (cheaper than deriving it from each row's file name).
  const bySignature = new Map<string, MetricFile[]>();
  for (const f of good) {
    const list = bySignature.get(f.signature) ?? [];
    list.push(f);
    bySignature.set(f.signature, list);
  }
  for (const list of bySignature.values()) {
    if (list[0].logDir) await insertLog(c, table, list[0]); // alone
    else await insertFiles(c, table, list);
  }
  const final = (await existingColumns(c, table))!;
  for (const f of good) {
    if (f.issue) continue;
    f.source = table;
    const lossy = await lossyColumns(c, f, final);
    if (lossy.length) {
      await keepExact(c, f, table, lossy, types);
      if (f.definition) continue;
    }
    // The file's own types: a union column may be wider.
    f.definition = `SELECT ${
      f.columns!.map((col) =>
        final.get(col.name) === col.type
          ? ident(col.name)
          : `CAST(${ident(col.name)} AS ${col.type}) AS ${ident(col.name)}`
      ).join(", ")
    } FROM ${ident(table)} WHERE specimen_id = ${literal(f.id)}`;
  }
}

/** The table holding an exact copy of a file whose union column is lossy. */
function exactTableName(id: string, name: string): string {
  return `_exact__${id}__${name}`;
}

/** SQL true where a value of `col` (of `type`) is not the same as `wider`. */
function changedBy(col: string, type: string, wider: string): string {
  return `TRY_CAST(TRY_CAST(${
    ident(col)
  } AS ${wider}) AS ${type}) IS DISTINCT FROM ${ident(col)}`;
}

/**
 * The columns of `f` whose values change in its union table's column
 * (`final` types): a BIGINT beyond 2^53, a DECIMAL with more digits than a
 * DOUBLE holds, in a column that is DOUBLE because another specimen has
 * DOUBLE there. Values are compared by a round trip through the wider type.
 */
async function lossyColumns(
  c: DuckDBConnection,
  f: MetricFile,
  final: Map<string, string>,
): Promise<Column[]> {
  const risky = f.columns!.filter((col) =>
    !holdsExactly(col.type, final.get(col.name) ?? col.type)
  );
  if (risky.length === 0) return [];
  try {
    const [row] = (await retryLog(f, () =>
      c.runAndReadAll(
        `SELECT ${
          risky.map((col) =>
            `bool_or(${changedBy(col.name, col.type, final.get(col.name)!)})`
          ).join(", ")
        } FROM ${parquetSql(f)}`,
      ))).getRows();
    return risky.filter((_, i) => row[i] === true);
  } catch {
    return risky; // cannot tell: keep it exact
  }
}

/**
 * Copies `f` into a table of its own, so that its `exp_` view gives its
 * values exactly while the union table holds them widened; says so.
 */
async function keepExact(
  c: DuckDBConnection,
  f: MetricFile,
  table: string,
  lossy: Column[],
  types: Map<string, string[]>,
) {
  const exact = exactTableName(f.id, f.name);
  const final = await existingColumns(c, table);
  const what = lossy.map((col) =>
    `"${col.name}" (${col.type} here, ${final?.get(col.name)} there: ${
      (types.get(col.name) ?? []).filter((t) => FLOAT_TYPES.has(t))
          .length
        ? "another specimen has floating point values in it"
        : "no exact type holds every specimen's values"
    })`
  ).join(", ");
  try {
    await retryLog(f, () =>
      c.run(
        `CREATE OR REPLACE TABLE ${ident(exact)} AS SELECT * FROM ${
          parquetSql(f)
        }`,
      ));
    f.definition = `SELECT * FROM ${ident(exact)}`;
    f.widened = `${
      label(f)
    }: in "${table}" column ${what} changes some of its values (precision lost); ${
      relationName(f.id, f.name)
    } keeps them exact`;
  } catch (e) {
    f.widened = `${
      label(f)
    }: in "${table}" column ${what} changes some of its values (precision lost), and no exact copy could be made (${
      firstLine(duckdbMessage(e))
    })`;
  }
}

/** A union column about to widen to a type that changes some values. */
interface Widening {
  col: string;
  now: string;
  wanted: string;
}

/**
 * Before `table`'s columns widen (e.g. BIGINT to DOUBLE, which changes some
 * values), copies the rows of each specimen already in the catalog whose
 * values would change into a table of its own, points its relation there,
 * and reports it.
 */
async function keepExactBeforeWidening(
  c: DuckDBConnection,
  table: string,
  widen: Widening[],
  warn: (message: string) => void,
) {
  const hit = (await c.runAndReadAll(
    `SELECT t.specimen_id, t.name, t.relation, t.definition, ${
      widen.map((w) => `bool_or(${changedBy(w.col, w.now, w.wanted)})`).join(
        ", ",
      )
    }
     FROM metric_tables t JOIN ${ident(table)} u USING (specimen_id)
     WHERE t.source = ${literal(table)}
     GROUP BY ALL HAVING ${
      widen.map((w) => `bool_or(${changedBy(w.col, w.now, w.wanted)})`).join(
        " OR ",
      )
    }`,
  )).getRows();
  for (const [id, name, relation, definition, ...flags] of hit as string[][]) {
    const cols = widen.filter((_, i) => flags[i] as unknown === true).map((
      w,
    ) => `"${w.col}" (${w.now}) becomes ${w.wanted}`).join(", ");
    if (definition.startsWith(`SELECT * FROM "_exact__`)) continue;
    const exact = exactTableName(id, name);
    const issue =
      `${STRATA}/${name}.parquet: in "${table}" column ${cols} (a specimen indexed later has values no exact type holds with these), which changes some of its values (precision lost); ${relation} keeps them exact`;
    await c.run(
      `CREATE OR REPLACE TABLE ${ident(exact)} AS ${definition};
       UPDATE metric_tables SET definition = ${
        literal(`SELECT * FROM ${ident(exact)}`)
      } WHERE specimen_id = ${literal(id)} AND name = ${literal(name)};`,
    );
    const stored = (await c.runAndReadAll(
      `SELECT 1 FROM duckdb_views() WHERE database_name = current_database() AND view_name = ${
        literal(relation)
      }`,
    )).getRows().length > 0;
    if (stored) {
      await c.run(
        `CREATE OR REPLACE VIEW ${ident(relation)} AS SELECT * FROM ${
          ident(exact)
        }`,
      );
    }
    await c.run(
      `UPDATE catalog SET issues = list_append(issues, ${
        literal(issue)
      }) WHERE specimen_id = ${literal(id)}`,
    );
    warn(`${SPECIMENS_DIR}/${id}: ${issue}`);
  }
}

async function insertFiles(
  c: DuckDBConnection,
  table: string,
  files: MetricFile[],
): Promise<void> {
  try {
    const appender = await stage(c, "_files", ["fi", "specimen_id"]);
    files.forEach((f, i) => appendRow(appender, [String(i), f.id]));
    appender.closeSync();
    await c.run(
      `INSERT INTO ${ident(table)} BY NAME
       SELECT f.specimen_id, p.* EXCLUDE (file_index)
       FROM (SELECT file_index, * FROM read_parquet(${
        literalList(files.map((f) => f.abs))
      })) p
       JOIN _files f ON f.fi::UBIGINT = p.file_index`,
    );
  } catch (e) {
    if (files.length === 1) {
      files[0].issue = `${STRATA}/${
        files[0].name
      }.parquet could not be loaded (${
        firstLine(duckdbMessage(e))
      }); its rows are not in the catalog`;
      return;
    }
    // Find the bad file(s) by halves; the failed INSERT changed nothing.
    const half = Math.ceil(files.length / 2);
    await insertFiles(c, table, files.slice(0, half));
    await insertFiles(c, table, files.slice(half));
  }
}

/** Loads one log (its parts, or its file if it closed since). */
async function insertLog(
  c: DuckDBConnection,
  table: string,
  f: MetricFile,
): Promise<void> {
  try {
    await retryLog(f, () =>
      c.run(
        `INSERT INTO ${ident(table)} BY NAME
         SELECT ${literal(f.id)} AS specimen_id, * FROM ${parquetSql(f)}`,
      ));
  } catch (e) {
    f.issue = `${label(f)} could not be loaded (${
      firstLine(duckdbMessage(e))
    }); its rows are not in the catalog`;
  }
}

async function loadIsolated(c: DuckDBConnection, f: MetricFile) {
  const table = isolatedTableName(f.id, f.name);
  try {
    await retryLog(f, () =>
      c.run(
        `CREATE OR REPLACE TABLE ${ident(table)} AS SELECT * FROM ${
          parquetSql(f)
        }`,
      ));
    f.source = table;
    f.definition = `SELECT * FROM ${ident(table)}`;
  } catch (e) {
    f.issue = `${label(f)} could not be loaded (${
      firstLine(duckdbMessage(e))
    }); its rows are not in the catalog`;
  }
}

async function writeMetricTableRows(
  c: DuckDBConnection,
  records: SpecimenRecord[],
) {
  const rows = records.flatMap((r) => r.metricFiles);
  if (rows.length === 0) return;
  const appender = await stage(
    c,
    "_stage_metric_tables",
    [
      "specimen_id",
      "name",
      "path",
      "rows",
      "columns",
      "relation",
      "source",
      "definition",
      "issue",
    ],
  );
  for (const f of rows) {
    appendRow(appender, [
      f.id,
      f.name,
      f.rel,
      String(f.rows),
      toJson(f.columns ?? []),
      f.source ? relationName(f.id, f.name) : null,
      f.source ?? null,
      f.definition ?? null,
      f.issue ?? null,
    ]);
  }
  appender.closeSync();
  await c.run(
    `INSERT INTO metric_tables SELECT specimen_id, name, path, rows::BIGINT,
       CAST(columns::JSON AS STRUCT(name VARCHAR, type VARCHAR)[]), relation, source, definition, issue
     FROM _stage_metric_tables`,
  );
}

async function writeCatalogRows(
  c: DuckDBConnection,
  records: SpecimenRecord[],
) {
  const appender = await stage(c, "_stage_status", [
    "specimen_id",
    "metrics_rows",
    "issues",
  ]);
  for (const r of records) {
    const main = r.metricFiles.find((f) =>
      f.name === MAIN_METRICS && f.source === MAIN_METRICS
    );
    appendRow(appender, [
      r.id,
      main ? String(main.rows) : null,
      toJson(r.issues),
    ]);
  }
  appender.closeSync();
  await c.run(
    `INSERT INTO catalog SELECT specimen_id,
       coalesce(TRY_CAST(created AS TIMESTAMPTZ), TRY_CAST(created_iso AS TIMESTAMPTZ)),
       domain, method, model, CAST(tags::JSON AS VARCHAR[]), status, path, description,
       manifest::JSON->>'parent',
       CAST(dependencies::JSON AS MAP(VARCHAR, VARCHAR)), artifacts::JSON, provenance::JSON,
       metrics_rows::BIGINT, CAST(issues::JSON AS VARCHAR[]), manifest::JSON, fingerprint, now()
     FROM _stage_catalog JOIN _stage_status USING (specimen_id)`,
  );
}

async function writeTensors(c: DuckDBConnection, records: SpecimenRecord[]) {
  const rows = records.flatMap((r) => r.tensors);
  if (rows.length === 0) return;
  const appender = await stage(c, "_stage_tensors", [
    "specimen_id",
    "name",
    "path",
    "shape",
    "dtype",
    "chunks",
    "codecs",
    "bytes",
    "zarr_format",
  ]);
  for (const t of rows) {
    appendRow(appender, [
      t.id,
      t.name,
      t.path,
      t.shape ? toJson(t.shape) : null,
      t.dtype,
      t.chunks ? toJson(t.chunks) : null,
      toJson(t.codecs),
      String(t.bytes),
      String(t.zarrFormat),
    ]);
  }
  appender.closeSync();
  await c.run(
    `INSERT INTO tensors SELECT specimen_id, name, path, CAST(shape::JSON AS BIGINT[]), dtype,
       CAST(chunks::JSON AS BIGINT[]), CAST(codecs::JSON AS VARCHAR[]), bytes::BIGINT, zarr_format::INTEGER
     FROM _stage_tensors`,
  );
}

async function writeViews(c: DuckDBConnection, records: SpecimenRecord[]) {
  const sql = records.flatMap((r) => r.metricFiles).filter((f) => f.source)
    .map((f) =>
      `CREATE OR REPLACE VIEW ${
        ident(relationName(f.id, f.name))
      } AS ${f.definition};`
    );
  if (sql.length === 0) return;
  await c.run(`BEGIN;\n${sql.join("\n")}\nCOMMIT;`);
}

type Appender = Awaited<ReturnType<DuckDBConnection["createAppender"]>>;

/** A temp table of VARCHAR columns and an appender on it. */
async function stage(
  c: DuckDBConnection,
  table: string,
  columns: string[],
): Promise<Appender> {
  await c.run(
    `CREATE OR REPLACE TEMP TABLE ${ident(table)} (${
      columns.map((n) => `${ident(n)} VARCHAR`).join(", ")
    })`,
  );
  return await c.createAppender(table, "main", "temp");
}

function appendRow(appender: Appender, values: (string | null)[]) {
  for (const v of values) {
    if (v === null) appender.appendNull();
    else appender.appendVarchar(v);
  }
  appender.endRow();
}

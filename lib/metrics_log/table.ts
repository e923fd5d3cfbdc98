/**
 * A metrics table on disk, however it was left: the compacted file
 * `strata/<name>.parquet`, or — while a {@linkcode MetricsLogger} writes it,
 * or after its process died — the part files
 * `strata/<name>.parts/part-000001.parquet`, `part-000002.parquet`, …
 *
 * The reader rule (the catalog follows it too): if `strata/<name>.parquet`
 * exists it is the table, and a `.parts/` folder beside it is the leftover
 * of a crash during cleanup, ignored. Otherwise the parts, in sequence
 * order, unioned by column name (INT64 and DOUBLE make DOUBLE; a column a
 * part lacks is null there), are the table.
 *
 * A parts folder holds a `.lock` file that its logger keeps locked
 * (exclusive `flock`) while it is open; the kernel releases the lock when
 * the process dies, so an unlocked folder is an interrupted log, and
 * {@linkcode repairLogs} compacts it.
 *
 * @module
 */
import { parquetMetadataAsync } from "hyparquet";
import { LEAF_TYPES, readParquetFooter } from "../formats/parquet/footer.ts";
import type { FileMetaData } from "hyparquet";
import { writeMetadata } from "hyparquet-writer/src/metadata.js";
import { ByteWriter } from "hyparquet-writer";
import { dirname, join } from "../_deps.ts";
import {
  exists,
  openVaultFile,
  placeFile,
  readVaultFile,
  tempPathFor,
} from "../_fs.ts";
import { updateManifest } from "../specimen/_lock.ts";
import { CorruptFileError, NotFoundError, VaultError } from "../errors.ts";
import { type ArtifactRecord, readManifest } from "../specimen/manifest.ts";
import {
  type DecodedMetrics,
  decodeMetrics,
  encodeTypedMetrics,
  KINDS_KEY,
  type ParquetColumnInfo,
  type ReadColumn,
  type ReadColumnInfo,
  type TypedMetricColumn,
} from "../formats/parquet/parquet.ts";
import { STATUS_SEALED } from "../specimen/seal.ts";
import {
  ARTIFACT_NAME_PATTERN,
  READABLE_ARTIFACT_NAME_PATTERN,
  STRATA_DIR,
} from "../run/storage.ts";
import {
  clearLog,
  isLocked,
  listParts,
  lockLog,
  LOG_LOCK_FILE,
  partFileName,
  PARTS_SUFFIX,
  partsDir,
  showEntries,
} from "./parts.ts";

export { LOG_LOCK_FILE, partFileName, PARTS_SUFFIX };

/**
 * One metrics table of a specimen, as {@linkcode listMetricTables} finds it.
 *
 * @example
 * ```ts
 * import type { MetricTable } from "./table.ts";
 * const t: MetricTable = {
 *   name: "train", kind: "parts", live: false, leftover: false,
 *   paths: ["strata/train.parts/part-000001.parquet"],
 * };
 * ```
 */
export interface MetricTable {
  /** The table name (`strata/<name>.parquet`). */
  name: string;
  /** `"file"`: compacted; `"parts"`: surviving part files, not compacted. */
  kind: "file" | "parts";
  /**
   * Paths relative to the specimen folder, `/`-separated: the file, or the
   * parts in sequence order (never empty).
   */
  paths: string[];
  /**
   * Parts only: a logger holds the lock now (a run in progress). `false`
   * means an interrupted log that {@linkcode repairLogs} will compact.
   */
  live: boolean;
  /**
   * File only: a parts folder is left beside it (a crash during cleanup);
   * readers ignore it and {@linkcode repairLogs} removes it.
   */
  leftover: boolean;
}

/**
 * Lists the metrics tables of the specimen at `specimenDir`, by name: each
 * compacted `strata/<name>.parquet`, and each log whose parts are not
 * compacted yet (with at least one part on disk). Temp files (`.tmp-*`) and
 * anything else are ignored. Read-only (it probes the locks, shared, for a
 * moment).
 *
 * For the catalog: a `"parts"` table is
 * `read_parquet([paths…], union_by_name = true)`.
 *
 * Needs `--allow-read` on `specimenDir`.
 *
 * @example
 * ```ts ignore
 * import { listMetricTables } from "./table.ts";
 * for (const t of await listMetricTables("specimens/my_run")) {
 *   console.log(t.name, t.kind, t.paths.length, t.live ? "(live)" : "");
 * }
 * ```
 */
export async function listMetricTables(
  specimenDir: string,
): Promise<MetricTable[]> {
  const strata = join(specimenDir, STRATA_DIR);
  const files = new Set<string>();
  const logs = new Set<string>();
  try {
    for await (const e of Deno.readDir(strata)) {
      if (e.isFile && e.name.endsWith(".parquet")) {
        const name = e.name.slice(0, -".parquet".length);
        if (READABLE_ARTIFACT_NAME_PATTERN.test(name)) files.add(name);
      } else if (e.isDirectory && e.name.endsWith(PARTS_SUFFIX)) {
        const name = e.name.slice(0, -PARTS_SUFFIX.length);
        if (READABLE_ARTIFACT_NAME_PATTERN.test(name)) logs.add(name);
      }
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const tables: MetricTable[] = [];
  for (const name of [...new Set([...files, ...logs])].sort()) {
    if (files.has(name)) {
      tables.push({
        name,
        kind: "file",
        paths: [`${STRATA_DIR}/${name}.parquet`],
        live: false,
        leftover: logs.has(name),
      });
      continue;
    }
    const dir = partsDir(specimenDir, name);
    const parts = await listParts(dir);
    if (parts.length === 0) continue; // nothing flushed yet
    tables.push({
      name,
      kind: "parts",
      paths: parts.map((p) =>
        `${STRATA_DIR}/${name}${PARTS_SUFFIX}/${partFileName(p.seq)}`
      ),
      live: await isLocked(join(dir, LOG_LOCK_FILE)),
      leftover: false,
    });
  }
  return tables;
}

/**
 * Reads the metrics table `name` of the specimen at `specimenDir`, whether
 * compacted or as surviving parts (unioned as if compacted: the same
 * columns, types and values {@linkcode compactLog} would write). Throws
 * {@linkcode NotFoundError} when there is neither, and
 * {@linkcode CorruptFileError} for a file that does not decode or parts
 * whose types conflict.
 *
 * Needs `--allow-read` on `specimenDir`.
 *
 * @example
 * ```ts ignore
 * import { readMetricTable } from "./table.ts";
 * const { columns, rows } = await readMetricTable("specimens/my_run", "train");
 * console.log(rows, columns.loss.at(-1));
 * ```
 */
export function readMetricTable(
  specimenDir: string,
  name: string,
): Promise<DecodedMetrics> {
  return readTable(specimenDir, name, 3);
}

async function readTable(
  specimenDir: string,
  name: string,
  retries: number,
): Promise<DecodedMetrics> {
  const file = join(specimenDir, STRATA_DIR, `${name}.parquet`);
  try {
    const bytes = await readVaultFile(file, { root: specimenDir });
    return await decodeMetrics(bytes, file);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const dir = partsDir(specimenDir, name);
  const parts = await listParts(dir);
  if (parts.length === 0) {
    throw new NotFoundError(
      `No metrics table "${name}" at ${file}${
        (await exists(dir)) ? " (its logger has not flushed a part yet)" : ""
      }`,
    );
  }
  const decoded: DecodedMetrics[] = [];
  for (const p of parts) {
    const path = join(dir, partFileName(p.seq));
    let bytes: Uint8Array;
    try {
      bytes = await readVaultFile(path, { root: specimenDir });
    } catch (e) {
      // The logger closed meanwhile: the parts became the file.
      if (e instanceof Deno.errors.NotFound && retries > 0) {
        return await readTable(specimenDir, name, retries - 1);
      }
      throw e;
    }
    decoded.push(await decodeMetrics(bytes, path));
  }
  const schema = mergeSchemas(
    decoded.map((d, i) => ({ columns: d.schema, where: parts[i].seq })),
    dir,
  );
  const rows = decoded.reduce((n, d) => n + d.rows, 0);
  const columns: Record<string, ReadColumn> = {};
  for (const { name: col } of schema) {
    const out: unknown[] = new Array(rows).fill(null);
    let at = 0;
    for (const d of decoded) {
      const values = Object.hasOwn(d.columns, col) ? d.columns[col] : null;
      if (values) {
        for (let i = 0; i < d.rows; i++) out[at + i] = values[i];
      }
      at += d.rows;
    }
    Object.defineProperty(columns, col, {
      value: out,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { columns, rows, schema };
}

/**
 * What {@linkcode compactLog} wrote.
 *
 * @example
 * ```ts
 * import type { CompactedLog } from "./table.ts";
 * const done: CompactedLog = {
 *   rows: 2, columns: [{ name: "step", type: "INT64" }], bytes: 300,
 *   parts: 1, rowGroups: 1,
 * };
 * ```
 */
export interface CompactedLog {
  /** Rows in the table. */
  rows: number;
  /** Each column's name and type, in order of first appearance. */
  columns: ParquetColumnInfo[];
  /** Size of `strata/<name>.parquet` in bytes. */
  bytes: number;
  /** Number of parts compacted. */
  parts: number;
  /** Row groups in the file. */
  rowGroups: number;
}

/**
 * Options for {@linkcode compactLog}.
 *
 * @example
 * ```ts
 * import type { CompactLogOptions } from "./table.ts";
 * const options: CompactLogOptions = { sync: true };
 * ```
 */
export interface CompactLogOptions {
  /**
   * Flush the file to disk before placing it (survives power loss).
   * @default false
   */
  sync?: boolean;
}

/**
 * Compacts the parts of log `name` into `strata/<name>.parquet` (placed
 * atomically; refuses to replace an existing file with
 * `Deno.errors.AlreadyExists`). It neither records the artifact nor removes
 * the parts: {@linkcode repairLogs} and `MetricsLogger.close()` do, in that
 * order, so a crash at any point leaves a readable table. The caller must
 * hold the log's lock. Returns `null` when there is no part.
 *
 * Memory stays bounded whatever the log's length: a part of 32,768 rows or
 * more is copied into the file as its own row group, page bytes untouched;
 * smaller parts (from time-based flushes) are decoded and merged into row
 * groups of about 65,536 rows. A column promoted from INT64 to DOUBLE, or
 * missing from a part, is re-encoded or filled with nulls.
 *
 * Needs `--allow-read` and `--allow-write` on the specimen folder.
 *
 * @example
 * ```ts ignore
 * import { compactLog } from "./table.ts";
 * const done = await compactLog("specimens/my_run", "train");
 * console.log(done?.rows, done?.rowGroups);
 * ```
 */
export async function compactLog(
  specimenDir: string,
  name: string,
  options: CompactLogOptions = {},
): Promise<CompactedLog | null> {
  const dir = partsDir(specimenDir, name);
  const target = join(specimenDir, STRATA_DIR, `${name}.parquet`);
  const parts = await listParts(dir);
  if (parts.length === 0) return null;

  const footers: PartFooter[] = [];
  for (const p of parts) {
    footers.push(await readFooter(join(dir, partFileName(p.seq)), p.seq));
  }
  const schema = mergeSchemas(footers, dir);
  const kinds = mergeKinds(schema, footers);

  // The temp file lives in the parts folder: a crash leaves nothing beside
  // the tables, and repair removes the folder with it.
  const tmp = tempPathFor(join(dir, `${name}.parquet`));
  const out = new ConcatWriter(
    await Deno.open(tmp, {
      write: true,
      createNew: true,
    }),
  );
  // One buffer for every chunk copied: the parts are never read whole.
  const scratch = { buffer: new Uint8Array(1 << 20) };
  try {
    await out.write(MAGIC);
    let batch: PartFooter[] = [];
    let batchRows = 0;
    const flushBatch = async () => {
      if (batch.length === 0) return;
      const encoded = await mergeParts(dir, batch, batchRows, schema, kinds);
      await out.append(
        memorySource(encoded),
        await metadataOf(encoded),
        schema,
      );
      batch = [];
      batchRows = 0;
    };
    for (const f of footers) {
      if (f.rows >= COPY_MIN_ROWS && typesMatch(f, schema)) {
        await flushBatch();
        using file = await openVaultFile(f.path, {
          root: specimenOfPart(f.path),
        });
        await out.append(fileSource(file, scratch), f.metadata, schema);
        continue;
      }
      batch.push(f);
      batchRows += f.rows;
      if (batchRows >= MERGE_ROWS) await flushBatch();
    }
    await flushBatch();
    await out.finish(schema, kinds);
    if (options.sync) await out.file.syncData();
    out.file.close();
    await placeFile(tmp, target, true);
  } catch (e) {
    try {
      out.file.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  return {
    rows: out.rows,
    columns: schema,
    bytes: out.offset,
    parts: parts.length,
    rowGroups: out.rowGroups.length,
  };
}

/**
 * What {@linkcode repairLogs} did.
 *
 * @example
 * ```ts
 * import type { RepairReport } from "./table.ts";
 * const report: RepairReport = { repaired: ["train"], live: [], problems: [] };
 * ```
 */
export interface RepairReport {
  /** Tables whose interrupted log was compacted and recorded, or whose leftover parts were removed. */
  repaired: string[];
  /** Tables a running logger is writing now (left alone; read their parts). */
  live: string[];
  /** What could not be repaired and why, one sentence each (the table's name first). */
  problems: string[];
}

/**
 * Repairs the logs of the specimen at `specimenDir` that a dead process
 * left behind: each unlocked parts folder is compacted into
 * `strata/<name>.parquet`, recorded in the manifest (marked
 * `interrupted: true`) and removed; a parts folder left beside a compacted
 * file is removed (and the file recorded if the crash came before that).
 * Only what a logger wrote is removed: part files, its temp files and the
 * lock file, by their exact names; anything else in a parts folder (another
 * file, a folder, a symlink) is reported in `problems` and left, with the
 * folder. A folder without a lock file was not made by a logger: reported
 * and left. A sealed specimen is never touched (not even locked): its
 * parts folders are reported. Logs locked by a live logger are listed in
 * `live` and left alone; corrupt parts or conflicting types are reported in
 * `problems` and nothing is changed for that table. Cheap when there is
 * nothing to do (one directory listing).
 *
 * `deno task index` calls it for every specimen before reading the tables.
 *
 * Needs `--allow-read` and `--allow-write` on `specimenDir`.
 *
 * @example
 * ```ts ignore
 * import { repairLogs } from "./table.ts";
 * const { repaired, problems } = await repairLogs("specimens/my_run");
 * for (const name of repaired) console.log(`compacted interrupted log ${name}`);
 * for (const p of problems) console.error(`warning: ${p}`);
 * ```
 */
export async function repairLogs(specimenDir: string): Promise<RepairReport> {
  const report: RepairReport = { repaired: [], live: [], problems: [] };
  const strata = join(specimenDir, STRATA_DIR);
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(strata)) {
      if (!e.isDirectory || !e.name.endsWith(PARTS_SUFFIX)) continue;
      const name = e.name.slice(0, -PARTS_SUFFIX.length);
      if (ARTIFACT_NAME_PATTERN.test(name)) names.push(name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return report;
    throw e;
  }
  if (names.length === 0) return report;
  const manifest = await readManifest(specimenDir);
  // A sealed specimen is never touched: not even a lock is taken.
  const sealed = manifest.seal !== undefined ||
    manifest.status === STATUS_SEALED;
  for (const name of names.sort()) {
    if (sealed) {
      report.problems.push(`${name}: ${await sealedLog(specimenDir, name)}`);
      continue;
    }
    const lock = await lockLog(specimenDir, name);
    if (lock === "gone") {
      const left = await notALog(specimenDir, name);
      if (left) report.problems.push(`${name}: ${left}`);
      continue;
    }
    if (lock === "busy") {
      report.live.push(name);
      continue;
    }
    try {
      const problem = await repairOne(
        specimenDir,
        name,
        (p) => report.problems.push(`${name}: ${p}`),
      );
      if (problem === undefined) report.repaired.push(name);
      else if (problem) report.problems.push(`${name}: ${problem}`);
    } catch (e) {
      report.problems.push(
        `${name}: ${e instanceof Error ? e.message : String(e)}`,
      );
    } finally {
      lock.close();
    }
  }
  return report;
}

/** What is said of a parts folder in a sealed specimen (left as is). */
async function sealedLog(specimenDir: string, name: string): Promise<string> {
  const folder = `strata/${name}${PARTS_SUFFIX}/`;
  if (await exists(join(specimenDir, STRATA_DIR, `${name}.parquet`))) {
    return `a leftover ${name}${PARTS_SUFFIX}/ folder sits beside ${name}.parquet, but the specimen is sealed, so it is left as is (readers ignore it)`;
  }
  const parts = await listParts(partsDir(specimenDir, name));
  if (parts.length) {
    return `the specimen is sealed with an interrupted log (${parts.length} parts in ${folder}), so it is left as is; readers read the parts`;
  }
  return `${folder} holds no part, but the specimen is sealed, so it is left as is`;
}

/**
 * A parts folder without a lock file: no logger made it (or one is removing
 * it this instant, and it is gone). Left as is; says what is in it.
 */
async function notALog(
  specimenDir: string,
  name: string,
): Promise<string | null> {
  const entries: string[] = [];
  try {
    for await (const e of Deno.readDir(partsDir(specimenDir, name))) {
      entries.push(e.name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  return `strata/${name}${PARTS_SUFFIX}/ has no ${LOG_LOCK_FILE} file, so no logger made it; it is left as is (${
    entries.length ? `it holds ${showEntries(entries.sort())}` : "it is empty"
  }): remove it yourself if it is not needed`;
}

/**
 * Repairs one log whose lock is held by the caller. Returns undefined when
 * repaired, null when there was nothing to do, or the problem. Removes only
 * what a logger wrote ({@linkcode clearLog}); anything else in the folder
 * is reported and left, with the folder.
 */
async function repairOne(
  specimenDir: string,
  name: string,
  note: (problem: string) => void,
): Promise<string | null | undefined> {
  const dir = partsDir(specimenDir, name);
  const file = join(specimenDir, STRATA_DIR, `${name}.parquet`);
  const manifest = await readManifest(specimenDir);
  if (manifest.seal !== undefined || manifest.status === STATUS_SEALED) {
    return await sealedLog(specimenDir, name); // sealed meanwhile
  }
  const recorded = Object.hasOwn(manifest.artifacts, name);
  const strays = (left: string[]) =>
    `strata/${name}${PARTS_SUFFIX}/ holds ${
      showEntries(left)
    }, which no logger wrote; ${
      left.length === 1 ? "it is" : "they are"
    } left as is, with the folder: remove ${
      left.length === 1 ? "it" : "them"
    } yourself if not needed`;
  if (await exists(file)) {
    // The logger died after placing the file: finish its cleanup.
    if (!recorded) {
      const bytes = await readVaultFile(file, { root: specimenDir });
      const decoded = await decodeMetrics(bytes, file);
      await recordTable(specimenDir, name, {
        columns: decoded.schema,
        rows: decoded.rows,
        bytes: bytes.length,
      });
    }
    const left = await clearLog(dir, name);
    if (left.length) note(strays(left));
    return undefined;
  }
  const parts = await listParts(dir);
  if (parts.length === 0) {
    // A logger that died before its first flush: nothing to keep.
    const left = await clearLog(dir, name);
    return left.length ? strays(left) : null;
  }
  if (recorded) {
    return `the manifest already records an artifact "${name}" but strata/${name}.parquet is missing; ${parts.length} parts in strata/${name}${PARTS_SUFFIX}/ are left as is`;
  }
  let compacted: CompactedLog | null;
  try {
    compacted = await compactLog(specimenDir, name);
  } catch (e) {
    if (e instanceof VaultError) {
      return `${e.message}; the parts are left as is`;
    }
    throw e;
  }
  if (compacted) {
    try {
      await recordTable(specimenDir, name, compacted, true);
    } catch (e) {
      await Deno.remove(file).catch(() => {});
      throw e;
    }
  }
  const left = await clearLog(dir, name);
  if (left.length) note(strays(left));
  return undefined;
}

/** Records a compacted table in the manifest, as writeMetrics would. */
async function recordTable(
  specimenDir: string,
  name: string,
  table: {
    columns: { name: string; type: string }[];
    rows: number;
    bytes: number;
  },
  interrupted = false,
): Promise<void> {
  await updateManifest(specimenDir, (m) => {
    if (m.seal !== undefined || m.status === STATUS_SEALED) {
      throw new VaultError(
        `Specimen "${m.specimen_id}" was sealed meanwhile; not recording "${name}"`,
      );
    }
    const record: ArtifactRecord = {
      path: `${STRATA_DIR}/${name}.parquet`,
      format: "parquet",
      columns: table.columns,
      rows: table.rows,
      bytes: table.bytes,
      created: new Date().toISOString(),
    };
    // The writer did not close: the table holds what it had flushed.
    if (interrupted) record.interrupted = true;
    m.artifacts[name] = record;
  });
}

// ---------------------------------------------------------------------------
// Compaction

/** Parts at least this long are copied as they are, as one row group. */
const COPY_MIN_ROWS = 32_768;
/** Smaller parts are merged into row groups of about this many rows. */
const MERGE_ROWS = 65_536;
const MAGIC = new TextEncoder().encode("PAR1");

type Metadata = Parameters<typeof writeMetadata>[1];
type RowGroup = Metadata["row_groups"][number];
type ColumnChunk = RowGroup["columns"][number];

interface PartFooter {
  path: string;
  where: number;
  rows: number;
  columns: ParquetColumnInfo[];
  kinds: Record<string, string>;
  metadata: FileMetaData;
}

/**
 * The specimen folder of a part file (`<specimen>/strata/<name>.parts/<part>`):
 * the folder its real path must stay inside, so that a `.parts` folder
 * linked elsewhere is refused.
 */
function specimenOfPart(path: string): string {
  return dirname(dirname(dirname(path)));
}

/** Reads a part's footer only (the tail of the file). */
async function readFooter(path: string, seq: number): Promise<PartFooter> {
  const metadata = await readParquetFooter(path, {
    root: specimenOfPart(path),
    what: "log part",
  });
  const columns: ParquetColumnInfo[] = [];
  for (const el of metadata.schema.slice(1)) {
    const type = el.type && LEAF_TYPES[el.type];
    if (!type || el.num_children) {
      throw new CorruptFileError(
        `Cannot read log part "${path}": column "${el.name}" is not a flat metrics column`,
      );
    }
    columns.push({ name: el.name, type });
  }
  let kinds: Record<string, string> = {};
  const kv = metadata.key_value_metadata?.find((e) => e.key === KINDS_KEY);
  try {
    kinds = kv?.value ? JSON.parse(kv.value) : {};
  } catch { /* not ours: default kinds */ }
  return {
    path,
    where: seq,
    rows: Number(metadata.num_rows),
    columns,
    kinds,
    metadata,
  };
}

/**
 * The union of the parts' columns by name, in order of first appearance;
 * INT64 and DOUBLE make DOUBLE, any other mix is a corrupt log.
 */
function mergeSchemas<T extends ReadColumnInfo>(
  parts: { columns: T[]; where: number }[],
  dir: string,
): T[] {
  const merged = new Map<string, { column: T; where: number }>();
  for (const p of parts) {
    for (const c of p.columns) {
      const seen = merged.get(c.name);
      if (!seen) {
        merged.set(c.name, { column: { ...c }, where: p.where });
      } else if (seen.column.type !== c.type) {
        const numbers = new Set([seen.column.type, c.type]);
        if (
          numbers.has("INT64") && numbers.has("DOUBLE") && numbers.size === 2
        ) {
          seen.column.type = "DOUBLE";
        } else {
          throw new CorruptFileError(
            `Cannot read the log in "${dir}": column "${c.name}" is ${seen.column.type} in ${
              partFileName(seen.where)
            } but ${c.type} in ${partFileName(p.where)}`,
          );
        }
      }
    }
  }
  return [...merged.values()].map((m) => m.column);
}

type PlainKind = NonNullable<TypedMetricColumn["kind"]>;

function mergeKinds(
  schema: ParquetColumnInfo[],
  parts: PartFooter[],
): Record<string, PlainKind> {
  const kinds: Record<string, PlainKind> = {};
  for (const { name, type } of schema) {
    kinds[name] = type === "STRING"
      ? "string[]"
      : type === "BOOLEAN"
      ? "boolean[]"
      : type === "INT64" && parts.some((p) => p.kinds[name] === "bigint[]")
      ? "bigint[]"
      : "number[]";
  }
  return kinds;
}

function typesMatch(f: PartFooter, schema: ParquetColumnInfo[]): boolean {
  const types = new Map(schema.map((c) => [c.name, c.type]));
  return f.columns.every((c) => types.get(c.name) === c.type);
}

async function metadataOf(bytes: Uint8Array): Promise<FileMetaData> {
  return await parquetMetadataAsync({
    byteLength: bytes.length,
    slice: (start: number, end?: number) =>
      bytes.slice(start, end ?? bytes.length).buffer,
  }, { geoparquet: false });
}

/** Decodes consecutive parts and encodes them as one file of one row group. */
async function mergeParts(
  dir: string,
  parts: PartFooter[],
  rows: number,
  schema: ParquetColumnInfo[],
  kinds: Record<string, PlainKind>,
): Promise<Uint8Array> {
  const columns: TypedMetricColumn[] = schema.map(({ name, type }) => {
    const kind = kinds[name];
    const values =
      type === "DOUBLE" || (type === "INT64" && kind === "number[]")
        ? new Float64Array(rows)
        : type === "INT64"
        ? new BigInt64Array(rows)
        : new Array<string | boolean | null>(rows).fill(null);
    return { name, type, kind, values, defined: new Uint8Array(rows) };
  });
  let at = 0;
  for (const p of parts) {
    const { columns: read, rows: n } = await decodeMetrics(
      await readVaultFile(p.path, { root: specimenOfPart(p.path) }),
      p.path,
    );
    for (const c of columns) {
      if (!Object.hasOwn(read, c.name)) continue;
      const src = read[c.name] as ArrayLike<unknown>;
      const dst = c.values;
      const mask = c.defined!;
      for (let i = 0; i < n; i++) {
        const v = src[i];
        if (v === null || v === undefined) continue;
        mask[at + i] = 1;
        if (dst instanceof Float64Array) dst[at + i] = Number(v);
        else if (dst instanceof BigInt64Array) {
          dst[at + i] = BigInt(v as number | bigint);
        } else (dst as unknown[])[at + i] = v;
      }
    }
    at += n;
  }
  if (at !== rows) {
    throw new CorruptFileError(
      `Cannot compact the log in "${dir}": parts hold ${at} rows, their footers say ${rows}`,
    );
  }
  return (await encodeTypedMetrics(columns, rows)).bytes;
}

/** Where ConcatWriter copies column chunks from. */
interface ChunkSource {
  /** Bytes from..from+length (valid until the next read). */
  read(from: number, length: number): Promise<Uint8Array>;
}

function memorySource(bytes: Uint8Array): ChunkSource {
  return {
    read: (from, length) =>
      Promise.resolve(bytes.subarray(from, from + length)),
  };
}

function fileSource(
  file: Deno.FsFile,
  scratch: { buffer: Uint8Array },
): ChunkSource {
  return {
    async read(from, length) {
      if (scratch.buffer.length < length) {
        scratch.buffer = new Uint8Array(length);
      }
      const out = scratch.buffer.subarray(0, length);
      await file.seek(from, Deno.SeekMode.Start);
      let at = 0;
      while (at < length) {
        const n = await file.read(out.subarray(at));
        if (n === null) {
          throw new CorruptFileError(
            `A log part ends before its column chunk at ${from} (${length} bytes); it is truncated`,
          );
        }
        at += n;
      }
      return out;
    },
  };
}

/** Appends row groups copied from other Parquet files, then a footer. */
class ConcatWriter {
  readonly file: Deno.FsFile;
  offset = 0;
  rows = 0;
  readonly rowGroups: RowGroup[] = [];
  #nulls = new Map<string, { bytes: Uint8Array; metadata: FileMetaData }>();

  constructor(file: Deno.FsFile) {
    this.file = file;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.file.write(bytes.subarray(at));
    this.offset += bytes.length;
  }

  /**
   * Copies each row group of `source` (a whole Parquet file, whose column
   * types match `schema`), column chunks in schema order; a column the
   * source lacks becomes an all-null chunk.
   */
  async append(
    source: ChunkSource,
    metadata: FileMetaData,
    schema: ParquetColumnInfo[],
  ): Promise<void> {
    for (const rg of metadata.row_groups) {
      const rows = Number(rg.num_rows);
      const byName = new Map(
        rg.columns.map((c) => [c.meta_data!.path_in_schema[0], c]),
      );
      const chunks: ColumnChunk[] = [];
      const start = this.offset;
      let uncompressed = 0n;
      for (const col of schema) {
        let chunk = byName.get(col.name);
        let src = source;
        if (!chunk) {
          const filler = await this.#nullChunk(col, rows);
          chunk = filler.metadata.row_groups[0].columns[0];
          src = memorySource(filler.bytes);
        }
        const meta = chunk.meta_data!;
        const from = Number(
          meta.dictionary_page_offset !== undefined &&
            meta.dictionary_page_offset < meta.data_page_offset
            ? meta.dictionary_page_offset
            : meta.data_page_offset,
        );
        const length = Number(meta.total_compressed_size);
        const at = BigInt(this.offset);
        const shift = at - BigInt(from);
        await this.write(await src.read(from, length));
        uncompressed += meta.total_uncompressed_size;
        const stats = meta.statistics;
        const statistics = stats && col.type === "STRING" &&
            (stats.is_min_value_exact === false ||
              stats.is_max_value_exact === false)
          // Truncated string bounds do not survive a decode and re-encode.
          ? { null_count: stats.null_count }
          : stats;
        chunks.push({
          file_offset: at,
          meta_data: {
            ...meta,
            path_in_schema: [col.name],
            statistics,
            data_page_offset: meta.data_page_offset + shift,
            dictionary_page_offset: meta.dictionary_page_offset === undefined
              ? undefined
              : meta.dictionary_page_offset + shift,
            index_page_offset: undefined,
            bloom_filter_offset: undefined,
            bloom_filter_length: undefined,
          },
        } as ColumnChunk);
      }
      this.rowGroups.push({
        columns: chunks,
        total_byte_size: uncompressed,
        num_rows: BigInt(rows),
        file_offset: BigInt(start),
        total_compressed_size: BigInt(this.offset - start),
      });
      this.rows += rows;
    }
  }

  async finish(
    schema: ParquetColumnInfo[],
    kinds: Record<string, PlainKind>,
  ): Promise<void> {
    const footer = new ByteWriter();
    writeMetadata(footer, {
      version: 2,
      schema: [
        { name: "schema", num_children: schema.length },
        ...schema.map((c) => ({
          name: c.name,
          type: c.type === "STRING" ? "BYTE_ARRAY" as const : c.type,
          repetition_type: "OPTIONAL" as const,
          ...(c.type === "STRING"
            ? {
              converted_type: "UTF8" as const,
              logical_type: { type: "STRING" as const },
            }
            : {}),
        })),
      ],
      num_rows: BigInt(this.rows),
      row_groups: this.rowGroups,
      key_value_metadata: [{ key: KINDS_KEY, value: JSON.stringify(kinds) }],
      created_by: "specimen-vault (log compaction)",
      metadata_length: 0,
    });
    footer.appendUint32(0x31524150); // "PAR1"
    await this.write(footer.getBytes());
  }

  async #nullChunk(col: ParquetColumnInfo, rows: number) {
    const key = `${col.type}:${rows}`;
    let filler = this.#nulls.get(key);
    if (!filler) {
      const values = col.type === "STRING" || col.type === "BOOLEAN"
        ? new Array<null>(rows).fill(null)
        : new Float64Array(rows);
      const { bytes } = await encodeTypedMetrics([{
        name: col.name,
        type: col.type,
        values,
        defined: new Uint8Array(rows),
      }], rows);
      filler = { bytes, metadata: await metadataOf(bytes) };
      this.#nulls.set(key, filler);
    }
    return filler;
  }
}

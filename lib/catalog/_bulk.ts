/**
 * The bulk read of a new catalog (a full or first index): every specimen's
 * metric files of one name loaded by one INSERT, started as soon as
 * every `strata/` folder is listed (before the scan), so that DuckDB reads
 * the rows while the vault is scanned and the manifests and footers are
 * read (DuckDB runs the query on its own threads; the JS thread is free
 * meanwhile).
 *
 * It is a guess made before any footer is read: that every file of a name
 * has the first one's schema and that every specimen is valid. The write
 * phase adopts the loaded table (a rename) only where the guess held (the
 * files kept are among those loaded, in the same order, of one Parquet
 * schema and the same column types; the rows of the few others are
 * deleted), else it drops it and loads as before, file groups by schema:
 * the result never depends on the guess, only the time does.
 *
 * @module
 */
import {
  type Database,
  type DuckDBConnection,
  ident,
  literalList,
} from "../duckdb/duckdb.ts";
import { join } from "../_deps.ts";
import { READABLE_ARTIFACT_NAME_PATTERN } from "../specimen/artifact_name.ts";
import { STRATA_DIR as STRATA } from "../vault.ts";
import { yieldToEventLoop } from "./_scan.ts";
import { MAX_UNION_FILE_COLUMNS, unionType } from "./_column_types.ts";
import type { MetricFile } from "./_records.ts";
import { appendRow, stage } from "./_stage.ts";

/** One name's files, loaded into `table` (if `loaded`). */
export interface BulkTable {
  table: string;
  /** The files, absolute, in the order loaded. */
  files: string[];
  /** Their specimens' ids, in the same order. */
  ids: string[];
  /** The column definitions it was created with. */
  columns: string;
  loaded: boolean;
  adopted: boolean;
}

/**
 * The union table's column definitions (after `specimen_id`) for the
 * columns `order` of types `types`, as the write phase creates them.
 */
export function unionColumnsSql(
  order: string[],
  types: Map<string, string[]>,
): string {
  return order.filter((n) => types.has(n)).map((n) =>
    `${ident(n)} ${unionType(types.get(n)!)}`
  ).join(", ");
}

/** The table a bulk read of metric table `name` goes into. */
function bulkTableName(name: string): string {
  return `_bulk__${name}`;
}

/** One metric table name's files: their specimen ids and absolute paths. */
export type BulkFiles = Map<string, { ids: string[]; files: string[] }>;

/**
 * The regular `strata/<name>.parquet` files of every specimen folder (real
 * folders, names not starting with a dot, as the scan takes them), by name,
 * in folder order: one listing of each `strata/`, no stat, so that the bulk
 * read can start before the scan. A folder that cannot be listed is left
 * out (the scan reports it).
 */
export async function listBulkFiles(specimensDir: string): Promise<BulkFiles> {
  const folders: string[] = [];
  for (const entry of Deno.readDirSync(specimensDir)) {
    if (entry.isDirectory && !entry.name.startsWith(".")) {
      folders.push(entry.name);
    }
  }
  folders.sort();
  const byName: BulkFiles = new Map();
  for (let i = 0; i < folders.length; i++) {
    const strata = join(specimensDir, folders[i], STRATA);
    let names: string[] = [];
    try {
      for (const entry of Deno.readDirSync(strata)) {
        // A link could lead anywhere, a FIFO would block the read.
        if (entry.isFile && entry.name.endsWith(".parquet")) {
          names.push(entry.name);
        }
      }
    } catch {
      names = [];
    }
    for (const file of names.sort()) {
      const name = file.slice(0, -".parquet".length);
      if (name.startsWith(".") || !READABLE_ARTIFACT_NAME_PATTERN.test(name)) {
        continue;
      }
      let group = byName.get(name);
      if (!group) byName.set(name, group = { ids: [], files: [] });
      group.ids.push(folders[i]);
      group.files.push(join(strata, file));
    }
    if (i % 512 === 511) await yieldToEventLoop();
  }
  return byName;
}

/**
 * Loads each name's files of `byName` (the largest group first) into a
 * `_bulk__<name>` table. A name whose first file cannot be described, or
 * whose load fails, is left unloaded (the write phase loads it).
 */
export async function bulkLoad(
  c: DuckDBConnection,
  byName: BulkFiles,
  stopped: () => boolean = () => false,
): Promise<Map<string, BulkTable>> {
  const loads = new Map<string, BulkTable>();
  const names = [...byName.keys()].sort((a, b) =>
    byName.get(b)!.files.length - byName.get(a)!.files.length
  );
  for (const name of names) {
    const { ids, files } = byName.get(name)!;
    // A few files load as fast one schema group at a time.
    if (files.length < 2) continue;
    if (stopped()) break;
    const load = await loadName(c, name, ids, files);
    if (load) loads.set(name, load);
  }
  return loads;
}

async function loadName(
  c: DuckDBConnection,
  name: string,
  ids: string[],
  files: string[],
): Promise<BulkTable | undefined> {
  const table = bulkTableName(name);
  let columns: string;
  try {
    const described = (await c.runAndReadAll(
      `DESCRIBE SELECT * FROM read_parquet(${literalList([files[0]])})`,
    )).getRows().map(([n, t]) => [String(n), String(t)]);
    if (
      described.length > MAX_UNION_FILE_COLUMNS ||
      described.some(([n]) => n.toLowerCase() === "specimen_id")
    ) {
      return undefined;
    }
    columns = unionColumnsSql(
      described.map(([n]) => n),
      new Map(described.map(([n, t]) => [n, [t]])),
    );
    await c.run(
      `CREATE TABLE ${ident(table)} (specimen_id VARCHAR NOT NULL, ${columns})`,
    );
  } catch {
    return undefined;
  }
  const load: BulkTable = {
    table,
    files,
    ids,
    columns,
    loaded: false,
    adopted: false,
  };
  try {
    const appender = await stage(c, "_bulk_files", ["fi", "specimen_id"]);
    ids.forEach((id, i) => appendRow(appender, [String(i), id]));
    appender.closeSync();
    await c.run(
      `INSERT INTO ${ident(table)} BY NAME
       SELECT f.specimen_id, p.* EXCLUDE (file_index)
       FROM (SELECT file_index, * FROM read_parquet(${literalList(files)})) p
       JOIN _bulk_files f ON f.fi::UBIGINT = p.file_index`,
    );
    load.loaded = true;
  } catch {
    // A file of another schema, or unreadable: the write phase sorts it out.
    await c.run(`DROP TABLE IF EXISTS ${ident(table)}`);
  }
  await c.run(`DROP TABLE IF EXISTS _bulk_files`);
  return load;
}

/**
 * The most loaded files an adoption may drop again (their rows deleted):
 * beyond it, loading the kept files afresh is cheaper than the deletes.
 */
const MAX_DROPPED_SHARE = 0.1;

/**
 * Renames `load`'s table to `table` if, once the rows of the files not in
 * `good` are deleted, it holds exactly what loading `good` (its files,
 * columns `order` of `types`) into a new table would: `good` among the
 * files loaded, in the same order, all of one Parquet schema, and the same
 * column types. Returns whether it did.
 */
export async function adoptBulk(
  c: DuckDBConnection,
  table: string,
  load: BulkTable | undefined,
  good: MetricFile[],
  order: string[],
  types: Map<string, string[]>,
): Promise<boolean> {
  if (
    !load?.loaded || good.length === 0 ||
    good.length < load.files.length * (1 - MAX_DROPPED_SHARE) ||
    !good.every((f) =>
      !f.logDir && !f.parts && f.signature === good[0].signature
    ) ||
    unionColumnsSql(order, types) !== load.columns
  ) {
    return false;
  }
  // `good` must be a subsequence of the files loaded (one file per
  // specimen and name: the rest go by their ids).
  const dropped: string[] = [];
  let at = 0;
  for (let i = 0; i < load.files.length; i++) {
    if (at < good.length && good[at].abs === load.files[i]) at++;
    else dropped.push(load.ids[i]);
  }
  if (at < good.length) return false;
  if (dropped.length) {
    await c.run(
      `DELETE FROM ${ident(load.table)} WHERE specimen_id IN (SELECT unnest(${
        literalList(dropped)
      }))`,
    );
  }
  await c.run(`ALTER TABLE ${ident(load.table)} RENAME TO ${ident(table)}`);
  load.adopted = true;
  return true;
}

/** Drops the bulk tables not adopted. */
export async function dropBulk(
  c: DuckDBConnection,
  loads: Map<string, BulkTable>,
) {
  for (const load of loads.values()) {
    if (load.loaded && !load.adopted) {
      await c.run(`DROP TABLE IF EXISTS ${ident(load.table)}`);
    }
  }
}

/**
 * A new catalog opened early: `open` starts opening it, `load` starts the
 * bulk read (while the vault is scanned and the manifests are read).
 */
export class EarlyCatalog implements AsyncDisposable {
  readonly db: Promise<Database>;
  #loads?: Promise<Map<string, BulkTable>>;
  #stopped = false;
  #settled = false;

  constructor(db: Promise<Database>) {
    this.db = db;
    db.catch(() => {}); // awaited by the write phase
  }

  /** Lists the metric files of `specimensDir` and starts their bulk read. */
  async load(specimensDir: string) {
    const files = await listBulkFiles(specimensDir).catch(() => new Map());
    this.#loads = this.db.then((db) =>
      bulkLoad(db.connection, files, () => this.#stopped)
    );
    this.#loads.finally(() => this.#settled = true).catch(() => {});
  }

  /**
   * Stops the bulk read (the index failed before it was needed) and waits
   * until its connection is free.
   */
  async stop() {
    if (!this.#loads || this.#settled) return;
    this.#stopped = true;
    (await this.db.catch(() => undefined))?.connection.interrupt();
    await this.#loads.catch(() => {});
  }

  /** What the bulk read loaded, once it is done. */
  async loads(): Promise<Map<string, BulkTable>> {
    return await (this.#loads ?? new Map());
  }

  async [Symbol.asyncDispose]() {
    await this.stop();
    (await this.db.catch(() => undefined))?.close();
  }
}

/**
 * Opening a DuckDB database: its settings, and a private spill folder for
 * what does not fit in memory.
 *
 * @module
 */
import {
  type DuckDBConnection,
  DuckDBInstance,
} from "../_deps/duckdb_node_api.ts";
import { join, tmpdir } from "../_deps/node.ts";
import { holdFile } from "./_held.ts";

/** One open database: an instance and a connection, closed together. */
export interface Database extends Disposable {
  instance: DuckDBInstance;
  connection: DuckDBConnection;
  close(): void;
}

/**
 * The most a query's spill files may take on disk (DuckDB's
 * `max_temp_directory_size`), for catalogs opened with `privateTemp`.
 */
export const MAX_SPILL_SIZE = "4GiB";

/** Options of {@linkcode openDatabase}. */
export interface OpenOptions {
  /**
   * Give DuckDB a private spill folder (`temp_directory`): a fresh folder of
   * mode 0700 under the OS temp folder, outside the vault, capped at
   * {@linkcode MAX_SPILL_SIZE}, removed on close. For databases that run
   * user SQL: DuckDB's default (`<catalog>.tmp/` beside the catalog) sits in
   * the vault, where anyone who can write the vault could plant files for
   * SQL to read (DuckDB always lets SQL read its temp folder), and it could
   * fill the vault's disk. Without Deno write permission (the dashboard's
   * task), an unguessable path under the OS temp folder is named instead,
   * which DuckDB creates when it first spills and removes on close.
   */
  privateTemp?: boolean;
}

const TEMP_PREFIX = "specimen-vault-duckdb-";

/** A fresh spill folder: made here (mode 0700) when Deno may write. */
async function spillFolder(): Promise<{ path: string; ours: boolean }> {
  try {
    const path = await Deno.makeTempDir({ prefix: TEMP_PREFIX });
    await Deno.chmod(path, 0o700);
    return { path, ours: true };
  } catch (e) {
    if (
      !(e instanceof Deno.errors.NotCapable ||
        e instanceof Deno.errors.PermissionDenied)
    ) throw e;
    return {
      path: join(tmpdir(), `${TEMP_PREFIX}${crypto.randomUUID()}`),
      ours: false,
    };
  }
}

/**
 * Opens `path` with DuckDB configuration `config` (string values, as DuckDB
 * takes them). Extensions are never auto-installed: this machine (and many
 * laptops) cannot download them, and a query must not try.
 */
export async function openDatabase(
  path: string,
  config: Record<string, string> = {},
  options: OpenOptions = {},
): Promise<Database> {
  const spill = options.privateTemp ? await spillFolder() : undefined;
  const temp = spill?.path;
  const removeTemp = () => {
    if (spill?.ours) {
      try {
        Deno.removeSync(spill.path, { recursive: true });
      } catch { /* already gone */ }
    }
  };
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, {
      autoinstall_known_extensions: "false",
      ...(temp
        ? { temp_directory: temp, max_temp_directory_size: MAX_SPILL_SIZE }
        : {}),
      ...config,
    });
  } catch (e) {
    removeTemp();
    throw e;
  }
  let connection: DuckDBConnection;
  try {
    connection = await instance.connect();
  } catch (e) {
    instance.closeSync();
    removeTemp();
    throw e;
  }
  const release = holdFile(path);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    connection.closeSync();
    instance.closeSync();
    release();
    removeTemp();
  };
  return { instance, connection, close, [Symbol.dispose]: close };
}

/**
 * One version of the catalog file (`vault.duckdb`), opened read-only with a
 * small pool of connections; retired when a newer file appears and closed
 * once its last query ends.
 *
 * @module
 */
import {
  type DuckDBConnection,
  duckdbMessage,
  openDatabase,
} from "../duckdb/duckdb.ts";
import { CATALOG_SCHEMA_VERSION } from "../catalog/index_vault.ts";
import { VaultError } from "../errors.ts";

const MAX_CONNECTIONS = 4;

/** One pooled connection and the `exp_` views created on it. */
interface Conn {
  connection: DuckDBConnection;
  views: Set<string>;
}

/** One version of the catalog file, open with a few connections. */
export class CatalogGeneration {
  /** inode, mtime and size of the file this generation opened. */
  readonly key: string;
  /** `vault_info` of this catalog. */
  readonly info: Record<string, string>;
  /** Per-generation memo (facets and the like), dropped with it. */
  readonly memo: Map<string, Promise<unknown>> = new Map();
  #db: Awaited<ReturnType<typeof openDatabase>>;
  #idle: Conn[] = [];
  #all: Conn[] = [];
  #waiting: ((c: Conn) => void)[] = [];
  #fresh = new Set<DuckDBConnection>();
  #refs = 0;
  #retired = false;
  #closed = false;

  private constructor(
    key: string,
    db: Awaited<ReturnType<typeof openDatabase>>,
    info: Record<string, string>,
  ) {
    this.key = key;
    this.#db = db;
    this.info = info;
    const first = { connection: db.connection, views: new Set<string>() };
    this.#idle.push(first);
    this.#all.push(first);
  }

  /** Opens `path` read-only and locks it down. */
  static async open(
    path: string,
    key: string,
    memoryLimit: string,
  ): Promise<CatalogGeneration> {
    let db;
    try {
      db = await openDatabase(path, {
        access_mode: "READ_ONLY",
        autoload_known_extensions: "false",
        memory_limit: memoryLimit,
      }, { privateTemp: true });
    } catch (e) {
      throw new VaultError(
        `Cannot open the catalog ${path} (${
          duckdbMessage(e)
        }): rebuild it with \`deno task index --full\``,
        { cause: e },
      );
    }
    try {
      const info = Object.fromEntries(
        (await db.connection.runAndReadAll(
          "SELECT key, value FROM vault_info",
        )).getRows() as [string, string][],
      );
      if (info.schema_version !== String(CATALOG_SCHEMA_VERSION)) {
        throw new VaultError(
          `The catalog ${path} has schema version ${
            JSON.stringify(info.schema_version)
          }, this dashboard reads ${CATALOG_SCHEMA_VERSION}: rebuild it with \`deno task index --full\``,
        );
      }
      // As in VaultQuery: every relation is inside the catalog, so user SQL
      // needs no file at all; the lock keeps the SQL from undoing it.
      await db.connection.run(
        "SET enable_external_access = false; SET lock_configuration = true;",
      );
      return new CatalogGeneration(key, db, info);
    } catch (e) {
      db.close();
      if (e instanceof VaultError) throw e;
      throw new VaultError(
        `Cannot read the catalog ${path} (${
          duckdbMessage(e)
        }): rebuild it with \`deno task index --full\``,
        { cause: e },
      );
    }
  }

  /** Runs `fn` with a connection of this generation. */
  async use<T>(fn: (c: Conn) => Promise<T>): Promise<T> {
    this.#refs++;
    try {
      const conn = await this.#take();
      try {
        return await fn(conn);
      } finally {
        this.#give(conn);
      }
    } finally {
      this.#refs--;
      if (this.#retired && this.#refs === 0) this.close();
    }
  }

  /**
   * Runs `fn` with a new connection of its own, closed after: nothing of an
   * earlier query (temp views, temp tables) is there, as in a fresh process.
   */
  async fresh<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    this.#refs++;
    let connection: DuckDBConnection | undefined;
    try {
      connection = await this.#db.instance.connect();
      this.#fresh.add(connection);
      return await fn(connection);
    } finally {
      if (connection) {
        this.#fresh.delete(connection);
        try {
          connection.closeSync();
        } catch { /* already closed */ }
      }
      this.#refs--;
      if (this.#retired && this.#refs === 0) this.close();
    }
  }

  /** Marks this generation replaced: it closes when its last query ends. */
  retire(): void {
    this.#retired = true;
    if (this.#refs === 0) this.close();
  }

  /** Closes every connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#all) {
      if (c.connection !== this.#db.connection) {
        try {
          c.connection.closeSync();
        } catch { /* already closed */ }
      }
    }
    this.#db.close();
  }

  /** Interrupts every running query (used on shutdown). */
  interruptAll(): void {
    for (const c of this.#all) c.connection.interrupt();
    for (const c of this.#fresh) c.interrupt();
  }

  async #take(): Promise<Conn> {
    const idle = this.#idle.pop();
    if (idle) return idle;
    if (this.#all.length < MAX_CONNECTIONS) {
      const conn = {
        connection: await this.#db.instance.connect(),
        views: new Set<string>(),
      };
      this.#all.push(conn);
      return conn;
    }
    return await new Promise<Conn>((resolve) => this.#waiting.push(resolve));
  }

  #give(conn: Conn): void {
    const next = this.#waiting.shift();
    if (next) next(conn);
    else this.#idle.push(conn);
  }
}

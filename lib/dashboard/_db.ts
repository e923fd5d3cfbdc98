/**
 * The dashboard's view of the catalog: read-only DuckDB connections to
 * `vault.duckdb` that follow the file (the index replaces it by rename, so a
 * new inode or mtime means a new catalog: it is opened on the next request,
 * and the old one is closed once its last query ends), and queries that stop
 * at a time limit (`interrupt()`) and a row limit (streamed, never read past
 * the limit).
 *
 * It opens the catalog the way {@linkcode VaultQuery} does (read-only, no
 * file access, no extensions, configuration locked, only reading statements)
 * but keeps its own connections, because a server needs several at once and
 * has to interrupt them.
 *
 * @module
 */
import { jsonConverter } from "../duckdb/value_forms.ts";
import {
  cappedRows,
  type ColumnInfo,
  createExpViews,
  type DuckDBConnection,
  duckdbMessage,
  type DuckDBValueConverter,
  type JS,
  openDatabase,
  plainConverter,
  readCapped,
  toDuckDBParams,
} from "../duckdb/duckdb.ts";
import { prepareReading } from "../query/sql_gate.ts";
import { CATALOG_SCHEMA_VERSION } from "../catalog/index_vault.ts";
import {
  NotFoundError,
  QueryRefusedError,
  QueryTimeoutError,
  ResultTooLargeError,
  SqlError,
  VaultError,
} from "../errors.ts";

export {
  QueryRefusedError,
  QueryTimeoutError,
  ResultTooLargeError,
  SqlError,
} from "../errors.ts";
import type { VaultPaths } from "../vault.ts";

/** Limits of one query. */
export interface QueryLimits {
  /** Stop (interrupt) the query after this many milliseconds. */
  timeoutMs: number;
  /** Return at most this many rows; `truncated` says when there were more. */
  maxRows: number;
  /**
   * Refuse a result whose values pass this many bytes (about its JSON
   * size) with a {@linkcode ResultTooLargeError}.
   * @default {33554432} ({@linkcode MAX_RESULT_BYTES}, 32 MiB)
   */
  maxBytes?: number;
}

/** The size limit of one dashboard result: 32 MiB of values. */
export const MAX_RESULT_BYTES = 32 * 1024 * 1024;

/** A query's result. */
export interface LimitedResult {
  columns: ColumnInfo[];
  rows: Record<string, unknown>[];
  /** Whether rows past `maxRows` were left unread. */
  truncated: boolean;
  /**
   * With the `values` option: the values column by column, and `rows`
   * empty. `"raw"`: as DuckDB gives them (DOUBLE and INTEGER as numbers,
   * VARCHAR as strings: the fastest); `"plain"`: as `rows` would hold them.
   */
  values?: unknown[][];
}

/** Limits, and how the result should come back. */
export type QueryOptions = QueryLimits & {
  /** Column by column instead of row objects: see {@linkcode LimitedResult.values}. */
  values?: "raw" | "plain" | "json";
};

const MAX_CONNECTIONS = 4;
const MAX_MEMO = 1000;

type Params = unknown[] | Record<string, unknown>;

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

/** Options of {@linkcode LiveCatalog}. */
export interface LiveCatalogOptions {
  /** DuckDB's memory limit for the catalog's queries. @default "2GB" */
  memoryLimit?: string;
}

/**
 * The catalog of a vault as it is now: each use checks the file's inode,
 * mtime and size (one `stat`) and opens the new file when it changed.
 */
export class LiveCatalog {
  readonly paths: VaultPaths;
  #memoryLimit: string;
  #gen?: CatalogGeneration;
  #opening?: Promise<CatalogGeneration>;
  #closed = false;

  constructor(paths: VaultPaths, options: LiveCatalogOptions = {}) {
    this.paths = paths;
    this.#memoryLimit = options.memoryLimit ?? "2GB";
  }

  /** The generation matching the file now (opening it if it is new). */
  async current(): Promise<CatalogGeneration> {
    if (this.#closed) throw new VaultError("The dashboard is shutting down");
    let key: string;
    try {
      const s = await Deno.stat(this.paths.catalog);
      key = `${s.ino}:${s.mtime?.getTime()}:${s.size}`;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      this.#gen?.retire();
      this.#gen = undefined;
      throw new NotFoundError(
        `No catalog at ${this.paths.catalog} yet: run \`deno task index\` (the dashboard picks it up without a restart)`,
      );
    }
    if (this.#gen?.key === key) return this.#gen;
    this.#opening ??= (async () => {
      try {
        const gen = await CatalogGeneration.open(
          this.paths.catalog,
          key,
          this.#memoryLimit,
        );
        this.#gen?.retire();
        this.#gen = gen;
        return gen;
      } finally {
        this.#opening = undefined;
      }
    })();
    return await this.#opening;
  }

  /**
   * `compute()`'s result, computed once per catalog version and `key` (the
   * catalog does not change under a version: a new index is a new file).
   */
  async memo<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const gen = await this.current();
    let hit = gen.memo.get(key) as Promise<T> | undefined;
    if (!hit) {
      if (gen.memo.size >= MAX_MEMO) gen.memo.clear();
      hit = compute();
      gen.memo.set(key, hit);
      hit.catch(() => gen.memo.delete(key));
    }
    return await hit;
  }

  /**
   * Runs trusted SQL (written by the dashboard, values as parameters) within
   * `limits`.
   */
  async query(
    sql: string,
    params: Params | undefined,
    limits: QueryOptions,
  ): Promise<LimitedResult> {
    const gen = await this.current();
    return await gen.use(async (c) => {
      let prepared;
      try {
        prepared = await c.connection.prepare(sql);
      } catch (e) {
        throw sqlError(e);
      }
      try {
        if (params !== undefined) prepared.bind(toDuckDBParams(params));
        return await limited(
          c.connection,
          () => prepared,
          limits,
          limits.timeoutMs,
        );
      } finally {
        prepared.destroySync();
      }
    });
  }

  /**
   * Runs a user's SQL: only SELECT queries calling allow-listed functions
   * (see `_sql_gate.ts`), the `exp_<id>` views it reads created first; the
   * last statement's rows come back. The time limit covers the gate too.
   */
  async userQuery(sql: string, limits: QueryOptions): Promise<LimitedResult> {
    const gen = await this.current();
    return await gen.use(async (c) => {
      const deadline = Date.now() + limits.timeoutMs;
      // The time limit covers the gate too: DuckDB parses off the main
      // thread, and an interrupt stops it like any query.
      const statements = await timed(
        c.connection,
        limits.timeoutMs,
        () =>
          prepareReading(c.connection, sql, {
            readOnly: "the dashboard's SQL is read-only",
            toError: sqlError,
            refused: (message) => new QueryRefusedError(message),
            relations: async (names) => {
              if (gen.info.views !== "true") {
                await createExpViews(c.connection, names, c.views);
              }
            },
          }),
      );
      try {
        let result: LimitedResult | undefined;
        for (const prepared of statements) {
          const left = Math.max(1, deadline - Date.now());
          result = await limited(c.connection, () => prepared, limits, left);
        }
        return result!;
      } finally {
        for (const s of statements) s.destroySync();
      }
    });
  }

  /** Interrupts running queries and closes the catalog. */
  close(): void {
    this.#closed = true;
    this.#gen?.interruptAll();
    this.#gen?.retire();
    this.#gen = undefined;
  }
}

type Prepared = Awaited<ReturnType<DuckDBConnection["prepare"]>>;

/** Runs `work`, interrupting `connection` after `ms`: a QueryTimeoutError. */
async function timed<T>(
  connection: DuckDBConnection,
  ms: number,
  work: () => Promise<T>,
  limitMs = ms,
): Promise<T> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    connection.interrupt();
  }, ms);
  try {
    return await work();
  } catch (e) {
    if (
      timedOut ||
      (!(e instanceof VaultError) &&
        /INTERRUPT|Interrupted/.test(duckdbMessage(e)))
    ) {
      throw new QueryTimeoutError(
        `Query stopped after ${
          seconds(limitMs)
        } (the dashboard's time limit): narrow it with WHERE or LIMIT, or run it with \`deno task query\`, which has no time limit`,
        { cause: e },
      );
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Streams `prepared` until `maxRows` + 1 rows or `maxBytes` of values,
 * interrupting it after `leftMs` (what is left of `limits.timeoutMs`).
 */
async function limited(
  connection: DuckDBConnection,
  prepared: () => Prepared,
  limits: QueryOptions,
  leftMs: number,
): Promise<LimitedResult> {
  const maxBytes = limits.maxBytes ?? MAX_RESULT_BYTES;
  return await timed(connection, leftMs, async () => {
    let result;
    try {
      result = await prepared().stream();
    } catch (e) {
      if (/INTERRUPT|Interrupted/.test(duckdbMessage(e))) throw e;
      throw sqlError(e);
    }
    const columns: ColumnInfo[] = result.columnNames().map((name, i) => ({
      name,
      type: result.columnLogicalType(i).alias ??
        result.columnType(i).toString(),
    }));
    let read;
    try {
      read = await readCapped(result, {
        maxRows: limits.maxRows,
        maxBytes,
        tooBig: (bytes) =>
          new ResultTooLargeError(
            `The result passed ${mib(maxBytes)} (over ${
              mib(bytes)
            } read), the dashboard's limit for one result: narrow it with LIMIT, WHERE or fewer columns, or write it to a file with \`deno task query --format parquet --out FILE\``,
          ),
      }, converterFor(limits.values));
    } catch (e) {
      if (e instanceof VaultError) throw e;
      if (/INTERRUPT|Interrupted/.test(duckdbMessage(e))) throw e;
      throw sqlError(e);
    }
    if (limits.values) {
      return {
        columns,
        rows: [],
        truncated: read.truncated,
        values: read.columns,
      };
    }
    return { columns, rows: cappedRows(read), truncated: read.truncated };
  }, limits.timeoutMs);
}

/** The converter of a {@linkcode QueryOptions.values} mode (`null`: raw). */
function converterFor(
  values: QueryOptions["values"],
): DuckDBValueConverter<JS> | null {
  if (values === "raw") return null;
  return values === "json" ? jsonConverter : plainConverter;
}

function mib(bytes: number): string {
  return `${+(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}

/** Creates the `exp_` views `sql` mentions that this connection lacks. */

function sqlError(e: unknown): VaultError {
  if (e instanceof VaultError) return e;
  const message = duckdbMessage(e);
  if (message.startsWith("Permission Error")) {
    return new QueryRefusedError(
      `Refusing to open a file: the dashboard's SQL is read-only and every relation is inside the catalog (no file is needed). ${message}`,
      { cause: e },
    );
  }
  return new SqlError(message, { cause: e });
}

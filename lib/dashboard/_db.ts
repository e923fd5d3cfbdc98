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
import { createExpViews, toDuckDBParams } from "../duckdb/duckdb.ts";
import { prepareReading } from "../query/sql_gate.ts";
import { NotFoundError, QueryRefusedError, VaultError } from "../errors.ts";
import type { VaultPaths } from "../vault.ts";
import { CatalogGeneration } from "./_generation.ts";
import {
  limited,
  type LimitedResult,
  type QueryOptions,
  sqlError,
  timed,
} from "./_limits.ts";

export {
  QueryRefusedError,
  QueryTimeoutError,
  ResultTooLargeError,
  SqlError,
} from "../errors.ts";
export {
  type LimitedResult,
  MAX_RESULT_BYTES,
  type QueryLimits,
  type QueryOptions,
} from "./_limits.ts";
export { CatalogGeneration };

const MAX_MEMO = 1000;
type Params = unknown[] | Record<string, unknown>;

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

/**
 * The query server's cache of outputs (`POST /api/cli/query`).
 *
 * @module
 */
import type { DuckDBConnection } from "../duckdb/duckdb.ts";
import type { SqlParse } from "../query/sql_gate.ts";
import { type FunctionRow, readFunctionList } from "../duckdb/function_list.ts";

/** The most the cache holds, in bytes of output; one entry at most a quarter. */
const CACHE_BYTES = 64 * 1024 * 1024;

/**
 * The outputs of earlier queries, by catalog version, SQL and format (and
 * DuckDB's function list, read once). A
 * catalog version never changes (a new index is a new file, a new
 * version), so an output stays right as long as the query calls only
 * functions DuckDB marks CONSISTENT (no `random()`, `now()`, ...); the
 * oldest entries go first past {@linkcode CACHE_BYTES}.
 */
export class OutputCache {
  #entries = new Map<string, Uint8Array<ArrayBuffer>>();
  #bytes = 0;
  #consistent?: Promise<Set<string>>;
  #functions?: FunctionRow[];

  /**
   * DuckDB's function list beside `catalog`, read once (each query has a
   * fresh connection, which would read the file again).
   */
  functionList(catalog: string): FunctionRow[] | undefined {
    return this.#functions ??= readFunctionList(catalog);
  }

  /** The cached output under `key`, if any (it becomes the newest). */
  get(key: string): Uint8Array<ArrayBuffer> | undefined {
    const hit = this.#entries.get(key);
    if (hit) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
    }
    return hit;
  }

  /** Keeps `output` under `key`, dropping the oldest past the budget. */
  set(key: string, output: Uint8Array<ArrayBuffer>): void {
    if (output.length > CACHE_BYTES / 4 || this.#entries.has(key)) return;
    this.#entries.set(key, output);
    this.#bytes += output.length;
    for (const [k, v] of this.#entries) {
      if (this.#bytes <= CACHE_BYTES) break;
      this.#entries.delete(k);
      this.#bytes -= v.length;
    }
  }

  /** Whether a query whose parse is `found` always gives the same output. */
  async cacheable(c: DuckDBConnection, found: SqlParse): Promise<boolean> {
    this.#consistent ??= c.runAndReadAll(
      `SELECT lower(function_name) FROM duckdb_functions()
       WHERE function_type IN ('scalar', 'aggregate')
       GROUP BY 1 HAVING bool_and(stability = 'CONSISTENT')`,
    ).then((r) => new Set((r.getRows() as [string][]).map(([n]) => n)));
    const consistent = await this.#consistent.catch(() => new Set<string>());
    return found.functions.every((f) => consistent.has(f));
  }
}

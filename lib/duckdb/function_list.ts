/**
 * DuckDB's function list (what the SQL gate allows or refuses), kept in a
 * file beside the catalog, `vault.duckdb.functions`, so that a fresh query
 * process need not list DuckDB's functions again (tens of milliseconds).
 * The index writes it (under its lock) when it is missing or was listed by
 * another DuckDB version; queries only read it. It lists the built-in
 * functions, which depend on the DuckDB version alone: a name it does not
 * know passes the gate as any unknown name does (DuckDB then binds it or
 * fails), and the names the gate refuses outright are refused whatever the
 * file says.
 *
 * @module
 */
import { version } from "../_deps/duckdb_node_api.ts";
import { atomicWriteFile } from "../_fs.ts";
import type { Database } from "./_open.ts";

/** The file's name: the catalog's, with this suffix. */
export const FUNCTION_LIST_SUFFIX = ".functions";
const FORMAT = "specimen-vault duckdb functions";
const FORMAT_VERSION = 1;

/** One row per function name and kind: `[lower(function_name), function_type]`. */
export type FunctionRow = [string, string];

/** The SQL that lists them. */
export const FUNCTION_LIST_SQL =
  "SELECT DISTINCT lower(function_name), function_type FROM duckdb_functions() ORDER BY ALL";

interface FunctionListFile {
  format: string;
  version: number;
  duckdb: string;
  rows: FunctionRow[];
}

/**
 * The function list stored beside `catalog`, or undefined when there is
 * none, it is malformed, or another DuckDB version listed it.
 *
 * @example
 * ```ts
 * import { readFunctionList } from "./function_list.ts";
 * console.assert(readFunctionList("/no/such/vault.duckdb") === undefined);
 * ```
 */
export function readFunctionList(catalog: string): FunctionRow[] | undefined {
  try {
    const data = JSON.parse(
      Deno.readTextFileSync(catalog + FUNCTION_LIST_SUFFIX),
    ) as FunctionListFile | null;
    if (
      data?.format !== FORMAT || data.version !== FORMAT_VERSION ||
      data.duckdb !== version() || !Array.isArray(data.rows) ||
      !data.rows.every((r) =>
        Array.isArray(r) && r.length === 2 &&
        typeof r[0] === "string" && typeof r[1] === "string"
      )
    ) {
      return undefined;
    }
    return data.rows;
  } catch {
    return undefined;
  }
}

/**
 * Writes the function list beside `catalog` unless a current one is there:
 * DuckDB's built-ins, listed by a private in-memory database. The caller
 * holds the index lock.
 */
export async function storeFunctionList(
  catalog: string,
  open: () => Promise<Database>,
): Promise<void> {
  if (readFunctionList(catalog)) return;
  using db = await open();
  const rows = (await db.connection.runAndReadAll(FUNCTION_LIST_SQL))
    .getRows() as FunctionRow[];
  const data: FunctionListFile = {
    format: FORMAT,
    version: FORMAT_VERSION,
    duckdb: version(),
    rows,
  };
  await atomicWriteFile(
    catalog + FUNCTION_LIST_SUFFIX,
    new TextEncoder().encode(JSON.stringify(data)),
  );
}

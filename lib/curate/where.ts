/**
 * Choosing specimens by a SQL predicate on the catalog, for
 * `deno task discard --where` and `deno task tag --where`. The predicate
 * becomes the WHERE of `SELECT specimen_id FROM catalog WHERE …`, and DuckDB's
 * own parse of that statement must show exactly that shape (one SELECT of
 * `specimen_id` from `catalog`, a WHERE, nothing else): a predicate that
 * closes a parenthesis and adds a UNION, a semicolon and a second statement,
 * an ORDER BY, LIMIT, GROUP BY, HAVING or QUALIFY after it, is refused.
 * The statement then runs through the same read-only SQL gate as
 * `deno task query` (functions and relations checked, time limited).
 *
 * @module
 */
import { InvalidInputError, QueryRefusedError } from "../errors.ts";
import { VaultQuery } from "../query/vault_query.ts";

/** The longest predicate taken (characters). */
export const MAX_PREDICATE_LENGTH = 10_000;

/**
 * The statement a predicate is run in (the predicate is its last part,
 * ended by a newline so that a trailing `--` comment ends with it).
 *
 * @example
 * ```ts
 * import { whereSql } from "./where.ts";
 * console.assert(whereSql("status = 'failed'").endsWith("WHERE status = 'failed'\n"));
 * ```
 */
export function whereSql(predicate: string): string {
  return `SELECT specimen_id FROM catalog WHERE ${predicate}\n`;
}

/**
 * Why the parse tree of {@linkcode whereSql}'s statement is not one SELECT
 * of `specimen_id` from `catalog` with a WHERE and nothing else; null when
 * it is. `statements` is what DuckDB's `json_serialize_sql` returned.
 */
export function shapeProblem(statements: unknown[]): string | null {
  if (statements.length !== 1) {
    return `it makes ${statements.length} statements (a ";"?)`;
  }
  const node = (statements[0] as { node?: Record<string, unknown> }).node ??
    {};
  if (node.type !== "SELECT_NODE") {
    return `it turns the query into a ${
      String(node.type ?? "?").replace(/_NODE$/, "").toLowerCase()
    } (a UNION, INTERSECT or EXCEPT after the predicate?)`;
  }
  const empty = (v: unknown) =>
    v === null || v === undefined || (Array.isArray(v) && v.length === 0);
  const cte = (node.cte_map as { map?: unknown[] } | undefined)?.map;
  if (!empty(node.modifiers)) return "it adds ORDER BY, LIMIT or DISTINCT";
  if (!empty(cte)) return "it adds a WITH clause";
  if (!empty(node.group_expressions) || !empty(node.group_sets)) {
    return "it adds GROUP BY";
  }
  if (!empty(node.having)) return "it adds HAVING";
  if (!empty(node.qualify)) return "it adds QUALIFY";
  if (!empty(node.sample)) return "it adds USING SAMPLE";
  const list = node.select_list as
    | { type?: string; column_names?: string[]; alias?: string }[]
    | undefined;
  if (
    list?.length !== 1 || list[0].type !== "COLUMN_REF" ||
    list[0].column_names?.join(".") !== "specimen_id" || list[0].alias
  ) return "it changes the selected column";
  const from = node.from_table as
    | {
      type?: string;
      table_name?: string;
      alias?: string;
      schema_name?: string;
    }
    | undefined;
  if (
    from?.type !== "BASE_TABLE" || from.table_name !== "catalog" ||
    from.alias || from.schema_name
  ) return "it changes the table read";
  if (empty(node.where_clause)) return "it holds no condition";
  return null;
}

/**
 * The ids of the catalog's specimens for which `predicate` (SQL on the
 * `catalog` table's columns, e.g. `status = 'failed' AND created <
 * DATE '2026-01-01'`) is true, sorted. Throws {@linkcode QueryRefusedError}
 * (exit 2) for a predicate that is not one expression or that the SQL gate
 * refuses, and a `VaultError` for SQL DuckDB cannot run (its message shows
 * where). The catalog is read as last indexed.
 *
 * Needs `--allow-read` on the vault, `--allow-ffi`, `--allow-env`,
 * `--allow-sys` (DuckDB).
 *
 * @example
 * ```ts ignore
 * import { idsWhere } from "./where.ts";
 * console.log(await idsWhere({ vault: ".", predicate: "status = 'failed'" }));
 * ```
 */
export async function idsWhere(
  options: { vault: string; predicate: string },
): Promise<string[]> {
  const predicate = options.predicate;
  if (predicate.trim() === "") {
    throw new InvalidInputError(
      `--where is empty: give a condition on catalog columns, e.g. --where "status = 'failed'"`,
    );
  }
  if (predicate.length > MAX_PREDICATE_LENGTH) {
    throw new InvalidInputError(
      `--where is ${predicate.length} characters long: at most ${MAX_PREDICATE_LENGTH}`,
    );
  }
  const sql = whereSql(predicate);
  await using q = await VaultQuery.open({ vault: options.vault });
  const [row] = await q.search("SELECT json_serialize_sql($1::VARCHAR) AS t", [
    sql,
  ]);
  // The JSON value comes back parsed (as a JSON column is).
  const parsed = (typeof row.t === "string" ? JSON.parse(row.t) : row.t) as {
    error?: boolean;
    statements?: unknown[];
  };
  if (parsed.error) {
    // The gate says why, with DuckDB's caret under the spot: a usage error.
    try {
      await q.search(sql);
    } catch (e) {
      if (e instanceof InvalidInputError) throw e;
      throw new InvalidInputError(
        `Cannot use --where ${JSON.stringify(predicate)}: ${
          (e as Error).message
        }`,
        { cause: e },
      );
    }
  } else {
    const problem = shapeProblem(parsed.statements ?? []);
    if (problem) {
      throw new QueryRefusedError(
        `Refusing --where ${
          JSON.stringify(
            predicate.length > 200
              ? predicate.slice(0, 197) + "..."
              : predicate,
          )
        }: it must be one condition on the catalog's columns, and ${problem}. Write only the condition, e.g. --where "status = 'failed' AND 'sweep' IN tags"`,
      );
    }
  }
  const rows = await q.search(sql);
  return rows.map((r) => String(r.specimen_id)).sort();
}

/**
 * The gate in front of user SQL (VaultQuery, `deno task query`, the
 * dashboard's SQL box): what a statement may do is decided from DuckDB's own
 * parse of it, never from the text.
 *
 * 1. `json_serialize_sql(sql)` parses the whole text (parser only: nothing is
 *    bound or run) and serializes it, but only when every statement is a
 *    SELECT. Anything else (COPY, SET, PRAGMA, CALL, ATTACH, EXPLAIN,
 *    INSTALL, LOAD, EXPORT, CREATE MACRO, ...) is refused by type, before any
 *    statement is prepared: preparing alone can act (EXPORT DATABASE makes
 *    its folder while being prepared).
 * 2. The parse tree is walked (subqueries, CTEs, set operations, lambdas,
 *    every nested node) for the functions it calls. A table function must be
 *    on {@linkcode ALLOWED_TABLE_FUNCTIONS} (catalog metadata and row
 *    generators: no file readers, no `query()`, no logging). A scalar,
 *    aggregate or window function DuckDB knows must be one of its built-in
 *    value functions and not one of {@linkcode REFUSED_FUNCTIONS} (the few that
 *    act beyond computing a value). A name DuckDB does not know is left to
 *    its binder, which refuses it with its "did you mean" hint.
 * 3. Then each statement is prepared and its type checked again (SELECT).
 *
 * The work is linear in the length of the SQL: DuckDB's parser runs off the
 * main thread (an async call, interruptible by the caller's time limit), and
 * the walk visits each node of the tree once, without recursion.
 *
 * @module
 */
import {
  type DuckDBConnection,
  type DuckDBPreparedStatement,
  StatementType,
} from "../_deps/duckdb_node_api.ts";
import { InvalidInputError } from "../errors.ts";
import {
  FUNCTION_LIST_SQL,
  type FunctionRow,
} from "../duckdb/function_list.ts";

/** The longest SQL text the gate takes, in characters. */
export const MAX_SQL_LENGTH = 1_000_000;

/**
 * Table functions a catalog query may call: generators of rows from values,
 * and read-only views of the catalog's own metadata. No file reader
 * (`read_*`, `parquet_*`, `glob`, `sniff_csv`), nothing that runs SQL given
 * as text (`query`, `query_table`, `json_execute_serialized_sql`, the
 * `histogram` table macros, which call `query_table`), nothing that changes
 * the session (`enable_logging`, `checkpoint`, profiling, the PEG parser
 * switches).
 */
export const ALLOWED_TABLE_FUNCTIONS: ReadonlySet<string> = new Set([
  "range",
  "generate_series",
  "unnest",
  "repeat",
  "repeat_row",
  "json_each",
  "json_tree",
  "summary",
  "test_all_types",
  "icu_calendar_names",
  "pg_timezone_names",
  "duckdb_columns",
  "duckdb_constraints",
  "duckdb_databases",
  "duckdb_dependencies",
  "duckdb_functions",
  "duckdb_indexes",
  "duckdb_keywords",
  "duckdb_schemas",
  "duckdb_sequences",
  "duckdb_settings",
  "duckdb_tables",
  "duckdb_types",
  "duckdb_views",
  "pragma_table_info",
  "pragma_show",
  "pragma_version",
  "pragma_database_size",
  "pragma_collations",
  "pragma_platform",
  "pragma_storage_info",
]);

/**
 * Built-in scalar functions and macros that do more than compute a value:
 * they write DuckDB's log, sleep past the time limit's reach, touch
 * sequences, or plan SQL given as text (which prepares it, see step 1 of the
 * module doc). Every other built-in scalar, aggregate and window function
 * (reviewed for DuckDB {@linkcode REVIEWED_DUCKDB_VERSION}) is allowed.
 */
export const REFUSED_FUNCTIONS: ReadonlySet<string> = new Set([
  "write_log",
  "sleep_ms",
  "pg_sleep",
  "nextval",
  "currval",
  "json_serialize_plan",
  "json_execute_serialized_sql",
]);

/**
 * The DuckDB version whose function list was reviewed for
 * {@linkcode REFUSED_FUNCTIONS}; a test fails on another version, so that an
 * upgrade's new functions are reviewed before they are allowed.
 */
export const REVIEWED_DUCKDB_VERSION = "v1.5.6";

/** How {@linkcode prepareReading} names the SQL's owner and makes errors. */
export interface ReadingGate {
  /** How messages say it, e.g. "queries on the catalog are read-only". */
  readOnly: string;
  /** Turns a DuckDB error (parse, bind) into the caller's error. */
  toError: (e: unknown) => Error;
  /** Makes the error for a refused statement. */
  refused: (message: string) => Error;
  /**
   * Called with the relation names the SQL reads (lowercase) after the gate
   * passed and before any statement is prepared (to create views).
   */
  relations?: (names: string[]) => Promise<void>;
  /** Called with what the parse found, once the gate has passed it. */
  parsed?: (found: SqlParse) => void;
  /**
   * Where DuckDB's function list is kept between processes (listing it
   * costs a fresh process tens of milliseconds); without one it is asked
   * once per connection.
   */
  functionList?: FunctionListStore;
}

/**
 * Where {@linkcode ReadingGate} may find DuckDB's function list
 * (`[lower(function_name), function_type]` rows) instead of asking DuckDB:
 * undefined when there is none for this DuckDB version.
 */
export type FunctionListStore = () => FunctionRow[] | undefined;

/** What the walk found in a parse tree. */
export interface SqlParse {
  /** The number of statements (all SELECTs). */
  statements: number;
  /** Relation names read (BASE_TABLE references), lowercase, once each. */
  relations: string[];
  /** Scalar, aggregate and window function names called, lowercase. */
  functions: string[];
  /** Table function names called, lowercase. */
  tableFunctions: string[];
}

interface FunctionCatalog {
  /** Every built-in name a scalar position may name (allow-list). */
  scalar: Set<string>;
  /** Every function name DuckDB knows, of any kind. */
  known: Set<string>;
}

const catalogs = new WeakMap<DuckDBConnection, Promise<FunctionCatalog>>();

function functionCatalog(
  c: DuckDBConnection,
  store: FunctionListStore | undefined,
): Promise<FunctionCatalog> {
  let hit = catalogs.get(c);
  if (!hit) {
    hit = (async () => {
      const rows = store?.() ??
        (await c.runAndReadAll(FUNCTION_LIST_SQL)).getRows() as FunctionRow[];
      const scalar = new Set<string>();
      const known = new Set<string>();
      for (const [name, type] of rows) {
        known.add(name);
        if (
          (type === "scalar" || type === "aggregate" || type === "macro") &&
          !REFUSED_FUNCTIONS.has(name)
        ) scalar.add(name);
      }
      return { scalar, known };
    })();
    hit.catch(() => catalogs.delete(c));
    catalogs.set(c, hit);
  }
  return hit;
}

/**
 * The longest run of operator characters holding a comment start (empty
 * comments written back to back) that the gate passes to DuckDB. Its scanner reads such a run as
 * one operator and backs up at each comment: time quadratic in the run
 * (10,000 empty comments took 10 s, 40,000 took 84 s, uninterruptible).
 * Longer runs are refused before DuckDB sees them.
 */
export const MAX_OPERATOR_RUN = 1000;

/** The characters of a PostgreSQL/DuckDB operator token. */
const OPERATOR_CHARS = new Set("~!@#^&|`?+-*/%<>=");

/**
 * The length of the longest run of operator characters that holds `/*`
 * (one pass over the text, whatever is quoted: a long run inside a string is
 * refused too, which no real query needs).
 */
export function longestCommentRun(sql: string): number {
  let longest = 0;
  let run = 0;
  let comment = false;
  for (let i = 0; i < sql.length; i++) {
    if (OPERATOR_CHARS.has(sql[i])) {
      run++;
      if (sql[i] === "*" && sql[i - 1] === "/") comment = true;
      if (comment && run > longest) longest = run;
    } else {
      run = 0;
      comment = false;
    }
  }
  return longest;
}

/** A relation name that DuckDB would read as a file (replacement scan). */
const FILE_LIKE = /[./\\:*?{}[\]]/;

/**
 * Parses `sql` with DuckDB (no binding) and checks every statement and every
 * function it calls; returns what it found. Throws `gate.refused(...)` for a
 * statement that is not a SELECT or a function not on the allow-list,
 * `gate.toError(...)` for a syntax error.
 */
export async function checkReadingSql(
  c: DuckDBConnection,
  sql: string,
  gate: ReadingGate,
): Promise<SqlParse> {
  if (sql.length > MAX_SQL_LENGTH) {
    throw gate.refused(
      `Refusing SQL of ${sql.length} characters: the limit is ${MAX_SQL_LENGTH}. Shorten it (a query names relations and columns; put long value lists in a WHERE on a catalog column instead)`,
    );
  }
  const run = longestCommentRun(sql);
  if (run > MAX_OPERATOR_RUN) {
    throw gate.refused(
      `Refusing SQL with a run of ${run} operator characters holding comments (like /**/ repeated): DuckDB's parser takes time quadratic in such a run, and the limit is ${MAX_OPERATOR_RUN}. Put a space or newline between comments`,
    );
  }
  const [functions, serialized] = await Promise.all([
    functionCatalog(c, gate.functionList),
    c.runAndReadAll("SELECT json_serialize_sql($1::VARCHAR)", [sql]),
  ]).catch((e) => {
    throw gate.toError(e);
  });
  const parsed = JSON.parse(String(serialized.getRows()[0][0])) as {
    error: boolean;
    error_type?: string;
    error_message?: string;
    statements?: unknown[];
  };
  if (parsed.error) {
    if (parsed.error_type === "not implemented") {
      const count = await c.extractStatements(sql).then(
        (x) => x.count,
        () => 1,
      );
      throw gate.refused(
        `Refusing to run ${
          count > 1
            ? `these ${count} statements: one of them is not a SELECT query`
            : firstWord(sql)
        }. Only SELECT queries run (SELECT, WITH, FROM, VALUES, TABLE, DESCRIBE, SUMMARIZE), and ${gate.readOnly}. Read a table function with SELECT * FROM f(...) instead of CALL or PRAGMA; the catalog is rebuilt from the specimen folders by \`deno task index\``,
      );
    }
    // DuckDB's own parse error, with LINE n and a caret under the spot
    // (extracting only parses, as json_serialize_sql did).
    try {
      await c.extractStatements(sql);
    } catch (e) {
      throw gate.toError(e);
    }
    throw gate.toError(
      new Error(
        `Parser Error: ${parsed.error_message ?? "cannot parse the SQL"}`,
      ),
    );
  }
  const statements = parsed.statements ?? [];
  const found = walk(statements);
  for (const name of found.tableFunctions) {
    if (!ALLOWED_TABLE_FUNCTIONS.has(name)) {
      throw gate.refused(
        `Refusing to run ${name}(): ${gate.readOnly}, and a query may read only the catalog's relations and these table functions: ${
          [...ALLOWED_TABLE_FUNCTIONS].join(", ")
        }`,
      );
    }
  }
  for (const name of found.functions) {
    // The refused names first: whatever a stored function list says.
    if (
      REFUSED_FUNCTIONS.has(name) ||
      (functions.known.has(name) && !functions.scalar.has(name))
    ) {
      throw gate.refused(
        `Refusing to run ${name}(): ${gate.readOnly}, and ${name} ${
          REFUSED_FUNCTIONS.has(name)
            ? "acts beyond computing a value (logging, sleeping, sequences, SQL given as text)"
            : "is not a scalar, aggregate or window function"
        }`,
      );
    }
  }
  for (const name of found.relations) {
    if (FILE_LIKE.test(name)) {
      throw gate.refused(
        `Refusing to read ${
          JSON.stringify(name)
        }: it names a file, ${gate.readOnly} and every relation is inside the catalog (see SELECT table_name FROM duckdb_tables())`,
      );
    }
  }
  return { statements: statements.length, ...found };
}

/**
 * The function names and relations of serialized statements: an iterative
 * walk over every node (no recursion, so a deep tree cannot overflow the
 * stack), each node once.
 */
export function walk(
  statements: unknown[],
): Omit<SqlParse, "statements"> {
  const functions = new Set<string>();
  const tableFunctions = new Set<string>();
  const relations = new Set<string>();
  const asTable = new Set<object>();
  const stack: unknown[] = [...statements];
  while (stack.length) {
    const node = stack.pop();
    if (node === null || typeof node !== "object") continue;
    if (Array.isArray(node)) {
      for (const v of node) {
        if (v !== null && typeof v === "object") stack.push(v);
      }
      continue;
    }
    const o = node as Record<string, unknown>;
    if (
      o.type === "TABLE_FUNCTION" && o.function &&
      typeof o.function === "object"
    ) {
      const f = o.function as Record<string, unknown>;
      asTable.add(f);
      tableFunctions.add(String(f.function_name ?? "").toLowerCase());
    }
    if (
      typeof o.function_name === "string" && !asTable.has(o) &&
      (o.class === "FUNCTION" || o.class === "WINDOW" ||
        o.class === "AGGREGATE" || o.type === "FUNCTION")
    ) {
      functions.add(o.function_name.toLowerCase());
    }
    if (
      (o.type === "BASE_TABLE" || o.type === "SHOW_REF") &&
      typeof o.table_name === "string" && o.table_name !== ""
    ) {
      relations.add(o.table_name.toLowerCase());
    }
    for (const v of Object.values(o)) {
      if (v !== null && typeof v === "object") stack.push(v);
    }
  }
  return {
    functions: [...functions],
    tableFunctions: [...tableFunctions],
    relations: [...relations],
  };
}

/** The first word of `sql` after spaces and comments, for messages. */
function firstWord(sql: string): string {
  let i = 0;
  while (i < sql.length) {
    if (/\s/.test(sql[i])) i++;
    else if (sql.startsWith("--", i)) {
      const end = sql.indexOf("\n", i);
      i = end < 0 ? sql.length : end + 1;
    } else if (sql.startsWith("/*", i)) {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else break;
  }
  const word = /^[A-Za-z_]+/.exec(sql.slice(i, i + 40))?.[0];
  if (!word) return "a statement that is not a SELECT query";
  const w = word.toUpperCase();
  return `${/^[AEIOU]/.test(w) ? "an" : "a"} ${w} statement`;
}

/**
 * Checks user `sql` (see the module doc), then extracts and prepares every
 * statement, checking each is a SELECT. Returns the prepared statements in
 * order; the caller runs and destroys them.
 */
export async function prepareReading(
  c: DuckDBConnection,
  sql: string,
  gate: ReadingGate,
): Promise<DuckDBPreparedStatement[]> {
  const found = await checkReadingSql(c, sql, gate);
  if (found.statements === 0) {
    throw new InvalidInputError(
      "No SQL statement given: write a query, e.g. SELECT * FROM catalog",
    );
  }
  gate.parsed?.(found);
  await gate.relations?.(found.relations);
  let extracted;
  try {
    extracted = await c.extractStatements(sql);
  } catch (e) {
    throw gate.toError(e);
  }
  if (extracted.count !== found.statements) {
    throw gate.refused(
      `Refusing the SQL: DuckDB split it into ${extracted.count} statement(s) but parsed ${found.statements} SELECT(s); ${gate.readOnly}`,
    );
  }
  const statements: DuckDBPreparedStatement[] = [];
  try {
    for (let i = 0; i < extracted.count; i++) {
      const prepared = await extracted.prepare(i).catch((e) => {
        throw gate.toError(e);
      });
      statements.push(prepared);
      if (prepared.statementType !== StatementType.SELECT) {
        throw gate.refused(
          `Refusing to run statement ${i + 1}, a ${
            StatementType[prepared.statementType] ?? "non-SELECT"
          } statement: ${gate.readOnly} (SELECT only)`,
        );
      }
    }
    return statements;
  } catch (e) {
    for (const s of statements) s.destroySync();
    throw e;
  }
}

/**
 * Running user SQL for `VaultQuery`: statements checked by the SQL gate and
 * prepared, a time limit that interrupts DuckDB, and DuckDB's errors turned
 * into the vault's.
 *
 * @module
 */
import {
  cappedRows,
  duckdbMessage,
  plainConverter,
  readCapped,
  toDuckDBParams,
} from "../duckdb/duckdb.ts";
import { jsonConverter } from "../duckdb/value_forms.ts";
import {
  type FunctionListStore,
  prepareReading,
  type SqlParse,
} from "./sql_gate.ts";
import { InvalidInputError, VaultError } from "../errors.ts";
import type { DuckDBConnection } from "../duckdb/duckdb.ts";
import { sqlTextRows } from "./_materialize.ts";
import type { QueryParams, QueryResult, ValueForm } from "./types.ts";

/** How {@linkcode runUserQuery} runs one query. */
export interface UserQueryOptions {
  /** The form of the values. */
  values: ValueForm;
  /** The time limit in seconds (0 or Infinity: none). */
  timeoutSeconds: number;
  /** The most a result of the `plain`/`json` forms may hold, in bytes. */
  maxResultBytes: number;
  /** Creates the `exp_` views among the relation names the SQL reads. */
  createViews: (names: string[]) => Promise<void>;
  /** DuckDB's function list stored beside the catalog. */
  functionList?: FunctionListStore;
  /** Called with what the SQL gate found in the SQL, before it runs. */
  parsed?: (found: SqlParse) => void;
}

/**
 * Runs user SQL on a catalog connection as `VaultQuery.run` does (the gate,
 * the time limit, the size limit, the value form). Shared by `VaultQuery`
 * and the query server of `deno task serve`, so that both give the same
 * rows and the same errors.
 */
export function runUserQuery(
  connection: DuckDBConnection,
  sql: string,
  params: QueryParams | undefined,
  o: UserQueryOptions,
): Promise<QueryResult> {
  const prepare = () =>
    prepareQuery(
      connection,
      sql,
      params,
      o.createViews,
      o.functionList,
      o.parsed,
    );
  if (o.values === "sql") {
    return (async () => {
      const result = await timeLimited(
        connection,
        o.timeoutSeconds,
        async () => runPrepared(await prepare()),
      );
      return await sqlTextRows(connection, result);
    })();
  }
  return timeLimited(connection, o.timeoutSeconds, async () => {
    const prepared = await prepare();
    try {
      const result = await prepared.stream();
      const columns = result.columnNames().map((name, i) => ({
        name,
        type: result.columnLogicalType(i).alias ??
          result.columnType(i).toString(),
      }));
      const max = o.maxResultBytes;
      const read = await readCapped(result, {
        maxRows: Infinity,
        maxBytes: max,
        tooBig: (bytes) =>
          new VaultError(
            `The result passed ${mib(max)} (over ${
              mib(bytes)
            } read), the limit of a result held in memory: narrow it (LIMIT, WHERE, fewer columns), or write it to a file in chunks with \`deno task query --format parquet --out FILE\` (VaultQuery.writeParquet), which has no such limit`,
          ),
      }, o.values === "json" ? jsonConverter : plainConverter);
      return { columns, rows: cappedRows(read) };
    } catch (e) {
      throw queryError(e);
    } finally {
      prepared.destroySync();
    }
  });
}

/**
 * Runs `work`, interrupting DuckDB when it takes longer than the time
 * limit: then a {@linkcode VaultError} names the limit and the fix.
 */
export async function timeLimited<T>(
  connection: DuckDBConnection,
  seconds: number,
  work: () => Promise<T>,
): Promise<T> {
  if (!(seconds > 0 && Number.isFinite(seconds))) return await work();
  let fired = false;
  const timer = setTimeout(() => {
    fired = true;
    connection.interrupt();
  }, seconds * 1000);
  try {
    return await work();
  } catch (e) {
    if (!fired) throw e;
    throw new VaultError(
      `Query stopped after ${seconds} s, the time limit: narrow it (WHERE, LIMIT, fewer joins) or allow more time (deno task query --timeout SECONDS, or VaultQuery.open({ timeoutSeconds }); 0 means no limit)`,
      { cause: e },
    );
  } finally {
    clearTimeout(timer);
  }
}

/** Checks every statement, creates the views it needs, prepares the last. */
export async function prepareQuery(
  connection: DuckDBConnection,
  sql: string,
  params: QueryParams | undefined,
  createViews: (names: string[]) => Promise<void>,
  functionList?: FunctionListStore,
  parsed?: (found: SqlParse) => void,
) {
  const statements = await prepareReading(connection, sql, {
    readOnly: "queries on the catalog are read-only",
    toError: queryError,
    refused: (message) => new InvalidInputError(message),
    relations: createViews,
    functionList,
    parsed,
  });
  try {
    const last = statements[statements.length - 1];
    for (const s of statements.slice(0, -1)) {
      await s.run().catch((e) => {
        throw queryError(e);
      });
    }
    if (params !== undefined) {
      try {
        last.bind(toDuckDBParams(params));
      } catch (e) {
        throw queryError(e);
      }
    }

    statements.pop(); // the caller runs and destroys it
    return last;
  } finally {
    for (const s of statements) s.destroySync();
  }
}

/** A statement {@linkcode prepareQuery} prepared. */
export type PreparedQuery = Awaited<ReturnType<typeof prepareQuery>>;

/** Runs `prepared` whole (DuckDB's errors made the vault's), then destroys it. */
export async function runPrepared(prepared: PreparedQuery) {
  try {
    return await prepared.run();
  } catch (e) {
    throw queryError(e);
  } finally {
    prepared.destroySync();
  }
}

export function queryError(e: unknown): VaultError {
  if (e instanceof VaultError) return e;
  const message = duckdbMessage(e);
  // The sandbox said no (a file read or write, an extension): like a
  // refused statement, that is the caller's input, not a failure.
  if (message.startsWith("Permission Error")) {
    return new InvalidInputError(
      `Refusing to open a file: queries on the catalog are read-only and every relation is inside the catalog (no file is needed). ${message}`,
      { cause: e },
    );
  }
  // A write hidden inside a reading statement (EXPLAIN ANALYZE INSERT ...).
  if (/attached in read-only mode/.test(message)) {
    return new InvalidInputError(
      `Refusing to write: queries on the catalog are read-only. ${message}`,
      { cause: e },
    );
  }
  return new VaultError(message, { cause: e });
}

export function mib(bytes: number): string {
  return `${+(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

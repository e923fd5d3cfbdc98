/**
 * Running user SQL for `VaultQuery`: statements checked by the SQL gate and
 * prepared, a time limit that interrupts DuckDB, and DuckDB's errors turned
 * into the vault's.
 *
 * @module
 */
import { duckdbMessage, toDuckDBParams } from "../duckdb/duckdb.ts";
import { type FunctionListStore, prepareReading } from "./sql_gate.ts";
import { InvalidInputError, VaultError } from "../errors.ts";
import type { DuckDBConnection } from "../duckdb/duckdb.ts";
import type { QueryParams } from "./types.ts";

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
) {
  const statements = await prepareReading(connection, sql, {
    readOnly: "queries on the catalog are read-only",
    toError: queryError,
    refused: (message) => new InvalidInputError(message),
    relations: createViews,
    functionList,
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

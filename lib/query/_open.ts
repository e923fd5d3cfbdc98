/**
 * Opening a vault's catalog for `VaultQuery`: the sandbox
 * (read-only, no file access, no extensions, configuration locked) and the
 * schema version check.
 *
 * @module
 */
import {
  type Database,
  duckdbMessage,
  openDatabase,
  SCHEMA_VERSION,
} from "../duckdb/duckdb.ts";
import { exists } from "../_fs.ts";
import { InvalidInputError, NotFoundError, VaultError } from "../errors.ts";
import { findVault, type VaultPaths, vaultPaths } from "../vault.ts";
import {
  DEFAULT_QUERY_TIMEOUT_SECONDS,
  MAX_RESULT_BYTES,
  type VaultQueryOptions,
} from "./types.ts";

/** The catalog opened read-only and sandboxed, with the checked limits. */
export interface OpenedCatalog {
  paths: VaultPaths;
  db: Database;
  /** Whether the catalog holds its `exp_` views (else made per query). */
  storedViews: boolean;
  timeoutSeconds: number;
  maxResultBytes: number;
}

/**
 * Checks the options, finds the vault and opens its catalog read-only with
 * no file access, no extension loading and the configuration locked.
 * Throws NotFoundError without a catalog, VaultError when it is unreadable
 * or of another schema version.
 */
export async function openCatalog(
  options: VaultQueryOptions,
): Promise<OpenedCatalog> {
  const timeout = options.timeoutSeconds ?? DEFAULT_QUERY_TIMEOUT_SECONDS;
  if (typeof timeout !== "number" || Number.isNaN(timeout) || timeout < 0) {
    throw new InvalidInputError(
      `Invalid "timeoutSeconds" ${
        JSON.stringify(timeout)
      }: give a number of seconds ≥ 0 (0 means no limit)`,
    );
  }
  const maxBytes = options.maxResultBytes ?? MAX_RESULT_BYTES;
  if (typeof maxBytes !== "number" || !(maxBytes > 0)) {
    throw new InvalidInputError(
      `Invalid "maxResultBytes" ${
        JSON.stringify(maxBytes)
      }: give a number of bytes > 0`,
    );
  }
  const paths = options.vault !== undefined
    ? vaultPaths(options.vault)
    : await findVault();
  if (!(await exists(paths.catalog))) {
    throw new NotFoundError(
      `No catalog at ${paths.catalog}: run \`deno task index\` first (it builds vault.duckdb from ${paths.specimens})`,
    );
  }
  let db: Database;
  try {
    db = await openDatabase(paths.catalog, {
      access_mode: "READ_ONLY",
      autoload_known_extensions: "false",
    }, { privateTemp: true });
  } catch (e) {
    throw new VaultError(
      `Cannot open the catalog ${paths.catalog} (${
        duckdbMessage(e)
      }): rebuild it with \`deno task index --full\``,
      { cause: e },
    );
  }
  try {
    const c = db.connection;
    const info = Object.fromEntries(
      (await c.runAndReadAll("SELECT key, value FROM vault_info"))
        .getRows() as [string, string][],
    );
    if (info.schema_version !== String(SCHEMA_VERSION)) {
      throw new VaultError(
        `The catalog ${paths.catalog} has schema version ${
          JSON.stringify(info.schema_version)
        }, this code reads ${SCHEMA_VERSION}: rebuild it with \`deno task index --full\``,
      );
    }
    // Every relation lives inside the catalog, so user SQL needs no file
    // at all: no file access means nothing can be written or read beside
    // it, not even by a statement's preparation (EXPORT DATABASE creates
    // its folder while being prepared). Locking comes last: after it,
    // nothing can be changed back.
    await c.run(
      `SET enable_external_access = false; SET lock_configuration = true;`,
    );
    return {
      paths,
      db,
      storedViews: info.views === "true",
      timeoutSeconds: timeout,
      maxResultBytes: maxBytes,
    };
  } catch (e) {
    db.close();
    if (e instanceof VaultError) throw e;
    throw new VaultError(
      `Cannot read the catalog ${paths.catalog} (${
        duckdbMessage(e)
      }): rebuild it with \`deno task index --full\``,
      { cause: e },
    );
  }
}

/**
 * {@linkcode VaultQuery}: SQL over the catalog (`vault.duckdb`), read-only.
 *
 * User SQL runs with least privilege: the catalog is opened read-only, only
 * SELECT queries run, checked on DuckDB's parse of them (see
 * `_sql_gate.ts`: allow-listed functions only), DuckDB may open no
 * file besides the catalog (`enable_external_access = false`: every relation
 * is inside the catalog, so none is needed), installs no extension, and the
 * configuration is locked so the SQL cannot undo any of it.
 *
 * @module
 */
import {
  cappedRows,
  type ColumnInfo,
  createExpViews,
  type Database,
  duckdbMessage,
  ident,
  literal,
  metricsTableName,
  openDatabase,
  plainConverter,
  readCapped,
  SCHEMA_VERSION,
  toDuckDBParams,
} from "../duckdb/duckdb.ts";
import { prepareReading } from "./sql_gate.ts";
import { exists, placeFile, tempPathFor } from "../_fs.ts";
import { jsonConverter } from "../duckdb/value_forms.ts";
import { InvalidInputError, NotFoundError, VaultError } from "../errors.ts";
import { findVault, type VaultPaths, vaultPaths } from "../vault.ts";

export type { ColumnInfo };

/** One result row: column name → plain JavaScript value. */
export type Row = Record<string, unknown>;

/** Query parameters: positional (`$1`, `?`) or named (`$name`). */
export type QueryParams = unknown[] | Record<string, unknown>;

/** A result with its column names and SQL types. */
export interface QueryResult {
  /** Columns in order: name and DuckDB type (`JSON` for JSON columns). */
  columns: ColumnInfo[];
  /** The rows, see {@linkcode VaultQuery.search} for the value types. */
  rows: Row[];
}

/**
 * How {@linkcode VaultQuery.run} gives values: `plain` JavaScript values
 * (see {@linkcode VaultQuery.search}); `sql`, each as DuckDB's own text
 * (`CAST(x AS VARCHAR)`: full precision, NULL as `null`); or `json`, a form
 * that JSON holds without loss (big integers and decimals as strings,
 * timestamps as ISO 8601 with their full fraction, blobs as base64).
 */
export type ValueForm = "plain" | "sql" | "json";

/** Options of {@linkcode VaultQuery.run}. */
export interface RunOptions {
  /** The form of the values. @default "plain" */
  values?: ValueForm;
}

/** Options of {@linkcode VaultQuery.open}. */
export interface VaultQueryOptions {
  /**
   * The vault root. Default: `$SPECIMEN_VAULT`, else the nearest folder at
   * or above the working directory that has `specimens/`.
   */
  vault?: string;
  /**
   * The longest a query may run, in seconds: a runaway query (a cross join,
   * a recursive CTE that never ends) is then interrupted with a
   * {@linkcode VaultError} naming the limit, and the connection stays
   * usable. `0` or `Infinity`: no limit.
   * @default {60}
   */
  timeoutSeconds?: number;
  /**
   * The most a result of {@linkcode VaultQuery.run} may hold, in bytes of
   * values (about the size of its JSON): a larger one is refused with a
   * {@linkcode VaultError} naming the limit, instead of failing deep inside
   * JavaScript ("Invalid string length") or taking the memory.
   * {@linkcode VaultQuery.writeParquet} streams and has no such limit.
   * @default {134217728} (128 MiB, {@linkcode MAX_RESULT_BYTES})
   */
  maxResultBytes?: number;
}

/** The size limit of a result unless {@linkcode VaultQueryOptions.maxResultBytes} says otherwise: 128 MiB. */
export const MAX_RESULT_BYTES = 128 * 1024 * 1024;

/** The time limit of a query unless {@linkcode VaultQueryOptions.timeoutSeconds} says otherwise. */
export const DEFAULT_QUERY_TIMEOUT_SECONDS = 60;

/** Filters of {@linkcode VaultQuery.specimens}; all optional, all must hold. */
export interface SpecimenFilter {
  /** Research domain, e.g. `"interpretability"`. */
  domain?: string;
  /** Method, e.g. `"sae_analysis"`. */
  method?: string;
  /** A tag the specimen must have. */
  tag?: string;
  /** Tags the specimen must all have. */
  tags?: string[];
  /** The model, e.g. `"gpt2"`. */
  model?: string;
  /** The status, e.g. `"active"`. */
  status?: string;
  /** Created at or after this instant. */
  since?: Date | string;
  /** Created before this instant. */
  until?: Date | string;
  /** At most this many (newest first). */
  limit?: number;
}

/** Options of {@linkcode VaultQuery.metricAcross}. */
export interface MetricAcrossOptions {
  /**
   * Which value per specimen: `"last"` / `"first"` (at the highest / lowest
   * `step`), `"min"`, `"max"`, `"mean"`, or a step number.
   * @default "last"
   */
  at?: "last" | "first" | "min" | "max" | "mean" | number;
  /** The metric table. @default "metrics" */
  table?: string;
  /** Only specimens of this domain. */
  domain?: string;
  /** Only specimens of this method. */
  method?: string;
  /** Only specimens with this tag. */
  tag?: string;
}

/**
 * A read-only connection to a vault's catalog.
 *
 * Values come back plain: integers as numbers (as `bigint` beyond 2^53),
 * `TIMESTAMPTZ`/`TIMESTAMP`/`DATE` as `Date`, lists as arrays, structs and
 * string-keyed maps as objects, JSON columns parsed.
 *
 * Every `exp_<id>` relation (one specimen's `strata/metrics.parquet`; also
 * `exp_<id>__<name>` for `strata/<name>.parquet`) works in any query; the
 * views a query mentions are created as it runs.
 *
 * Needs `--allow-read` on the vault, `--allow-ffi`, `--allow-env`,
 * `--allow-sys` (DuckDB).
 *
 * @example
 * ```ts ignore
 * import { VaultQuery } from "./vault_query.ts";
 * await using q = await VaultQuery.open({ vault: "." });
 * const rows = await q.search(
 *   "SELECT specimen_id, created FROM catalog WHERE array_contains(tags, $1)",
 *   ["gpt2"],
 * );
 * console.log(rows.length);
 * ```
 */
export class VaultQuery implements Disposable, AsyncDisposable {
  /** The vault's paths. */
  readonly paths: VaultPaths;
  #db: Database;
  #views = new Set<string>();
  #storedViews: boolean;
  #timeoutSeconds: number;
  #maxResultBytes: number;

  private constructor(
    paths: VaultPaths,
    db: Database,
    storedViews: boolean,
    timeoutSeconds: number,
    maxResultBytes: number,
  ) {
    this.paths = paths;
    this.#db = db;
    this.#storedViews = storedViews;
    this.#timeoutSeconds = timeoutSeconds;
    this.#maxResultBytes = maxResultBytes;
  }

  /**
   * Opens the catalog of a vault read-only. Throws {@linkcode NotFoundError}
   * when there is no catalog yet (run `deno task index`).
   *
   * @example
   * ```ts ignore
   * import { VaultQuery } from "./vault_query.ts";
   * using q = await VaultQuery.open();
   * console.log(await q.search("SELECT count(*) AS n FROM catalog"));
   * ```
   */
  static async open(options: VaultQueryOptions = {}): Promise<VaultQuery> {
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
      return new VaultQuery(
        paths,
        db,
        info.views === "true",
        timeout,
        maxBytes,
      );
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

  /**
   * Runs read-only SQL and returns its rows as plain objects. Several
   * statements may be given (`;`-separated): all run, the last one's rows are
   * returned. Writing statements are refused with an
   * {@linkcode InvalidInputError}; a DuckDB error becomes a
   * {@linkcode VaultError} whose message shows where in the SQL it is.
   *
   * @param sql DuckDB SQL.
   * @param params Values for `$1`/`?` (an array) or `$name` (an object).
   * @example
   * ```ts ignore
   * import { VaultQuery } from "./vault_query.ts";
   * using q = await VaultQuery.open();
   * const recent = await q.search(
   *   "SELECT * FROM catalog WHERE created >= $since ORDER BY created DESC",
   *   { since: new Date("2024-01-01") },
   * );
   * console.log(recent.map((r) => r.specimen_id));
   * ```
   */
  async search(sql: string, params?: QueryParams): Promise<Row[]> {
    return (await this.run(sql, params)).rows;
  }

  /**
   * Like {@linkcode VaultQuery.search}, with the result's column names and
   * types as well.
   *
   * @example
   * ```ts ignore
   * import { VaultQuery } from "./vault_query.ts";
   * using q = await VaultQuery.open();
   * const { columns } = await q.run("SELECT * FROM catalog LIMIT 0");
   * console.log(columns.map((c) => `${c.name} ${c.type}`));
   * ```
   */
  run(
    sql: string,
    params?: QueryParams,
    options: RunOptions = {},
  ): Promise<QueryResult> {
    const form = options.values ?? "plain";
    if (form === "sql") return this.#runSqlText(sql, params);
    return this.#timeLimited(async () => {
      const prepared = await this.#prepare(sql, params);
      try {
        const result = await prepared.stream();
        const columns = result.columnNames().map((name, i) => ({
          name,
          type: result.columnLogicalType(i).alias ??
            result.columnType(i).toString(),
        }));
        const max = this.#maxResultBytes;
        const read = await readCapped(result, {
          maxRows: Infinity,
          maxBytes: max,
          tooBig: (bytes) =>
            new VaultError(
              `The result passed ${mib(max)} (over ${
                mib(bytes)
              } read), the limit of a result held in memory: narrow it (LIMIT, WHERE, fewer columns), or write it to a file in chunks with \`deno task query --format parquet --out FILE\` (VaultQuery.writeParquet), which has no such limit`,
            ),
        }, form === "json" ? jsonConverter : plainConverter);
        return { columns, rows: cappedRows(read) };
      } catch (e) {
        throw queryError(e);
      } finally {
        prepared.destroySync();
      }
    });
  }

  /**
   * The result with each value as DuckDB's own text: the rows are copied
   * into an in-memory DuckDB, which casts them (so every type prints as
   * DuckDB prints it, nested ones included).
   */
  async #runSqlText(sql: string, params?: QueryParams): Promise<QueryResult> {
    const { out, columns, names } = await this.#materialize(sql, params);
    using _out = out;
    const reader = await out.connection.runAndReadAll(
      `SELECT ${
        names.map((n) => `CAST(${ident(n)} AS VARCHAR)`).join(", ")
      } FROM result ORDER BY rowid`,
    );
    const keys = names;
    const rows = (reader.getRows() as (string | null)[][]).map((values) =>
      Object.fromEntries(keys.map((k, i) => [k, values[i]]))
    );
    return { columns, rows };
  }

  /**
   * Runs user SQL and copies its result, with its column types, into table
   * `result` (columns named as the result's, made unique) of a new
   * in-memory DuckDB.
   */
  async #materialize(
    sql: string,
    params?: QueryParams,
  ): Promise<
    { out: Database; columns: ColumnInfo[]; names: string[]; rows: number }
  > {
    const result = await this.#timeLimited(async () => {
      const prepared = await this.#prepare(sql, params);
      try {
        return await prepared.run();
      } catch (e) {
        throw queryError(e);
      } finally {
        prepared.destroySync();
      }
    });
    const out = await openDatabase(":memory:", {}, { privateTemp: true });
    try {
      const names = result.deduplicatedColumnNames();
      const types = result.columnTypes();
      const columns = result.columnNames().map((name, i) => ({
        name,
        type: result.columnLogicalType(i).alias ?? types[i].toString(),
      }));
      await out.connection.run(
        `CREATE TABLE result (${
          names.map((n, i) => `${ident(n)} ${types[i].toString()}`).join(", ")
        })`,
      );
      const appender = await out.connection.createAppender("result");
      let rows = 0;
      try {
        for (;;) {
          const chunk = await result.fetchChunk();
          if (!chunk || chunk.rowCount === 0) break;
          appender.appendDataChunk(chunk);
          rows += chunk.rowCount;
        }
      } finally {
        appender.closeSync();
      }
      return { out, columns, names, rows };
    } catch (e) {
      out.close();
      throw e;
    }
  }

  /**
   * Runs read-only SQL and writes its result to a Parquet file at `path`
   * (atomically: temp file + rename), keeping DuckDB's column types. The
   * query itself cannot write files; a separate in-memory DuckDB writes it.
   * Returns the number of rows written.
   *
   * Needs `--allow-write` on `path`'s folder.
   *
   * @example
   * ```ts ignore
   * import { VaultQuery } from "./vault_query.ts";
   * using q = await VaultQuery.open();
   * await q.writeParquet("SELECT * FROM metrics", "all_metrics.parquet");
   * ```
   */
  async writeParquet(
    sql: string,
    path: string,
    params?: QueryParams,
  ): Promise<number> {
    const { out, rows } = await this.#materialize(sql, params);
    using _out = out;
    const tmp = tempPathFor(path);
    try {
      await out.connection.run(
        `COPY result TO ${literal(tmp)} (FORMAT parquet)`,
      );
      await placeFile(tmp, path, true);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      if (e instanceof Deno.errors.AlreadyExists) {
        throw new InvalidInputError(
          `Refusing to replace ${path}: it exists. Choose a new file name, or remove it first`,
          { cause: e },
        );
      }
      throw new VaultError(
        `Cannot write ${path}: ${duckdbMessage(e)}`,
        { cause: e },
      );
    }
    return rows;
  }

  /**
   * Specimens matching `filter`, newest first (every catalog column except
   * the raw `manifest` and `fingerprint`).
   *
   * @example
   * ```ts ignore
   * import { VaultQuery } from "./vault_query.ts";
   * using q = await VaultQuery.open();
   * const runs = await q.specimens({ domain: "interpretability", tag: "gpt2" });
   * console.log(runs.map((r) => r.specimen_id));
   * ```
   */
  async specimens(filter: SpecimenFilter = {}): Promise<Row[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    for (const key of ["domain", "method", "model", "status"] as const) {
      if (filter[key] !== undefined) {
        where.push(`${key} = $${key}`);
        params[key] = filter[key];
      }
    }
    const tags = [...(filter.tags ?? [])];
    if (filter.tag !== undefined) tags.push(filter.tag);
    if (tags.length) {
      where.push(`list_has_all(tags, $tags::VARCHAR[])`);
      params.tags = tags;
    }
    for (const [key, op] of [["since", ">="], ["until", "<"]] as const) {
      const v = filter[key];
      if (v === undefined) continue;
      const date = v instanceof Date ? v : new Date(v);
      if (Number.isNaN(date.getTime())) {
        throw new InvalidInputError(
          `Invalid "${key}" ${
            JSON.stringify(v)
          }: pass a Date or an ISO-8601 string, e.g. 2024-01-01T00:00:00Z`,
        );
      }
      where.push(`created ${op} $${key}`);
      params[key] = date;
    }
    let limit = "";
    if (filter.limit !== undefined) {
      if (!Number.isInteger(filter.limit) || filter.limit < 0) {
        throw new InvalidInputError(
          `Invalid "limit" ${
            JSON.stringify(filter.limit)
          }: pass a whole number ≥ 0`,
        );
      }
      limit = ` LIMIT ${filter.limit}`;
    }
    return await this.search(
      `SELECT * EXCLUDE (manifest, fingerprint) FROM catalog${
        where.length ? ` WHERE ${where.join(" AND ")}` : ""
      } ORDER BY created DESC, specimen_id${limit}`,
      params,
    );
  }

  /**
   * One specimen's metric rows (`exp_<id>`, or `exp_<id>__<name>` for
   * `strata/<name>.parquet`), in file order. Throws {@linkcode NotFoundError}
   * when the catalog has no such table.
   *
   * @example
   * ```ts ignore
   * import { VaultQuery } from "./vault_query.ts";
   * using q = await VaultQuery.open();
   * const rows = await q.specimenMetrics("2024_01_01_run_000000");
   * console.log(rows.at(-1)?.loss);
   * ```
   */
  async specimenMetrics(
    id: string,
    options: { name?: string } = {},
  ): Promise<Row[]> {
    const name = options.name ?? "metrics";
    const found = await this.search(
      "SELECT relation, issue FROM metric_tables WHERE specimen_id = $1 AND name = $2",
      [id, name],
    );
    if (found.length === 0 || found[0].relation === null) {
      throw new NotFoundError(
        `No metric table "${name}" for specimen ${
          JSON.stringify(id)
        } in ${this.paths.catalog}${
          found[0]?.issue ? ` (${found[0].issue})` : ""
        }: check the id (SELECT specimen_id, name FROM metric_tables), or run \`deno task index\` if it is new`,
      );
    }
    return await this.search(
      `SELECT * FROM ${ident(String(found[0].relation))}`,
    );
  }

  /**
   * One metric across specimens: a row per specimen with `specimen_id`,
   * `domain`, `method`, `step` (for `last`, `first` or a step number) and
   * `value`, ordered by `specimen_id`.
   *
   * @param column A column of the metric table, e.g. `"loss"`.
   * @example
   * ```ts ignore
   * import { VaultQuery } from "./vault_query.ts";
   * using q = await VaultQuery.open();
   * const finalLoss = await q.metricAcross("loss", { domain: "interpretability" });
   * console.log(finalLoss[0]); // { specimen_id, domain, method, step, value }
   * ```
   */
  async metricAcross(
    column: string,
    options: MetricAcrossOptions = {},
  ): Promise<Row[]> {
    const table = metricsTableName(options.table ?? "metrics");
    const columns = (await this.search(
      "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $1",
      [table],
    )).map((r) => String(r.column_name));
    if (columns.length === 0) {
      throw new NotFoundError(
        `No metric table ${
          JSON.stringify(options.table ?? "metrics")
        } in the catalog: see SELECT DISTINCT name FROM metric_tables`,
      );
    }
    if (!columns.includes(column) || column === "specimen_id") {
      throw new InvalidInputError(
        `No metric column ${
          JSON.stringify(column)
        } in "${table}": its columns are ${
          columns.filter((c) => c !== "specimen_id").join(", ")
        }`,
      );
    }
    const at = options.at ?? "last";
    const col = `m.${ident(column)}`;
    const needsStep = at === "last" || at === "first" ||
      typeof at === "number";
    if (needsStep && !columns.includes("step")) {
      throw new InvalidInputError(
        `"${table}" has no "step" column, so at: ${
          JSON.stringify(at)
        } has no meaning: use "min", "max" or "mean"`,
      );
    }
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    let select: string;
    switch (at) {
      case "last":
        select = `arg_max(${col}, m.step) AS value, max(m.step) AS step`;
        break;
      case "first":
        select = `arg_min(${col}, m.step) AS value, min(m.step) AS step`;
        break;
      case "min":
      case "max":
        select = `${at}(${col}) AS value`;
        break;
      case "mean":
        select = `avg(${col}) AS value`;
        break;
      default:
        if (typeof at !== "number" || !Number.isFinite(at)) {
          throw new InvalidInputError(
            `Invalid "at" ${
              JSON.stringify(at)
            }: use "last", "first", "min", "max", "mean" or a step number`,
          );
        }
        select = `any_value(${col}) AS value, any_value(m.step) AS step`;
        where.push("m.step = $step");
        params.step = at;
    }
    for (const key of ["domain", "method"] as const) {
      if (options[key] !== undefined) {
        where.push(`c.${key} = $${key}`);
        params[key] = options[key];
      }
    }
    if (options.tag !== undefined) {
      where.push("array_contains(c.tags, $tag)");
      params.tag = options.tag;
    }
    return await this.search(
      `SELECT m.specimen_id, c.domain, c.method, ${select}
       FROM ${ident(table)} m JOIN catalog c USING (specimen_id)
       ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       GROUP BY m.specimen_id, c.domain, c.method ORDER BY m.specimen_id`,
      params,
    );
  }

  /**
   * Closes the connection (also done by `using` / `await using`).
   *
   * @example
   * ```ts ignore
   * import { VaultQuery } from "./vault_query.ts";
   * const q = await VaultQuery.open();
   * q.close();
   * ```
   */
  close(): void {
    this.#db.close();
  }

  /** Closes the connection. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Closes the connection. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /**
   * Runs `work`, interrupting DuckDB when it takes longer than the time
   * limit: then a {@linkcode VaultError} names the limit and the fix.
   */
  async #timeLimited<T>(work: () => Promise<T>): Promise<T> {
    const seconds = this.#timeoutSeconds;
    if (!(seconds > 0 && Number.isFinite(seconds))) return await work();
    let fired = false;
    const timer = setTimeout(() => {
      fired = true;
      this.#db.connection.interrupt();
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
  async #prepare(sql: string, params?: QueryParams) {
    const statements = await prepareReading(this.#db.connection, sql, {
      readOnly: "queries on the catalog are read-only",
      toError: queryError,
      refused: (message) => new InvalidInputError(message),
      relations: (names) => this.#createViews(names),
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

  /** Creates the `exp_` views `sql` mentions that are not there yet. */
  async #createViews(names: string[]) {
    if (this.#storedViews) return;
    await createExpViews(this.#db.connection, names, this.#views);
  }
}

function queryError(e: unknown): VaultError {
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

function mib(bytes: number): string {
  return `${+(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

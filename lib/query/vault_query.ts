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
  createExpViews,
  type Database,
  ident,
  metricsTableName,
} from "../duckdb/duckdb.ts";
import { NotFoundError } from "../errors.ts";
import type { VaultPaths } from "../vault.ts";
import { openCatalog } from "./_open.ts";
import { readFunctionList } from "../duckdb/function_list.ts";
import {
  prepareQuery,
  runPrepared,
  runUserQuery,
  timeLimited,
} from "./_run.ts";
import {
  copyToMemory,
  type Materialized,
  writeResultParquet,
} from "./_materialize.ts";
import { metricAcrossQuery, specimensQuery } from "./_typed.ts";
import {
  checkMetricColumn,
  metricColumns,
  noMetricTable,
} from "./_metric_columns.ts";
import { diffParams, type Params } from "../specimen/params.ts";
import type {
  CompareOptions,
  CompareResult,
  MetricAcrossOptions,
  QueryParams,
  QueryResult,
  Row,
  RunOptions,
  SpecimenFilter,
  VaultQueryOptions,
} from "./types.ts";

export {
  type ColumnInfo,
  type CompareOptions,
  type CompareResult,
  DEFAULT_QUERY_TIMEOUT_SECONDS,
  MAX_RESULT_BYTES,
  type MetricAcrossOptions,
  type MetricSummary,
  type QueryParams,
  type QueryResult,
  type Row,
  type RunOptions,
  type SpecimenFilter,
  type ValueForm,
  type VaultQueryOptions,
} from "./types.ts";

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
    const o = await openCatalog(options);
    return new VaultQuery(
      o.paths,
      o.db,
      o.storedViews,
      o.timeoutSeconds,
      o.maxResultBytes,
    );
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
    return runUserQuery(this.#db.connection, sql, params, {
      values: options.values ?? "plain",
      timeoutSeconds: this.#timeoutSeconds,
      maxResultBytes: this.#maxResultBytes,
      createViews: (names) => this.#createViews(names),
      functionList: () => readFunctionList(this.paths.catalog),
    });
  }

  /**
   * Runs user SQL and copies its result, with its column types, into table
   * `result` (columns named as the result's, made unique) of a new
   * in-memory DuckDB.
   */
  async #materialize(
    sql: string,
    params?: QueryParams,
  ): Promise<Materialized> {
    const result = await this.#timeLimited(async () =>
      runPrepared(await this.#prepare(sql, params))
    );
    return await copyToMemory(result);
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
    await writeResultParquet(out, path);
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
    const { sql, params } = specimensQuery(filter);
    return await this.search(sql, params);
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
    const columns = await metricColumns((sql, p) => this.search(sql, p), table);
    if (columns.length === 0) throw noMetricTable(options.table ?? "metrics");
    checkMetricColumn(column, table, columns);
    const { sql, params } = metricAcrossQuery(
      table,
      column,
      columns,
      options,
    );
    return await this.search(sql, params);
  }

  /**
   * The params map of one specimen, as its manifest holds it (`{}` for a
   * specimen without params, e.g. one of the original Python vault). Throws
   * {@linkcode NotFoundError} when the catalog has no such specimen.
   *
   * @example
   * ```ts
   * import { createSpecimen } from "../specimen/create.ts";
   * import { indexVault } from "../catalog/index_vault.ts";
   * import { VaultQuery } from "./vault_query.ts";
   * const vault = await Deno.makeTempDir();
   * await Deno.mkdir(`${vault}/specimens`);
   * const params = { lr: 3e-4, optimizer: { name: "adam" } };
   * await createSpecimen({ vault, id: "run_a", domain: "training", method: "fine_tuning", params });
   * await indexVault({ vault });
   * using q = await VaultQuery.open({ vault });
   * console.assert(JSON.stringify(await q.paramsOf("run_a")) === JSON.stringify(params));
   * console.assert((await q.specimens({ params: { "optimizer.name": "adam" } })).length === 1);
   * await Deno.remove(vault, { recursive: true });
   * ```
   */
  async paramsOf(id: string): Promise<Params> {
    return (await this.#paramsOfAll([id]))[0].params;
  }

  /**
   * Compares specimens: their params side by side (every leaf key, with
   * `differs` set where the values are not all equal: filter on it for a
   * "diff only" view), and a summary of one metric per specimen: `final`
   * (at the highest `step`), `min`, `max`, and `rows`. A specimen without
   * that metric gets nulls and 0 rows. Throws {@linkcode NotFoundError} for
   * an unknown id or metric table, {@linkcode InvalidInputError} for a
   * column the table lacks.
   *
   * @param ids The specimens, in the order wanted.
   * @param options `metric` (default `"loss"`) and `table` (default `"metrics"`).
   *
   * @example
   * ```ts
   * import { createSpecimen } from "../specimen/create.ts";
   * import { indexVault } from "../catalog/index_vault.ts";
   * import { VaultQuery } from "./vault_query.ts";
   * const vault = await Deno.makeTempDir();
   * await Deno.mkdir(`${vault}/specimens`);
   * for (const [id, lr] of [["run_a", 1e-3], ["run_b", 1e-4]] as const) {
   *   await createSpecimen({ vault, id, domain: "training", method: "fine_tuning", params: { lr, seed: 1 } });
   * }
   * await indexVault({ vault });
   * using q = await VaultQuery.open({ vault });
   * const { params, metric } = await q.compare(["run_a", "run_b"]);
   * console.assert(params.filter((r) => r.differs).map((r) => r.key).join() === "lr");
   * console.assert(metric.length === 2 && metric[0].final === null); // no metrics yet
   * await Deno.remove(vault, { recursive: true });
   * ```
   */
  async compare(
    ids: string[],
    options: CompareOptions = {},
  ): Promise<CompareResult> {
    const list = await this.#paramsOfAll(ids);
    const column = options.metric ?? "loss";
    const table = metricsTableName(options.table ?? "metrics");
    const columns = await metricColumns((sql, p) => this.search(sql, p), table);
    const byId = new Map<string, Row>();
    // `metrics` exists (with `specimen_id` only) before any specimen has one.
    const noMetricsYet = options.table === undefined &&
      columns.every((c) => c === "specimen_id");
    if (!noMetricsYet) {
      if (columns.length === 0) throw noMetricTable(options.table);
      checkMetricColumn(column, table, columns);
      const col = `m.${ident(column)}`;
      const final = columns.includes("step")
        ? `arg_max(${col}, m.step) FILTER (WHERE ${col} IS NOT NULL)`
        : "NULL";
      for (
        const r of await this.search(
          `SELECT m.specimen_id, ${final}::DOUBLE AS final, min(${col})::DOUBLE AS min,
             max(${col})::DOUBLE AS max, count(*) AS rows
           FROM ${ident(table)} m
           WHERE list_contains($ids::VARCHAR[], m.specimen_id)
           GROUP BY m.specimen_id`,
          { ids },
        )
      ) byId.set(String(r.specimen_id), r);
    }
    return {
      params: diffParams(list),
      metric: ids.map((id) => {
        const r = byId.get(id);
        return {
          specimen_id: id,
          final: (r?.final ?? null) as number | null,
          min: (r?.min ?? null) as number | null,
          max: (r?.max ?? null) as number | null,
          rows: Number(r?.rows ?? 0),
        };
      }),
    };
  }

  async #paramsOfAll(ids: string[]): Promise<{ id: string; params: Params }[]> {
    const found = new Map<string, Params>();
    for (
      const r of await this.search(
        "SELECT specimen_id, params::VARCHAR AS params FROM catalog WHERE list_contains($ids::VARCHAR[], specimen_id)",
        { ids },
      )
    ) {
      found.set(
        String(r.specimen_id),
        r.params === null ? {} : JSON.parse(String(r.params)),
      );
    }
    return ids.map((id) => {
      const params = found.get(id);
      if (params === undefined) {
        throw new NotFoundError(
          `No specimen ${
            JSON.stringify(id)
          } in the catalog: check the id (SELECT specimen_id FROM catalog), or run \`deno task index\` if it is new`,
        );
      }
      return { id, params };
    });
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

  /** Runs `work` under this connection's time limit. */
  #timeLimited<T>(work: () => Promise<T>): Promise<T> {
    return timeLimited(this.#db.connection, this.#timeoutSeconds, work);
  }

  /** Checks every statement, creates the views it needs, prepares the last. */
  #prepare(sql: string, params?: QueryParams) {
    return prepareQuery(
      this.#db.connection,
      sql,
      params,
      (names) => this.#createViews(names),
      () => readFunctionList(this.paths.catalog),
    );
  }

  /** Creates the `exp_` views `sql` mentions that are not there yet. */
  async #createViews(names: string[]) {
    if (this.#storedViews) return;
    await createExpViews(this.#db.connection, names, this.#views);
  }
}

/**
 * The dashboard: a local web app over a vault's catalog, served by Deno.
 * Pages (catalog, specimen, compare, SQL console) are one static page and a
 * script, kept in memory; everything else is a read-only JSON API:
 *
 * | route | what |
 * | --- | --- |
 * | `GET /api/info` | the vault, the catalog's state, the limits |
 * | `GET /api/catalog?q&notes&domain&method&model&status&tag&since&until&result&sort&order&limit&offset` | a page of specimens (with result columns), the count matching, facets |
 * | `GET /api/specimens/:id` | catalog row, metric tables, tensors, field notes as safe HTML, the last run's outcome |
 * | `GET /api/specimens/:id/histograms` | imported histograms as quantiles per step |
 * | `GET /api/specimens/:id/tensors/:name?sel=0:100,0:512` | a 2-D slice for a heatmap |
 * | `GET /api/specimens/:id/files/:name` | a kept file (`strata/files/`), sandboxed by CSP; images inline, others as attachments |
 * | `GET /api/columns?ids&table` | numeric metric columns across specimens |
 * | `GET /api/curves?ids&columns&table&x0&x1&width&full` | curves, min/max-downsampled in SQL to ≤ 2 points per pixel |
 * | `GET /api/summary?ids&column&table` | final / min / max per specimen |
 * | `POST /api/sql {sql, format}` | read-only SQL, JSON or CSV |
 *
 * `HEAD` works on every `GET` route (same status and headers, no body).
 * A request body may hold at most {@linkcode MAX_BODY_BYTES} (1 MiB): a
 * larger one is refused with 413 before it is read (by its
 * `Content-Length`) or as soon as it passes the limit (chunked).
 *
 * Safety: assets come from a fixed in-memory map (no file is served by
 * path); ids and names are checked by the vault's rules before they reach a
 * path or SQL; SQL is read-only and cannot touch files (DuckDB's external
 * access is off), and every query stops at a time and a row limit. On a
 * loopback address only requests naming that address in `Host` are
 * answered (no DNS rebinding), and the SQL endpoint wants a JSON body from
 * the same origin.
 *
 * @module
 */
import type { ApiContext } from "./_api.ts";
import { LiveCatalog } from "./_db.ts";
import { errorResponse, headOnly, withHeaders } from "./_http.ts";
import { routeRequest } from "./_routes.ts";
import { OutputCache } from "./_output_cache.ts";
import { NotesSearch } from "./_notes_search.ts";
import { AutoIndexer } from "./_auto_index.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { findVault, type VaultPaths, vaultPaths } from "../vault.ts";
import {
  announceQueryServer,
  type VaultIdentity,
} from "../query/query_server.ts";

export type { VaultPaths };
export { MAX_BODY_BYTES } from "./_http.ts";

/**
 * Options of {@linkcode createDashboard}.
 *
 * @example
 * ```ts
 * import type { DashboardOptions } from "./server.ts";
 * const options: DashboardOptions = { vault: ".", queryTimeoutMs: 30_000 };
 * ```
 */
export interface DashboardOptions {
  /**
   * The vault root. Default: `$SPECIMEN_VAULT`, else the nearest folder at
   * or above the working directory that has `specimens/`.
   */
  vault?: string;
  /** Time limit of every query, in milliseconds. @default 10000 */
  queryTimeoutMs?: number;
  /** Rows the SQL console shows at most. @default 10000 */
  sqlMaxRows?: number;
  /** Rows a CSV download holds at most. @default 100000 */
  csvMaxRows?: number;
  /** DuckDB's memory limit for the dashboard's queries. @default "2GB" */
  memoryLimit?: string;
  /**
   * Keep the catalog up to date: check the change journal every
   * `autoIndexMs` and index what changed (needs `--allow-write` on the
   * vault). The page says when it last updated.
   * @default false
   */
  autoIndex?: boolean;
  /** Milliseconds between two checks of `autoIndex`. @default 1000 */
  autoIndexMs?: number;
}

/**
 * A dashboard app: a request handler over one vault.
 *
 * @example
 * ```ts ignore
 * import { createDashboard } from "./server.ts";
 * await using dash = await createDashboard({ vault: "." });
 * Deno.serve({ port: 0 }, dash.handler);
 * ```
 */
export interface Dashboard extends AsyncDisposable {
  /** The vault's paths. */
  readonly paths: VaultPaths;
  /** Answers one request. */
  handler(request: Request): Promise<Response>;
  /**
   * Answers only requests whose `Host` is one of `hosts` (`name:port`);
   * `null` answers any.
   */
  allowHosts(hosts: string[] | null): void;
  /**
   * Answers `POST /api/cli/query` (`deno task query`'s server) for requests
   * carrying `token`, about the folder `vault`.
   */
  enableQueryServer(token: string, vault: VaultIdentity): void;
  /** Interrupts running queries and closes the catalog. */
  close(): void;
}

/**
 * Creates the dashboard app for a vault. The catalog need not exist yet:
 * the pages say to run `deno task index`, and pick it up when it appears.
 * A new catalog (after `deno task index`, or the `autoIndex` option's own
 * index) is seen on the next request.
 *
 * Needs `--allow-read` (the vault), `--allow-ffi`, `--allow-env`,
 * `--allow-sys` (DuckDB).
 *
 * @example
 * ```ts ignore
 * import { createDashboard } from "./server.ts";
 * await using dash = await createDashboard({ vault: "." });
 * const res = await dash.handler(new Request("http://localhost/api/catalog"));
 * console.log((await res.json()).total);
 * ```
 */
export async function createDashboard(
  options: DashboardOptions = {},
): Promise<Dashboard> {
  const paths = options.vault !== undefined
    ? vaultPaths(options.vault)
    : await findVault();
  try {
    if (!(await Deno.stat(paths.root)).isDirectory) throw new Error();
  } catch {
    throw new NotFoundError(
      `Vault folder ${
        JSON.stringify(paths.root)
      } does not exist: pass an existing folder with --vault`,
    );
  }
  const positive = (name: string, v: number | undefined, dflt: number) => {
    if (v === undefined) return dflt;
    if (!Number.isInteger(v) || v < 1) {
      throw new InvalidInputError(
        `Invalid ${name} ${JSON.stringify(v)}: pass a whole number ≥ 1`,
      );
    }
    return v;
  };
  const timeoutMs = positive("queryTimeoutMs", options.queryTimeoutMs, 10_000);
  const catalog = new LiveCatalog(paths, { memoryLimit: options.memoryLimit });
  const ctx: ApiContext = {
    catalog,
    limits: { timeoutMs, maxRows: 10_000 },
    sqlLimits: {
      timeoutMs,
      maxRows: positive("sqlMaxRows", options.sqlMaxRows, 10_000),
    },
    csvMaxRows: positive("csvMaxRows", options.csvMaxRows, 100_000),
    notes: new NotesSearch(paths.root),
  };
  const autoIndex = options.autoIndex
    ? new AutoIndexer(
      paths.root,
      positive("autoIndexMs", options.autoIndexMs, 1000),
    )
    : null;
  if (autoIndex) ctx.autoIndex = autoIndex.state;
  let allowed: Set<string> | null = null;

  const route = (req: Request) => routeRequest(ctx, req, allowed);

  const close = () => {
    autoIndex?.stop();
    catalog.close();
  };
  autoIndex?.start();
  return {
    paths,
    handler: async (req) => {
      let res: Response;
      try {
        res = withHeaders(await route(req));
      } catch (e) {
        res = withHeaders(errorResponse(e));
      }
      // HEAD: what GET answers, without the body.
      return req.method === "HEAD" ? await headOnly(res) : res;
    },
    allowHosts(hosts) {
      allowed = hosts ? new Set(hosts.map((h) => h.toLowerCase())) : null;
    },
    enableQueryServer(token, vault) {
      ctx.queryServer = { token, vault, cache: new OutputCache() };
    },
    close,
    [Symbol.asyncDispose]: async () => {
      await autoIndex?.stop();
      close();
    },
  };
}

/**
 * Whether `host` is a loopback address or name (127.0.0.0/8, ::1,
 * localhost), reachable only from this machine.
 *
 * @example
 * ```ts
 * import { isLoopbackHost } from "./server.ts";
 * console.assert(isLoopbackHost("127.0.0.1") && isLoopbackHost("::1"));
 * console.assert(!isLoopbackHost("0.0.0.0"));
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Options of {@linkcode serveDashboard}.
 *
 * @example
 * ```ts
 * import type { ServeDashboardOptions } from "./server.ts";
 * const options: ServeDashboardOptions = { port: 0, hostname: "127.0.0.1" };
 * ```
 */
export interface ServeDashboardOptions extends DashboardOptions {
  /** The port; 0 picks a free one. @default 8765 */
  port?: number;
  /**
   * The address to listen on. Anything but a loopback address makes the
   * vault readable by the network: pass one only on purpose.
   * @default "127.0.0.1"
   */
  hostname?: string;
  /**
   * Answer `deno task query` for the vault: write `vault.duckdb.server`
   * beside the catalog (this server's loopback address, port, pid and a
   * random token; mode 0600) and take queries carrying the token; the file
   * is removed on shutdown. Only on a loopback address; without write
   * permission in the vault the server runs without it
   * (`RunningDashboard.queryServerFile` is then null).
   * @default false
   */
  queryServer?: boolean;
}

/**
 * A running dashboard server.
 *
 * @example
 * ```ts ignore
 * import { serveDashboard } from "./server.ts";
 * const server = await serveDashboard({ port: 0 });
 * console.log(server.url);
 * await server.shutdown();
 * ```
 */
export interface RunningDashboard extends AsyncDisposable {
  /** The address to open, e.g. `http://127.0.0.1:8765/`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** The app it serves. */
  readonly dashboard: Dashboard;
  /** The server file `deno task query` finds it by, or null for none. */
  readonly queryServerFile: string | null;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Stops the server: running queries are interrupted. */
  shutdown(): Promise<void>;
}

/**
 * Serves the dashboard with `Deno.serve` on `hostname:port` (loopback by
 * default). Throws an {@linkcode InvalidInputError} naming the fix when the
 * port is taken or the address is not allowed.
 *
 * Needs `--allow-net` for the address, plus what
 * {@linkcode createDashboard} needs.
 *
 * @example
 * ```ts ignore
 * import { serveDashboard } from "./server.ts";
 * await using server = await serveDashboard({ vault: ".", port: 0 });
 * console.log(`open ${server.url}`);
 * ```
 */
export async function serveDashboard(
  options: ServeDashboardOptions = {},
): Promise<RunningDashboard> {
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 8765;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidInputError(
      `Invalid port ${
        JSON.stringify(port)
      }: pass 0 to 65535 (0: any free port)`,
    );
  }
  const dashboard = await createDashboard(options);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve(
      { hostname, port, onListen: () => {} },
      (req) => dashboard.handler(req),
    );
  } catch (e) {
    dashboard.close();
    const shown = `${hostname}:${port}`;
    if (e instanceof Deno.errors.AddrInUse) {
      throw new InvalidInputError(
        `Port ${port} on ${hostname} is in use: pass another --port, or --port 0 for a free one`,
        { cause: e },
      );
    }
    if (e instanceof Deno.errors.NotCapable) {
      throw new InvalidInputError(
        `Not allowed to listen on ${shown} (${
          (e as Error).message
        }): the serve task may listen on loopback only; to serve on ${hostname}, run deno run with --allow-net=${hostname} (see deno task serve --help)`,
        { cause: e },
      );
    }
    throw new InvalidInputError(
      `Cannot listen on ${shown}: ${
        (e as Error).message
      }: check --host and --port`,
      { cause: e },
    );
  }
  const actual = server.addr.port;
  const urlHost = hostname.includes(":") && !hostname.startsWith("[")
    ? `[${hostname}]`
    : hostname;
  const loopback = isLoopbackHost(hostname);
  dashboard.allowHosts(
    loopback
      ? [urlHost, "127.0.0.1", "localhost", "[::1]"].map((h) =>
        `${h}:${actual}`
      )
      : null,
  );
  const shown = hostname === "0.0.0.0" || hostname === "::"
    ? "127.0.0.1"
    : urlHost;
  const announced = options.queryServer && loopback
    ? await announceQueryServer(dashboard.paths.root, {
      host: hostname,
      port: actual,
    }).catch(() => undefined)
    : undefined;
  if (announced) dashboard.enableQueryServer(announced.token, announced.vault);
  let stopped = false;
  const shutdown = async () => {
    if (stopped) return await server.finished;
    stopped = true;
    await announced?.remove();
    // Waits for a running automatic index, then closes the catalog.
    await dashboard[Symbol.asyncDispose]();
    await server.shutdown();
  };
  return {
    url: `http://${shown}:${actual}/`,
    port: actual,
    dashboard,
    queryServerFile: announced?.path ?? null,
    finished: server.finished,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/**
 * The dashboard: a local web app over a vault's catalog, served by Deno.
 * Pages (catalog, specimen, compare, SQL console) are one static page and a
 * script, kept in memory; everything else is a read-only JSON API:
 *
 * | route | what |
 * | --- | --- |
 * | `GET /api/info` | the vault, the catalog's state, the limits |
 * | `GET /api/catalog?q&domain&method&model&status&tag&since&until&sort&order&limit&offset` | a page of specimens, the count matching, facets |
 * | `GET /api/specimens/:id` | catalog row, metric tables, tensors, field notes as safe HTML |
 * | `GET /api/specimens/:id/tensors/:name?sel=0:100,0:512` | a 2-D slice for a heatmap |
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
import {
  type ApiContext,
  catalogPage,
  columns,
  curves,
  info,
  specimen,
  sql,
  summary,
  tensor,
} from "./_api.ts";
import { ASSETS, INDEX_HTML } from "./_assets.ts";
import {
  LiveCatalog,
  QueryRefusedError,
  QueryTimeoutError,
  ResultTooLargeError,
  SqlError,
} from "./_db.ts";
import { toJson } from "../duckdb/duckdb.ts";
import {
  errorMessage,
  InvalidInputError,
  NotFoundError,
  UnsafeFileError,
  UnsupportedFormatError,
  VaultError,
} from "../errors.ts";
import { findVault, type VaultPaths, vaultPaths } from "../vault.ts";

export type { VaultPaths };

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
  /** Interrupts running queries and closes the catalog. */
  close(): void;
}

/**
 * The largest request body the dashboard reads: 1 MiB (a SQL query is a
 * few KB). A larger one gets 413 without being buffered.
 *
 * @example
 * ```ts
 * import { MAX_BODY_BYTES } from "./server.ts";
 * console.assert(MAX_BODY_BYTES === 1024 * 1024);
 * ```
 */
export const MAX_BODY_BYTES = 1 << 20;

function tooLarge(): Response {
  return json({
    error:
      `The request body is larger than ${MAX_BODY_BYTES} bytes (1 MiB), the dashboard's limit: send a shorter query`,
    kind: "too_large",
  }, 413);
}

/**
 * The body of `req`, read up to MAX_BODY_BYTES: null (and the stream
 * cancelled) as soon as it is larger, before buffering the rest.
 */
async function limitedBody(
  req: Request,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const declared = req.headers.get("content-length");
  if (declared !== null && !(Number(declared) <= MAX_BODY_BYTES)) {
    await req.body?.cancel().catch(() => {});
    return null;
  }
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

function json(value: unknown, status = 200, fast = false): Response {
  return new Response(fast ? JSON.stringify(value) : toJson(value), {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
    },
  });
}

function errorKind(e: unknown): [number, string] {
  if (e instanceof QueryRefusedError) return [403, "refused"];
  if (e instanceof SqlError) return [400, "sql"];
  if (e instanceof ResultTooLargeError) return [413, "too_large"];
  if (e instanceof QueryTimeoutError) return [503, "timeout"];
  if (e instanceof NotFoundError) {
    return e.message.startsWith("No catalog")
      ? [503, "no_catalog"]
      : [404, "not_found"];
  }
  if (e instanceof InvalidInputError) return [400, "invalid"];
  if (e instanceof UnsupportedFormatError) return [422, "unsupported"];
  if (e instanceof UnsafeFileError) return [403, "unsafe_file"];
  if (e instanceof VaultError) return [500, "vault"];
  return [500, "internal"];
}

function errorResponse(e: unknown): Response {
  const [status, kind] = errorKind(e);
  if (kind === "internal") {
    console.error(
      `dashboard: ${errorMessage(e, { stack: true })}`,
    );
  }
  const message = errorMessage(e);
  return json({ error: message, kind }, status);
}

function withHeaders(res: Response): Response {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) {
    if (!res.headers.has(k)) res.headers.set(k, v);
  }
  return res;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InvalidInputError(
      `Invalid path segment ${
        JSON.stringify(segment)
      }: it is not valid percent-encoding`,
    );
  }
}

function notFound(path: string): Response {
  return path.startsWith("/api/")
    ? json({
      error: `No API route ${JSON.stringify(path)}: see GET /api/info`,
      kind: "not_found",
    }, 404)
    : new Response("Not found\n", {
      status: 404,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
}

/**
 * Creates the dashboard app for a vault. The catalog need not exist yet:
 * the pages say to run `deno task index`, and pick it up when it appears.
 * A new catalog (after `deno task index`) is seen on the next request.
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
  };
  let allowed: Set<string> | null = null;

  async function route(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (
      allowed && !allowed.has((req.headers.get("host") ?? "").toLowerCase())
    ) {
      return new Response(
        `Host ${
          JSON.stringify(req.headers.get("host"))
        } is not this dashboard's address: open ${[...allowed][0]}\n`,
        { status: 403, headers: { "content-type": "text/plain" } },
      );
    }
    const path = url.pathname;
    if (req.method === "POST" && path === "/api/sql") {
      const type = req.headers.get("content-type") ?? "";
      const origin = req.headers.get("origin");
      if (!type.toLowerCase().startsWith("application/json")) {
        throw new InvalidInputError(
          `POST /api/sql takes a JSON body: send Content-Type: application/json (got ${
            JSON.stringify(type)
          })`,
        );
      }
      // An opaque origin ("null", sandboxed frames) is not this page either.
      if (origin !== null && origin !== `${url.protocol}//${url.host}`) {
        return json({
          error: `Cross-origin request from ${origin} refused`,
          kind: "refused",
        }, 403);
      }
      const body = await limitedBody(req);
      if (body === null) return tooLarge();
      return await sql(
        ctx,
        new Request(req.url, { method: "POST", headers: req.headers, body }),
      );
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      await req.body?.cancel().catch(() => {});
      const res = json({
        error:
          `Method ${req.method} is not allowed: the dashboard only reads (GET, HEAD; POST for /api/sql)`,
        kind: "method",
      }, 405);
      res.headers.set("allow", "GET, HEAD, POST");
      return res;
    }
    if (path === "/" || path === "/index.html") {
      return new Response(INDEX_HTML, {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-cache",
        },
      });
    }
    const asset = ASSETS.get(path);
    if (asset) {
      return new Response(asset.body, {
        headers: { "content-type": asset.type, "cache-control": "no-cache" },
      });
    }
    if (!path.startsWith("/api/")) return notFound(path);
    const seg = path.slice("/api/".length).split("/").map(decodeSegment);
    switch (seg[0]) {
      case "info":
        if (seg.length === 1) return json(await info(ctx));
        break;
      case "catalog":
        if (seg.length === 1) return json(await catalogPage(ctx, url));
        break;
      case "columns":
        if (seg.length === 1) return json(await columns(ctx, url));
        break;
      case "curves":
        if (seg.length === 1) return json(await curves(ctx, url), 200, true);
        break;
      case "summary":
        if (seg.length === 1) return json(await summary(ctx, url));
        break;
      case "specimens":
        if (seg.length === 2) return json(await specimen(ctx, seg[1]));
        if (seg.length === 4 && seg[2] === "tensors") {
          return json(await tensor(ctx, seg[1], seg[3], url), 200, true);
        }
        break;
    }
    return notFound(path);
  }

  const close = () => catalog.close();
  return {
    paths,
    handler: async (req) => {
      let res: Response;
      try {
        res = withHeaders(await route(req));
      } catch (e) {
        res = withHeaders(errorResponse(e));
      }
      if (req.method !== "HEAD") return res;
      // HEAD: what GET answers, without the body.
      await res.body?.cancel().catch(() => {});
      return new Response(null, {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
      });
    },
    allowHosts(hosts) {
      allowed = hosts ? new Set(hosts.map((h) => h.toLowerCase())) : null;
    },
    close,
    [Symbol.asyncDispose]: () => Promise.resolve(close()),
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
  let stopped = false;
  const shutdown = async () => {
    if (stopped) return await server.finished;
    stopped = true;
    dashboard.close();
    await server.shutdown();
  };
  return {
    url: `http://${shown}:${actual}/`,
    port: actual,
    dashboard,
    finished: server.finished,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

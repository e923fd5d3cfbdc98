/**
 * The dashboard's routes: the Host check, `POST /api/sql`, the page and its
 * assets from memory, and the read-only JSON API.
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
import {
  paramKeys,
  paramMetrics,
  paramsParallel,
  paramsScatter,
  paramsTable,
} from "./_api_params.ts";
import { ASSETS, INDEX_HTML } from "./_assets.ts";
import { specimenFile } from "./_api_files.ts";
import { histograms } from "./_api_histograms.ts";
import { cliQuery } from "./_api_query.ts";
import { curateRoute } from "./_api_labels.ts";
import { QUERY_ROUTE } from "../query/query_server.ts";
import {
  decodeSegment,
  json,
  limitedBody,
  notFound,
  tooLarge,
} from "./_http.ts";
import { InvalidInputError } from "../errors.ts";

/**
 * Answers one request (errors are thrown, to be turned into responses by
 * the caller). `allowed`: the `Host` values answered; null answers any.
 */
export async function routeRequest(
  ctx: ApiContext,
  req: Request,
  allowed: ReadonlySet<string> | null,
): Promise<Response> {
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
  if (path.startsWith("/api/curate/")) return await curateRoute(ctx, req, url);
  if (req.method === "POST" && path === "/api/sql") {
    return await sqlPost(ctx, req, url);
  }
  if (req.method === "POST" && path === QUERY_ROUTE && ctx.queryServer) {
    return await cliQuery(ctx, req, ctx.queryServer);
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
  const file = staticFile(path);
  if (file) return file;
  if (!path.startsWith("/api/")) return notFound(path);
  return await apiGet(ctx, path, url);
}

/** `POST /api/sql`: a same-origin JSON body of at most MAX_BODY_BYTES. */
async function sqlPost(
  ctx: ApiContext,
  req: Request,
  url: URL,
): Promise<Response> {
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

/** The page or one of its assets, from memory; null for any other path. */
function staticFile(path: string): Response | null {
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
  return null;
}

/** A `GET /api/...` route. */
async function apiGet(
  ctx: ApiContext,
  path: string,
  url: URL,
): Promise<Response> {
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
    case "params":
      if (seg.length === 1) return json(await paramsTable(ctx, url));
      if (seg.length === 2 && seg[1] === "keys") {
        return json(await paramKeys(ctx, url));
      }
      if (seg.length === 2 && seg[1] === "metrics") {
        return json(await paramMetrics(ctx, url));
      }
      if (seg.length === 2 && seg[1] === "scatter") {
        return json(await paramsScatter(ctx, url));
      }
      if (seg.length === 2 && seg[1] === "parallel") {
        return json(await paramsParallel(ctx, url));
      }
      break;
    case "specimens":
      if (seg.length === 2) return json(await specimen(ctx, seg[1]));
      if (seg.length === 3 && seg[2] === "histograms") {
        return json(await histograms(ctx, seg[1]));
      }
      if (seg.length === 4 && seg[2] === "tensors") {
        return json(await tensor(ctx, seg[1], seg[3], url), 200, true);
      }
      if (seg.length === 4 && seg[2] === "files") {
        return await specimenFile(ctx, seg[1], seg[3]);
      }
      break;
  }
  return notFound(path);
}

/**
 * The dashboard's HTTP plumbing: the request body limit, JSON and error
 * responses (each error class mapped to a status and a `kind`), security
 * headers, path segments, 404s and HEAD answers.
 *
 * @module
 */
import { concatBytes } from "../_bytes.ts";
import { errorMessage } from "../errors.ts";
import { toJson } from "../duckdb/duckdb.ts";
import {
  InvalidInputError,
  NotFoundError,
  QueryRefusedError,
  QueryTimeoutError,
  ResultTooLargeError,
  SqlError,
  UnsafeFileError,
  UnsupportedFormatError,
  VaultError,
} from "../errors.ts";

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

export function tooLarge(): Response {
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
export async function limitedBody(
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
  return concatBytes(chunks);
}

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

export function json(value: unknown, status = 200, fast = false): Response {
  return new Response(fast ? JSON.stringify(value) : toJson(value), {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
    },
  });
}

export function errorKind(e: unknown): [number, string] {
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

export function errorResponse(e: unknown): Response {
  const [status, kind] = errorKind(e);
  if (kind === "internal") {
    console.error(
      `dashboard: ${errorMessage(e, { stack: true })}`,
    );
  }
  const message = errorMessage(e);
  return json({ error: message, kind }, status);
}

export function withHeaders(res: Response): Response {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) {
    if (!res.headers.has(k)) res.headers.set(k, v);
  }
  return res;
}

export function decodeSegment(segment: string): string {
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

export function notFound(path: string): Response {
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

/** What GET answers to `res`'s request, without the body (for HEAD). */
export async function headOnly(res: Response): Promise<Response> {
  await res.body?.cancel().catch(() => {});
  return new Response(null, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}

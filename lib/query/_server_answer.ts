/**
 * Reading the query server's HTTP answer within bounds: at most `maxBytes`,
 * before a deadline, and only while bytes keep coming (the server sends a
 * heartbeat while a query runs; one stopped by `kill -STOP` or Ctrl-Z still
 * has its connections accepted by the kernel, and would never answer).
 * Deno APIs only (no `/proc`: Deno reads it only with `--allow-all`).
 *
 * @module
 */
import { after } from "../_after.ts";
import { concatBytes } from "../_bytes.ts";

/** Why an answer was not read whole (a sentence for a note). */
export class AnswerAbandoned extends Error {
  /** The class's name. */
  override name = "AnswerAbandoned";
}

/** Bounds of {@linkcode readBounded}. */
export interface AnswerBounds {
  /** Give up once more than this many bytes came. */
  maxBytes: number;
  /** Give up after this many milliseconds (Infinity: never). */
  deadlineMs: number;
  /** Give up when nothing came for this many milliseconds. */
  idleMs: number;
  /**
   * Told the response's head (status line and headers) once it came whole:
   * a reason to give up before the body ("" to give up without one), or
   * undefined to read on.
   */
  head?: (head: string) => string | undefined;
  /** Writes the request, within the same bounds. */
  send?: (conn: Deno.Conn) => Promise<void>;
}

/**
 * Sends the request (`bounds.send`), then reads everything `conn` sends
 * until it closes, within `bounds`; throws
 * {@linkcode AnswerAbandoned} (and closes `conn`) when one is passed.
 */
export async function readBounded(
  conn: Deno.Conn,
  bounds: AnswerBounds,
): Promise<Uint8Array> {
  let why: string | undefined;
  const abandon = (reason: string) => {
    why ??= reason;
    try {
      conn.close();
    } catch { /* closed */ }
  };
  const cancelDeadline = Number.isFinite(bounds.deadlineMs)
    ? after(
      bounds.deadlineMs,
      () => abandon(`it did not answer within ${bounds.deadlineMs / 1000} s`),
    )
    : () => {};
  // Re-armed at each read: nothing for idleMs gives up.
  let cancelIdle = () => {};
  const armIdle = () => {
    cancelIdle();
    cancelIdle = after(
      bounds.idleMs,
      () =>
        abandon(
          `it sent nothing for ${bounds.idleMs / 1000} s (is it stopped?)`,
        ),
    );
  };
  armIdle();
  const parts: Uint8Array[] = [];
  let total = 0;
  let headSeen = false;
  try {
    await bounds.send?.(conn);
    let buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      armIdle();
      parts.push(buf.subarray(0, n));
      total += n;
      if (!headSeen && bounds.head) {
        const seen = concatBytes(parts);
        const end = headEnd(seen);
        if (end >= 0 || total > MAX_HEAD_BYTES) {
          headSeen = true;
          const reason = end < 0
            ? `its answer's headers passed ${MAX_HEAD_BYTES} bytes`
            : bounds.head(new TextDecoder().decode(seen.subarray(0, end)));
          if (reason !== undefined) {
            abandon(reason);
            break;
          }
        }
      }
      if (total > bounds.maxBytes) {
        abandon(`its answer passed ${bounds.maxBytes} bytes`);
        break;
      }
      if (n === buf.length) {
        buf = new Uint8Array(Math.min(buf.length * 2, 8 << 20));
      } else buf = buf.subarray(n);
      if (buf.length < 4096) buf = new Uint8Array(64 * 1024);
    }
  } catch (e) {
    if (why === undefined) throw e;
  } finally {
    cancelDeadline();
    cancelIdle();
  }
  if (why !== undefined) throw new AnswerAbandoned(why);
  return concatBytes(parts);
}

/** The most bytes of headers awaited before the body. */
const MAX_HEAD_BYTES = 64 * 1024;

/** Where the head of an HTTP response ends (its CRLF CRLF), or -1. */
function headEnd(response: Uint8Array): number {
  for (let i = 0; i + 3 < response.length; i++) {
    if (
      response[i] === 13 && response[i + 1] === 10 &&
      response[i + 2] === 13 && response[i + 3] === 10
    ) return i;
  }
  return -1;
}

/** The headers of an HTTP head, lower-case names. */
export function parseHeaders(head: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.set(
        line.slice(0, colon).trim().toLowerCase(),
        line.slice(colon + 1).trim(),
      );
    }
  }
  return headers;
}

/** An HTTP/1.1 response: status, headers (lower-case names) and body. */
export interface HttpAnswer {
  /** The status code, as text ("200"), if the status line parsed. */
  status: string | undefined;
  /** The headers, by lower-case name. */
  headers: Map<string, string>;
  /** The body, unchunked. */
  body: Uint8Array;
}

/** The parts of an HTTP/1.1 response, or undefined when malformed or cut. */
export function parseHttp(response: Uint8Array): HttpAnswer | undefined {
  const end = headEnd(response);
  if (end < 0) return undefined;
  const head = new TextDecoder().decode(response.subarray(0, end));
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
  const headers = parseHeaders(head);
  let body: Uint8Array | undefined = response.subarray(end + 4);
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
    body = unchunk(body);
  } else if (headers.has("content-length")) {
    const n = Number(headers.get("content-length"));
    if (!(n === body.length)) return undefined; // cut short
  }
  if (!body) return undefined;
  return { status, headers, body };
}

/** The body of a chunked transfer, or undefined when malformed or cut. */
function unchunk(data: Uint8Array): Uint8Array | undefined {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    let eol = at;
    while (
      eol + 1 < data.length && !(data[eol] === 13 && data[eol + 1] === 10)
    ) {
      eol++;
    }
    if (eol + 1 >= data.length) return undefined;
    const line = new TextDecoder().decode(data.subarray(at, eol));
    const n = parseInt(line.split(";")[0].trim(), 16);
    if (!Number.isInteger(n) || n < 0) return undefined;
    at = eol + 2;
    if (n === 0) break;
    if (at + n + 2 > data.length) return undefined;
    parts.push(data.subarray(at, at + n));
    at += n + 2;
  }
  return concatBytes(parts);
}

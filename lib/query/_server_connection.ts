/**
 * The TCP side of the query server's client: connecting to a loopback
 * server within a time limit, and writing a request whole. Deno APIs only
 * (part of `deno task query`'s light static import graph; see
 * `query_server.ts`).
 *
 * @module
 */
import { after } from "../_after.ts";

/** A connection to `hostname:port`, or undefined after `ms` milliseconds. */
export async function connectWithin(
  hostname: string,
  port: number,
  ms: number,
): Promise<Deno.TcpConn | undefined> {
  let cancel = () => {};
  const connecting = Deno.connect({ hostname, port });
  try {
    const conn = await Promise.race([
      connecting,
      new Promise<undefined>((resolve) => {
        cancel = after(ms, () => resolve(undefined));
      }),
    ]);
    if (!conn) connecting.then((late) => late.close(), () => {});
    return conn;
  } finally {
    cancel();
  }
}

/** Writes all of `bytes` to `conn`. */
export async function writeFully(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

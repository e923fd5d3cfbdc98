/**
 * The query server of a vault: `deno task serve` keeps the catalog open in
 * DuckDB, and announces itself in a file beside the catalog,
 * `vault.duckdb.server` (mode 0600: its loopback address and port, a random
 * token, its pid, and the identity of the vault folder it serves). A fresh
 * `deno task query` reads the file and sends its SQL there
 * ({@linkcode queryViaServer}) instead of loading DuckDB itself: the answer
 * comes from a warm catalog, in a process that never loads DuckDB.
 *
 * This module (with `lib/_bytes.ts`) is the client's whole static import
 * graph besides the task file: Deno APIs only (no `node:` modules, no npm
 * packages, not even
 * `fetch`, whose first use costs a fresh process tens of milliseconds: one
 * HTTP/1.1 request is written on a TCP connection by hand).
 *
 * A file is used only when its server is alive, listens on a loopback
 * address and serves this very folder (same device and inode, or the same
 * real path where the system has no inodes). A file left by a server that
 * died (its pid gone, on Linux) or copied here with the vault from another
 * folder is removed, after checking that it is still the same file (a new
 * server may have just written its own).
 *
 * @module
 */
import { PrivateFileRefused, readPrivateFile } from "../_fs_private_file.ts";
import {
  AnswerAbandoned,
  parseHeaders,
  parseHttp,
  readBounded,
} from "./_server_answer.ts";
import { connectWithin, writeFully } from "./_server_connection.ts";
import {
  answerProof,
  frame,
  HEARTBEAT_MS,
  newNonce,
  NONCE_HEADER,
  unframe,
} from "./_server_proof.ts";

export { answerProof, frame, HEARTBEAT_MS, NONCE_HEADER };

/** The file's name: the catalog's, with this suffix. */
export const QUERY_SERVER_SUFFIX = ".server";
const FORMAT = "specimen-vault query server";
const FORMAT_VERSION = 1;
/** The catalog's file name in a vault (as `CATALOG_FILE` of `lib/vault.ts`). */
const CATALOG_FILE = "vault.duckdb";
/** The route of the query server. */
export const QUERY_ROUTE = "/api/cli/query";
/**
 * The response header saying the body is a framed answer (`framed`; see
 * `_server_proof.ts`); a response without it is a decline.
 */
export const ANSWER_HEADER = "x-specimen-vault-answer";

/** Which folder a server serves: real path, and device and inode where known. */
export interface VaultIdentity {
  path: string;
  dev: number | null;
  ino: number | null;
}

/** The content of `vault.duckdb.server`. */
export interface QueryServerFile {
  format: string;
  version: number;
  pid: number;
  host: string;
  port: number;
  token: string;
  vault: VaultIdentity;
}

/** What a query sends: the SQL and how to print its result. */
export interface RemoteQuery {
  sql: string;
  format: "table" | "csv" | "json";
  crlf: boolean;
  /** The time limit in seconds (0: none). */
  timeoutSeconds: number;
}

/**
 * What the server answered: the output bytes, or an error to print (with
 * the exit code the local run would end with), or `undefined` when it could
 * not answer (then run locally).
 */
export type RemoteAnswer =
  | { output: Uint8Array }
  | { error: string; exitCode: number }
  | undefined;

/** The server file of the vault at `root`. */
export function queryServerPath(root: string): string {
  const sep = root.endsWith("/") || root.endsWith("\\") ? "" : "/";
  return `${root}${sep}${CATALOG_FILE}${QUERY_SERVER_SUFFIX}`;
}

/**
 * The identity of the folder `root`.
 *
 * @example
 * ```ts
 * import { vaultIdentity } from "./query_server.ts";
 * const id = await vaultIdentity(Deno.cwd());
 * console.assert(id.path === Deno.realPathSync(Deno.cwd()));
 * ```
 */
export async function vaultIdentity(root: string): Promise<VaultIdentity> {
  const [path, stat] = await Promise.all([
    Deno.realPath(root),
    Deno.stat(root),
  ]);
  return { path, dev: stat.dev ?? null, ino: stat.ino ?? null };
}

/** Whether two identities name one folder. */
export function sameVault(a: VaultIdentity, b: VaultIdentity): boolean {
  if (a.dev !== null && a.ino !== null && b.dev !== null && b.ino !== null) {
    return a.dev === b.dev && a.ino === b.ino;
  }
  return a.path === b.path;
}

/**
 * What decides this process's time zone, and so DuckDB's `TimeZone`
 * (TIMESTAMPTZ prints in it): `$TZ` and the target of `/etc/localtime`.
 * A server answers only clients whose time zone is its own. (Not `Intl`:
 * its first use costs a fresh process about 60 ms.) Throws without env
 * permission.
 */
export function processTimeZone(): string {
  if (
    !granted({ name: "env", variable: "TZ" }) ||
    !granted({ name: "read", path: "/etc/localtime" })
  ) throw new Deno.errors.NotCapable("Cannot tell the time zone");
  let localtime = "";
  try {
    localtime = Deno.readLinkSync("/etc/localtime");
  } catch { /* not a link, or no such file */ }
  return `${Deno.env.get("TZ") ?? ""}|${localtime}`;
}

/**
 * Whether Deno grants `desc` already: the warm path asks for nothing a
 * terminal would prompt for (it runs locally instead).
 */
function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

/** Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost). */
function loopback(host: string): boolean {
  return host === "localhost" || host === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** A random token: 32 bytes as hex. */
function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A file announcing a running server; remove it when the server stops. */
export interface QueryServerAnnouncement {
  /** The file's path. */
  readonly path: string;
  /** The token the server wants in `Authorization: Bearer …`. */
  readonly token: string;
  /** The folder it serves. */
  readonly vault: VaultIdentity;
  /** Removes the file if it is still this server's. */
  remove(): Promise<void>;
}

/**
 * Writes the server file of the vault at `root` for a server on
 * `host:port` (atomically, mode 0600), with a new random token. Returns
 * undefined when the file cannot be written (no write permission, a
 * read-only folder): the server then runs without announcing itself.
 * Throws a `TypeError` for a host that is not a loopback address.
 *
 * Needs `--allow-read` and `--allow-write` on `root`.
 *
 * @example
 * ```ts
 * import { announceQueryServer, readQueryServer } from "./query_server.ts";
 * const root = await Deno.makeTempDir();
 * const a = await announceQueryServer(root, { host: "127.0.0.1", port: 1 });
 * console.assert((await readQueryServer(root))?.token === a?.token);
 * await a?.remove();
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function announceQueryServer(
  root: string,
  { host, port }: { host: string; port: number },
): Promise<QueryServerAnnouncement | undefined> {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (!loopback(bare)) {
    throw new TypeError(
      `Cannot announce a query server on ${host}: only loopback addresses`,
    );
  }
  const path = queryServerPath(root);
  const token = newToken();
  const data: QueryServerFile = {
    format: FORMAT,
    version: FORMAT_VERSION,
    pid: Deno.pid,
    host: bare,
    port,
    token,
    vault: await vaultIdentity(root),
  };
  const tmp = `${root}/.tmp-${CATALOG_FILE}${QUERY_SERVER_SUFFIX}-${Deno.pid}-${
    token.slice(0, 8)
  }`;
  try {
    await Deno.writeTextFile(tmp, JSON.stringify(data) + "\n", {
      mode: 0o600,
      createNew: true,
    });
    await Deno.chmod(tmp, 0o600).catch(() => {}); // the umask may have cut it
    await Deno.rename(tmp, path);
  } catch {
    // No write permission, a read-only folder, a full disk: serve anyway.
    await Deno.remove(tmp).catch(() => {});
    return undefined;
  }
  return {
    path,
    token,
    vault: data.vault,
    remove: async () => {
      try {
        const text = await readPrivateFile(path, {
          maxBytes: MAX_SERVER_FILE_BYTES,
        });
        const now = text === undefined ? undefined : JSON.parse(text);
        if (now?.token === token) await Deno.remove(path);
      } catch { /* gone already, or another server's now */ }
    },
  };
}

/**
 * A server file as read: the server, the folder as the client sees it now,
 * and the file's text (to remove it only while it is unchanged).
 */
export interface QueryServer extends QueryServerFile {
  /** The server file's path and text as read. */
  file: { path: string; text: string };
}

/**
 * Whether process `pid` has certainly ended: Linux only, and only where
 * Deno may read `/proc` (`--allow-all`); elsewhere no.
 */
function processGone(pid: number): boolean {
  if (Deno.build.os !== "linux" || pid === Deno.pid) return false;
  try {
    Deno.statSync(`/proc/${pid}`);
    return false;
  } catch (e) {
    return e instanceof Deno.errors.NotFound;
  }
}

/** Removes `path` if it still holds `text` (a stale file, not a new one). */
async function removeIfUnchanged(path: string, text: string): Promise<void> {
  if (!granted({ name: "write", path })) return;
  try {
    // Read as safely as at first: it may have been swapped for a FIFO.
    const now = await readPrivateFile(path, {
      maxBytes: MAX_SERVER_FILE_BYTES,
    });
    if (now === text) await Deno.remove(path);
  } catch { /* gone, or not ours to remove */ }
}

/** The largest server file read (a real one is about 300 bytes). */
export const MAX_SERVER_FILE_BYTES = 4096;

/** Options of {@linkcode readQueryServer} and {@linkcode queryViaServer}. */
export interface ServerNotes {
  /** Told, in one line, why a server file or an answer was not trusted. */
  note?: (message: string) => void;
}

/**
 * The server of the vault at `root`, read from its server file: undefined
 * when there is none, or the file is malformed, stale (written for another
 * folder, or its pid gone: then it is removed) or names a non-loopback
 * address. A file that is not a regular file of this user's, mode 0600 and
 * under {@linkcode MAX_SERVER_FILE_BYTES}, is not read and `note` says why.
 *
 * Needs `--allow-read` on `root` (and `--allow-write` to remove a stale
 * file; without it the file is only ignored).
 */
export async function readQueryServer(
  root: string,
  { note }: ServerNotes = {},
): Promise<QueryServer | undefined> {
  const path = queryServerPath(root);
  let text: string | undefined;
  try {
    text = await readPrivateFile(path, { maxBytes: MAX_SERVER_FILE_BYTES });
  } catch (e) {
    if (e instanceof PrivateFileRefused) {
      note?.(`ignoring ${path}: ${e.message}; running the query here`);
    }
    return undefined;
  }
  if (text === undefined) return undefined;
  let data: QueryServerFile;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (
    data?.format !== FORMAT || data.version !== FORMAT_VERSION ||
    !Number.isInteger(data.pid) || typeof data.host !== "string" ||
    !Number.isInteger(data.port) || data.port < 1 || data.port > 65535 ||
    typeof data.token !== "string" || !/^[0-9a-f]{64}$/.test(data.token) ||
    typeof data.vault?.path !== "string"
  ) return undefined;
  if (!loopback(data.host)) return undefined;
  let here: VaultIdentity;
  try {
    here = await vaultIdentity(root);
  } catch {
    return undefined;
  }
  if (!sameVault(here, data.vault) || processGone(data.pid)) {
    await removeIfUnchanged(path, text);
    return undefined;
  }
  // The server checks the folder as the client sees it now.
  return { ...data, vault: here, file: { path, text } };
}

/** How long connecting to a loopback server may take. */
export const CONNECT_TIMEOUT_MS = 2000;
/**
 * How much longer than the query's own time limit the answer may take
 * (the server's limit starts when it starts the query).
 */
export const ANSWER_GRACE_MS = 3000;
/**
 * How long the answer may send nothing: the server sends a space every
 * {@linkcode HEARTBEAT_MS} while a query runs.
 */
export const ANSWER_IDLE_MS = 3000;
/**
 * The largest answer read: the result's own limit, twice over (a table's
 * borders and padding), and the headers.
 */
export const MAX_ANSWER_BYTES = 2 * 128 * 1024 * 1024 + 64 * 1024;

/**
 * Sends `query` to `server`; see {@linkcode RemoteAnswer}. Never throws: a
 * server that is gone, answers for another folder or time zone, refuses
 * the token or says anything unexpected gives undefined. When nothing
 * listens on its port any more (the server wrote the file once it
 * listened), the server file is removed, if unchanged.
 *
 * Bounded: connecting within {@linkcode CONNECT_TIMEOUT_MS}, the answer
 * within the query's time limit and {@linkcode ANSWER_GRACE_MS} and at most
 * {@linkcode MAX_ANSWER_BYTES}, and abandoned when nothing came for
 * {@linkcode ANSWER_IDLE_MS} (a stopped server); nothing is taken before the server proved it
 * holds the token (an HMAC of a fresh nonce and the answer). Each of these
 * gives undefined, and `note` says which.
 *
 * Needs `--allow-net` to the server's loopback address.
 */
export async function queryViaServer(
  server: QueryServer,
  query: RemoteQuery,
  { note }: ServerNotes = {},
): Promise<RemoteAnswer> {
  let body: Uint8Array;
  try {
    body = new TextEncoder().encode(JSON.stringify({
      sql: query.sql,
      format: query.format,
      crlf: query.crlf,
      timeout_seconds: query.timeoutSeconds,
      time_zone: processTimeZone(),
      vault: server.vault,
    }));
  } catch {
    return undefined; // the time zone is not ours to read
  }
  const host = server.host.includes(":") ? `[${server.host}]` : server.host;
  if (!granted({ name: "net", host: `${host}:${server.port}` })) {
    return undefined;
  }
  const who =
    `the query server of ${server.file.path} (pid ${server.pid}, ${host}:${server.port})`;
  const nonce = newNonce();
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await connectWithin(server.host, server.port, CONNECT_TIMEOUT_MS);
    if (!conn) {
      note?.(
        `${who} did not accept a connection within ${
          CONNECT_TIMEOUT_MS / 1000
        } s; running the query here`,
      );
      return undefined;
    }
    const head = new TextEncoder().encode(
      `POST ${QUERY_ROUTE} HTTP/1.1\r\nHost: ${host}:${server.port}\r\n` +
        `Authorization: Bearer ${server.token}\r\n${NONCE_HEADER}: ${nonce}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
        `Connection: close\r\n\r\n`,
    );
    const response = await readBounded(conn, {
      maxBytes: MAX_ANSWER_BYTES,
      deadlineMs: query.timeoutSeconds > 0
        ? query.timeoutSeconds * 1000 + ANSWER_GRACE_MS
        : Infinity,
      idleMs: ANSWER_IDLE_MS,
      // A decline (not framed): the query runs here, its body unread.
      head: (text) =>
        parseHeaders(text).get(ANSWER_HEADER) === "framed" ? undefined : "",
      send: async (c) => {
        await writeFully(c, head);
        await writeFully(c, body);
      },
    });
    const http = parseHttp(response);
    if (http?.status !== "200") return undefined;
    const answer = await unframe(http.body, server.token, nonce);
    if (answer === "unproven") {
      note?.(
        `${who} did not prove it holds the file's token; running the query here (if no deno task serve runs for this vault, remove the file)`,
      );
      return undefined;
    }
    if (answer === undefined) {
      note?.(
        `${who} sent a malformed or cut answer; running the query here`,
      );
      return undefined;
    }
    if (answer.kind === "result") return { output: answer.body };
    if (answer.kind === "error") {
      try {
        const e = JSON.parse(new TextDecoder().decode(answer.body));
        if (typeof e?.error === "string" && Number.isInteger(e.exit_code)) {
          return { error: e.error, exitCode: e.exit_code };
        }
      } catch { /* not an answer */ }
    }
    return undefined;
  } catch (e) {
    if (e instanceof AnswerAbandoned) {
      if (e.message) note?.(`${who}: ${e.message}; running the query here`);
    } else if (e instanceof Deno.errors.ConnectionRefused) {
      await removeIfUnchanged(server.file.path, server.file.text);
    }
    return undefined;
  } finally {
    try {
      conn?.close();
    } catch { /* closed */ }
  }
}

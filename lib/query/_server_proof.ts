/**
 * The query server's answer and its proof that it holds the token of
 * `vault.duckdb.server`: the client sends a fresh random nonce with each
 * query; the server streams a space at once and every
 * {@linkcode HEARTBEAT_MS} while the query runs, then one JSON line
 * `{"kind","length","proof"}` and `length` bytes of answer, where `proof`
 * is HMAC-SHA256(token, nonce, kind, answer). The client prints nothing
 * before the proof checks out: a process that listens on the announced port
 * without knowing the token (another user's, once the real server is gone)
 * cannot make it print anything. The heartbeat tells a slow query from a
 * server that stopped (Ctrl-Z, `kill -STOP`: the kernel still accepts its
 * connections).
 *
 * Deno APIs only (WebCrypto), for the query client's small import graph.
 *
 * @module
 */

/** The request header carrying the client's nonce. */
export const NONCE_HEADER = "x-specimen-vault-nonce";
/** How often the server sends a space while a query runs. */
export const HEARTBEAT_MS = 250;
/** The kinds of answer: output, the query's error, or "run it yourself". */
export type AnswerKind = "result" | "error" | "decline";

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A fresh nonce: 32 random bytes as hex. */
export function newNonce(): string {
  return hex(crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * The proof for an answer of `kind` (`result` or `error`) with `body` to
 * the query that sent `nonce`, under `token`: hex HMAC-SHA256.
 *
 * @example
 * ```ts
 * import { answerProof, proofMatches } from "./_server_proof.ts";
 * const body = new TextEncoder().encode("42\n");
 * const proof = await answerProof("t0ken", "n1", "result", body);
 * console.assert(await proofMatches(proof, "t0ken", "n1", "result", body));
 * ```
 */
export async function answerProof(
  token: string,
  nonce: string,
  kind: string,
  body: Uint8Array,
): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(token),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const head = new TextEncoder().encode(`${nonce}\n${kind}\n`);
  const message = new Uint8Array(head.length + body.length);
  message.set(head);
  message.set(body, head.length);
  return hex(new Uint8Array(await crypto.subtle.sign("HMAC", key, message)));
}

/** Whether `proof` is the proof of this answer (compared in constant time). */
export async function proofMatches(
  proof: string,
  token: string,
  nonce: string,
  kind: string,
  body: Uint8Array,
): Promise<boolean> {
  const want = await answerProof(token, nonce, kind, body);
  if (proof.length !== want.length) return false;
  let diff = 0;
  for (let i = 0; i < want.length; i++) {
    diff |= proof.charCodeAt(i) ^ want.charCodeAt(i);
  }
  return diff === 0;
}

/** The frame of an answer: its JSON line and its bytes. */
export async function frame(
  token: string,
  nonce: string,
  kind: AnswerKind,
  body: Uint8Array,
): Promise<Uint8Array> {
  const proof = await answerProof(token, nonce, kind, body);
  const line = new TextEncoder().encode(
    JSON.stringify({ kind, length: body.length, proof }) + "\n",
  );
  const out = new Uint8Array(line.length + body.length);
  out.set(line);
  out.set(body, line.length);
  return out;
}

/**
 * The answer in a framed stream (heartbeat spaces first), if its proof
 * holds for `token` and `nonce`; `"unproven"` when it does not, undefined
 * when the stream is malformed or cut.
 */
export async function unframe(
  data: Uint8Array,
  token: string,
  nonce: string,
): Promise<{ kind: AnswerKind; body: Uint8Array } | "unproven" | undefined> {
  let at = 0;
  while (at < data.length && data[at] === 32) at++;
  const eol = data.indexOf(10, at);
  if (eol < 0 || eol - at > 1024) return undefined;
  let line: { kind?: unknown; length?: unknown; proof?: unknown };
  try {
    line = JSON.parse(new TextDecoder().decode(data.subarray(at, eol)));
  } catch {
    return undefined;
  }
  const { kind, length, proof } = line ?? {};
  if (
    (kind !== "result" && kind !== "error" && kind !== "decline") ||
    !Number.isInteger(length) || typeof proof !== "string"
  ) return undefined;
  const body = data.subarray(eol + 1);
  if (body.length !== length) return undefined;
  if (!await proofMatches(proof, token, nonce, kind, body)) return "unproven";
  return { kind, body };
}

/**
 * `POST /api/cli/query`: the query server behind `deno task query` (see
 * `lib/query/query_server.ts`). It runs the SQL as the task would run it
 * itself (the same gate, time limit, size limit and value forms, through
 * `runUserQuery`) and answers with the bytes the task prints, or with the
 * error message and exit code the task would end with. Only a request with
 * the server's token (`Authorization: Bearer …`, from the server file
 * beside the catalog, mode 0600) is answered.
 *
 * @module
 */
import { createExpViews } from "../duckdb/duckdb.ts";
import { VaultError } from "../errors.ts";
import { formatQueryOutput } from "../query/output.ts";
import {
  ANSWER_HEADER,
  frame,
  HEARTBEAT_MS,
  NONCE_HEADER,
  processTimeZone,
  sameVault,
  type VaultIdentity,
} from "../query/query_server.ts";
import type { QueryServerAuth } from "./_context.ts";
import { runUserQuery } from "../query/_run.ts";
import type { SqlParse } from "../query/sql_gate.ts";
import { MAX_RESULT_BYTES } from "../query/types.ts";
import type { ApiContext } from "./_context.ts";
import { json, limitedBody, tooLarge } from "./_http.ts";

/**
 * Functions whose answer depends on the process that runs them (its
 * settings, its memory), not on the catalog: a query calling one runs in
 * the client's process, so that it prints what a local run prints.
 */
const PROCESS_FUNCTIONS = new Set([
  "current_setting",
  "duckdb_settings",
  "pragma_database_size",
  "duckdb_memory",
  "duckdb_temporary_files",
]);

/** Whether `header` is `Bearer <token>`, compared in constant time. */
export function tokenMatches(header: string | null, token: string): boolean {
  const want = `Bearer ${token}`;
  if (header === null || header.length !== want.length) return false;
  let diff = 0;
  for (let i = 0; i < want.length; i++) {
    diff |= header.charCodeAt(i) ^ want.charCodeAt(i);
  }
  return diff === 0;
}

/** A reply the client does not take as an answer: it then runs locally. */
function decline(status: number, error: string): Response {
  return json({ error }, status);
}

/**
 * Answers one query of `deno task query`; `auth` is the server's token and
 * folder. Anything but a result or a query's own error is declined (the
 * client then runs the query itself and reports any problem as usual).
 */
export async function cliQuery(
  ctx: ApiContext,
  req: Request,
  auth: QueryServerAuth,
): Promise<Response> {
  if (!tokenMatches(req.headers.get("authorization"), auth.token)) {
    await req.body?.cancel().catch(() => {});
    return decline(401, "A token is required: see vault.duckdb.server");
  }
  const raw = await limitedBody(req);
  if (raw === null) return tooLarge();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    return decline(400, "The body is not JSON");
  }
  const {
    sql,
    format,
    crlf,
    timeout_seconds: timeout,
    time_zone: timeZone,
    vault,
  } = body ?? {};
  if (
    typeof sql !== "string" ||
    (format !== "table" && format !== "csv" && format !== "json") ||
    typeof crlf !== "boolean" || typeof timeout !== "number" ||
    !(timeout >= 0)
  ) return decline(400, "Expected {sql, format, crlf, timeout_seconds, vault}");
  if (!isIdentity(vault) || !sameVault(vault, auth.vault)) {
    return decline(409, "This server serves another vault folder");
  }
  // DuckDB prints TIMESTAMPTZ in its process's time zone.
  if (timeZone !== processTimeZone()) {
    return decline(409, "This server runs in another time zone");
  }
  let gen;
  try {
    gen = await ctx.catalog.current();
  } catch (e) {
    return decline(503, (e as Error).message);
  }
  const catalog = ctx.catalog.paths.catalog;
  const key = JSON.stringify([gen.key, format, crlf, sql]);
  const work = async (): Promise<Answer> => {
    try {
      const output = auth.cache.get(key) ?? await gen.fresh(async (c) => {
        let found: SqlParse | undefined;
        const result = await runUserQuery(c, sql, undefined, {
          values: format === "json" ? "json" : "sql",
          timeoutSeconds: timeout,
          maxResultBytes: MAX_RESULT_BYTES,
          createViews: async (names) => {
            if (gen.info.views !== "true") {
              await createExpViews(c, names, new Set());
            }
          },
          functionList: () => auth.cache.functionList(catalog),
          parsed: (parse) => {
            found = parse;
            const own = [...parse.functions, ...parse.tableFunctions]
              .find((f) => PROCESS_FUNCTIONS.has(f));
            if (own) throw new Declined(own);
          },
        });
        const bytes = new TextEncoder().encode(
          formatQueryOutput(result, format, crlf),
        );
        if (found && await auth.cache.cacheable(c, found)) {
          auth.cache.set(key, bytes);
        }
        return bytes;
      });
      return { kind: "result", body: output };
    } catch (e) {
      // A process function, the dashboard's memory limit (not a local
      // run's), or anything unexpected: the client runs it itself.
      if (
        !(e instanceof VaultError) || /Out of Memory Error/.test(e.message)
      ) return { kind: "decline", body: new Uint8Array() };
      return {
        kind: "error",
        body: new TextEncoder().encode(
          JSON.stringify({ error: e.message, exit_code: e.exitCode }),
        ),
      };
    }
  };
  return await framedAnswer(req.headers.get(NONCE_HEADER), auth.token, work);
}

/** An answer before it is framed. */
interface Answer {
  kind: "result" | "error" | "decline";
  body: Uint8Array;
}

/**
 * The answer framed as `query/_server_proof.ts` says, with its proof. One
 * that is ready within {@linkcode HEARTBEAT_MS} goes in one piece (a first
 * byte written alone would wait on the client's delayed ACK); a slower one
 * as a stream that sends a space every {@linkcode HEARTBEAT_MS} until it is
 * ready, so that the client tells a slow query from a stopped server.
 */
async function framedAnswer(
  nonce: string | null,
  token: string,
  work: () => Promise<Answer>,
): Promise<Response> {
  const headers = {
    "content-type": "application/octet-stream",
    "cache-control": "no-store",
    [ANSWER_HEADER]: "framed",
  };
  const pending = work();
  let wait: ReturnType<typeof setTimeout> | undefined;
  const quick = await Promise.race([
    pending,
    new Promise<undefined>((r) =>
      wait = setTimeout(() => r(undefined), HEARTBEAT_MS)
    ),
  ]).finally(() => clearTimeout(wait));
  if (quick) {
    return new Response(
      await frame(token, nonce ?? "", quick.kind, quick.body) as BodyInit,
      {
        headers,
      },
    );
  }
  const space = new Uint8Array([32]);
  let beat: ReturnType<typeof setInterval> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(space);
      beat = setInterval(() => {
        try {
          controller.enqueue(space);
        } catch {
          clearInterval(beat); // the client went away
        }
      }, HEARTBEAT_MS);
      try {
        const { kind, body } = await pending;
        clearInterval(beat);
        controller.enqueue(await frame(token, nonce ?? "", kind, body));
        controller.close();
      } catch (e) {
        clearInterval(beat);
        controller.error(e);
      }
    },
    cancel() {
      clearInterval(beat);
    },
  });
  return new Response(body, { headers });
}

/** A query the server leaves to the client (it names the function). */
class Declined extends Error {}

function isIdentity(v: unknown): v is VaultIdentity {
  const o = v as VaultIdentity;
  return typeof o?.path === "string" &&
    (o.dev === null || typeof o.dev === "number") &&
    (o.ino === null || typeof o.ino === "number");
}

/**
 * `deno task query "SELECT ..."`: read-only SQL on the catalog, printed as a
 * table, CSV or JSON, or written to Parquet. See {@linkcode HELP}.
 *
 * @module
 */
// Only light modules load statically (no DuckDB, no npm, no node:): a
// query that a running `deno task serve` answers needs nothing else. The
// local path imports what it needs when it runs.
import { InvalidInputError, VaultError } from "../lib/errors.ts";
import { DEFAULT_QUERY_TIMEOUT_SECONDS as DEFAULT_TIMEOUT_SECONDS } from "../lib/query/types.ts";
import {
  queryViaServer,
  readQueryServer,
  type RemoteAnswer,
} from "../lib/query/query_server.ts";

type Cli = typeof import("../lib/cli/cli.ts");
type Fs = typeof import("../lib/_fs.ts");
type Query = typeof import("../lib/query/vault_query.ts");
type Output = typeof import("../lib/query/output.ts");

/**
 * Imports a module of this repository at run time. The specifier is not a
 * literal on purpose: Deno loads every literal `import("…")` of a module
 * graph when the process starts (DuckDB's npm package included), which the
 * warm path must not pay for.
 */
// deno-lint-ignore no-explicit-any
const load = (path: string): Promise<any> =>
  import(new URL(path, import.meta.url).href);

// The output formats.
const FORMATS = ["table", "csv", "json", "parquet"] as const;

/** The task's help text. */
export const HELP = `Run read-only SQL (DuckDB) on the vault's catalog.

Usage:
  deno task query "SELECT ..." [--format table|csv|json|parquet] [--out FILE]
                               [--crlf] [--timeout SECONDS] [--vault DIR]
                               [--local]
  echo "SELECT ..." | deno task query -

Options:
  --format F   table (default, for people), csv, json (an array of objects),
               or parquet (needs --out)
  --crlf       End CSV lines with CRLF (default LF, as DuckDB's COPY writes)
  --out FILE   Write the output to FILE instead of stdout
  --timeout S  Stop a query that runs longer than S seconds (default 60;
               0 means no limit)
  --vault DIR  The vault root (default: $SPECIMEN_VAULT, else the nearest folder
               at or above the working directory with a specimens/ folder)
  --local      Run the query in this process even when a server is running
  -h, --help   Show this help

A running \`deno task serve\` for the vault answers the query (table, csv,
json): it keeps the catalog open, so a query needs no DuckDB of its own and
comes back in about the time of starting Deno. It is found through
vault.duckdb.server beside the catalog (loopback address, a random token,
its pid); a server that is gone, or a file copied from another folder, is
ignored (and the file removed), and the query runs here. The output, the
errors and the exit codes are the same either way; --format parquet always
runs here. The file is read only as a small regular file of this user's,
mode 0600; the server must prove it holds the file's token (an HMAC of a
fresh nonce and its answer) before anything it sends is printed; and a
server that does not connect within 2 s, sends nothing for 3 s (stopped,
e.g. by Ctrl-Z), or does not answer within the time limit and 3 s is left
alone: the query then runs here, after one "note:" line on stderr.

Relations: catalog (one row per specimen: specimen_id, created, domain,
method, model, tags, status, path, description, dependencies, artifacts,
provenance, ...), metrics (every specimen's metric rows with specimen_id),
exp_<id> (one specimen's metrics), exp_<id>__<name> and metrics__<name>
(strata/<name>.parquet), metric_tables, tensors.

Values: table and csv print each value as DuckDB's own text (what
CAST(x AS VARCHAR) gives), at full precision: TIMESTAMP 2024-01-01
12:00:00.123456, TIMESTAMP_NS to the nanosecond, TIMESTAMPTZ with its
offset, DATE 2024-01-01, BLOB as \\x00\\xFF escapes, DECIMAL and big integers
exact, lists [1, 2], structs {'a': 1}, maps {k=1}. NULL prints as NULL in a
table and as an empty field in csv. json (an array of row objects) writes:
integers as numbers within ±(2^53-1), else as strings of their digits;
DECIMAL as a string ("1.25"); FLOAT/DOUBLE as numbers, NaN and infinities
as "nan", "inf", "-inf"; timestamps as ISO 8601 strings with their full
fraction ("2024-01-01T12:00:00.123456", with "+00:00" for TIMESTAMPTZ);
DATE "2024-01-01"; TIME, INTERVAL, UUID as their SQL text; BLOB as base64;
lists as arrays, structs as objects, maps as objects (string keys) or
[{"key", "value"}]; JSON columns as their JSON; NULL as null.

Examples:
  deno task query "SELECT * FROM catalog WHERE domain = 'interpretability'"
  deno task query "SELECT * FROM catalog WHERE array_contains(tags, 'gpt2')"
  deno task query "SELECT method, avg(loss) FROM metrics JOIN catalog USING (specimen_id) GROUP BY method"

Only SELECT queries run (SELECT, WITH, FROM, VALUES, TABLE, DESCRIBE), on a
read-only catalog, decided from DuckDB's parse of the SQL: table functions are
limited to row generators and catalog metadata (range, unnest, duckdb_tables,
pragma_table_info, ...), and the SQL may open no file. A result held in memory
is limited to 128 MiB (--format parquet --out FILE streams without a limit).

Exit codes: 0 success; 1 the SQL failed (DuckDB's message, with a caret under
the spot) or ran past the time limit; 2 invalid arguments, a writing statement
or a file access (refused); 4 no vault or no catalog (run deno task index).`;

/** Options of {@linkcode main}. */
export interface MainOptions {
  /** The SQL already read from stdin (by {@linkcode viaServer}). */
  stdin?: string;
  /** Try a running server first. @default true */
  server?: boolean;
}

/**
 * Runs the task with `args`; returns the exit code. A running server
 * answers when there is one (see {@linkcode viaServer}), else the query runs
 * in this process.
 */
export async function main(
  args: string[],
  options: MainOptions = {},
): Promise<number> {
  const [
    { assertOutsideSpecimens, parseTaskArgs, taskVault, userPath },
    { atomicWriteFile, writeAll },
  ]: [Cli, Fs] = await Promise.all([
    load("../lib/cli/cli.ts"),
    load("../lib/_fs.ts"),
  ]);
  const { values, positionals, help } = parseTaskArgs(args, {
    format: { type: "string", short: "f", default: "table" },
    out: { type: "string", short: "o" },
    timeout: { type: "string" },
    vault: { type: "string" },
    crlf: { type: "boolean", default: false },
    local: { type: "boolean", default: false },
  }, { allowPositionals: true });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const format = values.format as string;
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new InvalidInputError(
      `Unknown format ${JSON.stringify(format)}: use one of ${
        FORMATS.join(", ")
      }`,
    );
  }
  const timeout = values.timeout === undefined
    ? undefined
    : Number(values.timeout);
  if (
    timeout !== undefined &&
    (values.timeout === "" || Number.isNaN(timeout) || timeout < 0)
  ) {
    throw new InvalidInputError(
      `Invalid --timeout ${
        JSON.stringify(values.timeout)
      }: give a number of seconds ≥ 0, e.g. --timeout 300 (0 means no limit)`,
    );
  }
  let out = values.out === undefined
    ? undefined
    : userPath(values.out as string);
  if (format === "parquet" && !out) {
    throw new InvalidInputError(
      "--format parquet writes a file: add --out FILE, e.g. --out result.parquet",
    );
  }
  let sql = positionals.join(" ");
  if (options.stdin !== undefined) sql = options.stdin;
  else if (sql === "-" || (sql === "" && !Deno.stdin.isTerminal())) {
    sql = await new Response(Deno.stdin.readable).text();
  }
  if (sql.trim() === "") {
    throw new InvalidInputError(
      `Missing SQL: deno task query "SELECT * FROM catalog" (see --help)`,
    );
  }
  const paths = await taskVault(values.vault as string | undefined);
  if (out) out = await assertOutsideSpecimens(out, paths);
  const write = async (bytes: Uint8Array) => {
    if (out) {
      await atomicWriteFile(out, bytes, { createNew: true }).catch((e) => {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
        throw new InvalidInputError(
          `Refusing to replace ${out}: it exists. Choose a new file name, or remove it first`,
        );
      });
    } else await writeAll(Deno.stdout, bytes);
  };
  if (format !== "parquet" && !values.local && options.server !== false) {
    const server = await readQueryServer(paths.root, { note });
    const answer = server && await queryViaServer(server, {
      sql,
      format: format as "table" | "csv" | "json",
      crlf: values.crlf as boolean,
      timeoutSeconds: timeout ?? DEFAULT_TIMEOUT_SECONDS,
    }, { note });
    if (answer) {
      if ("error" in answer) throw answerError(answer);
      await write(answer.output);
      return 0;
    }
  }
  const [{ VaultQuery }, { formatQueryOutput }]: [Query, Output] = await Promise
    .all([
      load("../lib/query/vault_query.ts"),
      load("../lib/query/output.ts"),
    ]);
  using q = await VaultQuery.open({
    vault: paths.root,
    timeoutSeconds: timeout,
  });
  if (format === "parquet") {
    const rows = await q.writeParquet(sql, out!);
    console.log(`Wrote ${rows} row(s) to ${out}`);
    return 0;
  }
  const result = await q.run(sql, undefined, {
    values: format === "json" ? "json" : "sql",
  });
  await write(
    new TextEncoder().encode(
      formatQueryOutput(
        result,
        format as "table" | "csv" | "json",
        values.crlf as boolean,
      ),
    ),
  );
  return 0;
}

/** One line on stderr: why a server was not asked, or not believed. */
function note(message: string) {
  console.error(`note: ${message}`);
}

/** The error a server's answer names, with the local run's exit code. */
function answerError(answer: { error: string; exitCode: number }): VaultError {
  const e = new VaultError(answer.error);
  e.exitCode = answer.exitCode;
  return e;
}

/** What {@linkcode viaServer} did. */
export interface ServerAttempt {
  /** The exit code when a server answered (output or error printed). */
  code?: number;
  /** The SQL it read from stdin, for the local run. */
  stdin?: string;
  /** Whether it asked a server (which then could not answer). */
  tried?: boolean;
}

/**
 * The warm path: when the arguments are plain (no --out, --local, --help,
 * parquet or anything unusual) and a server for the vault is running, sends
 * the SQL there and prints its answer. Anything else leaves the decision,
 * and every error message, to {@linkcode main}. Loads no DuckDB and no
 * `node:` module, and never throws.
 */
export async function viaServer(args: string[]): Promise<ServerAttempt> {
  const attempt: ServerAttempt = {};
  try {
    const plain = plainArgs(args);
    if (!plain) return attempt;
    let sql = plain.sql;
    if (sql === "-" || (sql === "" && !Deno.stdin.isTerminal())) {
      sql = attempt.stdin = await new Response(Deno.stdin.readable).text();
    }
    if (sql.trim() === "") return attempt;
    const root = await findVaultRoot(plain.vault);
    if (root === undefined) return attempt;
    // Once a note is printed, the local run does not look again.
    const noted = (message: string) => {
      attempt.tried = true;
      note(message);
    };
    const server = await readQueryServer(root, { note: noted });
    if (!server) return attempt;
    attempt.tried = true;
    const answer: RemoteAnswer = await queryViaServer(server, {
      sql,
      format: plain.format,
      crlf: plain.crlf,
      timeoutSeconds: plain.timeout ?? DEFAULT_TIMEOUT_SECONDS,
    }, { note: noted });
    if (!answer) return attempt;
    if ("error" in answer) {
      console.error(`error: ${answer.error}`);
      attempt.code = answer.exitCode;
      return attempt;
    }
    attempt.code = 0;
    let off = 0;
    while (off < answer.output.length) {
      off += await Deno.stdout.write(answer.output.subarray(off));
    }
  } catch (e) {
    // Answered, but stdout failed (a closed pipe): as the local run would.
    if (attempt.code === 0) {
      console.error(`error: ${(e as Error).message}`);
      attempt.code = 1;
    }
  }
  return attempt;
}

/** The arguments {@linkcode viaServer} takes on, or undefined. */
function plainArgs(args: string[]): {
  sql: string;
  format: "table" | "csv" | "json";
  crlf: boolean;
  timeout?: number;
  vault?: string;
} | undefined {
  const list = args[0] === "--" ? args.slice(1) : args;
  const values: Record<string, string> = {};
  const positionals: string[] = [];
  let crlf = false;
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    if (a === "--crlf") crlf = true;
    else if (a === "-" || !a.startsWith("-")) positionals.push(a);
    else {
      const m = /^(?:--(format|timeout|vault)(?:=(.*))?|-(f))$/s.exec(a);
      if (!m) return undefined; // --out, --local, --help, ...: main decides
      const name = m[1] ?? "format";
      let value = m[2];
      if (value === undefined) {
        value = list[++i];
        if (value === undefined || value.startsWith("-")) return undefined;
      }
      values[name] = value;
    }
  }
  const format = values.format ?? "table";
  if (format !== "table" && format !== "csv" && format !== "json") {
    return undefined;
  }
  let timeout: number | undefined;
  if (values.timeout !== undefined) {
    timeout = Number(values.timeout);
    if (values.timeout === "" || Number.isNaN(timeout) || timeout < 0) {
      return undefined;
    }
  }
  return {
    sql: positionals.join(" "),
    format,
    crlf,
    timeout,
    ...(
      values.vault !== undefined ? { vault: values.vault } : {}
    ),
  };
}

/**
 * The vault root as `taskVault` finds it (`--vault` against the user's
 * folder, else `$SPECIMEN_VAULT`, else the nearest folder at or above the
 * user's folder with `specimens/`), for POSIX paths; undefined when there
 * is none or the paths are not POSIX (then `main` finds it, or says why).
 */
async function findVaultRoot(
  vault: string | undefined,
): Promise<string | undefined> {
  if (Deno.build.os === "windows") return undefined;
  const cwd = Deno.cwd();
  const explicit = vault === undefined
    ? undefined
    : resolvePath(resolvePath(cwd, userCwd()), vault);
  let given = explicit;
  if (given === undefined) {
    const env = { name: "env", variable: "SPECIMEN_VAULT" } as const;
    // Not granted: main asks (a terminal prompts once, not twice).
    if (Deno.permissions.querySync(env).state !== "granted") return undefined;
    given = Deno.env.get("SPECIMEN_VAULT");
  }
  if (given !== undefined && given !== "") {
    const root = resolvePath(cwd, given);
    return await isDir(root) ? root : undefined;
  }
  let dir = resolvePath(cwd, userCwd());
  for (;;) {
    if (await isDir(`${dir === "/" ? "" : dir}/specimens`)) return dir;
    if (dir === "/") return undefined;
    dir = dir.slice(0, dir.lastIndexOf("/")) || "/";
  }
}

/** The folder the user typed the command in (as `userCwd` of lib/cli). */
function userCwd(): string {
  try {
    const desc = { name: "env", variable: "INIT_CWD" } as const;
    if (Deno.permissions.querySync(desc).state === "granted") {
      return Deno.env.get("INIT_CWD") || Deno.cwd();
    }
  } catch { /* no env permission */ }
  return Deno.cwd();
}

/** POSIX `path.resolve(base, p)`: absolute, `.` and `..` folded, no trailing `/`. */
function resolvePath(base: string, p: string): string {
  const parts: string[] = [];
  for (const seg of (p.startsWith("/") ? p : `${base}/${p}`).split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join("/")}`;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  const fast = await viaServer(Deno.args);
  if (fast.code !== undefined) Deno.exit(fast.code);
  const { runMain }: Cli = await load("../lib/cli/cli.ts");
  await runMain((args) =>
    main(args, { stdin: fast.stdin, server: !fast.tried })
  );
}

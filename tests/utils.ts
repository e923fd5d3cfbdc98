/**
 * Shared test helpers: temp vaults, running tasks as real subprocesses.
 *
 * @module
 */
import { join, resolve } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { AssertionError } from "node:assert/strict";
export {
  deepStrictEqual as assertEquals,
  equal as assertStrictEquals,
  match as assertMatch,
  ok as assert,
} from "node:assert/strict";

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error;

function checkError(
  e: unknown,
  expected?: ErrorClass | RegExp,
  message?: string | RegExp,
): Error {
  if (!(e instanceof Error)) {
    throw new AssertionError({
      message: `Expected an Error, got ${String(e)}`,
    });
  }
  if (typeof expected === "function" && !(e instanceof expected)) {
    const err: Error = e;
    throw new AssertionError({
      message: `Expected ${expected.name}, got ${err.name}: ${err.message}`,
    });
  }
  for (
    const m of [expected instanceof RegExp ? expected : undefined, message]
  ) {
    if (m === undefined) continue;
    const ok = typeof m === "string"
      ? e.message.includes(m)
      : m.test(e.message);
    if (!ok) {
      throw new AssertionError({
        message: `Expected the message to ${
          typeof m === "string" ? "include" : "match"
        } ${String(m)}, got: ${e.message}`,
      });
    }
  }
  return e;
}

/**
 * Asserts that `fn` throws (std semantics): of class `expected` (or with a
 * message matching the RegExp `expected`), and with a message that includes
 * (or matches) `message`. Returns the error.
 */
export function assertThrows(
  fn: () => unknown,
  expected?: ErrorClass | RegExp,
  message?: string | RegExp,
): Error {
  try {
    fn();
  } catch (e) {
    return checkError(e, expected, message);
  }
  throw new AssertionError({ message: "Expected the function to throw" });
}

/** Like {@linkcode assertThrows}, for a promise-returning `fn`. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  expected?: ErrorClass | RegExp,
  message?: string | RegExp,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, expected, message);
  }
  throw new AssertionError({ message: "Expected the promise to reject" });
}

// `deno task test` sets INIT_CWD (the folder it was started from), which the
// tasks read as the user's folder: no child of a test may inherit it, or it
// would resolve paths (and find the vault) against the wrong folder.
Deno.env.delete("INIT_CWD");

/** The repository root. */
export const ROOT: string = resolve(import.meta.dirname!, "..");
/** Files other tools wrote (read-only; copied from the team's interop set, see tests/testdata/interop/README.md). */
export const INTEROP: string = resolve(ROOT, "tests", "testdata", "interop");

/** A temp folder that removes itself: `await using dir = await tempDir()`. */
export async function tempDir(prefix = "sv_test_"): Promise<
  { path: string } & AsyncDisposable
> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** A temp vault: a folder with an empty `specimens/`. */
export async function tempVault(): Promise<
  { path: string; specimens: string } & AsyncDisposable
> {
  const dir = await tempDir("sv_vault_");
  const specimens = join(dir.path, "specimens");
  await Deno.mkdir(specimens);
  return Object.assign(dir, { specimens });
}

/** Result of a subprocess. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `deno <args>` as a real subprocess (NO_COLOR set) and returns its exit
 * code and output.
 */
export async function runDeno(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: string } = {},
): Promise<RunResult> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** Runs a task script `tasks/<name>.ts` with `-A` as a subprocess. */
export function runTask(
  name: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  return runDeno(
    ["run", "-A", join(ROOT, "tasks", `${name}.ts`), ...args],
    options,
  );
}

/**
 * A throwaway vault inside the repository, so that a protocol in it resolves
 * `specimen-vault` through deno.json the way a real one does: by walking up
 * from its own folder. Hidden (`.tmp-`), so git, fmt and lint pass it over.
 */
export async function repoVault(): Promise<
  { path: string; specimens: string } & AsyncDisposable
> {
  const path = await Deno.makeTempDir({
    dir: ROOT,
    prefix: ".tmp-test-vault-",
  });
  const specimens = join(path, "specimens");
  await Deno.mkdir(specimens);
  return {
    path,
    specimens,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/**
 * The permission flags deno.json gives task `name`, so a test runs a task
 * exactly as `deno task <name>` does (and fails if the flags are too narrow).
 */
export async function taskFlags(name: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const command: string | undefined = config.tasks[name]?.command;
  if (!command) throw new Error(`deno.json has no task "${name}"`);
  const script = command.indexOf(`tasks/${name}.ts`);
  return command.slice(0, script).split(/\s+/).filter((a) =>
    a.startsWith("--")
  );
}

/** Creates a training/fine_tuning specimen `id` in `vault` and opens its storage. */
export async function newStorage(
  vault: string,
  id = "s1",
): Promise<SpecimenStorage> {
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "training",
    method: "fine_tuning",
  });
  return await SpecimenStorage.open(dir);
}

/** SHA-256 by WebCrypto, as hex: an implementation independent of the one tested. */
export async function webSha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    bytes as Uint8Array<ArrayBuffer>,
  );
  return [...new Uint8Array(digest)]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Waits until `condition` holds (a truthy value, which is returned), checking
 * every `intervalMs`. Tests wait on conditions, never on a sleep; `timeoutMs`
 * only keeps a regression from hanging the suite, so it is generous (a busy
 * machine may be many times slower than an idle one).
 */
export async function until<T>(
  condition: () =>
    | T
    | undefined
    | null
    | false
    | Promise<
      T | undefined | null | false
    >,
  what: string,
  { timeoutMs = 120_000, intervalMs = 20 } = {},
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

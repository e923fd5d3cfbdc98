/**
 * Where a task works: the user's folder and the vault, in a module of its
 * own with no npm package behind it, so that a task's fast path (an index
 * with nothing to do) starts in the time of an empty `deno run`.
 *
 * @module
 */
import { isAbsolute, relative, resolve } from "../_deps/path.ts";
import { findVault, type VaultPaths } from "../vault.ts";

/**
 * The folder the user typed the command in. `deno task` runs every task in
 * the folder of deno.json and passes the original one as `INIT_CWD`.
 */
export function userCwd(): string {
  try {
    const desc = { name: "env", variable: "INIT_CWD" } as const;
    if (Deno.permissions.querySync(desc).state === "granted") {
      return Deno.env.get("INIT_CWD") || Deno.cwd();
    }
  } catch { /* no env permission: the process's own folder */ }
  return Deno.cwd();
}

/** `path` resolved against the folder the user typed the command in. */
export function userPath(path: string): string {
  return resolve(userCwd(), path);
}

/**
 * `path` as a message shows it: relative to the user's folder when inside
 * it (`specimens/a/runs/…`), else absolute (never `../../tmp/…`).
 *
 * @example
 * ```ts
 * import { shownPath } from "./task_vault.ts";
 * console.assert(shownPath("/data/v/specimens/a", "/data/v") === "specimens/a");
 * console.assert(shownPath("/tmp/x", "/home/me") === "/tmp/x");
 * ```
 */
export function shownPath(path: string, from: string = userCwd()): string {
  const rel = relative(from, path);
  if (rel === "") return ".";
  return rel.startsWith("..") || isAbsolute(rel) ? resolve(path) : rel;
}

/**
 * The vault a task works on: `--vault DIR` (relative to the user's folder),
 * else `$SPECIMEN_VAULT`, else the nearest folder at or above the user's
 * folder with a `specimens/` folder.
 */
export function taskVault(vault: string | undefined): Promise<VaultPaths> {
  return findVault(
    vault === undefined ? undefined : userPath(vault),
    userCwd(),
  );
}

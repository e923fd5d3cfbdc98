/**
 * What to do about a file-system error (disk full, read-only, permission
 * denied): {@linkcode fsErrorHint} and {@linkcode withWriteContext}.
 * Private: reached through `_fs.ts`.
 *
 * @module
 */
import { VaultError } from "./errors.ts";

/**
 * What to do about an error from the file system (the disk is full, it is
 * read-only, permission denied), or undefined for any other error. DuckDB's
 * and node:fs's errors are matched by their message too.
 */
export function fsErrorHint(e: unknown): string | undefined {
  if (!(e instanceof Error) || e instanceof VaultError) return undefined;
  const code = (e as { code?: unknown }).code;
  const text = `${typeof code === "string" ? code : ""} ${e.message}`;
  if (
    /ENOSPC|EDQUOT|EFBIG|No space left|Disk quota|File too large/i.test(text)
  ) {
    return "The disk is full (or a quota or file-size limit was reached): free some space and run it again. Writes are atomic, so nothing partial was left under a real name.";
  }
  if (/EROFS|Read-only file system/i.test(text)) {
    return "The vault is on a read-only file system: reading works, writing does not. Remount it read-write, or copy the vault somewhere writable.";
  }
  if (
    e instanceof Deno.errors.PermissionDenied ||
    /EACCES|EPERM|Permission denied/.test(text)
  ) {
    return "Permission denied: check the owner and mode of the path (ls -l).";
  }
  if (e instanceof Deno.errors.NotCapable) {
    return "Deno was not granted a permission this needs: run it through its deno task, or add the flag named above.";
  }
  return undefined;
}

/**
 * A file-system error (see {@linkcode fsErrorHint}) as a
 * {@linkcode VaultError} saying what was being written (`context`, e.g.
 * `Cannot write metrics table "x" of specimen "y"`) and what to do; any
 * other error as it is.
 */
export function withWriteContext(e: unknown, context: string): unknown {
  const hint = fsErrorHint(e);
  if (hint === undefined) return e;
  return new VaultError(`${context}: ${(e as Error).message}. ${hint}`, {
    cause: e,
  });
}

/**
 * The lock that keeps two indexers of one vault apart.
 *
 * @module
 */
import { join } from "../_deps/path.ts";
import type { IndexProgress } from "./types.ts";

/**
 * The lock file in the vault root that keeps two indexers apart (a kernel
 * file lock: released when its holder exits, however it exits).
 *
 * @example
 * ```ts
 * import { INDEX_LOCK_FILE } from "./lock.ts";
 * console.assert(INDEX_LOCK_FILE === "vault.duckdb.lock");
 * ```
 */
export const INDEX_LOCK_FILE = "vault.duckdb.lock";

/**
 * Takes the index lock of the vault at `root`, waiting (and saying so
 * through `onProgress`) while another indexer holds it.
 */
export async function lockIndex(
  root: string,
  onProgress?: (p: IndexProgress) => void,
): Promise<Disposable> {
  const path = join(root, INDEX_LOCK_FILE);
  const file = await Deno.open(path, { create: true, read: true, write: true });
  try {
    // flock: released by the kernel when the holder exits, even on kill -9,
    // so there is never a stale lock to clean up.
    if (!(await file.tryLock(true))) {
      let holder = "another process";
      try {
        const pid = (await Deno.readTextFile(path)).trim();
        if (/^\d+$/.test(pid)) holder = `process ${pid}`;
      } catch { /* the holder's pid is only for the message */ }
      onProgress?.({
        phase: "waiting",
        done: 0,
        total: 1,
        message:
          `Waiting for ${holder} to finish indexing this vault (lock ${path})`,
      });
      await file.lock(true);
    }
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch (e) {
    file.close();
    throw e;
  }
  return {
    [Symbol.dispose]() {
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}

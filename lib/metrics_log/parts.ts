/**
 * Private: the layout of a metrics log on disk — the parts folder, part
 * file names, its lock — shared by the logger and the readers
 * (`metrics_table.ts` re-exports the public names).
 *
 * @module
 */
import { recordChange } from "../vault_changes.ts";
import { dirname, join } from "../_deps/path.ts";
import { STRATA_DIR } from "../vault.ts";

/**
 * The suffix of a table's parts folder: `strata/<name>.parts/`.
 *
 * @example
 * ```ts
 * import { PARTS_SUFFIX } from "./table.ts";
 * console.assert(`train${PARTS_SUFFIX}` === "train.parts");
 * ```
 */
export const PARTS_SUFFIX = ".parts";

/**
 * The lock file inside a parts folder: its open logger holds an exclusive
 * `flock` on it; the kernel releases it when the process dies.
 *
 * @example
 * ```ts
 * import { LOG_LOCK_FILE } from "./table.ts";
 * console.assert(LOG_LOCK_FILE === ".lock");
 * ```
 */
export const LOG_LOCK_FILE = ".lock";

/** A part file's name; the group is its sequence number. */
export const PART_FILE: RegExp = /^part-(\d{6,})\.parquet$/;

/**
 * The file name of part number `seq` (from 1): `part-000001.parquet`; six
 * digits or more, so names sort in order up to a million parts.
 *
 * @example
 * ```ts
 * import { partFileName } from "./table.ts";
 * console.assert(partFileName(7) === "part-000007.parquet");
 * console.assert(partFileName(1234567) === "part-1234567.parquet");
 * ```
 */
export function partFileName(seq: number): string {
  return `part-${String(seq).padStart(6, "0")}.parquet`;
}

/** The parts folder of table `name`. */
export function partsDir(specimenDir: string, name: string): string {
  return join(specimenDir, STRATA_DIR, `${name}${PARTS_SUFFIX}`);
}

/** The parts in a parts folder, in sequence order (none if it is missing). */
export async function listParts(dir: string): Promise<{ seq: number }[]> {
  const parts: { seq: number }[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = e.isFile ? PART_FILE.exec(e.name) : null;
      if (m) parts.push({ seq: Number(m[1]) });
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return parts.sort((a, b) => a.seq - b.seq);
}

/**
 * Takes the exclusive lock of log `name` without waiting: the open lock
 * file, `"busy"` when a live logger holds it, `"gone"` when there is no
 * lock file (the folder is being removed, or no logger made it). It never
 * creates the lock file: only a logger claiming a new folder does, so a
 * folder's owner can always remove what it wrote without finding a newcomer's
 * file in it.
 */
export async function lockLog(
  specimenDir: string,
  name: string,
): Promise<Deno.FsFile | "busy" | "gone"> {
  const path = join(partsDir(specimenDir, name), LOG_LOCK_FILE);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true });
  } catch (e) {
    if (
      e instanceof Deno.errors.NotFound ||
      e instanceof Deno.errors.IsADirectory ||
      e instanceof Deno.errors.PermissionDenied
    ) return "gone";
    throw e;
  }
  if (!(await file.tryLock(true))) {
    file.close();
    return "busy";
  }
  // Whoever held it before may have removed the folder before letting go:
  // then this lock is on a file nobody else will ever open.
  try {
    // lstat: a symlink named like the lock is not a lock.
    const [held, current] = [await file.stat(), await Deno.lstat(path)];
    if (held.ino === current.ino && held.dev === current.dev) return file;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      file.close();
      throw e;
    }
  }
  file.close();
  return "gone";
}

/** Whether someone holds an exclusive lock on `path` (probed with a shared one). */
export async function isLocked(path: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return false;
  }
  try {
    return !(await file.tryLock(false));
  } finally {
    file.close(); // closing releases the probe's own lock
  }
}

/** A temp file a logger writes in its parts folder (a part, or the compacted table). */
function isLogTemp(entry: string, name: string): boolean {
  const m = /^\.tmp-(.+)-\d+-[0-9a-f]{8}$/.exec(entry);
  return m !== null && (PART_FILE.test(m[1]) || m[1] === `${name}.parquet`);
}

/**
 * Removes what a logger wrote in parts folder `dir` of table `name` — its
 * part files and temp files (regular files whose names match exactly), then
 * the lock file, then the folder — and nothing else. Returns the entries it
 * left (anything else: another name, a folder, a symlink), sorted; the
 * folder and its lock file stay when there are any. The caller holds the
 * log's lock.
 */
export async function clearLog(dir: string, name: string): Promise<string[]> {
  try {
    return await clearLogFolder(dir, name);
  } finally {
    recordChange(dirname(dirname(dir))); // <specimen>/strata/<name>.parts
  }
}

async function clearLogFolder(dir: string, name: string): Promise<string[]> {
  const strays: string[] = [];
  const ours: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && (PART_FILE.test(e.name) || isLogTemp(e.name, name))) {
        ours.push(e.name);
      } else if (!(e.isFile && e.name === LOG_LOCK_FILE)) strays.push(e.name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const removeFile = async (path: string) => {
    try {
      await Deno.remove(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  };
  for (const entry of ours) await removeFile(join(dir, entry));
  // With anything else left, the lock stays too: the folder is still a
  // log (without parts), reported again by the next repair, and a logger
  // may take it over. The lock goes last: until then the folder is a log.
  if (strays.length) return strays.sort();
  await removeFile(join(dir, LOG_LOCK_FILE));
  try {
    await Deno.remove(dir); // not recursive: only an empty folder goes
  } catch (e) {
    // Not empty: a new logger claimed the name the instant it was free
    // (its table is refused then), or a file appeared; it is not ours.
    if (!(e instanceof Deno.errors.NotFound) && !isNotEmpty(e)) throw e;
  }
  return [];
}

/** Whether `e` is the OS's "directory not empty" (ENOTEMPTY, EEXIST). */
export function isNotEmpty(e: unknown): boolean {
  return e instanceof Deno.errors.AlreadyExists ||
    (e instanceof Error &&
      /ENOTEMPTY|EEXIST|not empty/i.test(
        `${(e as { code?: string }).code} ${e.message}`,
      ));
}

/** `entries` for a message: quoted with escapes, at most 5 named. */
export function showEntries(entries: string[]): string {
  const shown = entries.slice(0, 5).map((e) => JSON.stringify(e)).join(", ");
  return entries.length > 5 ? `${shown} and ${entries.length - 5} more` : shown;
}

/**
 * Private: the layout of a metrics log on disk — the parts folder, part
 * file names, its lock — shared by the logger and the readers
 * (`metrics_table.ts` re-exports the public names).
 *
 * @module
 */
import { join } from "./_deps.ts";
import { STRATA_DIR } from "./vault.ts";

/**
 * The suffix of a table's parts folder: `strata/<name>.parts/`.
 *
 * @example
 * ```ts
 * import { PARTS_SUFFIX } from "./metrics_table.ts";
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
 * import { LOG_LOCK_FILE } from "./metrics_table.ts";
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
 * import { partFileName } from "./metrics_table.ts";
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
 * file, `"busy"` when a live logger holds it, `"gone"` when the folder
 * disappeared meanwhile (another repair finished it).
 */
export async function lockLog(
  specimenDir: string,
  name: string,
): Promise<Deno.FsFile | "busy" | "gone"> {
  const path = join(partsDir(specimenDir, name), LOG_LOCK_FILE);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "gone";
    throw e;
  }
  if (!(await file.tryLock(true))) {
    file.close();
    return "busy";
  }
  // Whoever held it before may have removed the folder before letting go:
  // then this lock is on a file nobody else will ever open.
  try {
    const [held, current] = [await file.stat(), await Deno.stat(path)];
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

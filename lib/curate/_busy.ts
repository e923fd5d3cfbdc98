/**
 * Private: whether a specimen folder may be moved now. It may not while a
 * run records into it (its manifest says `running` and the recording
 * process is alive), while a metrics logger holds one of its logs, or while
 * another process holds its `.lock` (a manifest update, another discard).
 *
 * @module
 */
import { join } from "../_deps.ts";
import { SpecimenBusyError } from "../errors.ts";
import { LOG_LOCK_FILE, PARTS_SUFFIX } from "../metrics_log/parts.ts";
import { isLocked } from "../metrics_log/parts.ts";
import { readManifest } from "../specimen/manifest.ts";
import { STATUS_RUNNING } from "../specimen/seal.ts";
import { LOCK_FILE } from "../specimen/_lock.ts";
import { recorderAlive } from "../specimen/run_alive.ts";
import { STRATA_DIR } from "../vault.ts";

/** The specimen lock file (the one `updateManifest` takes). */
export { LOCK_FILE };

/**
 * Takes the specimen's `.lock` without waiting; throws
 * {@linkcode SpecimenBusyError} when another process holds it. The lock
 * moves with the folder (it is held on the open file) and is released when
 * the returned handle is disposed.
 */
export async function lockSpecimen(
  dir: string,
  id: string,
  what: string,
): Promise<Deno.FsFile> {
  const file = await Deno.open(join(dir, LOCK_FILE), {
    create: true,
    write: true,
  });
  let got = false;
  try {
    got = await file.tryLock(true);
  } finally {
    if (!got) file.close();
  }
  if (got && !(await stillAt(file, join(dir, LOCK_FILE)))) {
    file.close();
    // Moved away (discarded, restored) while this waited: callers say so.
    throw new Deno.errors.NotFound(`${dir} moved away`);
  }
  if (!got) {
    throw new SpecimenBusyError(
      `Cannot ${what} specimen "${id}": another process is changing it right now (its .lock is held: a run recording, a label change, another discard or restore). Nothing was changed; try again when it is done`,
    );
  }
  return file;
}

/** Whether the open `file` is still the one at `path`. */
async function stillAt(file: Deno.FsFile, path: string): Promise<boolean> {
  try {
    const [a, b] = await Promise.all([file.stat(), Deno.lstat(path)]);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/**
 * Throws {@linkcode SpecimenBusyError} when a run or a logger is writing the
 * specimen at `dir`; call it holding {@linkcode lockSpecimen}'s lock.
 */
export async function assertIdle(
  dir: string,
  id: string,
  what: string,
): Promise<void> {
  const m = await readManifest(dir).catch(() => undefined);
  const last = m?.runs?.at(-1);
  if (m?.status === STATUS_RUNNING && last?.status === "running") {
    const alive = recorderAlive(last);
    if (alive !== false) {
      throw new SpecimenBusyError(
        `Cannot ${what} specimen "${id}": it is being run right now (run ${last.id}, pid ${last.pid} on ${
          last.hostname ?? "an unknown host"
        }): wait for the run to end, or stop it first${
          alive === undefined
            ? " (whether that process still runs cannot be told here: it needs --allow-run and --allow-sys=hostname, as deno task discard has)"
            : ""
        }. Nothing was changed`,
      );
    }
  }
  let entries: Deno.DirEntry[] = [];
  try {
    entries = [...Deno.readDirSync(join(dir, STRATA_DIR))];
  } catch { /* no strata/: no logs */ }
  for (const e of entries) {
    if (!e.isDirectory || !e.name.endsWith(PARTS_SUFFIX)) continue;
    if (await isLocked(join(dir, STRATA_DIR, e.name, LOG_LOCK_FILE))) {
      throw new SpecimenBusyError(
        `Cannot ${what} specimen "${id}": a metrics logger is writing strata/${e.name}/ right now: close the logger (or let its run end) first. Nothing was changed`,
      );
    }
  }
}

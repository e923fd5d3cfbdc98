/**
 * Private file helpers: atomic writes and write-once placement (here), safe
 * opens inside a vault (`_fs_safe_open.ts`) and hints for file-system errors
 * (`_fs_hints.ts`), all reached through this module. A temp name
 * starts with `.tmp-` so that nothing that lists a vault ever mistakes it for
 * a result, and it lives in the destination's folder so the final rename is
 * atomic (same file system).
 *
 * @module
 */
import { basename, dirname, join, randomBytes } from "./_deps/node.ts";

export { fsErrorHint, withWriteContext } from "./_fs_hints.ts";
export {
  openVaultFile,
  openVaultFileSync,
  readVaultFile,
  type ReadVaultFileOptions,
  readVaultFileSync,
  type VaultFileOptions,
} from "./_fs_safe_open.ts";

/** A hidden temp path beside `path`, unique to this call. */
export function tempPathFor(path: string): string {
  return join(
    dirname(path),
    `.tmp-${basename(path)}-${Deno.pid}-${randomBytes(4).toString("hex")}`,
  );
}

/** Whether `name` (one path segment) is a temp entry of {@linkcode tempPathFor}. */
export function isTempName(name: string): boolean {
  return name.startsWith(".tmp-");
}

/**
 * A temp name of {@linkcode tempPathFor} (`…-<pid>-<8 hex>`), or DuckDB's
 * write-ahead log beside one (`….wal`): the pid of its writer.
 */
const TEMP_PID = /-(\d+)-[0-9a-f]{8}(?:\.wal)?$/;

/**
 * Whether the process that made temp entry `name` has certainly ended on
 * this machine (its pid is in the name). Only Linux can tell without
 * `--allow-run` (through `/proc`); elsewhere the answer is "no", so nothing
 * is ever removed that might still be written. With `exclusive` (the caller
 * holds the lock every writer of these temps holds while it writes), any
 * other process's temp is stale, on any system.
 */
function writerIsGone(name: string, exclusive: boolean): boolean {
  const m = TEMP_PID.exec(name);
  if (!m || Number(m[1]) === Deno.pid) return false;
  if (exclusive) return true;
  if (Deno.build.os !== "linux") return false;
  try {
    Deno.statSync(`/proc/${m[1]}`);
    return false;
  } catch (e) {
    return e instanceof Deno.errors.NotFound;
  }
}

/** Options of {@linkcode removeStaleTemps}. */
export interface RemoveStaleTempsOptions {
  /**
   * The caller holds the lock that every writer of these temps holds while
   * writing them (e.g. the index lock), so none but its own is being
   * written: remove them without asking whether their writer is alive.
   * @default false
   */
  exclusive?: boolean;
}

/**
 * Removes the temp entries in `dir` (those whose name starts with `prefix`,
 * default `.tmp-`, and ends as {@linkcode tempPathFor} makes them) left by
 * processes that have ended: what a write killed midway leaves. Entries of
 * live processes are kept, and so is anything else whose name merely starts
 * with `.tmp-` (a user's folder). Returns the names removed; a missing `dir`
 * removes nothing.
 */
export async function removeStaleTemps(
  dir: string,
  prefix = ".tmp-",
  options: RemoveStaleTempsOptions = {},
): Promise<string[]> {
  const exclusive = options.exclusive ?? false;
  const removed: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.name.startsWith(prefix) || !writerIsGone(e.name, exclusive)) {
        continue;
      }
      await Deno.remove(join(dir, e.name), { recursive: true })
        .then(() => removed.push(e.name), () => {});
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return removed;
}

/** Writes all of `data` to `w` (a file, stdout): `write()` may take less. */
export async function writeAll(
  w: { write(p: Uint8Array): Promise<number> },
  data: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < data.length) off += await w.write(data.subarray(off));
}

/** Returns whether anything (file, folder, link) exists at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Options for {@linkcode atomicWriteFile}. */
export interface AtomicWriteOptions {
  /**
   * Refuse to replace an existing file: the write fails with
   * `Deno.errors.AlreadyExists` and the existing file is untouched.
   * @default false
   */
  createNew?: boolean;
  /**
   * Flush the data to disk before the rename (survives power loss, not just
   * a crash of the process).
   * @default false
   */
  sync?: boolean;
}

/**
 * Writes `data` to a temp file beside `path`, then moves it into place, so a
 * reader (or a crash) never sees a half-written file under the real name.
 */
export async function atomicWriteFile(
  path: string,
  data: Uint8Array | ReadableStream<Uint8Array>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    if (options.sync) {
      using file = await Deno.open(tmp, { write: true, createNew: true });
      if (data instanceof Uint8Array) {
        await writeAll(file, data);
      } else {
        await data.pipeTo(file.writable, { preventClose: true });
      }
      await file.syncData();
    } else {
      await Deno.writeFile(tmp, data, { createNew: true });
    }
    await placeFile(tmp, path, options.createNew ?? false);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Moves the finished file `tmp` to `path`. With `createNew`, a hard link
 * places it only if `path` does not exist yet (atomic test-and-set), then the
 * temp name is removed.
 */
export async function placeFile(
  tmp: string,
  path: string,
  createNew: boolean,
): Promise<void> {
  if (!createNew) return await Deno.rename(tmp, path);
  await Deno.link(tmp, path);
  await Deno.remove(tmp);
}

/**
 * Moves the finished folder `tmp` to `path`, refusing to replace anything
 * already at `path` (a rename over a non-empty folder fails; the empty-folder
 * case is checked first). Throws `Deno.errors.AlreadyExists` when taken.
 */
export async function placeDir(tmp: string, path: string): Promise<void> {
  if (await exists(path)) {
    throw new Deno.errors.AlreadyExists(`${path} already exists`);
  }
  try {
    await Deno.rename(tmp, path);
  } catch (e) {
    // ENOTEMPTY / EEXIST: another process placed its folder first.
    if (
      e instanceof Deno.errors.AlreadyExists ||
      (e instanceof Error && /not empty|ENOTEMPTY|EEXIST/i.test(e.message))
    ) {
      throw new Deno.errors.AlreadyExists(`${path} already exists`);
    }
    throw e;
  }
}

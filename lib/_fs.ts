/**
 * Private file helpers: atomic writes and write-once placement. A temp name
 * starts with `.tmp-` so that nothing that lists a vault ever mistakes it for
 * a result, and it lives in the destination's folder so the final rename is
 * atomic (same file system).
 *
 * @module
 */
import { basename, dirname, join, randomBytes } from "./_deps.ts";

/** A hidden temp path beside `path`, unique to this call. */
export function tempPathFor(path: string): string {
  return join(
    dirname(path),
    `.tmp-${basename(path)}-${Deno.pid}-${randomBytes(4).toString("hex")}`,
  );
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
        let off = 0;
        while (off < data.length) off += await file.write(data.subarray(off));
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

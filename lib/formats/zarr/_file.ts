/**
 * Opens the files of a Zarr array folder for the reader: each through
 * `openVaultFile`, so only a regular file whose real path stays inside the
 * root is opened (never a symlink out of the array, a FIFO or a device).
 *
 * @module
 */
import { join, SEPARATOR } from "../../_deps.ts";
import { openVaultFile } from "../../_fs.ts";
import { NotFoundError, UnsafeFileError } from "../../errors.ts";

/** An opened file and its size. */
export interface Opened {
  file: Deno.FsFile;
  size: number;
}

/**
 * Opens `key` (e.g. `c/0/1`, `zarr.json`) of the array at `path`, or returns
 * undefined when there is no such file (a chunk never written).
 *
 * @throws {UnsafeFileError} When the file is not a regular file inside `root`
 *   (a dangling symlink included).
 */
export async function openInside(
  path: string,
  root: string,
  key: string,
): Promise<Opened | undefined> {
  const file = join(path, ...key.split("/"));
  let opened: Deno.FsFile;
  try {
    opened = await openVaultFile(file, { root });
  } catch (e) {
    if (e instanceof UnsafeFileError) {
      throw new UnsafeFileError(
        `Cannot read tensor "${path}": ${e.message}`,
        { cause: e },
      );
    }
    if (
      e instanceof Deno.errors.NotFound ||
      e instanceof Deno.errors.NotADirectory
    ) {
      // A symlink whose target is gone is not "a chunk never written".
      const link = await Deno.lstat(file).catch(() => undefined);
      if (link?.isSymlink) {
        throw new UnsafeFileError(
          `Cannot read tensor "${path}": ${file} is a symbolic link to a file that does not exist; remove it`,
        );
      }
      return undefined;
    }
    throw e;
  }
  try {
    return { file: opened, size: (await opened.stat()).size };
  } catch (e) {
    opened.close();
    throw e;
  }
}

/**
 * The folder every file of the array must be inside: its own real path,
 * which must itself be inside `root` when given.
 */
export async function arrayRoot(path: string, root?: string): Promise<string> {
  try {
    const real = await Deno.realPath(path);
    if (root !== undefined) {
      const outer = await Deno.realPath(root);
      if (
        !real.startsWith(outer.endsWith(SEPARATOR) ? outer : outer + SEPARATOR)
      ) {
        throw new UnsafeFileError(
          `Cannot read tensor "${path}": its folder leads to ${real}, outside ${outer}; the vault reads only files inside it, so copy the array into the specimen instead of linking to it`,
        );
      }
    }
    return real;
  } catch (e) {
    if (
      e instanceof Deno.errors.NotFound ||
      e instanceof Deno.errors.NotADirectory
    ) {
      throw new NotFoundError(
        `No tensor at "${path}": expected a Zarr array folder (zarr.json or .zarray): check the name in the manifest's artifacts`,
        { cause: e },
      );
    }
    throw e;
  }
}

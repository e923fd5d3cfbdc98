/**
 * Private hashing helpers shared by provenance, sealing and verification:
 * streaming SHA-256 of files with bounded memory, and file listings.
 *
 * @module
 */
import { createHash, join } from "./_deps.ts";
import { exists, isTempName, openVaultFile } from "./_fs.ts";

/** Bytes per read: large reads keep the hash near native speed. */
export const READ_SIZE = 4 * 1024 * 1024;

/** The SHA-256 (hex) and size of one file. */
export interface FileDigest {
  /** Lowercase hex SHA-256 of the content. */
  sha256: string;
  /** Size in bytes. */
  bytes: number;
}

/**
 * Hashes files one after another with two reusable buffers: the next read is
 * in flight while the current buffer is hashed, so reading and hashing
 * overlap and memory stays at two buffers whatever the file size.
 */
export class FileHasher {
  #buffers: [Uint8Array, Uint8Array];

  constructor(readSize: number = READ_SIZE) {
    this.#buffers = [new Uint8Array(readSize), new Uint8Array(readSize)];
  }

  /**
   * Returns the SHA-256 and size of the file at `path`; `onBytes` is called
   * with the number of bytes after each hashed block (for progress). With
   * `root`, the file must be a regular file inside it (a FIFO or a link
   * leading out is refused with `UnsafeFileError`, never waited on).
   */
  async hash(
    path: string,
    onBytes?: (n: number) => void,
    root?: string,
  ): Promise<FileDigest> {
    const hash = createHash("sha256");
    using file = root === undefined
      ? await Deno.open(path, { read: true })
      : await openVaultFile(path, { root });
    const buffers = this.#buffers;
    let which = 0;
    let bytes = 0;
    let pending = file.read(buffers[0]);
    while (true) {
      const n = await pending;
      if (n === null) break;
      const current = buffers[which];
      which ^= 1;
      pending = file.read(buffers[which]);
      hash.update(current.subarray(0, n));
      bytes += n;
      onBytes?.(n);
    }
    return { sha256: hash.digest("hex"), bytes };
  }
}

/**
 * SHA-256 (hex) of one file, streamed; with `root`, only a regular file
 * inside it is read (see {@linkcode FileHasher.hash}).
 */
export async function sha256File(
  path: string,
  root?: string,
): Promise<FileDigest> {
  return await new FileHasher(64 * 1024).hash(path, undefined, root);
}

/** SHA-256 (hex) of bytes or text. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** One entry of {@linkcode listFiles}. */
export interface ListedFile {
  /** Path relative to the listed root, with `/` separators. */
  path: string;
  /** Size in bytes (0 for what is not a regular file). */
  bytes: number;
  /** `"file"`, or `"symlink"` / `"other"` for what cannot be sealed. */
  /** `undecodable`: a name that is not UTF-8 (shown with U+FFFD; cannot be opened by it). */
  kind: "file" | "symlink" | "other" | "undecodable";
}

/**
 * Lists every entry under `root/sub` that is not a folder, recursively, in
 * sorted order, with paths relative to `root` (`sub` `""` lists all of
 * `root`). A missing `sub` lists nothing.
 * Symbolic links are listed, not followed (a link could point outside the
 * specimen). Temp entries (`.tmp-…`: a write in flight, or the leftover of
 * a killed one) are skipped: they are never results, so they are neither
 * sealed nor verified.
 */
export async function listFiles(
  root: string,
  sub: string,
): Promise<ListedFile[]> {
  const out: ListedFile[] = [];
  const walk = async (rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(join(root, rel)));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (isTempName(e.name)) continue;
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      // Deno decodes names lossily: a name that is not UTF-8 comes back
      // with U+FFFD and cannot be opened by it.
      if (e.name.includes("\uFFFD") && !(await exists(join(root, path)))) {
        out.push({ path, bytes: 0, kind: "undecodable" });
        continue;
      }
      if (e.isDirectory) await walk(path);
      else if (e.isSymlink) out.push({ path, bytes: 0, kind: "symlink" });
      else if (e.isFile) {
        const { size } = await Deno.lstat(join(root, path));
        out.push({ path, bytes: size, kind: "file" });
      } else out.push({ path, bytes: 0, kind: "other" });
    }
  };
  await walk(sub);
  return out;
}

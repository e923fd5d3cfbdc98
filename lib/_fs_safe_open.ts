/**
 * Safe opens of files inside a vault: {@linkcode openVaultFile} and
 * {@linkcode readVaultFile} refuse a path whose real location leaves its
 * root (a symlink out), a file that is not regular (a FIFO, a device), and
 * (reading) one over a size limit. Private: reached through `_fs.ts`.
 *
 * @module
 */
import {
  basename,
  closeFdSync,
  dirname,
  fsConstants,
  fstatSync,
  openFdSync,
  readFdSync,
  resolve,
  SEPARATOR,
} from "./_deps/node.ts";
import { errorMessage, UnsafeFileError } from "./errors.ts";

/** Options for {@linkcode openVaultFile}. */
export interface VaultFileOptions {
  /** Folder the file's real path must stay inside (e.g. the vault or specimen dir). */
  root: string;
  /**
   * Refuse a symbolic link as the last component even when it leads inside
   * the root (`O_NOFOLLOW`): the file opened is the one named, or nothing.
   * @default false
   */
  noFollow?: boolean;
}

/** Options for {@linkcode readVaultFile}. */
export interface ReadVaultFileOptions extends VaultFileOptions {
  /**
   * Refuse (with {@linkcode UnsafeFileError}) a file larger than this.
   * @default Infinity
   */
  maxBytes?: number;
}

// Open flags: read only, and never wait for a writer (a FIFO opened for
// reading blocks until one comes; O_NONBLOCK makes the open return at once).
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0);

/** Real paths of roots already seen (a root is a vault or specimen folder). */
const realRoots = new Map<string, string>();

function cacheRoot(root: string, real: string): string {
  if (realRoots.size > 256) realRoots.clear();
  realRoots.set(root, real);
  return real;
}

async function realRoot(root: string): Promise<string> {
  const key = resolve(root);
  return realRoots.get(key) ?? cacheRoot(key, await Deno.realPath(key));
}

function realRootSync(root: string): string {
  const key = resolve(root);
  return realRoots.get(key) ?? cacheRoot(key, realPathOfSync(key));
}

/**
 * The real path of the absolute, normalized `path`: its parent's (cached:
 * the specimen folders of one vault share it) and its own name when it is
 * a directory and no link, one lstat instead of a readlink per component.
 * A folder swapped for a link after the lstat is still caught: the opened
 * file's real path must lie under this one.
 */
function realPathOfSync(path: string): string {
  const parent = dirname(path);
  if (parent !== path && realRoots.has(parent)) {
    try {
      if (Deno.lstatSync(path).isDirectory) {
        const real = realRoots.get(parent)!;
        return real.endsWith(SEPARATOR)
          ? real + basename(path)
          : real + SEPARATOR + basename(path);
      }
    } catch { /* realPathSync says what is wrong */ }
  }
  const real = Deno.realPathSync(path);
  if (parent !== path && !realRoots.has(parent)) {
    // Only a shortcut for the next sibling: a parent this process may not
    // read (--allow-read of the folder alone) is simply not cached.
    try {
      cacheRoot(parent, Deno.realPathSync(parent));
    } catch { /* not cached */ }
  }
  return real;
}

/** Whether `/proc/self/fd` names open files (Linux, with read permission). */
let procFd: boolean | undefined;

function inside(real: string, root: string): boolean {
  return real === root ||
    real.startsWith(root.endsWith(SEPARATOR) ? root : root + SEPARATOR);
}

/** What a non-regular file is, in words for an error message. */
export function kindOf(info: {
  isSymlink?: boolean;
  isDirectory: boolean;
  isFifo?: boolean | null;
  isCharDevice?: boolean | null;
  isBlockDevice?: boolean | null;
  isSocket?: boolean | null;
}): string {
  if (info.isSymlink) return "a symbolic link";
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO (named pipe)";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

function notRegular(path: string, kind: string): UnsafeFileError {
  const why = kind === "a directory"
    ? "a file belongs there"
    : "reading it could wait forever or read something else";
  return new UnsafeFileError(
    `Cannot read ${path}: it is ${kind}, not a regular file (${why}); remove it and put the real file there`,
  );
}

function outsideRoot(
  path: string,
  real: string,
  root: string,
  link: string | undefined,
): UnsafeFileError {
  const how = link !== undefined
    ? `it is a symbolic link leading outside ${root} (to ${link}, real path ${real})`
    : `its real path ${real} is outside ${root} (a symbolic link on the way leads out)`;
  return new UnsafeFileError(
    `Cannot read ${path}: ${how}; the vault reads only files inside it, so copy the file into the vault instead of linking to it`,
  );
}

function linkRefused(path: string): UnsafeFileError {
  return new UnsafeFileError(
    `Cannot read ${path}: it is a symbolic link (to ${
      linkTargetSync(path) ?? "?"
    }), and links are not followed here; put the file itself there`,
  );
}

function linkTargetSync(path: string): string | undefined {
  try {
    return Deno.lstatSync(path).isSymlink ? Deno.readLinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}

/** A node:fs error as the Deno error class callers test for. */
function asDenoError(e: unknown): unknown {
  const code = (e as { code?: unknown })?.code;
  const msg = errorMessage(e);
  if (code === "ENOENT") return new Deno.errors.NotFound(msg, { cause: e });
  if (code === "EACCES" || code === "EPERM") {
    return new Deno.errors.PermissionDenied(msg, { cause: e });
  }
  if (code === "ENOTDIR") return new Deno.errors.NotADirectory(msg);
  if (code === "ELOOP") return new Deno.errors.FilesystemLoop(msg);
  return e;
}

/**
 * The real path of the file open as `fd`, read from `/proc/self/fd` where
 * that works, else undefined.
 */
function fdPathSync(fd: number): string | undefined {
  if (procFd === false) return undefined;
  try {
    const p = Deno.readLinkSync(`/proc/self/fd/${fd}`);
    procFd = true;
    return p;
  } catch {
    procFd = false;
    return undefined;
  }
}

/**
 * Checks the file just opened as `fd` (from `path`): a regular file whose
 * real path is inside `root` (already real). Returns the path to open it
 * again through Deno (the same file, no matter what replaced `path`).
 */
function checkOpened(
  path: string,
  fd: number,
  root: string,
  ino: { ino: number; dev: number },
): string {
  let real = fdPathSync(fd);
  let reopen = real === undefined ? path : `/proc/self/fd/${fd}`;
  if (real === undefined) {
    // No /proc: the real path of the name, checked to be the opened file.
    real = Deno.realPathSync(path);
    const s = Deno.statSync(real);
    if (s.ino !== ino.ino || s.dev !== ino.dev) {
      throw new UnsafeFileError(
        `Cannot read ${path}: it was replaced while being opened; try again, and check what else writes to the vault`,
      );
    }
    reopen = real;
  }
  if (!inside(real, root)) {
    throw outsideRoot(path, real, root, linkTargetSync(path));
  }
  return reopen;
}

/**
 * Opens `path` without waiting (never a FIFO's writer), checks the opened
 * file, and calls `use` with the path that names that same open file (and
 * its size and the descriptor itself), then closes the descriptor. The open and checks are non-blocking
 * system calls, so they run synchronously.
 */
function withCheckedFd<T>(
  path: string,
  root: string,
  use: (reopen: string, size: number, fd: number) => T,
  noFollow = false,
): T {
  let fd: number;
  try {
    fd = openFdSync(
      path,
      OPEN_FLAGS | (noFollow ? fsConstants.O_NOFOLLOW ?? 0 : 0),
    );
  } catch (e) {
    if (noFollow && (e as { code?: unknown })?.code === "ELOOP") {
      throw linkRefused(path);
    }
    throw asDenoError(e);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw notRegular(
        path,
        st.isFIFO() ? "a FIFO (named pipe)" : "not a regular file",
      );
    }
    return use(checkOpened(path, fd, root, st), st.size, fd);
  } finally {
    closeFdSync(fd);
  }
}

/**
 * Opens a file for reading only if it is a regular file whose real path is
 * inside `options.root`; never blocks on a FIFO, device or socket. The type
 * is checked before opening (nothing but a regular file is opened), the open
 * itself does not wait (`O_NONBLOCK`), and the opened file is checked again
 * (its type, and its real path from `/proc/self/fd` on Linux), so a name
 * swapped between the check and the open is caught too. A symbolic link is
 * followed only when it leads to a file inside the root, and never with
 * `noFollow` (`O_NOFOLLOW`: the file named, or a refusal).
 *
 * Needs `--allow-read` (on Linux including `/proc/self/fd`; without it, the
 * real path of the name is checked instead).
 *
 * @param path The file to open.
 * @param options Where the file must be.
 * @returns The open file; close it (`using` does).
 * @throws {UnsafeFileError} When it is not a regular file inside the root.
 *
 * @example
 * ```ts
 * import { openVaultFile } from "./_fs.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hi");
 * using file = await openVaultFile(`${dir}/a.txt`, { root: dir });
 * console.assert((await file.stat()).size === 2);
 * ```
 */
export async function openVaultFile(
  path: string,
  options: VaultFileOptions,
): Promise<Deno.FsFile> {
  const root = await realRoot(options.root);
  const info = options.noFollow
    ? await Deno.lstat(path)
    : await Deno.stat(path);
  if (info.isSymlink) throw linkRefused(path);
  if (!info.isFile) throw notRegular(path, kindOf(info));
  return withCheckedFd(
    path,
    root,
    (reopen) => Deno.openSync(reopen, { read: true }),
    options.noFollow,
  );
}

/**
 * The sync twin of {@linkcode openVaultFile}, with the same checks.
 *
 * @example
 * ```ts
 * import { openVaultFileSync } from "./_fs.ts";
 * const dir = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${dir}/a.txt`, "hi");
 * using file = openVaultFileSync(`${dir}/a.txt`, { root: dir });
 * console.assert(file.statSync().size === 2);
 * ```
 */
export function openVaultFileSync(
  path: string,
  options: VaultFileOptions,
): Deno.FsFile {
  const root = realRootSync(options.root);
  const info = Deno.statSync(path);
  if (!info.isFile) throw notRegular(path, kindOf(info));
  return withCheckedFd(
    path,
    root,
    (reopen) => Deno.openSync(reopen, { read: true }),
  );
}

function tooLarge(path: string, size: number, max: number): UnsafeFileError {
  return new UnsafeFileError(
    `Cannot read ${path}: it holds ${size} bytes, more than the limit of ${max} for this kind of file; check that it is the right file`,
  );
}

/**
 * Reads a whole file with the checks of {@linkcode openVaultFile}, refusing
 * files above `options.maxBytes`.
 *
 * @example
 * ```ts
 * import { readVaultFile } from "./_fs.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hi");
 * const bytes = await readVaultFile(`${dir}/a.txt`, { root: dir });
 * console.assert(bytes.length === 2);
 * ```
 */
export async function readVaultFile(
  path: string,
  options: ReadVaultFileOptions,
): Promise<Uint8Array> {
  const max = options.maxBytes ?? Infinity;
  using file = await openVaultFile(path, options);
  return await readOpened(file, path, max);
}

/** Reads all of `file` (opened from `path`), refusing more than `max` bytes. */
async function readOpened(
  file: Deno.FsFile,
  path: string,
  max: number,
): Promise<Uint8Array> {
  const { size } = await file.stat();
  const out = new BoundedBuffer(path, size, max);
  while (true) {
    const n = await file.read(out.space());
    if (n === null) return out.bytes();
    out.filled(n);
  }
}

/**
 * The bytes of a file of `size` (as stat said) being read, refusing more
 * than `max`: it grows when the file does.
 */
class BoundedBuffer {
  #buf: Uint8Array;
  #off = 0;
  constructor(
    readonly path: string,
    size: number,
    readonly max: number,
  ) {
    if (size > max) throw tooLarge(path, size, max);
    // One byte more than the size: a read that fills it means the file grew.
    this.#buf = new Uint8Array(Math.min(size + 1, max + 1));
  }

  /** Where the next read goes (never empty). */
  space(): Uint8Array {
    if (this.#off === this.#buf.length) {
      if (this.#off > this.max) throw tooLarge(this.path, this.#off, this.max);
      const next = new Uint8Array(
        Math.min(this.max + 1, Math.max(65536, this.#off * 2)),
      );
      next.set(this.#buf);
      this.#buf = next;
    }
    return this.#buf.subarray(this.#off);
  }

  /** `n` bytes were read into {@linkcode space}. */
  filled(n: number): void {
    this.#off += n;
  }

  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#off);
  }
}

/**
 * The sync twin of {@linkcode readVaultFile}.
 *
 * @example
 * ```ts
 * import { readVaultFileSync } from "./_fs.ts";
 * const dir = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${dir}/a.txt`, "hi");
 * console.assert(readVaultFileSync(`${dir}/a.txt`, { root: dir }).length === 2);
 * ```
 */
export function readVaultFileSync(
  path: string,
  options: ReadVaultFileOptions,
): Uint8Array {
  const max = options.maxBytes ?? Infinity;
  const root = realRootSync(options.root);
  const info = Deno.statSync(path);
  if (!info.isFile) throw notRegular(path, kindOf(info));
  // Read through the descriptor checked (no second open of the file).
  return withCheckedFd(path, root, (_, size, fd) => {
    const out = new BoundedBuffer(path, size, max);
    while (true) {
      const space = out.space();
      const n = readFdSync(fd, space, 0, space.length, null);
      if (n === 0) return out.bytes();
      out.filled(n);
    }
  });
}

/**
 * The one way importers walk and open another tool's folder: a
 * {@linkcode SourceTree} lists folders and opens files only inside the
 * folder being imported. A symbolic link is followed only when its real
 * path stays inside; one that leads out is refused (an
 * `UnsafeFileError` naming the link and where it leads: an `mlruns/`
 * with `params -> /etc` must not put `/etc` into a sealed manifest). A FIFO,
 * device or socket is never opened: skipped with a warning naming it and
 * what it is (a FIFO would block the read for ever). Files open through
 * `openVaultFile`, which checks the opened file again.
 *
 * @module
 */
import { UnsafeFileError } from "../errors.ts";
import { openVaultFile } from "../_fs.ts";
import { join, sep } from "./_deps.ts";

/** What a path is, as the walk takes it. */
export type SourceKind = "file" | "dir";

/** What a non-regular entry is, in words. */
function kindOf(info: Deno.FileInfo): string {
  if (info.isFifo) return "a FIFO (named pipe)";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file or folder";
}

/** A folder's entries, by kind, names sorted. */
export interface SourceListing {
  /** Regular files (or links to one inside). */
  files: string[];
  /** Folders (or links to one inside). */
  dirs: string[];
}

/** A folder being imported; see the module doc. */
export class SourceTree {
  /** The folder as given. */
  readonly root: string;
  /** Said once per skipped entry ("… is a FIFO (named pipe): skipped"). */
  readonly warnings: string[] = [];
  #real: string;
  #warned = new Set<string>();

  private constructor(root: string, real: string) {
    this.root = root;
    this.#real = real;
  }

  /**
   * The tree of folder `root` (its real path is the bound).
   *
   * @example
   * ```ts
   * import { SourceTree } from "./_source_tree.ts";
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/a.txt`, "hi");
   * const tree = await SourceTree.open(dir);
   * console.assert((await tree.list(dir)).files[0] === "a.txt");
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  static async open(root: string): Promise<SourceTree> {
    return new SourceTree(root, await Deno.realPath(root));
  }

  #inside(real: string): boolean {
    return real === this.#real ||
      real.startsWith(this.#real.endsWith(sep) ? this.#real : this.#real + sep);
  }

  #skip(path: string, what: string) {
    if (this.#warned.has(path)) return;
    this.#warned.add(path);
    this.warnings.push(`"${path}" is ${what}, not a regular file: skipped`);
  }

  /**
   * What `path` is: a file, a folder, or undefined when it does not exist
   * (or is a FIFO, device or socket: then skipped with a warning). A link
   * is taken as what it leads to, if that is inside.
   *
   * @throws {UnsafeFileError} A link that leads outside the folder.
   */
  async kind(path: string): Promise<SourceKind | undefined> {
    let info: Deno.FileInfo | undefined;
    try {
      info = await this.#followed(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
    if (info === undefined) {
      this.#skip(path, "a symbolic link that leads nowhere");
      return undefined;
    }
    if (info.isFile) return "file";
    if (info.isDirectory) return "dir";
    this.#skip(path, kindOf(info));
    return undefined;
  }

  /**
   * What `path` is, through a link that stays inside (undefined for a
   * dangling one). Throws `NotFound`, or an `UnsafeFileError` for a link
   * that leads out.
   */
  async #followed(path: string): Promise<Deno.FileInfo | undefined> {
    const info = await Deno.lstat(path);
    if (!info.isSymlink) return info;
    let real: string;
    try {
      real = await Deno.realPath(path);
    } catch {
      return undefined;
    }
    if (!this.#inside(real)) {
      const target = await Deno.readLink(path).catch(() => real);
      throw new UnsafeFileError(
        `Cannot import "${path}": it is a symbolic link to "${target}", outside the folder being imported ("${this.root}"); copy what it points to into the folder, or import that folder itself`,
      );
    }
    return await Deno.stat(path);
  }

  /**
   * The files and folders in `dir` (links followed inside, refused when
   * they lead out; anything else skipped with a warning). A folder that
   * does not exist lists empty.
   *
   * @throws {UnsafeFileError} `dir`, or an entry, is a link that leads out.
   */
  async list(dir: string): Promise<SourceListing> {
    const out: SourceListing = { files: [], dirs: [] };
    if (await this.kind(dir) !== "dir") return out;
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    for (const name of names.sort()) {
      const kind = await this.kind(join(dir, name));
      if (kind === "file") out.files.push(name);
      else if (kind === "dir") out.dirs.push(name);
    }
    return out;
  }

  /**
   * Calls `visit` for `dir` and each folder below it, depth first in name
   * order, each real folder once (a folder linked from inside is visited
   * where it is met first); `visit` returns false to not go deeper.
   */
  async walkDirs(
    dir: string,
    visit: (
      dir: string,
      listing: SourceListing,
      depth: number,
    ) => boolean | void,
  ): Promise<void> {
    const seen = new Set<string>();
    const walk = async (at: string, depth: number) => {
      const real = await Deno.realPath(at).catch(() => at);
      if (seen.has(real)) return;
      seen.add(real);
      const listing = await this.list(at);
      if (visit(at, listing, depth) === false) return;
      for (const d of listing.dirs) await walk(join(at, d), depth + 1);
    };
    await walk(dir, 0);
  }

  /**
   * Every file below `dir`, as `/`-joined paths relative to it, sorted;
   * a folder reached twice through links is listed once.
   */
  async filesDeep(dir: string): Promise<string[]> {
    const out: string[] = [];
    const seen = new Set<string>();
    const walk = async (at: string, prefix: string) => {
      const real = await Deno.realPath(at).catch(() => at);
      if (seen.has(real)) return;
      seen.add(real);
      const { files, dirs } = await this.list(at);
      const entries = [
        ...files.map((n) => [n, false] as const),
        ...dirs.map((n) => [n, true] as const),
      ].sort((a, b) => a[0] < b[0] ? -1 : 1);
      for (const [name, isDir] of entries) {
        const rel = prefix ? `${prefix}/${name}` : name;
        if (isDir) await walk(join(at, name), rel);
        else out.push(rel);
      }
    };
    await walk(dir, "");
    return out;
  }

  /**
   * Opens file `path` for reading, with the checks of `openVaultFile`
   * (a regular file whose real path is inside; never blocks on a FIFO):
   * a file the importer needs is refused, not skipped, when it is not one.
   *
   * @throws {UnsafeFileError} Not a regular file inside the folder.
   * @throws {Deno.errors.NotFound} No such file.
   */
  async open(path: string): Promise<Deno.FsFile> {
    await this.#followed(path); // names a link that leads out
    return await openVaultFile(path, { root: this.#real });
  }
}

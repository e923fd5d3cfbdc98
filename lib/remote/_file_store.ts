/**
 * A remote in a folder (`file:///path`): a cluster's NFS or Lustre. Writes
 * go through a temp name and a rename; conditional writes are a hard link,
 * which fails when the name is taken.
 *
 * @module
 */
import { createHash, dirname, join } from "../_deps/node.ts";
import { NotFoundError } from "../errors.ts";
import { RemoteError } from "./errors.ts";
import type { PutIfAbsent, RemoteObject, RemoteStore } from "./store.ts";

/** A {@linkcode RemoteStore} on a local or shared folder. */
export class FileStore implements RemoteStore {
  readonly where: string;
  #root: string;

  constructor(root: string, url: string) {
    this.#root = root;
    this.where = url;
  }

  async check(): Promise<void> {
    try {
      if ((await Deno.stat(this.#root)).isDirectory) return;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new RemoteError(
          `Cannot open remote ${this.where}: ${(e as Error).message}`,
        );
      }
    }
    throw new NotFoundError(
      `Remote folder ${this.#root} does not exist: create it (mkdir -p ${this.#root}) or fix the remote's URL (deno task remote add NAME file:///path)`,
    );
  }

  async list(prefix: string, startAfter = ""): Promise<RemoteObject[]> {
    const out: RemoteObject[] = [];
    const walk = async (rel: string) => {
      let entries: Deno.DirEntry[];
      try {
        entries = [...Deno.readDirSync(join(this.#root, rel))];
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return;
        throw e;
      }
      for (const e of entries) {
        if (e.name.startsWith(".tmp-")) continue;
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory) await walk(key);
        else if (e.isFile) {
          out.push({
            key,
            size: (await Deno.stat(join(this.#root, key))).size,
          });
        }
      }
    };
    // The prefix names a folder ("log/") or a folder and a name start.
    const dir = prefix.endsWith("/") ? prefix.slice(0, -1) : dirname(prefix);
    await walk(dir === "." ? "" : dir);
    return out.filter((o) => o.key.startsWith(prefix) && o.key > startAfter)
      .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return await Deno.readFile(join(this.#root, key));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
  }

  async download(key: string, dest: string) {
    const hash = createHash("sha256");
    using src = await Deno.open(join(this.#root, key));
    using out = await Deno.open(dest, { write: true, createNew: true });
    let bytes = 0;
    const buf = new Uint8Array(1 << 20);
    for (;;) {
      const n = await src.read(buf);
      if (n === null) break;
      const chunk = buf.subarray(0, n);
      hash.update(chunk);
      bytes += n;
      let w = 0;
      while (w < n) w += await out.write(chunk.subarray(w));
    }
    return { sha256: hash.digest("hex") as string, bytes };
  }

  async upload(key: string, path: string): Promise<void> {
    const dest = join(this.#root, key);
    await Deno.mkdir(dirname(dest), { recursive: true });
    const tmp = this.#tmp(dest);
    await Deno.copyFile(path, tmp);
    await Deno.rename(tmp, dest);
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const dest = join(this.#root, key);
    await Deno.mkdir(dirname(dest), { recursive: true });
    const tmp = this.#tmp(dest);
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, dest);
  }

  async putIfAbsent(key: string, bytes: Uint8Array): Promise<PutIfAbsent> {
    const dest = join(this.#root, key);
    await Deno.mkdir(dirname(dest), { recursive: true });
    const tmp = this.#tmp(dest);
    await Deno.writeFile(tmp, bytes);
    try {
      await Deno.link(tmp, dest);
      return "created";
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return "exists";
      throw e;
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
  }

  async remove(key: string): Promise<void> {
    await Deno.remove(join(this.#root, key)).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }

  close(): void {}

  #tmp(dest: string): string {
    const rand = crypto.getRandomValues(new Uint32Array(2)).join("");
    return join(dirname(dest), `.tmp-${Deno.pid}-${rand}`);
  }
}

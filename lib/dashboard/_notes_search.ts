/**
 * Searching the field notes (`specimens/<id>/field_notes.md`) from the
 * dashboard. The catalog does not hold the notes (a person edits them at any
 * time, after sealing too, without the change journal hearing of it), so
 * they are read from the folders: one `stat` per specimen per search, and
 * the text read again only when its size or mtime changed (at most 256 KiB
 * per file searched; texts kept in memory up to {@linkcode CACHE_BYTES} in
 * all, the rest read again on each search).
 *
 * @module
 */
import { join } from "../_deps.ts";
import { openVaultFile } from "../_fs.ts";
import { SPECIMENS_DIR } from "../vault.ts";

const NOTES_FILE = "field_notes.md";
/** Bytes of one notes file searched at most. */
export const MAX_SEARCHED_BYTES = 256 * 1024;
/** Memory the cached notes may take at most (about; UTF-16, twice). */
export const CACHE_BYTES = 64 << 20;
const STATS_IN_FLIGHT = 64;
const EXCERPT = 60;

interface Cached {
  key: string;
  text: string;
  lower: string;
}

/** The notes of one vault, searched with a cache. */
export class NotesSearch {
  readonly #root: string;
  #cache = new Map<string, Cached>();
  #bytes = 0;

  constructor(root: string) {
    this.#root = root;
  }

  /**
   * The specimens whose notes hold every term (lowercase), each with an
   * excerpt around the first term's first match.
   */
  async search(terms: string[]): Promise<Map<string, string>> {
    const dir = join(this.#root, SPECIMENS_DIR);
    const ids: string[] = [];
    try {
      for await (const e of Deno.readDir(dir)) {
        if (e.isDirectory && !e.name.startsWith(".")) ids.push(e.name);
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return new Map();
      throw e;
    }
    const seen = new Set(ids);
    for (const id of this.#cache.keys()) {
      if (!seen.has(id)) this.#drop(id);
    }
    const out = new Map<string, string>();
    for (let i = 0; i < ids.length; i += STATS_IN_FLIGHT) {
      await Promise.all(
        ids.slice(i, i + STATS_IN_FLIGHT).map(async (id) => {
          const notes = await this.#read(join(dir, id), id);
          if (notes && terms.every((t) => notes.lower.includes(t))) {
            out.set(id, excerpt(notes, terms[0]));
          }
        }),
      );
    }
    return out;
  }

  async #read(folder: string, id: string): Promise<Cached | null> {
    const path = join(folder, NOTES_FILE);
    let key: string, length: number;
    try {
      const s = await Deno.stat(path);
      if (!s.isFile) return null;
      key = `${s.ino}:${s.mtime?.getTime()}:${s.size}`;
      length = Math.min(s.size, MAX_SEARCHED_BYTES);
    } catch {
      this.#drop(id);
      return null;
    }
    const hit = this.#cache.get(id);
    if (hit?.key === key) return hit;
    try {
      using file = await openVaultFile(path, { root: folder });
      const buf = new Uint8Array(length);
      let off = 0;
      while (off < buf.length) {
        const n = await file.read(buf.subarray(off));
        if (n === null) break;
        off += n;
      }
      const text = new TextDecoder().decode(buf.subarray(0, off));
      const entry = { key, text, lower: text.toLowerCase() };
      this.#drop(id);
      if (this.#bytes + size(entry) <= CACHE_BYTES) {
        this.#cache.set(id, entry);
        this.#bytes += size(entry);
      }
      return entry;
    } catch {
      return null; // a link leading out, a FIFO: not searched
    }
  }

  #drop(id: string): void {
    const old = this.#cache.get(id);
    if (!old) return;
    this.#cache.delete(id);
    this.#bytes -= size(old);
  }
}

const size = (c: Cached) => 4 * c.text.length;

/** A line's worth of text around the first match of `term`. */
function excerpt(notes: Cached, term: string): string {
  const at = notes.lower.indexOf(term);
  const from = Math.max(0, at - EXCERPT);
  const to = Math.min(notes.text.length, at + term.length + EXCERPT);
  return `${from > 0 ? "…" : ""}${
    notes.text.slice(from, to).replace(/\s+/g, " ").trim()
  }${to < notes.text.length ? "…" : ""}`;
}

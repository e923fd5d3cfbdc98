/**
 * Where a pulled specimen came from: `specimens/<id>/origin.json`, written
 * by `deno task pull` (lib/remote/), outside the seal (like `field_notes.md`),
 * read by the dashboard.
 *
 * @module
 */
import { join } from "../_deps/node.ts";
import { readVaultFile } from "../_fs.ts";

/** The file's name in the specimen folder. */
export const ORIGIN_FILE = "origin.json";

/** What `origin.json` holds. */
export interface Origin {
  /** The remote's name in the pulling vault. */
  remote: string;
  /** Its URL. */
  url: string;
  /** Its endpoint, for S3-compatible servers. */
  endpoint?: string;
  /** The seal digest pulled. */
  digest: string;
  /** When it was pushed (ISO 8601). */
  pushed_at: string;
  /** When it was pulled (ISO 8601). */
  pulled_at: string;
}

/**
 * The origin of the specimen at `dir`, or null for one made here (or an
 * unreadable file: a link out of the folder, a FIFO, over 64 kB, not JSON).
 *
 * @example
 * ```ts
 * import { readOrigin } from "./origin.ts";
 * const dir = await Deno.makeTempDir();
 * console.assert(await readOrigin(dir) === null);
 * await Deno.remove(dir);
 * ```
 */
export async function readOrigin(dir: string): Promise<Origin | null> {
  try {
    const bytes = await readVaultFile(join(dir, ORIGIN_FILE), {
      root: dir,
      maxBytes: 64 * 1024,
    });
    const o = JSON.parse(new TextDecoder().decode(bytes));
    return typeof o?.remote === "string" ? o : null;
  } catch {
    return null;
  }
}

/**
 * Which database files this process holds open through `openDatabase`, by
 * device and inode: DuckDB's file lock guards a file against other
 * processes only, so the index asks here before it writes one in place (the
 * spare catalog, which a dashboard in this process may still read). No
 * imports: the index loads it without DuckDB.
 *
 * @module
 */

const held = new Map<string, number>();

/** Counts one more open of the file at `path` (if it is one); returns its release. */
export function holdFile(path: string): () => void {
  let key: string;
  try {
    const s = Deno.statSync(path);
    if (!s.isFile || s.ino === null) return () => {};
    key = `${s.dev}:${s.ino}`;
  } catch {
    return () => {}; // in memory, not created yet, or not ours to stat
  }
  held.set(key, (held.get(key) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const n = (held.get(key) ?? 1) - 1;
    if (n > 0) held.set(key, n);
    else held.delete(key);
  };
}

/** Whether this process holds the file `dev`/`ino` open through `openDatabase`. */
export function isHeld(dev: number, ino: number): boolean {
  return held.has(`${dev}:${ino}`);
}

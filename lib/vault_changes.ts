/**
 * The vault's change journal, `vault.duckdb.changes` at the vault root:
 * every write the library makes into a specimen folder (a manifest, a
 * metrics table, a log part, a tensor, a compaction) appends the folder's
 * name, after the write. The index records how long the journal was when it
 * began scanning; the next index reads only what was appended since to know
 * which folders to look at, and when nothing was (and `specimens/` itself
 * did not change), it knows the catalog is up to date without a single stat
 * per specimen.
 *
 * Changes made to an existing specimen folder by other means (an editor, a
 * copy into `strata/`) are not in the journal: `deno task index --rescan`
 * (or `--full`) looks at every folder. Adding, removing or replacing a
 * whole folder needs no journal: it changes `specimens/`'s own mtime. Like
 * the catalog's other side files, the journal may be deleted at will: the
 * next index then looks at every folder.
 *
 * @module
 */
import { basename, dirname, join } from "./_deps/path.ts";
import { CATALOG_FILE, SPECIMENS_DIR } from "./vault.ts";

/**
 * How long a folder's mtime must have been still before an index may trust
 * it to mean "same entries": file systems keep mtimes in clock ticks of a
 * few milliseconds, so two changes within one tick cannot be told apart.
 */
export const SETTLED_MS = 5000;

/** The journal's name in the vault root (beside the catalog). */
export const CHANGES_FILE = `${CATALOG_FILE}.changes`;

/**
 * What identifies the journal's state: which file (inode and birth time,
 * so that a journal deleted and made again is another one) and its length;
 * or `null`: there is none.
 */
export type JournalState = { ino: number; born: number; size: number } | null;

let warned = false;

/**
 * Appends `specimenDir`'s name to its vault's journal, after a write into
 * it. A folder not directly under a `specimens/` folder is not in a vault:
 * nothing is recorded. A journal that cannot be written costs no result:
 * it is said once on stderr, with the fix.
 *
 * @example
 * ```ts
 * import { CHANGES_FILE, recordChange } from "./vault_changes.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/specimens/demo`, { recursive: true });
 * recordChange(`${root}/specimens/demo`);
 * console.assert(
 *   Deno.readTextFileSync(`${root}/${CHANGES_FILE}`) === "\ndemo\n",
 * );
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function recordChange(specimenDir: string): void {
  const specimens = dirname(specimenDir);
  const name = basename(specimenDir);
  if (basename(specimens) !== SPECIMENS_DIR || name.includes("\n")) return;
  const path = join(dirname(specimens), CHANGES_FILE);
  try {
    // O_APPEND: concurrent writers' lines never interleave (one write
    // each). The leading newline ends a line a writer killed midway left.
    Deno.writeFileSync(path, new TextEncoder().encode(`\n${name}\n`), {
      append: true,
      create: true,
    });
  } catch (e) {
    if (warned) return;
    warned = true;
    console.error(
      `warning: could not record a change of ${specimenDir} in ${path} (${
        (e as Error).message
      }); the next \`deno task index\` may miss it: run \`deno task index --rescan\``,
    );
  }
}

/**
 * The state of the journal of the vault at `root` now (`null`: none; a
 * negative `size`: something that is not a readable file is in its place).
 *
 * @example
 * ```ts
 * import { journalState } from "./vault_changes.ts";
 * const dir = await Deno.makeTempDir();
 * console.assert(journalState(dir) === null);
 * await Deno.remove(dir);
 * ```
 */
export function journalState(root: string): JournalState {
  try {
    return stateOf(Deno.statSync(join(root, CHANGES_FILE)));
  } catch (e) {
    return e instanceof Deno.errors.NotFound ? null : UNUSABLE;
  }
}

/** A journal path that is not a regular file: nothing can be told. */
const UNUSABLE = { ino: -1, born: 0, size: -1 };

function stateOf(s: Deno.FileInfo): JournalState {
  if (!s.isFile || s.ino === null) return UNUSABLE;
  return { ino: s.ino, born: s.birthtime?.getTime() ?? 0, size: s.size };
}

/**
 * The folder names appended to the journal of the vault at `root` between
 * state `from` (recorded by the last index) and `now`, and the state they
 * bring it to (a last line still being written is left for the next
 * reader); or undefined when that cannot be told (the journal was replaced,
 * removed, or shrank): then every folder must be looked at.
 *
 * @example
 * ```ts
 * import { changesSince, journalState, recordChange } from "./vault_changes.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/specimens`);
 * recordChange(`${root}/specimens/a`);
 * const before = journalState(root);
 * recordChange(`${root}/specimens/b`);
 * const changed = changesSince(root, before, journalState(root));
 * console.assert(changed?.names.size === 1 && changed.names.has("b"));
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function changesSince(
  root: string,
  from: JournalState,
  now: JournalState,
): { names: Set<string>; state: JournalState } | undefined {
  if (now === null) {
    return from === null ? { names: new Set(), state: null } : undefined;
  }
  if (now.size < 0 || (from && from.size < 0)) return undefined;
  const same = from !== null && from.ino === now.ino && from.born === now.born;
  const start = from === null ? 0 : same ? from.size : -1;
  if (start < 0 || start > now.size) return undefined;
  if (start === now.size) return { names: new Set(), state: now };
  let bytes: Uint8Array;
  try {
    using file = Deno.openSync(join(root, CHANGES_FILE));
    const opened = stateOf(file.statSync());
    if (opened?.ino !== now.ino || opened.born !== now.born) return undefined;
    file.seekSync(start, Deno.SeekMode.Start);
    bytes = new Uint8Array(now.size - start);
    let read = 0;
    while (read < bytes.length) {
      const n = file.readSync(bytes.subarray(read));
      if (n === null) return undefined; // shorter than stat said
      read += n;
    }
  } catch {
    return undefined;
  }
  // A line still being written is its writer's: the next index reads it.
  const end = bytes.lastIndexOf(0x0a) + 1;
  const names = new Set<string>();
  const text = new TextDecoder().decode(bytes.subarray(0, end));
  for (const line of text.split("\n")) {
    if (line) names.add(line);
  }
  return { names, state: { ...now, size: start + end } };
}

/** What an index records of the vault as a whole before it scans. */
export interface VaultState {
  /** `specimens/`'s mtime, or -1 when too recent to trust (or unreadable). */
  specimens: number;
  /** The journal's state. */
  journal: JournalState;
}

/**
 * The state of the vault at `root`, now: taken before a scan, so that
 * anything that changes during it shows up again next time.
 *
 * @example
 * ```ts
 * import { vaultState } from "./vault_changes.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/specimens`);
 * const state = vaultState(root);
 * console.assert(state.specimens === -1 && state.journal === null); // new
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function vaultState(root: string): VaultState {
  let specimens = -1;
  try {
    const mtime = Deno.statSync(join(root, SPECIMENS_DIR)).mtime?.getTime();
    if (mtime !== undefined && Date.now() - mtime > SETTLED_MS) {
      specimens = mtime;
    }
  } catch { /* -1: not trusted */ }
  return { specimens, journal: journalState(root) };
}

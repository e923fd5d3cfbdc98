/**
 * The vault's trash: listing what was discarded, and emptying it for good.
 * Emptying renames each folder to a hidden temp name first (one atomic
 * step: from then on it is no longer a discarded specimen), then deletes it
 * entry by entry, never following a symbolic link (a link is removed, not
 * its target); a deletion killed midway is finished by the next `empty`.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { isTempName, tempPathFor } from "../_fs.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { isReadableSpecimenId } from "../specimen/id.ts";
import { vaultPaths } from "../vault.ts";
import { kindOf, lockTrash, RECORD_SUFFIX, TRASH_DIR } from "./_folders.ts";
import { pauseAt } from "./_hook.ts";
import { readRecord } from "./_record.ts";

/** One discarded specimen. */
export interface TrashEntry {
  /** The specimen id. */
  id: string;
  /** When it was discarded (ISO 8601): from its record, else the folder's ctime. */
  discarded_at: string;
  /** Why, or null. */
  reason: string | null;
  /** Whether a record was found (else the folder was put there by hand). */
  recorded: boolean;
  /** Bytes of its files (links counted as links, never followed). */
  bytes: number;
}

/** The trash folder of the vault at `root`, refused when it is a link. */
async function trashOf(root: string): Promise<string | null> {
  const trash = join(root, TRASH_DIR);
  const kind = await kindOf(trash);
  if (kind === null) return null;
  if (kind !== "dir") {
    throw new InvalidInputError(
      `${trash} is ${
        kind === "link" ? "a symbolic link" : "not a folder"
      }: the trash must be a real folder inside the vault, so that emptying it cannot delete anything outside; move it away`,
    );
  }
  return trash;
}

/**
 * Lists the discarded specimens of the vault, oldest first.
 *
 * Needs `--allow-read` on the vault.
 *
 * @example
 * ```ts ignore
 * import { listTrash } from "./trash.ts";
 * for (const e of await listTrash({ vault: "." })) console.log(e.id, e.reason);
 * ```
 */
export async function listTrash(
  options: { vault: string },
): Promise<TrashEntry[]> {
  const trash = await trashOf(vaultPaths(options.vault).root);
  if (trash === null) return [];
  const out: TrashEntry[] = [];
  for await (const e of Deno.readDir(trash)) {
    if (!e.isDirectory || !isReadableSpecimenId(e.name)) continue;
    const record = await readRecord(trash, e.name);
    let at = record?.discarded_at;
    if (at === undefined) {
      const s = await Deno.lstat(join(trash, e.name));
      at = (s.ctime ?? s.mtime ?? new Date(0)).toISOString();
    }
    out.push({
      id: e.name,
      discarded_at: at,
      reason: record?.reason ?? null,
      recorded: record !== null,
      bytes: (await sizeOf(join(trash, e.name))).bytes,
    });
  }
  return out.sort((a, b) =>
    a.discarded_at < b.discarded_at
      ? -1
      : a.discarded_at > b.discarded_at
      ? 1
      : a.id < b.id
      ? -1
      : 1
  );
}

/** Bytes and entries under `path`, by lstat: links are not followed. */
async function sizeOf(path: string): Promise<{ bytes: number }> {
  let bytes = 0;
  const stack = [path];
  while (stack.length) {
    const p = stack.pop()!;
    const s = await Deno.lstat(p);
    bytes += s.isDirectory ? 0 : s.size;
    if (s.isDirectory) {
      for await (const e of Deno.readDir(p)) stack.push(join(p, e.name));
    }
  }
  return { bytes };
}

/**
 * Deletes the folder `path` and everything in it, never following a link:
 * a link (anywhere, even as `path` itself) is removed as a link. Returns
 * the bytes of the files removed.
 */
async function removeTree(path: string): Promise<number> {
  let bytes = 0;
  let first = true;
  const visit = async (p: string): Promise<void> => {
    const s = await Deno.lstat(p);
    if (s.isDirectory) {
      for await (const e of Deno.readDir(p)) await visit(join(p, e.name));
      await Deno.remove(p);
      return;
    }
    await Deno.remove(p);
    bytes += s.size;
    if (first) {
      first = false;
      await pauseAt("empty:mid-delete");
    }
  };
  await visit(path);
  return bytes;
}

/** Options of {@linkcode emptyTrash}. */
export interface EmptyTrashOptions {
  /** The vault root. */
  vault: string;
  /** Only those discarded at least this long ago (ms). @default 0 */
  olderThanMs?: number;
  /** Only these ids. @default every discarded specimen */
  ids?: string[];
  /** The clock. @default () => new Date() */
  now?: () => Date;
  /** Called after each specimen deleted (for progress). */
  onProgress?: (p: { done: number; total: number; bytes: number }) => void;
}

/** What {@linkcode emptyTrash} did. */
export interface EmptyTrashReport {
  /** The specimens deleted for good, with their bytes. */
  deleted: { id: string; bytes: number }[];
  /** Bytes freed in all (including interrupted deletions finished). */
  bytes: number;
  /** Discarded specimens kept (too recent). */
  kept: number;
  /** Deletions a killed process left, finished now. */
  finished: number;
}

/**
 * Deletes discarded specimens for good (all, or those discarded at least
 * `olderThanMs` ago, or `ids`) and reports the bytes freed. Leftovers of a
 * deletion killed midway are finished first.
 *
 * Needs `--allow-read` and `--allow-write` on the vault.
 *
 * @example
 * ```ts ignore
 * import { emptyTrash } from "./trash.ts";
 * const r = await emptyTrash({ vault: ".", olderThanMs: 30 * 86_400_000 });
 * console.log(`${r.deleted.length} deleted, ${r.bytes} bytes freed`);
 * ```
 */
export async function emptyTrash(
  options: EmptyTrashOptions,
): Promise<EmptyTrashReport> {
  const root = vaultPaths(options.vault).root;
  const trash = await trashOf(root);
  const report: EmptyTrashReport = {
    deleted: [],
    bytes: 0,
    kept: 0,
    finished: 0,
  };
  if (trash === null) {
    if (options.ids?.length) throw notInTrash(options.ids[0]);
    return report;
  }
  using _ = await lockTrash(trash, true);
  await finishInterrupted(trash, report);
  const entries = await listTrash({ vault: root });
  const byId = new Map(entries.map((e) => [e.id, e]));
  for (const id of options.ids ?? []) {
    if (!byId.has(id)) throw notInTrash(id);
  }
  const wanted = options.ids ? new Set(options.ids) : null;
  const now = (options.now ?? (() => new Date()))().getTime();
  const older = options.olderThanMs ?? 0;
  const chosen = entries.filter((e) => !wanted || wanted.has(e.id));
  for (const e of chosen) {
    if (now - Date.parse(e.discarded_at) < older) {
      report.kept++;
      continue;
    }
    const from = join(trash, e.id);
    const doomed = tempPathFor(from);
    try {
      await Deno.rename(from, doomed);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue; // restored meanwhile
      throw err;
    }
    await pauseAt("empty:after-rename");
    await Deno.remove(join(trash, `${e.id}${RECORD_SUFFIX}`)).catch(() => {});
    const bytes = await removeTree(doomed);
    report.deleted.push({ id: e.id, bytes });
    report.bytes += bytes;
    options.onProgress?.({
      done: report.deleted.length,
      total: chosen.length - report.kept,
      bytes: report.bytes,
    });
  }
  await removeOrphanRecords(trash);
  return report;
}

function notInTrash(id: string): NotFoundError {
  return new NotFoundError(
    `No discarded specimen "${id}": see them with \`deno task trash list\``,
  );
}

/**
 * Finishes what killed processes left, holding the trash lock exclusively
 * (so no discard, restore or empty is under way): a folder being deleted
 * (a `.tmp-` folder: deleted, its bytes counted) and a record's temp file.
 */
async function finishInterrupted(
  trash: string,
  report: EmptyTrashReport,
): Promise<void> {
  for await (const e of Deno.readDir(trash)) {
    if (!isTempName(e.name)) continue;
    const path = join(trash, e.name);
    if (e.isDirectory) {
      report.bytes += await removeTree(path);
      report.finished++;
    } else await Deno.remove(path);
  }
}

/**
 * Removes records whose folder is gone: left by a discard killed before its
 * rename, or a restore killed after it (no discard or restore is under way
 * while the trash lock is held exclusively).
 */
async function removeOrphanRecords(trash: string): Promise<void> {
  for await (const e of Deno.readDir(trash)) {
    if (!e.isFile || !e.name.endsWith(RECORD_SUFFIX)) continue;
    const id = e.name.slice(0, -RECORD_SUFFIX.length);
    if (await kindOf(join(trash, id)) !== null) continue;
    await Deno.remove(join(trash, e.name)).catch(() => {});
  }
}

/**
 * Parses a duration such as `30d`, `12h`, `90m`, `45s` or `2w` into
 * milliseconds. Throws {@linkcode InvalidInputError} naming the value.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./trash.ts";
 * console.assert(parseDuration("30d") === 30 * 86_400_000);
 * ```
 */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text.trim());
  if (!m) {
    throw new InvalidInputError(
      `Invalid duration ${
        JSON.stringify(text)
      }: give a number and a unit, s m h d or w (e.g. 30d, 12h)`,
    );
  }
  const unit = { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[m[2]]!;
  return Number(m[1]) * unit;
}

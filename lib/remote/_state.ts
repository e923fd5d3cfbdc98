/**
 * The local cache of what a remote holds: `.remotes/<name>.json` at the
 * vault root. It records how far the remote's push log has been read and
 * the specimens it listed, so a push or pull with nothing new reads one
 * listing of the log's new keys instead of the whole remote. Deleting it
 * loses nothing: the next push or pull reads the whole log again.
 *
 * @module
 */
import { join } from "../_deps/node.ts";
import { atomicWriteFile } from "../_fs.ts";
import { LOG_PREFIX, logStartAfter } from "./layout.ts";
import type { RemoteStore } from "./store.ts";
import { limiter } from "./_limit.ts";

/** The folder of the caches, at the vault root. */
export const STATE_DIR = ".remotes";

/** A log entry's line for one specimen. */
export interface LoggedSpecimen {
  id: string;
  /** The seal digest: the content's name on the remote. */
  digest: string;
  /** SHA-256 of the pushed `manifest.msgpack` (the seal's own check). */
  manifest_sha256: string;
  /** SHA-256 of the pushed `field_notes.md`, null when there was none. */
  notes_sha256: string | null;
  tags: string[];
  files: number;
  bytes: number;
}

/** One push's log entry, `log/<time>-<random>.json`. */
export interface LogEntry {
  pushed_at: string;
  host: string;
  specimens: LoggedSpecimen[];
}

/** A specimen as the remote's log lists it. */
export interface RemoteEntry extends LoggedSpecimen {
  pushed_at: string;
  /** Other digests logged for this id (a race the claims decide). */
  others?: string[];
}

/** The cache. */
export interface RemoteState {
  url: string;
  /** False once the server refused `If-None-Match: *` (501). */
  conditional?: boolean;
  /** The newest log key read. */
  cursor: string;
  /** Log keys read within the clock-skew window before the cursor. */
  recent: string[];
  remote: Record<string, RemoteEntry>;
  /** Ids whose local copy is known to have this digest. */
  synced: Record<string, string>;
  /** `id/digest` pushes begun and not finished (resumed by listing). */
  inflight: string[];
}

/** How far behind another machine's clock may be. */
export const CLOCK_SKEW_MS = 15 * 60 * 1000;

function statePath(root: string, name: string): string {
  return join(root, STATE_DIR, `${name}.json`);
}

/** Reads the cache of remote `name` (a fresh one when missing, unreadable or of another URL). */
export async function loadState(
  root: string,
  name: string,
  url: string,
): Promise<RemoteState> {
  const fresh: RemoteState = {
    url,
    cursor: "",
    recent: [],
    remote: {},
    synced: {},
    inflight: [],
  };
  try {
    const text = await Deno.readTextFile(statePath(root, name));
    const s = JSON.parse(text);
    if (s?.url === url && typeof s.remote === "object") {
      const state = { ...fresh, ...s };
      saved.set(state, text);
      return state;
    }
  } catch { /* start over */ }
  return fresh;
}

/** The text each loaded state was read from (so an unchanged one is not rewritten). */
const saved = new WeakMap<RemoteState, string>();

/** Writes the cache atomically, unless it is unchanged since it was read. */
export async function saveState(
  root: string,
  name: string,
  state: RemoteState,
): Promise<void> {
  const text = JSON.stringify(state);
  if (saved.get(state) === text) return;
  await Deno.mkdir(join(root, STATE_DIR), { recursive: true });
  await atomicWriteFile(statePath(root, name), new TextEncoder().encode(text));
  saved.set(state, text);
}

/** Deletes the cache of remote `name`. */
export async function dropState(root: string, name: string): Promise<void> {
  await Deno.remove(statePath(root, name)).catch(() => {});
}

/**
 * Reads the log entries written since the cache's cursor into `state`:
 * one listing, and one read per new entry. Returns how many were new.
 */
export async function syncLog(
  store: RemoteStore,
  state: RemoteState,
): Promise<number> {
  const after = state.cursor
    ? logStartAfter(state.cursor, CLOCK_SKEW_MS)
    : undefined;
  const seen = new Set(state.recent);
  const keys = (await store.list(LOG_PREFIX, after)).map((o) => o.key)
    .filter((k) => k.endsWith(".json") && !seen.has(k));
  const limit = limiter(16);
  const entries = await Promise.all(
    keys.map((k) => limit(() => store.get(k))),
  );
  keys.forEach((_key, i) => {
    const bytes = entries[i];
    if (!bytes) return;
    let entry: LogEntry;
    try {
      entry = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      return; // not ours, or cut: the claims still decide
    }
    for (const s of entry.specimens ?? []) {
      mergeEntry(state, s, entry.pushed_at);
    }
  });
  noteRead(state, keys);
  return keys.length;
}

/** Records that log keys `keys` were read (or written by us). */
export function noteRead(state: RemoteState, keys: string[]): void {
  const all = [...state.recent, ...keys].sort();
  const newest = all.at(-1) ?? state.cursor;
  if (newest > state.cursor) state.cursor = newest;
  const floor = logStartAfter(state.cursor, CLOCK_SKEW_MS);
  state.recent = all.filter((k) => k > floor);
}

/** Adds one logged specimen to the cache's view of the remote. */
export function mergeEntry(
  state: RemoteState,
  s: LoggedSpecimen,
  pushedAt: string,
): void {
  if (typeof s?.id !== "string" || !/^[0-9a-f]{64}$/.test(s.digest ?? "")) {
    return;
  }
  const had = state.remote[s.id];
  if (!had) {
    state.remote[s.id] = { ...s, pushed_at: pushedAt };
  } else if (had.digest !== s.digest && !had.others?.includes(s.digest)) {
    had.others = [...(had.others ?? []), s.digest];
  }
}

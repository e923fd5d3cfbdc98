/**
 * Private: the discard record, `trash/<id>.discard.json`, written before the
 * specimen's folder is renamed into `trash/<id>/` (so a folder in the trash
 * has its record unless it was moved there by hand), and removed after a
 * restore or a final delete moved the folder away. A record with no folder
 * is left by a process killed between the two steps; it means nothing.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { atomicWriteFile, readVaultFile } from "../_fs.ts";
import { RECORD_SUFFIX } from "./_folders.ts";

/** What a discard records. */
export interface DiscardRecord {
  /** The record's format version (1). */
  version: number;
  /** The specimen discarded. */
  specimen_id: string;
  /** When (ISO 8601). */
  discarded_at: string;
  /** Why, as given with `--reason`, or null. */
  reason: string | null;
  /** Who: the user name, host and process that discarded it. */
  by: { user: string | null; host: string | null; pid: number };
}

function tryGet(f: () => string): string | null {
  try {
    return f() || null;
  } catch {
    return null;
  }
}

/** A new record of specimen `id` discarded at `at` for `reason`. */
export function newRecord(
  id: string,
  at: Date,
  reason: string | null,
): DiscardRecord {
  return {
    version: 1,
    specimen_id: id,
    discarded_at: at.toISOString(),
    reason,
    by: {
      user: tryGet(() => Deno.env.get("USER") ?? ""),
      host: tryGet(() => Deno.hostname()),
      pid: Deno.pid,
    },
  };
}

/** Writes `record` to `path` atomically. */
export async function writeRecord(
  path: string,
  record: DiscardRecord,
): Promise<void> {
  await atomicWriteFile(
    path,
    new TextEncoder().encode(JSON.stringify(record, null, 2) + "\n"),
  );
}

/** Reads the record of `id` in `trash`, or null (none, or unreadable). */
export async function readRecord(
  trash: string,
  id: string,
): Promise<DiscardRecord | null> {
  try {
    const bytes = await readVaultFile(join(trash, `${id}${RECORD_SUFFIX}`), {
      root: trash,
      maxBytes: 1 << 20,
    });
    const r = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof r?.discarded_at !== "string") return null;
    return {
      version: 1,
      specimen_id: id,
      discarded_at: r.discarded_at,
      reason: typeof r.reason === "string" ? r.reason : null,
      by: r.by ?? { user: null, host: null, pid: 0 },
    };
  } catch {
    return null;
  }
}

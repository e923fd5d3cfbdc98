/**
 * Which folders can have changed since the last index, from what its
 * sidecar recorded of the vault (`specimens/`'s mtime, the change journal's
 * length) and the vault's state now: when `specimens/` did not change, the
 * folders named in the journal since, and those with a metrics log (whose
 * logger may have died since, which changes no file); when it did (a folder
 * added, removed or replaced), every folder.
 * This module loads no DuckDB and no npm package: an index with nothing to
 * do runs only this.
 *
 * @module
 */
import { changesSince, type VaultState } from "../vault_changes.ts";
import { SPECIMENS_DIR } from "../vault.ts";
import type { KnownHeader, ScanState } from "./_sidecar.ts";

/**
 * Past this length the journal is removed before a scan of every folder
 * (which needs none of it), so that it never grows without bound.
 */
export const JOURNAL_ROTATE_BYTES = 1 << 20;

/** What {@linkcode changedSince} found. */
export interface Changed {
  /** Whether `specimens/` holds the recorded folders (else: list it). */
  sameFolders: boolean;
  /** The scan warnings recorded with those folders. */
  held: string[];
  /** The folders to look at; the others are as recorded. */
  toScan: Set<string>;
  /** What to record of the vault for the next index. */
  state: Omit<ScanState, "held">;
}

/**
 * Which folders can have changed since `known` was recorded, or undefined
 * when that cannot be told (no recorded state, a journal replaced or too
 * long): then every folder is scanned.
 */
export function changedSince(
  root: string,
  known: KnownHeader,
  now: VaultState,
): Changed | undefined {
  const recorded = known.state;
  if (!recorded) return undefined;
  if (now.journal && now.journal.size > JOURNAL_ROTATE_BYTES) return undefined;
  const changes = changesSince(root, recorded.journal, now.journal);
  if (!changes) return undefined;
  const same = now.specimens !== -1 && now.specimens === recorded.specimens;
  const toScan = new Set(changes.names);
  for (const id of known.logs) toScan.add(id);
  return {
    sameFolders: same,
    held: same ? recorded.held : [],
    toScan,
    state: { specimens: now.specimens, journal: changes.state },
  };
}

/**
 * The warnings of an index with nothing to do (the scan's, then each
 * specimen's recorded issues), or undefined if anything can have changed.
 */
export function unchangedByState(
  root: string,
  known: KnownHeader,
  now: VaultState,
): string[] | undefined {
  const changed = changedSince(root, known, now);
  if (!changed?.sameFolders || changed.toScan.size) return undefined;
  const warnings = [...changed.held];
  // In the ids' order, as the whole path says them.
  for (const id of Object.keys(known.issues).sort()) {
    for (const issue of known.issues[id] ?? []) {
      warnings.push(`${SPECIMENS_DIR}/${id}: ${issue}`);
    }
  }
  return warnings;
}

/**
 * Changing a specimen's labels and star: `labels.json` beside the manifest,
 * outside the seal (see `lib/specimen/labels.ts` for the format). Each
 * change is a read-modify-write under the specimen's `.lock`, written
 * atomically, and appended to the vault's change journal so that the next
 * incremental `deno task index` reads it.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { atomicWriteFile, readVaultFile } from "../_fs.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import {
  emptyLabels,
  labelNames,
  LABELS_FILE,
  type LabelsFile,
  MAX_LABELS,
  MAX_LABELS_BYTES,
  parseLabels,
  validateLabel,
} from "../specimen/labels.ts";
import { recordChange } from "../vault_changes.ts";
import { vaultPaths } from "../vault.ts";
import { specimenFolder } from "./_folders.ts";
import { LOCK_FILE } from "./_busy.ts";

/** What to change: labels to add and to remove, and the star. */
export interface LabelChange {
  /** Labels to set (already set: its time is kept). @default [] */
  add?: string[];
  /** Labels to take off (not set: nothing happens). @default [] */
  remove?: string[];
  /** Star (true) or unstar (false); undefined leaves the star. */
  star?: boolean;
}

/** Options of {@linkcode changeLabels}. */
export interface ChangeLabelsOptions {
  /** The vault root. */
  vault: string;
  /** The specimens to change. */
  ids: string[];
  /** The change, the same for each. */
  change: LabelChange;
  /** The clock (for the times recorded). @default () => new Date() */
  now?: () => Date;
  /** Work out what would change, write nothing. @default false */
  dryRun?: boolean;
}

/** One specimen's labels after a change. */
export interface LabelResult {
  /** The specimen id. */
  id: string;
  /** Its labels now, sorted. */
  labels: string[];
  /** Whether it is starred now. */
  starred: boolean;
  /** Whether anything changed (else nothing was written). */
  changed: boolean;
  /** The labels this change added (they were not set). */
  added: string[];
  /** The labels this change removed (they were set). */
  removed: string[];
}

/**
 * Reads the labels of the specimen folder `dir` (empty when it has no
 * labels file). Throws {@linkcode InvalidInputError} for a file that is not
 * a labels file (it names the fix).
 *
 * @example
 * ```ts
 * import { readLabelsFile } from "./labels.ts";
 * const dir = await Deno.makeTempDir();
 * console.assert(Object.keys((await readLabelsFile(dir)).labels).length === 0);
 * await Deno.remove(dir);
 * ```
 */
export async function readLabelsFile(dir: string): Promise<LabelsFile> {
  const path = join(dir, LABELS_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await readVaultFile(path, {
      root: dir,
      maxBytes: MAX_LABELS_BYTES,
    });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return emptyLabels();
    throw e;
  }
  try {
    return parseLabels(bytes, path);
  } catch (e) {
    throw new InvalidInputError(
      `${
        (e as Error).message
      }: fix it by hand or remove it (labels are not part of the seal, so removing it loses only the labels)`,
      { cause: e },
    );
  }
}

/**
 * Applies `change` to `file` at time `at`; returns whether it changed.
 *
 * @example
 * ```ts
 * import { applyLabelChange } from "./labels.ts";
 * import { emptyLabels } from "../specimen/labels.ts";
 * const f = emptyLabels();
 * console.assert(applyLabelChange(f, { add: ["best"], star: true }, "2026-01-01T00:00:00.000Z"));
 * console.assert(f.labels.best !== undefined && f.starred?.value === true);
 * ```
 */
export function applyLabelChange(
  file: LabelsFile,
  change: LabelChange,
  at: string,
): boolean {
  let changed = false;
  for (const label of change.remove ?? []) {
    if (label in file.labels) {
      delete file.labels[label];
      file.removed[label] = at;
      changed = true;
    }
  }
  for (const label of change.add ?? []) {
    if (!(label in file.labels)) {
      file.labels[label] = at;
      delete file.removed[label];
      changed = true;
    }
  }
  if (
    change.star !== undefined && (file.starred?.value ?? false) !== change.star
  ) {
    file.starred = { value: change.star, at };
    changed = true;
  }
  return changed;
}

/**
 * Checks a change before anything is written: each label valid, none both
 * added and removed. Throws {@linkcode InvalidInputError}.
 */
function checkChange(change: LabelChange): void {
  for (const l of [...(change.add ?? []), ...(change.remove ?? [])]) {
    validateLabel(l);
  }
  const both = (change.add ?? []).filter((l) => change.remove?.includes(l));
  if (both.length) {
    throw new InvalidInputError(
      `Label ${JSON.stringify(both[0])} is both added and removed: give +${
        both[0]
      } or -${both[0]}, not both`,
    );
  }
}

/**
 * Sets and removes labels (and the star) of specimens. Every id is checked
 * first (a missing or discarded one throws {@linkcode NotFoundError} before
 * anything is written); then each specimen's `labels.json` is changed under
 * its `.lock` and written atomically, and the change journaled.
 *
 * Needs `--allow-read` and `--allow-write` on the vault.
 *
 * @example
 * ```ts ignore
 * import { changeLabels } from "./labels.ts";
 * const [r] = await changeLabels({
 *   vault: ".", ids: ["my_run"], change: { add: ["best"], remove: ["buggy"] },
 * });
 * console.log(r.labels, r.starred);
 * ```
 */
export async function changeLabels(
  options: ChangeLabelsOptions,
): Promise<LabelResult[]> {
  checkChange(options.change);
  const root = vaultPaths(options.vault).root;
  const dirs: [string, string][] = [];
  for (const id of new Set(options.ids)) {
    dirs.push([id, await specimenFolder(root, id)]);
  }
  const at = (options.now ?? (() => new Date()))().toISOString();
  const results: LabelResult[] = [];
  for (const [id, dir] of dirs) {
    results.push(
      await changeOne(id, dir, options.change, at, options.dryRun ?? false),
    );
  }
  return results;
}

async function changeOne(
  id: string,
  dir: string,
  change: LabelChange,
  at: string,
  dryRun: boolean,
): Promise<LabelResult> {
  let lock: Deno.FsFile;
  try {
    lock = await Deno.open(join(dir, LOCK_FILE), { create: true, write: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new NotFoundError(
      `Specimen "${id}" was moved away (discarded?) while its labels were being changed: nothing was written`,
    );
  }
  using _ = lock;
  await lock.lock(true);
  // A discard may have moved the folder while this waited for the lock.
  const file = await readLabelsFile(dir);
  const added = (change.add ?? []).filter((l) => !(l in file.labels));
  const removed = (change.remove ?? []).filter((l) => l in file.labels);
  const changed = applyLabelChange(file, change, at);
  const count = Object.keys(file.labels).length;
  if (count > MAX_LABELS) {
    throw new InvalidInputError(
      `Specimen "${id}" would carry ${count} labels: at most ${MAX_LABELS} are allowed; remove some first`,
    );
  }
  if (changed && !dryRun) {
    try {
      await atomicWriteFile(
        join(dir, LABELS_FILE),
        new TextEncoder().encode(JSON.stringify(file, null, 2) + "\n"),
      );
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new NotFoundError(
        `Specimen "${id}" was moved away (discarded?) while its labels were being changed: nothing was written`,
        { cause: e },
      );
    }
    recordChange(dir);
  }
  return {
    id,
    labels: labelNames(file),
    starred: file.starred?.value ?? false,
    changed,
    added: [...new Set(added)],
    removed: [...new Set(removed)],
  };
}

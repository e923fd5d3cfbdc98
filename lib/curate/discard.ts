/**
 * Discarding and restoring whole specimens: `specimens/<id>/` is renamed
 * into the vault's `trash/<id>/` (one atomic rename, nothing rewritten, so
 * a restored specimen still matches its seal), with a record of when and
 * why in `trash/<id>.discard.json`. A crash at any point leaves the folder
 * wholly in place or wholly in the trash.
 *
 * @module
 */
import {
  InvalidInputError,
  SpecimenExistsError,
  VaultError,
} from "../errors.ts";
import { NotFoundError } from "../errors.ts";
import { validateReadableSpecimenId } from "../specimen/id.ts";
import { SPECIMENS_DIR, vaultPaths } from "../vault.ts";
import { assertIdle, lockSpecimen } from "./_busy.ts";
import {
  idPaths,
  kindOf,
  lockTrash,
  specimenFolder,
  TRASH_DIR,
} from "./_folders.ts";
import { pauseAt } from "./_hook.ts";
import { newRecord, readRecord, writeRecord } from "./_record.ts";

/** The longest `--reason` kept (characters). */
export const MAX_REASON_LENGTH = 1000;

/** Options of {@linkcode discardSpecimens}. */
export interface DiscardOptions {
  /** The vault root. */
  vault: string;
  /** The specimens to discard. */
  ids: string[];
  /** Why (kept in the record). @default null */
  reason?: string | null;
  /** The clock. @default () => new Date() */
  now?: () => Date;
}

/** What happened to one id: done, or the error that refused it. */
export interface CurateOutcome {
  /** The specimen id. */
  id: string;
  /** The refusal; absent when it was done. */
  error?: VaultError;
}

/**
 * Moves each specimen of `ids` into the vault's trash. Each id is done on
 * its own: the outcome of each is returned, with the error that refused it
 * (not found, already discarded, a symbolic link, busy: a run, a logger or
 * another process holds it).
 *
 * Needs `--allow-read`, `--allow-write` on the vault (and
 * `--allow-sys=hostname` to tell a live run from a dead one).
 *
 * @example
 * ```ts ignore
 * import { discardSpecimens } from "./discard.ts";
 * const out = await discardSpecimens({ vault: ".", ids: ["junk_1"], reason: "diverged" });
 * console.log(out.filter((o) => o.error).length, "refused");
 * ```
 */
export async function discardSpecimens(
  options: DiscardOptions,
): Promise<CurateOutcome[]> {
  const reason = options.reason ?? null;
  if (reason !== null && reason.length > MAX_REASON_LENGTH) {
    throw new InvalidInputError(
      `The reason is ${reason.length} characters long: at most ${MAX_REASON_LENGTH}; put the long story in the field notes`,
    );
  }
  for (const id of options.ids) validateReadableSpecimenId(id);
  const root = vaultPaths(options.vault).root;
  const now = options.now ?? (() => new Date());
  const out: CurateOutcome[] = [];
  for (const id of new Set(options.ids)) {
    try {
      await discardOne(root, id, reason, now());
      out.push({ id });
    } catch (e) {
      if (!(e instanceof VaultError)) throw e;
      out.push({ id, error: e });
    }
  }
  return out;
}

async function discardOne(
  root: string,
  id: string,
  reason: string | null,
  at: Date,
): Promise<void> {
  const p = idPaths(root, id);
  if (await kindOf(p.dir) === null) {
    await alreadyDiscarded(p.trashed, p.trash, id, "discard");
  } else if (await kindOf(p.trashed) !== null) {
    throw new SpecimenExistsError(
      `Cannot discard specimen "${id}": ${TRASH_DIR}/${id}/ holds an earlier discarded specimen of the same id. Delete that one for good first (\`deno task trash empty ${id}\`); nothing was changed`,
    );
  }
  const dir = await specimenFolder(root, id);
  let lock: Deno.FsFile;
  try {
    lock = await lockSpecimen(dir, id, "discard");
  } catch (e) {
    // Moved away since the check: another discard won.
    if (e instanceof Deno.errors.NotFound) {
      await alreadyDiscarded(p.trashed, p.trash, id, "discard");
    }
    throw e;
  }
  using _ = lock;
  await assertIdle(dir, id, "discard");
  using _trash = await lockTrash(p.trash, false);
  await writeRecord(p.record, newRecord(id, at, reason));
  await pauseAt("discard:before-rename");
  try {
    await Deno.rename(dir, p.trashed);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      await alreadyDiscarded(p.trashed, p.trash, id, "discard");
    }
    if (isTaken(e)) {
      throw new SpecimenExistsError(
        `Cannot discard specimen "${id}": ${TRASH_DIR}/${id}/ is taken (a discarded specimen of the same id): restore or empty it first (\`deno task trash empty\` deletes it for good)`,
      );
    }
    throw e;
  }
  await pauseAt("discard:after-rename");
}

/** Throws {@linkcode SpecimenExistsError} when `id` is in the trash. */
async function alreadyDiscarded(
  trashed: string,
  trash: string,
  id: string,
  what: string,
): Promise<void> {
  if (await kindOf(trashed) === null) return;
  const record = await readRecord(trash, id);
  throw new SpecimenExistsError(
    `Cannot ${what} specimen "${id}": it is already discarded${
      record ? ` (since ${record.discarded_at})` : ""
    }; \`deno task trash restore ${id}\` brings it back`,
  );
}

function isTaken(e: unknown): boolean {
  return e instanceof Deno.errors.AlreadyExists ||
    (e instanceof Error && /not empty|ENOTEMPTY|EEXIST/i.test(e.message));
}

/** Options of {@linkcode restoreSpecimens}. */
export interface RestoreOptions {
  /** The vault root. */
  vault: string;
  /** The discarded specimens to bring back. */
  ids: string[];
}

/**
 * Moves each discarded specimen of `ids` back into `specimens/` (one
 * rename) and removes its record. Refused per id: not in the trash, or a
 * specimen of that id exists again.
 *
 * Needs `--allow-read` and `--allow-write` on the vault.
 *
 * @example
 * ```ts ignore
 * import { restoreSpecimens } from "./discard.ts";
 * await restoreSpecimens({ vault: ".", ids: ["junk_1"] });
 * ```
 */
export async function restoreSpecimens(
  options: RestoreOptions,
): Promise<CurateOutcome[]> {
  for (const id of options.ids) validateReadableSpecimenId(id);
  const root = vaultPaths(options.vault).root;
  const out: CurateOutcome[] = [];
  for (const id of new Set(options.ids)) {
    try {
      await restoreOne(root, id);
      out.push({ id });
    } catch (e) {
      if (!(e instanceof VaultError)) throw e;
      out.push({ id, error: e });
    }
  }
  return out;
}

async function restoreOne(root: string, id: string): Promise<void> {
  const p = idPaths(root, id);
  const kind = await kindOf(p.trashed);
  if (kind !== "dir") {
    const inPlace = await kindOf(p.dir) === "dir";
    throw new NotFoundError(
      kind === "link"
        ? `${TRASH_DIR}/${id} is a symbolic link, not a discarded specimen: nothing was restored (remove the link by hand)`
        : inPlace
        ? `Specimen "${id}" is not discarded: it is in ${SPECIMENS_DIR}/${id}/ already`
        : `No discarded specimen "${id}": see them with \`deno task trash list\``,
    );
  }
  if (await kindOf(p.dir) !== null) {
    throw new SpecimenExistsError(
      `Cannot restore specimen "${id}": ${SPECIMENS_DIR}/${id} exists again (made since the discard). Rename or discard that one first; the discarded one stays in ${TRASH_DIR}/${id}/`,
    );
  }
  let lock: Deno.FsFile;
  try {
    lock = await lockSpecimen(p.trashed, id, "restore");
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `Specimen "${id}" left the trash while being restored (another restore or an empty won): nothing was changed`,
      );
    }
    throw e;
  }
  using _ = lock;
  using _trash = await lockTrash(p.trash, false);
  await pauseAt("restore:before-rename");
  try {
    // A rename onto an empty folder would replace it: checked just above.
    await Deno.rename(p.trashed, p.dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `Specimen "${id}" left the trash while being restored (another restore or an empty won): nothing was changed`,
      );
    }
    if (isTaken(e)) {
      throw new SpecimenExistsError(
        `Cannot restore specimen "${id}": ${SPECIMENS_DIR}/${id} exists again; the discarded one stays in ${TRASH_DIR}/${id}/`,
      );
    }
    throw e;
  }
  await pauseAt("restore:after-rename");
  await Deno.remove(p.record).catch(() => {});
}

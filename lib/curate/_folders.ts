/**
 * Private: where a specimen is, in place or in the trash, and the checks
 * every curating command makes before touching one.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { validateReadableSpecimenId } from "../specimen/id.ts";
import { MANIFEST_FILE } from "../specimen/manifest.ts";
import { SPECIMENS_DIR } from "../vault.ts";

/** The vault's trash folder (beside `specimens/`). */
export const TRASH_DIR = "trash";

/** The suffix of a discard record, `trash/<id>.discard.json`. */
export const RECORD_SUFFIX = ".discard.json";

/** The trash's lock file: shared by discards and restores, exclusive for `empty`. */
export const TRASH_LOCK_FILE = ".lock";

/**
 * Makes the trash folder if needed (refusing one that is a link or not a
 * folder) and locks `trash/.lock`: shared by a discard or a restore while it
 * moves a folder and its record, exclusive by `empty`, which then knows that
 * every temp entry and every record without a folder is a leftover of a
 * killed process. Released when the handle is disposed (or the process dies).
 */
export async function lockTrash(
  trash: string,
  exclusive: boolean,
): Promise<Deno.FsFile> {
  const kind = await kindOf(trash);
  if (kind !== null && kind !== "dir") {
    throw new InvalidInputError(
      `${trash} is ${
        kind === "link" ? "a symbolic link" : "not a folder"
      }: the trash must be a real folder inside the vault, so that emptying it cannot delete anything outside; move it away`,
    );
  }
  await Deno.mkdir(trash, { recursive: true });
  const file = await Deno.open(join(trash, TRASH_LOCK_FILE), {
    create: true,
    write: true,
  });
  try {
    await file.lock(exclusive);
  } catch (e) {
    file.close();
    throw e;
  }
  return file;
}

/** The paths of one id in the vault at `root`. */
export function idPaths(root: string, id: string): {
  dir: string;
  trashed: string;
  record: string;
  trash: string;
} {
  const trash = join(root, TRASH_DIR);
  return {
    dir: join(root, SPECIMENS_DIR, id),
    trash,
    trashed: join(trash, id),
    record: join(trash, `${id}${RECORD_SUFFIX}`),
  };
}

/** What is at `path` (without following a link), or null. */
export async function kindOf(
  path: string,
): Promise<"dir" | "link" | "other" | null> {
  try {
    const s = await Deno.lstat(path);
    return s.isSymlink ? "link" : s.isDirectory ? "dir" : "other";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * The folder of specimen `id`, checked: a valid id, a real folder (not a
 * link) holding a manifest. Throws {@linkcode NotFoundError} naming the
 * trash when the specimen was discarded, and when there is no such one.
 */
export async function specimenFolder(
  root: string,
  id: string,
): Promise<string> {
  validateReadableSpecimenId(id);
  const p = idPaths(root, id);
  const kind = await kindOf(p.dir);
  if (kind === "link" || kind === "other") {
    throw new InvalidInputError(
      `${SPECIMENS_DIR}/${id} is ${
        kind === "link" ? "a symbolic link" : "not a folder"
      }: a specimen is a real folder inside the vault; nothing was changed`,
    );
  }
  if (kind === null) {
    if (await kindOf(p.trashed) === "dir") {
      throw new NotFoundError(
        `Specimen "${id}" is discarded (it is in ${TRASH_DIR}/${id}/): restore it first with \`deno task trash restore ${id}\``,
      );
    }
    throw new NotFoundError(
      `No specimen "${id}" in ${root}: see the ids with \`deno task query "SELECT specimen_id FROM catalog"\` (or \`deno task trash list\` for discarded ones)`,
    );
  }
  if (await kindOf(join(p.dir, MANIFEST_FILE)) !== "other") {
    throw new NotFoundError(
      `${SPECIMENS_DIR}/${id} has no ${MANIFEST_FILE}: it is not a specimen folder (specimens are made by \`deno task create\`); nothing was changed`,
    );
  }
  return p.dir;
}

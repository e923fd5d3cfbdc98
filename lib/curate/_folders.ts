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

/**
 * Private helper: read-modify-write of a specimen's manifest under the
 * specimen's `.lock` file lock (the same lock `SpecimenStorage` takes), so
 * concurrent writers in other processes never drop each other's changes.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { type Manifest, readManifest, writeManifest } from "./manifest.ts";

/** The lock file inside a specimen folder. */
export const LOCK_FILE = ".lock";

/**
 * Locks the specimen at `dir`, reads its manifest, passes it to `update`
 * (which changes it in place and may return a value) and writes it back
 * atomically, unless `update` throws. Returns `update`'s result and the
 * manifest as written.
 *
 * Not re-entrant: do not call it (or storage writes) from inside `update`.
 */
export async function updateManifest<T>(
  dir: string,
  update: (manifest: Manifest) => T | Promise<T>,
): Promise<{ result: T; manifest: Manifest }> {
  using lock = await Deno.open(join(dir, LOCK_FILE), {
    create: true,
    write: true,
  });
  await lock.lock(true);
  const manifest = await readManifest(dir);
  const result = await update(manifest);
  await writeManifest(dir, manifest);
  return { result, manifest };
}

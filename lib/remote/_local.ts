/**
 * What push and pull need to know of a local specimen: its status and seal.
 *
 * @module
 */
import { join } from "../_deps/node.ts";
import { isTempName } from "../_fs.ts";
import { readManifest } from "../specimen/manifest.ts";
import { readSeal, STATUS_SEALED } from "../specimen/seal.ts";
import type { Manifest, Seal } from "../specimen/manifest_types.ts";
import { isReadableSpecimenId } from "../specimen/id.ts";

/** A local specimen, read. */
export type LocalSpecimen =
  | { id: string; dir: string; sealed: true; seal: Seal; manifest: Manifest }
  | { id: string; dir: string; sealed: false; reason: string };

/** The ids of the specimen folders in `specimensDir`, sorted. */
export async function localIds(specimensDir: string): Promise<string[]> {
  const ids: string[] = [];
  try {
    for await (const e of Deno.readDir(specimensDir)) {
      if (e.isDirectory && !isTempName(e.name) && !e.name.startsWith(".")) {
        ids.push(e.name);
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return ids.sort();
}

/** Reads specimen `id`'s manifest and seal. */
export async function readLocal(
  specimensDir: string,
  id: string,
): Promise<LocalSpecimen> {
  const dir = join(specimensDir, id);
  if (!isReadableSpecimenId(id)) {
    return { id, dir, sealed: false, reason: "not a specimen id" };
  }
  let manifest: Manifest;
  try {
    manifest = await readManifest(dir);
  } catch (e) {
    return {
      id,
      dir,
      sealed: false,
      reason: `unreadable manifest: ${(e as Error).message}`,
    };
  }
  let seal: Seal | null;
  try {
    seal = readSeal(manifest);
  } catch (e) {
    return { id, dir, sealed: false, reason: (e as Error).message };
  }
  if (!seal || manifest.status !== STATUS_SEALED) {
    const why: Record<string, string> = {
      active: "not run yet (deno task run " + id + ")",
      running: "a run is in progress",
      failed: "its run failed: failed specimens stay local",
    };
    return {
      id,
      dir,
      sealed: false,
      reason: why[manifest.status] ?? `status ${manifest.status}, not sealed`,
    };
  }
  return { id, dir, sealed: true, seal, manifest };
}

/**
 * What `SpecimenStorage` (storage.ts) writes into the manifest: an
 * artifact's record (with the provenance, on the first one) and the params
 * with their defaults filled in. Each is one locked manifest update.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { recordChange } from "../vault_changes.ts";
import { InvalidInputError } from "../errors.ts";
import { updateManifest } from "../specimen/_lock.ts";
import type { ArtifactRecord, Manifest } from "../specimen/manifest.ts";
import { canonicalJson, mergeParams, type Params } from "../specimen/params.ts";
import { assertWritable } from "../specimen/seal.ts";
import { captureProvenance } from "./provenance.ts";

/**
 * Records artifact `name` in the manifest of specimen `dir`, re-read under
 * its lock; a specimen sealed meanwhile gets the artifact taken back out.
 */
export async function recordArtifactIn(
  dir: string,
  name: string,
  record: ArtifactRecord,
): Promise<{ result: ArtifactRecord; manifest: Manifest }> {
  return await updateManifest(dir, async (m) => {
    try {
      assertWritable(m);
    } catch (e) {
      // Sealed while this artifact was being written: take it back out.
      await Deno.remove(join(dir, record.path), { recursive: true })
        .catch(() => {});
      recordChange(dir);
      throw e;
    }
    // A script using storage without runProtocol still says where its
    // results came from: provenance is captured with the first artifact.
    m.provenance ??= await captureProvenance({
      specimenDir: dir,
      capturedBy: "SpecimenStorage",
    });
    m.artifacts[name] = { ...record, created: new Date().toISOString() };
    return m.artifacts[name];
  });
}

/**
 * Fills in `defaults` (checked) for the params the manifest of specimen
 * `dir` lacks (see `SpecimenStorage.recordParams`); a change is refused
 * once the specimen holds results.
 */
export async function recordParamsIn(
  dir: string,
  id: string,
  defaults: Params,
): Promise<{ result: Params; manifest: Manifest }> {
  return await updateManifest(dir, (m) => {
    const { params } = mergeParams(defaults, m.params ?? {});
    if (canonicalJson(params) === canonicalJson(m.params ?? {})) {
      return params;
    }
    const results = Object.keys(m.artifacts);
    if (
      results.length > 0 || m.seal !== undefined ||
      m.status === "sealed" || m.status === "failed"
    ) {
      throw new InvalidInputError(
        `Cannot change the params of specimen "${id}": it already holds results (${
          results.slice(0, 3).join(", ") || m.status
        }), and params are recorded with the results they produced. Derive a variation instead: deno task create --id ${id}_v2 --from ${id} --param KEY=VALUE`,
      );
    }
    m.params = params;
    return params;
  });
}

/**
 * Writing the fingerprints sidecar (see `_sidecar.ts` for what it is): a
 * module of its own, so that an index with nothing to do loads none of it.
 *
 * @module
 */
import { basename, dirname } from "../_deps/path.ts";
import { atomicWriteFile, removeStaleTemps } from "../_fs.ts";
import { CATALOG_SCHEMA_VERSION } from "./schema.ts";
import type { Previous } from "./_plan.ts";
import {
  type FileIdentity,
  fileIdentity,
  FORMAT,
  FORMAT_VERSION,
  sameIdentity,
  type ScanState,
  SIDECAR_SUFFIX,
  type SidecarBody,
  type SidecarHeader,
} from "./_sidecar.ts";

/**
 * Writes the sidecar of `catalog` (renamed into place: a reader sees a
 * whole one or none), recording `previous` for the catalog file whose
 * identity is `identity` now. Writes nothing if the file is no longer that
 * one (it changed meanwhile), or `previous` predates log fingerprints. The
 * caller holds the index lock.
 */
export async function writeSidecar(
  catalog: string,
  views: boolean,
  previous: Previous,
  identity: FileIdentity | undefined = fileIdentity(catalog),
  state?: ScanState,
): Promise<void> {
  if (!identity || !previous.logs) return;
  const ids = [...previous.fingerprints.keys()].sort();
  const fingerprints: string[] = [];
  const issues: Record<string, string[]> = {};
  for (const id of ids) {
    const entry = previous.fingerprints.get(id)!;
    // A name with a newline (never a valid id): no sidecar.
    if (/\n/.test(id + entry.fingerprint) || id === "") return;
    fingerprints.push(entry.fingerprint);
    if (entry.issues.length) issues[id] = entry.issues;
  }
  if (ids.length === 0) return;
  const bodyBytes = new TextEncoder().encode(
    `${
      JSON.stringify(
        {
          ids: ids.join("\n"),
          fingerprints: fingerprints.join("\n"),
        } satisfies SidecarBody,
      )
    }\n`,
  );
  const header: SidecarHeader = {
    format: FORMAT,
    version: FORMAT_VERSION,
    schema: CATALOG_SCHEMA_VERSION,
    views,
    catalog: identity,
    count: ids.length,
    body: bodyBytes.length,
    issues,
    logs: ids.filter((_, i) => fingerprints[i].includes("|l:")),
    ...(state && { scan: state }),
  };
  const path = catalog + SIDECAR_SUFFIX;
  // Temps of a writer killed midway (the caller holds the index lock).
  await removeStaleTemps(
    dirname(catalog),
    `.tmp-${basename(catalog)}${SIDECAR_SUFFIX}-`,
    { exclusive: true },
  );
  if (!sameIdentity(identity, fileIdentity(catalog))) return;
  // No fsync: after a power loss, a sidecar cut short is not JSON, and one
  // that names a catalog rename the disk lost names the wrong inode.
  const headerBytes = new TextEncoder().encode(`${JSON.stringify(header)}\n`);
  const bytes = new Uint8Array(headerBytes.length + bodyBytes.length);
  bytes.set(headerBytes);
  bytes.set(bodyBytes, headerBytes.length);
  await atomicWriteFile(path, bytes);
}

/** Removes the sidecar of `catalog`, if any (before the catalog changes). */
export async function removeSidecar(catalog: string): Promise<void> {
  await Deno.remove(catalog + SIDECAR_SUFFIX).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/**
 * Private: which sources a vault already holds as imported specimens, by
 * the digest of their files' hashes (recorded in each manifest's
 * `provenance.imported_from.source_digest`).
 *
 * @module
 */
import { createHash, join } from "../importers/_deps.ts";
import { readManifest } from "../specimen/manifest.ts";
import type { SourceFile } from "../importers/model.ts";

/**
 * The digest naming a set of source files: SHA-256 of their sorted,
 * distinct SHA-256s, one per line. The same files read again give the same
 * digest wherever they were copied to.
 */
export function sourceDigest(files: readonly SourceFile[]): string {
  const hashes = [...new Set(files.map((f) => f.sha256))].sort();
  return createHash("sha256").update(hashes.join("\n")).digest("hex");
}

/**
 * Every specimen id of `specimensDir`, and the imported ones by source
 * digest. Folders starting with `.` are skipped; a manifest that cannot be
 * read counts as a taken id and no import.
 */
export async function scanVault(
  specimensDir: string,
): Promise<{ ids: Set<string>; imported: Map<string, string> }> {
  const ids = new Set<string>();
  const imported = new Map<string, string>();
  let entries: Deno.DirEntry[] = [];
  try {
    entries = await Array.fromAsync(Deno.readDir(specimensDir));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    ids.add(e.name);
    if (!e.isDirectory) continue;
    try {
      const m = await readManifest(join(specimensDir, e.name));
      const from = (m.provenance as Record<string, unknown> | undefined)
        ?.imported_from as Record<string, unknown> | undefined;
      if (typeof from?.source_digest === "string") {
        imported.set(from.source_digest, e.name);
      }
    } catch { /* not a readable specimen: its id is still taken */ }
  }
  return { ids, imported };
}

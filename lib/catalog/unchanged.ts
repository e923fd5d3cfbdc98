/**
 * The index's fast path: telling that the catalog is up to date from its
 * sidecar, the change journal and one stat of `specimens/`, with no stat
 * per specimen and nothing loaded beyond this module's few imports (no
 * DuckDB, no npm package). `deno task index` tries it before anything else.
 *
 * @module
 */
import { vaultPaths } from "../vault.ts";
import { vaultState } from "../vault_changes.ts";
import { unchangedByState } from "./_changed.ts";
import { readSidecarHeader } from "./_sidecar.ts";
import type { IndexReport } from "./types.ts";

/** Options for {@linkcode indexIfUnchanged}. */
export interface IndexIfUnchangedOptions {
  /** The vault root. */
  vault: string;
  /** As `indexVault`'s `views`. @default false */
  views?: boolean;
  /** As `indexVault`'s `strict`: with warnings, no answer. @default false */
  strict?: boolean;
}

/**
 * The report of an index with nothing to do (`mode: "unchanged"`, with the
 * warnings it would repeat), when the last index's records prove that
 * nothing changed since: the same catalog file, `specimens/` unchanged (and
 * its mtime old enough to trust), nothing appended to the change journal,
 * no metrics log whose logger may have died. Otherwise undefined: then
 * `indexVault` decides (and does what is needed). It writes nothing and
 * takes no lock (it only reads what a finished index left).
 *
 * @example
 * ```ts
 * import { indexIfUnchanged } from "./unchanged.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/specimens`);
 * console.assert(indexIfUnchanged({ vault: dir }) === undefined); // no catalog
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function indexIfUnchanged(
  options: IndexIfUnchangedOptions,
): IndexReport | undefined {
  const started = performance.now();
  const paths = vaultPaths(options.vault);
  const known = readSidecarHeader(paths.catalog, options.views ?? false);
  if (!known) return undefined;
  const warnings = unchangedByState(paths.root, known, vaultState(paths.root));
  if (!warnings || (options.strict && warnings.length)) return undefined;
  return {
    catalog: paths.catalog,
    mode: "unchanged",
    indexed: known.count,
    read: 0,
    removed: 0,
    skipped: 0,
    warnings,
    ms: performance.now() - started,
    timings: { check: performance.now() - started },
  };
}

/**
 * Before a failed or interrupted specimen runs again: what its last run
 * wrote under `strata/` moves to `runs/<that run>/strata/`, recorded in
 * that run's `partial_results`, so that the new run starts from an empty
 * `strata/` and nothing is lost (the seal of the new run covers `runs/`).
 *
 * @module
 */
import { join } from "../_deps.ts";
import type { Manifest } from "../specimen/manifest_types.ts";
import { STRATA_DIR } from "../vault.ts";
import { isTempName } from "../_fs.ts";
import { isRunSystemFile, isRunSystemTable } from "./system_log.ts";

/**
 * Moves the entries of `strata/` (but a placeholder `.gitkeep` and the run's
 * system metrics, which `setAsideSystemTable` moves) to
 * `runs/<last run>/strata/` and their artifact records into that run's
 * `partial_results`, in `m`. Call under the manifest lock. Returns the
 * folder they moved to, or null when there was nothing to move.
 */
export async function setAsidePartialResults(
  m: Manifest,
  dir: string,
): Promise<string | null> {
  const owner = m.runs?.at(-1);
  if (owner === undefined) return null;
  const entries: string[] = [];
  try {
    for await (const e of Deno.readDir(join(dir, STRATA_DIR))) {
      const path = `${STRATA_DIR}/${e.name}`;
      // Temp files of a killed write are not results: the run removes them.
      if (e.name === ".gitkeep" || isTempName(e.name)) continue;
      if (isRunSystemFile(m, path)) continue;
      if (e.isDirectory && isRunSystemFile(m, `${path}/x`)) continue;
      entries.push(e.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const artifacts = Object.entries(m.artifacts)
    .filter(([, a]) => !isRunSystemTable(m, a.path));
  if (entries.length === 0 && artifacts.length === 0) return null;
  const to = `runs/${owner.id}/${STRATA_DIR}`; // RUNS_DIR
  await Deno.mkdir(join(dir, to), { recursive: true });
  for (const name of entries.sort()) {
    await Deno.rename(
      join(dir, STRATA_DIR, name),
      join(dir, to, name),
    );
  }
  const moved: Manifest["artifacts"] = {};
  for (const [name, a] of artifacts) {
    moved[name] = {
      ...a,
      path: a.path.startsWith(`${STRATA_DIR}/`)
        ? `${to}/${a.path.slice(STRATA_DIR.length + 1)}`
        : a.path,
    };
    delete m.artifacts[name];
  }
  const before = owner.partial_results;
  owner.partial_results = {
    dir: to,
    artifacts: { ...before?.artifacts, ...moved },
    entries: [...new Set([...(before?.entries ?? []), ...entries])].sort(),
  };
  return to;
}

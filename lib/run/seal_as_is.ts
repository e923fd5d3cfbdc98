/**
 * {@linkcode sealAsIs}: keep a failed or interrupted run's results on
 * purpose, sealed as they are, instead of running the specimen again.
 *
 * @module
 */
import { resolve } from "../_deps.ts";
import { updateManifest } from "../specimen/_lock.ts";
import { InvalidInputError } from "../errors.ts";
import type { Manifest } from "../specimen/manifest_types.ts";
import { computeSeal, STATUS_SEALED } from "../specimen/seal.ts";
import { repairLogs } from "../metrics_log/repair.ts";
import { mayRunAgain, runRefusal } from "./_refusal.ts";

/** Options for {@linkcode sealAsIs}. */
export interface SealAsIsOptions {
  /** Progress of the sealing hash, in bytes. */
  onBytes?: (n: number) => void;
}

/**
 * Seals the specimen at `dir` whose last run failed or was interrupted
 * (also a run whose runner died: it is marked `interrupted` first), with
 * what that run left: metrics logs are compacted, every file under
 * `strata/` and `runs/` is hashed, the status becomes `sealed` and the
 * seal records `as_is` (the run's status) and the run's id. The run keeps
 * its status. Returns the manifest as written.
 *
 * Needs `--allow-read` and `--allow-write` on `dir`.
 *
 * @param dir The specimen folder.
 * @param options Progress of the hash.
 * @returns The manifest as written.
 * @throws {ImmutableArtifactError} When it is sealed already.
 * @throws {VaultError} When a run of it is in progress.
 * @throws {InvalidInputError} When it never ran or its last run succeeded:
 *   there is nothing to keep as it is.
 *
 * @example
 * ```ts ignore
 * import { sealAsIs } from "./seal_as_is.ts";
 * const m = await sealAsIs("specimens/my_run");
 * console.assert(m.seal?.as_is === "interrupted");
 * ```
 */
export async function sealAsIs(
  dir: string,
  options: SealAsIsOptions = {},
): Promise<Manifest> {
  dir = resolve(dir);
  await repairLogs(dir);
  const { result, manifest } = await updateManifest(dir, async (m) => {
    const refusal = await runRefusal(m, dir, true);
    if (!mayRunAgain(m)) {
      if (refusal && m.status !== "active") return refusal; // sealed, running
      const id = m.specimen_id;
      return new InvalidInputError(
        `Specimen "${id}" is ${m.status}${
          m.runs?.length ? ` (its last run ${m.runs.at(-1)!.status})` : ""
        }: only a failed or interrupted run is sealed as it is. Run it: deno task run ${id}`,
      );
    }
    const last = m.runs!.at(-1)!;
    m.seal = {
      ...await computeSeal(dir, { run: last.id, onBytes: options.onBytes }),
      as_is: last.status,
    };
    m.status = STATUS_SEALED;
    return null;
  });
  if (result instanceof Error) throw result;
  return manifest;
}

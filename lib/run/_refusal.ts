/**
 * Why a specimen may not run (sealed, holding results, being run): the
 * checks shared by {@linkcode assertRunnable} and `beginRun`.
 *
 * @module
 */
import { recorderAlive } from "../specimen/run_alive.ts";
import { listFiles } from "../_hash.ts";
import {
  ImmutableArtifactError,
  SpecimenBusyError,
  type VaultError,
} from "../errors.ts";
import type { Manifest, RunRecord } from "../specimen/manifest_types.ts";
import { isRunSystemFile, isRunSystemTable } from "./system_log.ts";
import {
  STATUS_FAILED,
  STATUS_INTERRUPTED,
  STATUS_RUNNING,
  STATUS_SEALED,
} from "../specimen/seal.ts";

/**
 * The reason the specimen may not run, or null. A specimen whose last run
 * failed or was interrupted may run again. With `markStale`, a run left
 * `running` by a dead process is marked `interrupted` in `m`.
 */
export async function runRefusal(
  m: Manifest,
  dir: string,
  markStale: boolean,
): Promise<VaultError | null> {
  const id = m.specimen_id;
  const variation = `deno task create --id ${id}_v2 --from ${id}`;
  if (m.seal !== undefined || m.status === STATUS_SEALED) {
    const when = m.seal?.sealed;
    return new ImmutableArtifactError(
      `Specimen "${id}" has already run and is sealed${
        when ? ` (since ${when})` : ""
      }: its results are final, so nothing was changed. For a variation: ${variation}`,
    );
  }
  const last = m.runs?.at(-1);
  if (m.status === STATUS_RUNNING && last?.status === "running") {
    if (isAlive(last)) {
      return new SpecimenBusyError(
        `Specimen "${id}" is being run right now (run ${last.id}, pid ${last.pid} on ${
          last.hostname ?? "an unknown host"
        }, started ${last.started}): wait for it to end. If that process is gone for good, derive a new specimen: ${variation}`,
      );
    }
    if (!markStale) return null; // beginRun marks it, then sets aside
    last.status = "interrupted";
    last.error =
      "The process recording the run ended without recording its end";
    m.status = STATUS_INTERRUPTED;
  }
  if (mayRunAgain(m)) return null;
  const names = resultNames(m);
  const files = await resultFiles(m, dir);
  if (names.length > 0 || files.length > 0) {
    const held = names.length > 0 ? names : files;
    return new ImmutableArtifactError(
      `Specimen "${id}" has already run: strata/ holds ${
        held.join(", ")
      }. Specimens are immutable, so nothing was changed; for a variation: ${variation}`,
    );
  }
  return null;
}

/**
 * Whether the specimen's last run failed or was interrupted (or its runner
 * died): it may run again, its partial results set aside first.
 */
export function mayRunAgain(m: Manifest): boolean {
  const last = m.runs?.at(-1);
  return (m.status === STATUS_FAILED || m.status === STATUS_INTERRUPTED) &&
    last !== undefined && last.status !== "running";
}

/**
 * Whether the manifest records results or strata/ holds files. A run's
 * system metrics are not results: they belong to the run, as its logs do.
 */
export async function holdsResults(m: Manifest, dir: string): Promise<boolean> {
  return resultNames(m).length > 0 || (await resultFiles(m, dir)).length > 0;
}

/** Recorded artifacts, other than a run's system metrics. */
function resultNames(m: Manifest): string[] {
  return Object.entries(m.artifacts)
    .filter(([, a]) => !isRunSystemTable(m, a.path))
    .map(([name]) => name);
}

/**
 * Files under strata/, other than a placeholder `.gitkeep` and a run's
 * system metrics.
 */
async function resultFiles(m: Manifest, dir: string): Promise<string[]> {
  return (await listFiles(dir, "strata")).map((f) => f.path)
    .filter((p) => p !== "strata/.gitkeep" && !isRunSystemFile(m, p));
}

/** Whether the process that records `run` may still be running. */
function isAlive(run: RunRecord): boolean {
  return recorderAlive(run) !== false;
}

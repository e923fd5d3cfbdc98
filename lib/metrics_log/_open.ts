/**
 * Opening a logger: its options checked, the table name refused when taken,
 * and `strata/<name>.parts/` claimed and locked (an interrupted log there
 * is compacted first).
 *
 * @module
 */
import { recordChange } from "../vault_changes.ts";
import { join } from "../_deps.ts";
import { exists, tempPathFor } from "../_fs.ts";
import { updateManifest } from "../specimen/_lock.ts";
import {
  ImmutableArtifactError,
  InvalidInputError,
  VaultError,
} from "../errors.ts";
import type { ArtifactRecord } from "../specimen/manifest.ts";
import { assertWritable } from "../specimen/seal.ts";
import { STRATA_DIR } from "../vault.ts";
import {
  isNotEmpty,
  listParts,
  lockLog,
  LOG_LOCK_FILE,
  PARTS_SUFFIX,
  partsDir,
} from "./parts.ts";
import { repairLockedLog } from "./repair.ts";
import type { MetricsLoggerOptions } from "./options.ts";
import { show } from "../cli/show.ts";

/** How long opening waits for a lock held for a moment (a probe, a repair). */
const LOCK_RETRY_MS = 300;

/** Checks the options and fills in the defaults. */
export function checkOptions(
  o: MetricsLoggerOptions,
): Required<Pick<MetricsLoggerOptions, "flushRows" | "flushSeconds">> {
  const flushRows = o.flushRows ?? 65_536;
  if (
    !Number.isSafeInteger(flushRows) || flushRows < 1 || flushRows > 2 ** 24
  ) {
    throw new InvalidInputError(
      `Invalid flushRows ${
        show(flushRows)
      }: give a whole number of rows from 1 to 16,777,216 (default 65,536)`,
    );
  }
  const flushSeconds = o.flushSeconds ?? 10;
  if (typeof flushSeconds !== "number" || !(flushSeconds > 0)) {
    throw new InvalidInputError(
      `Invalid flushSeconds ${
        show(flushSeconds)
      }: give a number of seconds above 0, or Infinity for no time-based flush (default 10)`,
    );
  }
  const compression = o.compression ?? "zstd";
  if (!["zstd", "snappy", "none"].includes(compression)) {
    throw new InvalidInputError(
      `Invalid compression ${
        show(compression)
      }: use "zstd", "snappy" or "none"`,
    );
  }
  return { flushRows, flushSeconds };
}

/** Refuses a table that exists as a file, a tensor or a manifest record. */
export async function refuseExisting(
  dir: string,
  id: string,
  name: string,
  artifacts: Record<string, ArtifactRecord>,
): Promise<void> {
  const strata = join(dir, STRATA_DIR);
  let where = Object.hasOwn(artifacts, name) ? "in the manifest" : "";
  for (const file of [`${name}.parquet`, `${name}.zarr`]) {
    if (!where && await exists(join(strata, file))) where = `strata/${file}`;
  }
  if (where) {
    throw new ImmutableArtifactError(
      `Artifact "${name}" of specimen "${id}" already exists (${where}): specimens are immutable: log to another table name, or create a new specimen for a variation (deno task create --id ${id}_v2 ...)`,
    );
  }
}

/**
 * Creates and locks `strata/<name>.parts/`. The folder is made under a temp
 * name with its lock already held, then renamed, so that a repair never
 * sees it unlocked; an existing folder is taken over only when its lock is
 * free and it holds no part.
 */
export async function claimLog(
  dir: string,
  id: string,
  name: string,
): Promise<Deno.FsFile> {
  const target = partsDir(dir, name);
  const started = performance.now();
  let goneSince: number | undefined;
  while (true) {
    const tmp = tempPathFor(target);
    await Deno.mkdir(tmp);
    const lock = await Deno.open(join(tmp, LOG_LOCK_FILE), {
      read: true,
      write: true,
      createNew: true,
    });
    await lock.lock(true); // nobody else can know this folder yet
    try {
      await Deno.rename(tmp, target);
      recordChange(dir);
      return lock;
    } catch (e) {
      lock.close();
      await Deno.remove(join(tmp, LOG_LOCK_FILE)).catch(() => {});
      await Deno.remove(tmp).catch(() => {});
      if (!isNotEmpty(e)) throw e;
    }
    // Taken: by a live logger (busy), a dead one (free lock), or a folder
    // being removed or not made by a logger (no lock file: "gone").
    const held = await lockLog(dir, name);
    if (held !== "busy" && held !== "gone") {
      const parts = await listParts(target);
      if (parts.length === 0) return held; // a logger that died before its first part
      let problems: string[];
      try {
        problems = await repairLockedLog(dir, name);
      } catch (e) {
        problems = [(e as Error).message];
      } finally {
        held.close();
      }
      const what =
        `${parts.length} parts in strata/${name}${PARTS_SUFFIX}/ from a logger that stopped without closing`;
      throw new ImmutableArtifactError(
        problems.length
          ? `Metrics table "${name}" of specimen "${id}" has an interrupted log (${what}) that could not be compacted: ${
            problems.join("; ")
          }. Specimens are immutable, so it is not continued: fix that and run deno task repair ${id}, and log to another table name or a new specimen`
          : `Metrics table "${name}" of specimen "${id}" had an interrupted log (${what}): it is now compacted into strata/${name}.parquet and recorded (interrupted: true). Specimens are immutable, so it is not continued: log to another table name or a new specimen`,
      );
    }
    // No lock file is the instant a closing logger removes its folder; a
    // folder that stays without one for a while was not made by a logger.
    const now = performance.now();
    if (held === "busy") goneSince = undefined;
    else goneSince ??= now;
    const waited = goneSince === undefined
      ? now - started > LOCK_RETRY_MS
      : now - goneSince > LOCK_RETRY_MS || now - started > 10 * LOCK_RETRY_MS;
    if (waited) {
      if (held === "gone") {
        throw new VaultError(
          `Metrics table "${name}" of specimen "${id}" cannot be logged: strata/${name}${PARTS_SUFFIX}/ exists but has no ${LOG_LOCK_FILE} file, so no logger made it; look at what it holds and remove it, or log to another table name`,
        );
      }
      throw new VaultError(
        `Metrics table "${name}" of specimen "${id}" is being written by another logger (strata/${name}${PARTS_SUFFIX}/${LOG_LOCK_FILE} is locked, by this or another process); two writers cannot share a table: log to another name (e.g. "${name}_2"), or close the other logger first`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Records the table when no SpecimenStorage is at hand. */
export async function recordDirectly(
  dir: string,
  name: string,
  record: ArtifactRecord,
): Promise<ArtifactRecord> {
  const { result } = await updateManifest(dir, (m) => {
    assertWritable(m);
    m.artifacts[name] = { ...record, created: new Date().toISOString() };
    return m.artifacts[name];
  });
  return result;
}

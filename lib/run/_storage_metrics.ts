/**
 * The metrics tables `SpecimenStorage` (storage.ts) writes whole and reads
 * back: `strata/<name>.parquet`, or the parts of a log not compacted yet.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { STRATA_DIR } from "../vault.ts";
import { atomicWriteFile } from "../_fs.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import type { ArtifactRecord } from "../specimen/manifest.ts";
import { readMetricTable } from "../metrics_log/table.ts";
import { MAX_COLUMNS } from "../metrics_log/options.ts";
import { validateArtifactName } from "../specimen/artifact_name.ts";
import {
  encodeMetrics,
  type EncodeMetricsOptions,
  type MetricColumns,
  type ReadColumn,
} from "../formats/parquet/parquet.ts";
import {
  type ArtifactSite,
  claimPath,
  immutableError,
  listing,
  writeError,
} from "./_storage_place.ts";

/** Options for {@linkcode SpecimenStorage.writeMetrics}. */
export interface WriteMetricsOptions extends EncodeMetricsOptions {
  /** The table name: the file is `strata/<name>.parquet`. @default "metrics" */
  name?: string;
}

/**
 * Writes `columns` to `strata/<name>.parquet` of `site` (see
 * `SpecimenStorage.writeMetrics`) and records it with `record`.
 */
export async function writeMetricsTable(
  site: ArtifactSite,
  columns: MetricColumns,
  options: WriteMetricsOptions,
  record: (name: string, record: ArtifactRecord) => Promise<ArtifactRecord>,
): Promise<ArtifactRecord> {
  const name = options.name ?? "metrics";
  const count = columns && typeof columns === "object"
    ? Object.keys(columns).length
    : 0;
  if (count > MAX_COLUMNS) {
    throw new InvalidInputError(
      `Cannot write metrics table "${name}": it has ${count} columns, over the limit of ${MAX_COLUMNS} per table; write per-item values as a tensor (writeTensor) or spread them over tables`,
    );
  }
  const path = await claimPath(site, name, "parquet");
  const encoded = await encodeMetrics(columns, options);
  const what = `metrics table "${name}"`;
  try {
    await atomicWriteFile(path, encoded.bytes, { createNew: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw immutableError(site.id, name);
    }
    throw writeError(site.id, e, what);
  }
  return await record(name, {
    path: `${STRATA_DIR}/${name}.parquet`,
    format: "parquet",
    columns: encoded.columns,
    rows: encoded.rows,
    bytes: encoded.bytes.length,
  }).catch((e) => {
    throw writeError(site.id, e, what);
  });
}

/** Reads metrics table `name` of `site` (see `SpecimenStorage.readMetrics`). */
export async function readMetricsTable(
  site: ArtifactSite,
  name: string,
): Promise<Record<string, ReadColumn>> {
  validateArtifactName(name, { reading: true });
  try {
    // The file, or the parts of a log not compacted yet (one being
    // written, or left by a process that died).
    return (await readMetricTable(site.dir, name)).columns;
  } catch (e) {
    if (e instanceof NotFoundError) {
      const path = join(site.strata, `${name}.parquet`);
      throw new NotFoundError(
        `Specimen "${site.id}" has no metrics table "${name}" (${path})${
          listing(site, "parquet")
        }`,
        { cause: e },
      );
    }
    throw e;
  }
}

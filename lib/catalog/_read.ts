/**
 * The read phase: each new or changed specimen's manifest, metric tables
 * and tensors, into a {@linkcode SpecimenRecord}. Reads only: nothing in a
 * specimen folder is changed.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { readVaultFileSync } from "../_fs.ts";
import { STATUS_SEALED } from "../specimen/seal.ts";
import {
  decodeManifest,
  type Manifest,
  MANIFEST_FILE,
  MAX_MANIFEST_BYTES,
} from "../specimen/manifest.ts";
import { PARTS_SUFFIX } from "../metrics_log/parts.ts";
import {
  labelNames,
  LABELS_FILE,
  MAX_LABELS_BYTES,
  parseLabels,
} from "../specimen/labels.ts";
import { SPECIMENS_DIR, STRATA_DIR as STRATA } from "../vault.ts";
import type { MetricFile, SpecimenRecord } from "./_records.ts";
import { readLogs, readMetricFile, type StoppedLog } from "./_read_metrics.ts";
import { readTensor } from "./_read_tensor.ts";
import {
  type FolderScan,
  statOf,
  YIELD_EVERY,
  yieldToEventLoop,
} from "./_scan.ts";

export function readSpecimen(
  scan: FolderScan,
  folderNames: Set<string>,
  warn: (message: string) => void,
  logs: MetricFile[] = [],
  stopped: StoppedLog[] = [],
): SpecimenRecord | undefined {
  const rel = `${SPECIMENS_DIR}/${scan.folder}`;
  if (!scan.manifest) {
    warn(
      `${rel}: no ${MANIFEST_FILE}; skipped (not a specimen folder? create specimens with \`deno task create\`)`,
    );
    return undefined;
  }
  const source = `${rel}/${MANIFEST_FILE}`;
  let manifest: Manifest;
  try {
    const bytes = readVaultFileSync(join(scan.dir, MANIFEST_FILE), {
      root: scan.dir,
      maxBytes: MAX_MANIFEST_BYTES,
    });
    manifest = decodeManifest(bytes, source);
  } catch (e) {
    warn(`${(e as Error).message}; skipped`);
    return undefined;
  }
  if (manifest.specimen_id !== scan.folder) {
    const claimed = manifest.specimen_id;
    warn(
      folderNames.has(claimed)
        ? `${source}: claims id "${claimed}", which is the id of ${SPECIMENS_DIR}/${claimed}: two folders claim one id; ${rel} skipped, ${SPECIMENS_DIR}/${claimed} kept (a specimen's id must match its folder name)`
        : `${source}: "specimen_id" is "${claimed}" but the folder is "${scan.folder}"; skipped (rename the folder or fix the manifest)`,
    );
    return undefined;
  }
  const ms = Date.parse(manifest.created);
  const record: SpecimenRecord = {
    id: scan.folder,
    rel,
    manifest,
    createdIso: Number.isNaN(ms) ? null : new Date(ms).toISOString(),
    fingerprint: scan.fingerprint,
    labels: [],
    starred: false,
    issues: [...scan.notes],
    metricFiles: [],
    tensors: [],
  };
  readLabelsInto(record, scan.dir);
  for (const p of scan.parquet) {
    const file = readMetricFile(scan.folder, scan.dir, p);
    if (file.issue) record.issues.push(file.issue);
    record.metricFiles.push(file);
  }
  const sealed = manifest.seal !== undefined ||
    manifest.status === STATUS_SEALED;
  for (const log of stopped) {
    record.issues.push(stoppedLogIssue(scan.folder, log, sealed));
  }
  for (const file of logs) {
    if (file.issue) record.issues.push(file.issue);
    record.metricFiles.push(file);
  }
  for (const z of scan.zarr) {
    const tensor = readTensor(scan.folder, scan.dir, z);
    if (typeof tensor === "string") record.issues.push(tensor);
    else record.tensors.push(tensor);
  }
  const onDisk = new Set([
    ...scan.parquet.map((p) => `${STRATA}/${p.name}`),
    ...scan.zarr.map((z) => `${STRATA}/${z.name}`),
  ]);
  for (const [key, artifact] of Object.entries(manifest.artifacts)) {
    const path = typeof artifact?.path === "string" ? artifact.path : "";
    if (
      path.startsWith(`${STRATA}/`) &&
      !onDisk.has(path.replace(/\/+$/, "")) &&
      // Written after the scan (a run in progress): not missing; its new
      // fingerprint gets it read by the next index.
      !statOf(join(scan.dir, path), path)
    ) {
      record.issues.push(
        `the manifest records artifact "${key}" at ${path}, which is missing or unreadable`,
      );
    }
  }
  return record;
}

/**
 * Reads the specimen's labels file, if any, into `record`; one that cannot
 * be read is an issue of the specimen (its labels are then empty).
 */
function readLabelsInto(record: SpecimenRecord, dir: string): void {
  let bytes: Uint8Array;
  try {
    bytes = readVaultFileSync(join(dir, LABELS_FILE), {
      root: dir,
      maxBytes: MAX_LABELS_BYTES,
    });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    record.issues.push(
      `${LABELS_FILE} cannot be read (${
        (e as Error).message
      }); its labels are left out`,
    );
    return;
  }
  try {
    const file = parseLabels(bytes, LABELS_FILE);
    record.labels = labelNames(file);
    record.starred = file.starred?.value ?? false;
  } catch (e) {
    record.issues.push(
      `${
        (e as Error).message
      }; its labels are left out (fix or remove the file)`,
    );
  }
}

/**
 * Reads the specimens of `toRead`; those that cannot be read are warned
 * about and counted in `skipped`.
 */
export async function readChanged(
  toRead: FolderScan[],
  folders: string[],
  warn: (message: string) => void,
  progress?: (done: number, total: number) => void,
): Promise<{ records: SpecimenRecord[]; skipped: number }> {
  const folderNames = new Set(folders);
  const records: SpecimenRecord[] = [];
  let skipped = 0;
  for (let i = 0; i < toRead.length; i++) {
    let record: SpecimenRecord | undefined;
    try {
      const scan = toRead[i];
      const stopped: StoppedLog[] = [];
      const logs = scan.logs.length
        ? await readLogs(
          scan.folder,
          scan.dir,
          (name) => scan.parquet.some((p) => p.name === `${name}.parquet`),
          (log) => stopped.push(log),
        )
        : [];
      record = readSpecimen(scan, folderNames, warn, logs, stopped);
    } catch (e) {
      warn(
        `${SPECIMENS_DIR}/${toRead[i].folder}: cannot be read (${
          (e as Error).message
        }); skipped`,
      );
    }
    if (record) records.push(record);
    else skipped++;
    if (progress && (i % 500 === 499 || i === toRead.length - 1)) {
      progress(i + 1, toRead.length);
    }
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
  }
  return { records, skipped };
}

/**
 * The issue of a log no logger holds. The index only reads: it says how to
 * repair the log (a sealed specimen is left as it is).
 */
function stoppedLogIssue(
  id: string,
  log: StoppedLog,
  sealed: boolean,
): string {
  const folder = `${STRATA}/${log.name}${PARTS_SUFFIX}/`;
  if (log.kind === "leftover") {
    return sealed
      ? `a leftover ${folder} sits beside ${STRATA}/${log.name}.parquet (readers ignore it); the specimen is sealed, so it is left as is`
      : `a leftover ${folder} sits beside ${STRATA}/${log.name}.parquet (readers ignore it): run \`deno task repair ${id}\` to remove it`;
  }
  return sealed
    ? `the log ${folder} is interrupted (its logger stopped without closing): its ${log.parts} part(s) are read as they are; the specimen is sealed, so it is left as is`
    : `the log ${folder} is interrupted (its logger stopped without closing): its ${log.parts} part(s) are read as they are; run \`deno task repair ${id}\` to compact it`;
}

/**
 * Repair of logs a dead process left behind: compacted, recorded as
 * interrupted, and cleared of what the logger wrote.
 *
 * @module
 */
import { errorMessage } from "../errors.ts";
import { join } from "../_deps.ts";
import { exists, readVaultFile } from "../_fs.ts";
import { updateManifest } from "../specimen/_lock.ts";
import { InvalidInputError, NotFoundError, VaultError } from "../errors.ts";
import { isReadableSpecimenId } from "../specimen/id.ts";
import { type ArtifactRecord, readManifest } from "../specimen/manifest.ts";
import { decodeMetrics } from "../formats/parquet/parquet.ts";
import { STATUS_SEALED } from "../specimen/seal.ts";
import { STRATA_DIR } from "../vault.ts";
import { ARTIFACT_NAME_PATTERN } from "../specimen/artifact_name.ts";
import {
  clearLog,
  listParts,
  lockLog,
  LOG_LOCK_FILE,
  PARTS_SUFFIX,
  partsDir,
  showEntries,
} from "./parts.ts";
import { type CompactedLog, compactLog } from "./compact.ts";

/**
 * What {@linkcode repairLogs} did.
 *
 * @example
 * ```ts
 * import type { RepairReport } from "./table.ts";
 * const report: RepairReport = { repaired: ["train"], live: [], problems: [] };
 * ```
 */
export interface RepairReport {
  /** Tables whose interrupted log was compacted and recorded, or whose leftover parts were removed. */
  repaired: string[];
  /** Tables a running logger is writing now (left alone; read their parts). */
  live: string[];
  /** What could not be repaired and why, one sentence each (the table's name first). */
  problems: string[];
}

/**
 * Repairs the logs of the specimen at `specimenDir` that a dead process
 * left behind: each unlocked parts folder is compacted into
 * `strata/<name>.parquet`, recorded in the manifest (marked
 * `interrupted: true`) and removed; a parts folder left beside a compacted
 * file is removed (and the file recorded if the crash came before that).
 * Only what a logger wrote is removed: part files, its temp files and the
 * lock file, by their exact names; anything else in a parts folder (another
 * file, a folder, a symlink) is reported in `problems` and left, with the
 * folder. A folder without a lock file was not made by a logger: reported
 * and left. A sealed specimen is never touched (not even locked): its
 * parts folders are reported. Logs locked by a live logger are listed in
 * `live` and left alone; corrupt parts or conflicting types are reported in
 * `problems` and nothing is changed for that table. Cheap when there is
 * nothing to do (one directory listing).
 *
 * `deno task repair` calls it for every specimen (and `deno task run` before
 * sealing).
 *
 * Needs `--allow-read` and `--allow-write` on `specimenDir`.
 *
 * @example
 * ```ts ignore
 * import { repairLogs } from "./table.ts";
 * const { repaired, problems } = await repairLogs("specimens/my_run");
 * for (const name of repaired) console.log(`compacted interrupted log ${name}`);
 * for (const p of problems) console.error(`warning: ${p}`);
 * ```
 */
export async function repairLogs(specimenDir: string): Promise<RepairReport> {
  const report: RepairReport = { repaired: [], live: [], problems: [] };
  const strata = join(specimenDir, STRATA_DIR);
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(strata)) {
      if (!e.isDirectory || !e.name.endsWith(PARTS_SUFFIX)) continue;
      const name = e.name.slice(0, -PARTS_SUFFIX.length);
      if (ARTIFACT_NAME_PATTERN.test(name)) names.push(name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return report;
    throw e;
  }
  if (names.length === 0) return report;
  const manifest = await readManifest(specimenDir);
  // A sealed specimen is never touched: not even a lock is taken.
  const sealed = manifest.seal !== undefined ||
    manifest.status === STATUS_SEALED;
  for (const name of names.sort()) {
    if (sealed) {
      report.problems.push(`${name}: ${await sealedLog(specimenDir, name)}`);
      continue;
    }
    const lock = await lockLog(specimenDir, name);
    if (lock === "gone") {
      const left = await notALog(specimenDir, name);
      if (left) report.problems.push(`${name}: ${left}`);
      continue;
    }
    if (lock === "busy") {
      report.live.push(name);
      continue;
    }
    try {
      const problem = await repairOne(
        specimenDir,
        name,
        (p) => report.problems.push(`${name}: ${p}`),
      );
      if (problem === undefined) report.repaired.push(name);
      else if (problem) report.problems.push(`${name}: ${problem}`);
    } catch (e) {
      report.problems.push(
        `${name}: ${errorMessage(e)}`,
      );
    } finally {
      lock.close();
    }
  }
  return report;
}

/**
 * Repairs log `name` of the specimen at `specimenDir`, whose lock the
 * caller holds (a logger opening that table). Returns the problems left
 * (empty when it was compacted, or there was nothing to do).
 */
export async function repairLockedLog(
  specimenDir: string,
  name: string,
): Promise<string[]> {
  const problems: string[] = [];
  const problem = await repairOne(specimenDir, name, (p) => problems.push(p));
  if (problem) problems.push(problem);
  return problems;
}

/** What is said of a parts folder in a sealed specimen (left as is). */
async function sealedLog(specimenDir: string, name: string): Promise<string> {
  const folder = `strata/${name}${PARTS_SUFFIX}/`;
  if (await exists(join(specimenDir, STRATA_DIR, `${name}.parquet`))) {
    return `a leftover ${name}${PARTS_SUFFIX}/ folder sits beside ${name}.parquet, but the specimen is sealed, so it is left as is (readers ignore it)`;
  }
  const parts = await listParts(partsDir(specimenDir, name));
  if (parts.length) {
    return `the specimen is sealed with an interrupted log (${parts.length} parts in ${folder}), so it is left as is; readers read the parts`;
  }
  return `${folder} holds no part, but the specimen is sealed, so it is left as is`;
}

/**
 * A parts folder without a lock file: no logger made it (or one is removing
 * it this instant, and it is gone). Left as is; says what is in it.
 */
async function notALog(
  specimenDir: string,
  name: string,
): Promise<string | null> {
  const entries: string[] = [];
  try {
    for await (const e of Deno.readDir(partsDir(specimenDir, name))) {
      entries.push(e.name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  return `strata/${name}${PARTS_SUFFIX}/ has no ${LOG_LOCK_FILE} file, so no logger made it; it is left as is (${
    entries.length ? `it holds ${showEntries(entries.sort())}` : "it is empty"
  }): remove it yourself if it is not needed`;
}

/**
 * Repairs one log whose lock is held by the caller. Returns undefined when
 * repaired, null when there was nothing to do, or the problem. Removes only
 * what a logger wrote ({@linkcode clearLog}); anything else in the folder
 * is reported and left, with the folder.
 */
async function repairOne(
  specimenDir: string,
  name: string,
  note: (problem: string) => void,
): Promise<string | null | undefined> {
  const dir = partsDir(specimenDir, name);
  const file = join(specimenDir, STRATA_DIR, `${name}.parquet`);
  const manifest = await readManifest(specimenDir);
  if (manifest.seal !== undefined || manifest.status === STATUS_SEALED) {
    return await sealedLog(specimenDir, name); // sealed meanwhile
  }
  const recorded = Object.hasOwn(manifest.artifacts, name);
  const strays = (left: string[]) =>
    `strata/${name}${PARTS_SUFFIX}/ holds ${
      showEntries(left)
    }, which no logger wrote; ${
      left.length === 1 ? "it is" : "they are"
    } left as is, with the folder: remove ${
      left.length === 1 ? "it" : "them"
    } yourself if not needed`;
  if (await exists(file)) {
    // The logger died after placing the file: finish its cleanup.
    if (!recorded) {
      const bytes = await readVaultFile(file, { root: specimenDir });
      const decoded = await decodeMetrics(bytes, file);
      await recordTable(specimenDir, name, {
        columns: decoded.schema,
        rows: decoded.rows,
        bytes: bytes.length,
      });
    }
    const left = await clearLog(dir, name);
    if (left.length) note(strays(left));
    return undefined;
  }
  const parts = await listParts(dir);
  if (parts.length === 0) {
    // A logger that died before its first flush: nothing to keep.
    const left = await clearLog(dir, name);
    return left.length ? strays(left) : null;
  }
  if (recorded) {
    return `the manifest already records an artifact "${name}" but strata/${name}.parquet is missing; ${parts.length} parts in strata/${name}${PARTS_SUFFIX}/ are left as is`;
  }
  let compacted: CompactedLog | null;
  try {
    compacted = await compactLog(specimenDir, name);
  } catch (e) {
    if (e instanceof VaultError) {
      return `${e.message}; the parts are left as is`;
    }
    throw e;
  }
  if (compacted) {
    try {
      await recordTable(specimenDir, name, compacted, true);
    } catch (e) {
      await Deno.remove(file).catch(() => {});
      throw e;
    }
  }
  const left = await clearLog(dir, name);
  if (left.length) note(strays(left));
  return undefined;
}

/** Records a compacted table in the manifest, as writeMetrics would. */
async function recordTable(
  specimenDir: string,
  name: string,
  table: {
    columns: { name: string; type: string }[];
    rows: number;
    bytes: number;
  },
  interrupted = false,
): Promise<void> {
  await updateManifest(specimenDir, (m) => {
    if (m.seal !== undefined || m.status === STATUS_SEALED) {
      throw new VaultError(
        `Specimen "${m.specimen_id}" was sealed meanwhile; not recording "${name}"`,
      );
    }
    const record: ArtifactRecord = {
      path: `${STRATA_DIR}/${name}.parquet`,
      format: "parquet",
      columns: table.columns,
      rows: table.rows,
      bytes: table.bytes,
      created: new Date().toISOString(),
    };
    // The writer did not close: the table holds what it had flushed.
    if (interrupted) record.interrupted = true;
    m.artifacts[name] = record;
  });
}

/**
 * What {@linkcode repairVault} did in one specimen: `"sealed"` (a sealed
 * specimen with logs left in it, never touched; `notes` says what),
 * `"clean"` (nothing to do, sealed or not),
 * `"repaired"`, `"live"` (a logger is writing; left alone), `"problems"`
 * (something could not be repaired: `notes`) or `"error"` (the specimen
 * could not be read: `notes`).
 *
 * @example
 * ```ts
 * import type { SpecimenRepair } from "./repair.ts";
 * const r: SpecimenRepair = {
 *   id: "my_run", state: "repaired", repaired: ["train"], live: [], notes: [],
 * };
 * ```
 */
export interface SpecimenRepair {
  /** The specimen id (its folder name). */
  id: string;
  /** The outcome, worst first: error, problems, live, repaired, sealed, clean. */
  state: "error" | "problems" | "live" | "repaired" | "sealed" | "clean";
  /** Tables whose interrupted log was compacted (or leftover parts removed). */
  repaired: string[];
  /** Tables a running logger is writing now. */
  live: string[];
  /** One sentence per thing left as is, the table's name first. */
  notes: string[];
}

/**
 * Runs {@linkcode repairLogs} on the specimens `ids` of the `specimens`
 * folder (every folder in it when `ids` is undefined), one after another.
 * Sealed specimens are never touched, only reported. Throws
 * {@linkcode NotFoundError} (before repairing anything) for an id with no
 * folder, and {@linkcode InvalidInputError} for one that is not an id.
 *
 * Needs `--allow-read` and `--allow-write` on `specimens`.
 *
 * @example
 * ```ts
 * import { createSpecimen } from "../specimen/create.ts";
 * import { repairVault } from "./repair.ts";
 * const vault = await Deno.makeTempDir();
 * await createSpecimen({ vault, id: "doc_repair", domain: "training", method: "fine_tuning" });
 * const [r] = await repairVault(`${vault}/specimens`);
 * console.assert(r.id === "doc_repair" && r.state === "clean");
 * await Deno.remove(vault, { recursive: true });
 * ```
 */
export async function repairVault(
  specimens: string,
  ids?: string[],
): Promise<SpecimenRepair[]> {
  if (ids) {
    const bad = ids.filter((id) => !isReadableSpecimenId(id));
    if (bad.length) {
      throw new InvalidInputError(
        `Invalid specimen id ${
          bad.map((b) => JSON.stringify(b)).join(", ")
        }: an id is letters, digits and _ (e.g. "my_run"); pass the folder name under ${specimens}`,
      );
    }
    const missing: string[] = [];
    for (const id of ids) {
      if (!(await exists(join(specimens, id)))) missing.push(id);
    }
    if (missing.length) {
      throw new NotFoundError(
        `No specimen ${
          missing.map((m) => JSON.stringify(m)).join(", ")
        } in ${specimens}: check the id${
          missing.length > 1 ? "s" : ""
        } (ls ${specimens}) or pass --vault DIR`,
      );
    }
  }
  const results: SpecimenRepair[] = [];
  for (const id of ids ?? await specimenFolders(specimens)) {
    results.push(await repairSpecimen(id, join(specimens, id)));
  }
  return results;
}

async function repairSpecimen(
  id: string,
  dir: string,
): Promise<SpecimenRepair> {
  const r: SpecimenRepair = {
    id,
    state: "clean",
    repaired: [],
    live: [],
    notes: [],
  };
  try {
    const m = await readManifest(dir);
    const sealed = m.seal !== undefined || m.status === STATUS_SEALED;
    const report = await repairLogs(dir);
    r.repaired = report.repaired;
    r.live = report.live;
    r.notes = report.problems;
    const left = r.notes.length + r.live.length + r.repaired.length > 0;
    // A sealed specimen is never touched: "sealed" says logs are left in
    // it; one with nothing left is as clean as any.
    r.state = sealed
      ? (left ? "sealed" : "clean")
      : r.notes.length
      ? "problems"
      : r.live.length
      ? "live"
      : r.repaired.length
      ? "repaired"
      : "clean";
  } catch (e) {
    r.state = "error";
    r.notes = [errorMessage(e)];
  }
  return r;
}

/** Every specimen folder in `specimens` (dot folders skipped), sorted. */
async function specimenFolders(specimens: string): Promise<string[]> {
  const ids: string[] = [];
  try {
    for await (const e of Deno.readDir(specimens)) {
      if (e.isDirectory && !e.name.startsWith(".")) ids.push(e.name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `No specimens folder at ${specimens}: pass --vault DIR (a folder holding specimens/)`,
      );
    }
    throw e;
  }
  return ids.sort();
}

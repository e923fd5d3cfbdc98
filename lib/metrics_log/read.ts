/**
 * Lists and reads a specimen's metrics tables, compacted or not (see
 * `table.ts` for the reader rule).
 *
 * @module
 */
import { join } from "../_deps.ts";
import { exists, readVaultFile } from "../_fs.ts";
import { NotFoundError } from "../errors.ts";
import {
  type DecodedMetrics,
  decodeMetrics,
  decodeMetricsFile,
  type ReadColumn,
} from "../formats/parquet/parquet.ts";
import { STRATA_DIR } from "../vault.ts";
import { READABLE_ARTIFACT_NAME_PATTERN } from "../specimen/artifact_name.ts";
import {
  isLocked,
  listParts,
  LOG_LOCK_FILE,
  partFileName,
  PARTS_SUFFIX,
  partsDir,
} from "./parts.ts";
import { mergeSchemas } from "./_footer.ts";

/**
 * One metrics table of a specimen, as {@linkcode listMetricTables} finds it.
 *
 * @example
 * ```ts
 * import type { MetricTable } from "./table.ts";
 * const t: MetricTable = {
 *   name: "train", kind: "parts", live: false, leftover: false,
 *   paths: ["strata/train.parts/part-000001.parquet"],
 * };
 * ```
 */
export interface MetricTable {
  /** The table name (`strata/<name>.parquet`). */
  name: string;
  /** `"file"`: compacted; `"parts"`: surviving part files, not compacted. */
  kind: "file" | "parts";
  /**
   * Paths relative to the specimen folder, `/`-separated: the file, or the
   * parts in sequence order (never empty).
   */
  paths: string[];
  /**
   * Parts only: a logger holds the lock now (a run in progress). `false`
   * means an interrupted log that {@linkcode repairLogs} will compact.
   */
  live: boolean;
  /**
   * File only: a parts folder is left beside it (a crash during cleanup);
   * readers ignore it and {@linkcode repairLogs} removes it.
   */
  leftover: boolean;
}

/**
 * Lists the metrics tables of the specimen at `specimenDir`, by name: each
 * compacted `strata/<name>.parquet`, and each log whose parts are not
 * compacted yet (with at least one part on disk). Temp files (`.tmp-*`) and
 * anything else are ignored. Read-only (it probes the locks, shared, for a
 * moment).
 *
 * For the catalog: a `"parts"` table is
 * `read_parquet([paths…], union_by_name = true)`.
 *
 * Needs `--allow-read` on `specimenDir`.
 *
 * @example
 * ```ts ignore
 * import { listMetricTables } from "./table.ts";
 * for (const t of await listMetricTables("specimens/my_run")) {
 *   console.log(t.name, t.kind, t.paths.length, t.live ? "(live)" : "");
 * }
 * ```
 */
export async function listMetricTables(
  specimenDir: string,
): Promise<MetricTable[]> {
  const strata = join(specimenDir, STRATA_DIR);
  const files = new Set<string>();
  const logs = new Set<string>();
  try {
    for await (const e of Deno.readDir(strata)) {
      if (e.isFile && e.name.endsWith(".parquet")) {
        const name = e.name.slice(0, -".parquet".length);
        if (READABLE_ARTIFACT_NAME_PATTERN.test(name)) files.add(name);
      } else if (e.isDirectory && e.name.endsWith(PARTS_SUFFIX)) {
        const name = e.name.slice(0, -PARTS_SUFFIX.length);
        if (READABLE_ARTIFACT_NAME_PATTERN.test(name)) logs.add(name);
      }
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const tables: MetricTable[] = [];
  for (const name of [...new Set([...files, ...logs])].sort()) {
    if (files.has(name)) {
      tables.push({
        name,
        kind: "file",
        paths: [`${STRATA_DIR}/${name}.parquet`],
        live: false,
        leftover: logs.has(name),
      });
      continue;
    }
    const dir = partsDir(specimenDir, name);
    const parts = await listParts(dir);
    if (parts.length === 0) continue; // nothing flushed yet
    tables.push({
      name,
      kind: "parts",
      paths: parts.map((p) =>
        `${STRATA_DIR}/${name}${PARTS_SUFFIX}/${partFileName(p.seq)}`
      ),
      live: await isLocked(join(dir, LOG_LOCK_FILE)),
      leftover: false,
    });
  }
  return tables;
}

/**
 * Reads the metrics table `name` of the specimen at `specimenDir`, whether
 * compacted or as surviving parts (unioned as if compacted: the same
 * columns, types and values {@linkcode compactLog} would write). Throws
 * {@linkcode NotFoundError} when there is neither, and
 * {@linkcode CorruptFileError} for a file that does not decode or parts
 * whose types conflict.
 *
 * Needs `--allow-read` on `specimenDir`.
 *
 * @example
 * ```ts ignore
 * import { readMetricTable } from "./table.ts";
 * const { columns, rows } = await readMetricTable("specimens/my_run", "train");
 * console.log(rows, columns.loss.at(-1));
 * ```
 */
export function readMetricTable(
  specimenDir: string,
  name: string,
): Promise<DecodedMetrics> {
  return readTable(specimenDir, name, 3);
}

async function readTable(
  specimenDir: string,
  name: string,
  retries: number,
): Promise<DecodedMetrics> {
  const file = join(specimenDir, STRATA_DIR, `${name}.parquet`);
  try {
    // Blocking reads, chunk by chunk: the async read of the whole file
    // went through the thread pool in many hops, which on a busy machine
    // waited longer than the decode.
    return await decodeMetricsFile(file, specimenDir);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const dir = partsDir(specimenDir, name);
  const parts = await listParts(dir);
  if (parts.length === 0) {
    throw new NotFoundError(
      `No metrics table "${name}" at ${file}${
        (await exists(dir)) ? " (its logger has not flushed a part yet)" : ""
      }`,
    );
  }
  const decoded: DecodedMetrics[] = [];
  for (const p of parts) {
    const path = join(dir, partFileName(p.seq));
    let bytes: Uint8Array;
    try {
      bytes = await readVaultFile(path, { root: specimenDir });
    } catch (e) {
      // The logger closed meanwhile: the parts became the file.
      if (e instanceof Deno.errors.NotFound && retries > 0) {
        return await readTable(specimenDir, name, retries - 1);
      }
      throw e;
    }
    decoded.push(await decodeMetrics(bytes, path));
  }
  const schema = mergeSchemas(
    decoded.map((d, i) => ({ columns: d.schema, where: parts[i].seq })),
    dir,
  );
  const rows = decoded.reduce((n, d) => n + d.rows, 0);
  const columns: Record<string, ReadColumn> = {};
  for (const { name: col } of schema) {
    const out: unknown[] = new Array(rows).fill(null);
    let at = 0;
    for (const d of decoded) {
      const values = Object.hasOwn(d.columns, col) ? d.columns[col] : null;
      if (values) {
        for (let i = 0; i < d.rows; i++) out[at + i] = values[i];
      }
      at += d.rows;
    }
    Object.defineProperty(columns, col, {
      value: out,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { columns, rows, schema };
}

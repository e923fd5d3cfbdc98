/**
 * Reading a specimen's metric tables: the footer of each Parquet file, and
 * the parts of each log not compacted (a run in progress, or an interrupted
 * one: read as they are).
 *
 * @module
 */
import { join } from "../_deps.ts";
import {
  duckdbMessage,
  literal,
  literalList,
  toJson,
} from "../duckdb/duckdb.ts";
import { CorruptFileError } from "../errors.ts";
import { readParquetFooterSync } from "../formats/parquet/footer.ts";
import type { MetricTable } from "../metrics_log/table.ts";
import { PARTS_SUFFIX } from "../metrics_log/parts.ts";
import { READABLE_ARTIFACT_NAME_PATTERN } from "../specimen/artifact_name.ts";
import { SPECIMENS_DIR, STRATA_DIR as STRATA } from "../vault.ts";
import type { MetricFile } from "./_records.ts";
import { type FileStat, statOf } from "./_scan.ts";

/** The rows of a metric file, or of a log's parts unioned as if compacted. */
export function parquetSql(f: MetricFile): string {
  return f.parts
    ? `read_parquet(${literalList(f.parts)}, union_by_name = true)`
    : `read_parquet(${literal(f.abs)})`;
}

/** How messages name a metric file, or a log by its parts folder. */
export function label(f: MetricFile): string {
  return f.parts
    ? `${STRATA}/${f.name}${PARTS_SUFFIX}/ (a log not compacted)`
    : `${STRATA}/${f.name}.parquet`;
}

/** A log no logger holds: its parts were left by one that stopped. */
export interface StoppedLog {
  /** The table name. */
  name: string;
  /**
   * `interrupted`: its parts are all there is (read as they are);
   * `leftover`: a parts folder beside the compacted file (ignored).
   */
  kind: "interrupted" | "leftover";
  /** Part files. */
  parts: number;
}

/**
 * The metrics logs of a specimen that are still parts (a run in progress,
 * or an interrupted log: read as they are, never repaired here), each as
 * one table; and a table that became a file since the scan (its logger
 * closed). `skip` names the files already read. A logger closing while its
 * parts are read makes it list again. `stopped` gets the logs no logger
 * holds.
 */
export async function readLogs(
  id: string,
  dir: string,
  skip: (name: string) => boolean,
  stopped?: (log: StoppedLog) => void,
): Promise<MetricFile[]> {
  // Loaded only for a vault with logs: it brings the Parquet writer along.
  const { listMetricTables } = await import("../metrics_log/table.ts");
  for (let attempt = 0;; attempt++) {
    const files: MetricFile[] = [];
    const found: StoppedLog[] = [];
    try {
      for (const t of await listMetricTables(dir)) {
        if (t.leftover) {
          found.push({ name: t.name, kind: "leftover", parts: 0 });
        } else if (t.kind === "parts" && !t.live) {
          found.push({
            name: t.name,
            kind: "interrupted",
            parts: t.paths.length,
          });
        }
        if (skip(t.name)) continue;
        files.push(readLog(id, dir, t));
      }
      if (stopped && found.length) {
        (await stillStopped(dir, found, listMetricTables)).forEach(stopped);
      }
      return files;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) || attempt === 3) throw e;
    }
  }
}

/**
 * The logs of `found` still stopped a moment later: a logger that is closing
 * places its file, then removes its parts and lock, so a glance taken in
 * between would report a false "interrupted" or "leftover" log.
 */
async function stillStopped(
  dir: string,
  found: StoppedLog[],
  list: (dir: string) => Promise<MetricTable[]>,
): Promise<StoppedLog[]> {
  await new Promise((r) => setTimeout(r, STOPPED_RECHECK_MS));
  let now: MetricTable[];
  try {
    now = await list(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return found.filter((log) =>
    now.some((t) =>
      t.name === log.name &&
      (log.kind === "leftover"
        ? t.leftover
        : t.kind === "parts" && !t.live && !t.leftover)
    )
  );
}

/** How long {@linkcode stillStopped} waits before looking again. */
const STOPPED_RECHECK_MS = 200;

/** One table of {@linkcode readLogs}; throws NotFound if a part vanished. */
function readLog(id: string, dir: string, t: MetricTable): MetricFile {
  if (t.kind === "file") {
    const name = `${t.name}.parquet`;
    const stat = statOf(join(dir, STRATA, name), name);
    if (!stat) throw new Deno.errors.NotFound(`${t.paths[0]} vanished`);
    return readMetricFile(id, dir, stat);
  }
  const file: MetricFile = {
    id,
    name: t.name,
    abs: join(dir, STRATA, `${t.name}${PARTS_SUFFIX}`),
    rel: `${SPECIMENS_DIR}/${id}/${STRATA}/${t.name}${PARTS_SUFFIX}`,
    rows: 0,
    // Each log is described and loaded on its own.
    signature: `log:${id}/${t.name}`,
    parts: t.paths.map((p) => join(dir, p)),
    logDir: dir,
  };
  for (const [i, part] of file.parts!.entries()) {
    try {
      file.rows += Number(readParquetFooterSync(part, { root: dir }).num_rows);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw e;
      file.issue = e instanceof CorruptFileError
        ? `${t.paths[i]} is not readable Parquet (${
          reason(e)
        }); the log's rows are not in the catalog`
        : `${t.paths[i]} cannot be read (${
          (e as Error).message
        }); the log's rows are not in the catalog`;
      return file;
    }
  }
  return file;
}

/**
 * Runs `read` (a DuckDB read of `f`); if `f` is a log whose parts vanished
 * (its logger closed: the parts became the file), lists it again and
 * retries.
 */
export async function retryLog<T>(
  f: MetricFile,
  read: () => Promise<T>,
): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await read();
    } catch (e) {
      if (
        !f.parts || attempt === 3 ||
        !/IO Error|No files found|No such file/i.test(duckdbMessage(e))
      ) {
        throw e;
      }
      const [fresh] = await readLogs(
        f.id,
        f.logDir!,
        (name) => name !== f.name,
      );
      if (!fresh || fresh.issue) throw e;
      Object.assign(f, { parts: undefined }, fresh, {
        columns: f.columns,
        signature: f.signature,
      });
    }
  }
}

/** Reads the footer of a metric file found by the scan. */
export function readMetricFile(
  id: string,
  dir: string,
  stat: FileStat,
): MetricFile {
  const name = stat.name.slice(0, -".parquet".length);
  const rel = `${SPECIMENS_DIR}/${id}/${STRATA}/${stat.name}`;
  const abs = join(dir, STRATA, stat.name);
  const file: MetricFile = { id, name, abs, rel, rows: 0, signature: "" };
  if (!READABLE_ARTIFACT_NAME_PATTERN.test(name)) {
    file.issue =
      `${STRATA}/${stat.name}: a metric table name must be 1 to 64 of ^[A-Za-z0-9_]+$ to be a SQL name; not indexed (rename it)`;
    return file;
  }
  try {
    const md = readParquetFooterSync(abs, { root: dir });
    file.rows = Number(md.num_rows);
    file.signature = signatureOf(md.schema.map((e) => [
      e.name,
      e.type,
      e.type_length,
      e.repetition_type,
      e.num_children,
      e.converted_type,
      e.scale,
      e.precision,
      e.logical_type,
    ]));
  } catch (e) {
    file.issue = `${STRATA}/${stat.name} is not readable Parquet (${
      reason(e)
    }); its rows are not in the catalog`;
  }
  return file;
}

/**
 * A schema's fields as a string that two files share exactly when their
 * schemas are the same (only compared, never stored): plain
 * `JSON.stringify`, several times faster than {@linkcode toJson}'s replacer,
 * which it needs only for a bigint.
 */
function signatureOf(fields: unknown[][]): string {
  try {
    return JSON.stringify(fields);
  } catch {
    return toJson(fields);
  }
}

/** What is wrong with a file, in a few words (the footer reader's cause). */
function reason(e: unknown): string {
  const cause = e instanceof CorruptFileError ? e.cause : e;
  return cause instanceof Error ? cause.message : String(cause);
}

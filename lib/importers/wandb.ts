/**
 * Reads W&B offline runs (`wandb/offline-run-*&#47;run-<id>.wandb`, what
 * `WANDB_MODE=offline` leaves on clusters without internet) without wandb:
 * the file's LevelDB-log framing (`_wandb_log.ts`), then each `Record`
 * protobuf of wandb's `wandb_internal.proto` (`_wandb_records.ts`).
 *
 * A run becomes: its history as a `history` table (a row per history
 * record in file order, `_step` the step, `_timestamp` as `wall_time`,
 * nested keys joined with `.`, each value as its JSON text says: integers
 * exact, NaN kept), system `stats` as a `system` table, config as params,
 * the summary, exit code and environment in `sourceInfo`, the start time and
 * display name. A run killed before its exit record keeps every complete
 * record and is marked incomplete.
 *
 * @module
 */
import { NotFoundError } from "../errors.ts";
import { parsePythonJson } from "../formats/python_json.ts";
import { basename, dirname, join, relative } from "./_deps.ts";
import { JsonTableBuilder } from "./_json_columns.ts";
import { toParamValue } from "./_param_values.ts";
import { readWandbLog, type WandbLogResult } from "./_wandb_log.ts";
import { decodeRecord, type WandbItem } from "./_wandb_records.ts";
import {
  emptyRun,
  type ImportedRun,
  type ParamValue,
  readSourceFile,
} from "./model.ts";

/** A W&B run file's name. */
export const WANDB_FILE_PATTERN: RegExp = /^run-[^/\\]*\.wandb$/;

/** How deep {@linkcode findWandbRuns} looks below a folder. */
const MAX_DEPTH = 4;

/**
 * Finds the W&B run files at or under `path` (a `.wandb` file, a run folder,
 * a `wandb/` folder, or a project folder holding one), not following links.
 * Needs read permission.
 *
 * @returns Absolute paths, sorted.
 * @example
 * ```ts
 * import { findWandbRuns } from "./wandb.ts";
 * const dir = await Deno.makeTempDir();
 * console.assert((await findWandbRuns(dir)).length === 0);
 * await Deno.remove(dir);
 * ```
 */
export async function findWandbRuns(path: string): Promise<string[]> {
  const info = await Deno.lstat(path);
  if (info.isFile) return [path];
  const found: string[] = [];
  async function walk(dir: string, depth: number) {
    const subdirs: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && WANDB_FILE_PATTERN.test(e.name)) {
        found.push(join(dir, e.name));
      } else if (e.isDirectory && depth < MAX_DEPTH) subdirs.push(e.name);
    }
    for (const d of subdirs) await walk(join(dir, d), depth + 1);
  }
  await walk(path, 0);
  return found.sort();
}

/**
 * Reads every W&B run at `path` (see {@linkcode findWandbRuns}). Needs read
 * permission.
 *
 * @throws {NotFoundError} No run file at the path.
 * @throws {UnsupportedFormatError} A file that is not a W&B run file.
 * @throws {CorruptFileError} A chunk failing its CRC (offset named).
 * @example
 * ```ts
 * import { importWandb } from "./wandb.ts";
 * const dir = await Deno.makeTempDir();
 * await importWandb(dir).catch((e) => console.assert(e.name === "NotFoundError"));
 * await Deno.remove(dir);
 * ```
 */
export async function importWandb(
  path: string,
  options: { skipCorrupt?: boolean } = {},
): Promise<ImportedRun[]> {
  const files = await findWandbRuns(path);
  if (files.length === 0) {
    throw new NotFoundError(
      `No W&B run in "${path}": no run-*.wandb file in it or its subfolders (an offline run is wandb/offline-run-<time>-<id>/run-<id>.wandb)`,
    );
  }
  const runs: ImportedRun[] = [];
  for (const file of files) {
    const dir = dirname(file);
    const { bytes, file: source } = await readSourceFile(
      file,
      relative(dir, file),
    );
    const run = wandbRunFromBytes(bytes, file, undefined, options);
    run.sourceFiles.push(source);
    const media = await mediaFiles(dir);
    if (media.length) run.files = media;
    runs.push(run);
  }
  return runs;
}

/**
 * The media wandb saved beside the run (`files/media/**`: images, tables,
 * audio logged with `wandb.Image` and friends), regular files only: links
 * are not followed.
 */
async function mediaFiles(
  dir: string,
): Promise<{ path: string; source: string }[]> {
  const out: { path: string; source: string }[] = [];
  async function walk(at: string, rel: string, depth: number) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(at));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    for (const e of entries) {
      const r = `${rel}/${e.name}`;
      if (e.isFile) out.push({ path: join(at, e.name), source: r });
      else if (e.isDirectory && depth < 4) {
        await walk(join(at, e.name), r, depth + 1);
      }
    }
  }
  await walk(join(dir, "files", "media"), "files/media", 0);
  return out;
}

/** The parts of a run file {@linkcode wandbRunFromBytes} counts. */
export interface WandbReadStats {
  /** History values read (cells, `_step` included). */
  historyValues: number;
  log: WandbLogResult;
}

/**
 * One run from a run file's bytes (no file access; the file's path names
 * the run folder and appears in messages).
 *
 * @param bytes The whole `.wandb` file.
 * @param file Its absolute path.
 * @param stats Filled with counts when given (for the bench).
 */
export function wandbRunFromBytes(
  bytes: Uint8Array,
  file: string,
  stats?: Partial<WandbReadStats>,
  options: { skipCorrupt?: boolean } = {},
): ImportedRun {
  const dir = dirname(file);
  const fileId = basename(file).replace(/^run-|\.wandb$/g, "");
  const run = emptyRun("wandb", "wandb", dir, fileId, fileId);
  const warn = (m: string) => run.warnings.push(m);
  const history = new JsonTableBuilder();
  const system = new JsonTableBuilder();
  const summary: Record<string, ParamValue> = {};
  const config: Record<string, ParamValue> = {};
  const info: Record<string, ParamValue> = {};
  let values = 0;
  let exit: { exitCode: number; runtime: number } | null = null;
  let lastStep = -1;
  let minTime = Infinity;
  const setConfig = (items: WandbItem[]) => {
    for (const it of items) {
      setPath(config, it.key, json(it, `config "${it.key}"`, warn), warn);
    }
  };
  // History items go straight into the table as they are decoded.
  let rowOpen = false;
  let stepText: string | null = null;
  const sink = (key: string, text: string) => {
    if (!rowOpen) {
      history.row(lastStep + 1);
      rowOpen = true;
    }
    values++;
    if (key === "_step") stepText = text;
    else history.cell(key === "_timestamp" ? "wall_time" : key, text);
  };
  const log = readWandbLog(bytes, file, (rec, offset) => {
    let r;
    rowOpen = false;
    stepText = null;
    try {
      r = decodeRecord(rec, sink);
    } catch (e) {
      warn(
        `record at byte ${offset} of ${file} does not decode (${
          (e as Error).message
        }): skipped${
          rowOpen ? " (the history values read before the fault kept)" : ""
        }`,
      );
      return;
    }
    switch (r.kind) {
      case "history": {
        if (!rowOpen) history.row(lastStep + 1);
        const step = r.step !== null
          ? Number(r.step)
          : stepText !== null
          ? Number(stepText)
          : lastStep + 1;
        history.setStep(step);
        lastStep = step;
        break;
      }
      case "stats":
        system.row(system.rows);
        if (r.time !== null) {
          system.cell("wall_time", String(r.time));
          minTime = Math.min(minTime, r.time);
        }
        for (const it of r.items) system.cell(it.key, it.json);
        break;
      case "summary":
        for (const it of r.update) {
          summary[it.key] = summaryValue(it, warn);
        }
        for (const k of r.remove) delete summary[k];
        break;
      case "config":
        setConfig(r.update);
        for (const k of r.remove) delete config[k];
        break;
      case "run": {
        const x = r.run;
        setConfig(x.config);
        if (x.runId) run.sourceRunId = x.runId;
        run.name = x.displayName || x.runId || run.name;
        if (x.startTime !== null) run.startTime = new Date(x.startTime * 1000);
        for (
          const [k, v] of Object.entries({
            project: x.project,
            entity: x.entity,
            group: x.group,
            job_type: x.jobType,
            notes: x.notes,
            host: x.host,
          })
        ) if (v) run.tags[`wandb.${k}`] = v;
        if (x.tags.length) run.tags["wandb.tags"] = x.tags.join(",");
        if (x.resumed) info.resumed = true;
        if (x.startingStep) info.starting_step = x.startingStep;
        break;
      }
      case "exit":
        exit = { exitCode: r.exitCode, runtime: r.runtime };
        break;
      case "header":
        run.toolVersion = r.producer.replace(/\+.*$/, "") || null;
        break;
      case "environment":
        if (Object.keys(r.info).length) info.environment = r.info;
        break;
      case "files":
        info.files = [...(info.files as string[] ?? []), ...r.paths];
        break;
    }
  }, { skipCorrupt: options.skipCorrupt });
  if (stats) {
    stats.historyValues = values;
    stats.log = log;
  }
  for (const s of log.skipped) warn(`${s.message}: skipped`);
  if (log.truncated) {
    warn(
      `${
        basename(file)
      }: ${log.truncated.message}; read every complete record before it`,
    );
  }
  if ("_wandb" in config) {
    info.wandb_config = config._wandb;
    delete config._wandb;
  }
  run.params = config;
  info.summary = summary;
  const done = exit as { exitCode: number; runtime: number } | null;
  if (done) {
    info.exit_code = done.exitCode;
    info.runtime_seconds = done.runtime;
    info.complete = true;
    info.status = done.exitCode === 0 ? "finished" : "failed";
    if (run.startTime) {
      run.endTime = new Date(run.startTime.getTime() + done.runtime * 1000);
    }
  } else {
    info.complete = false;
    info.status = "incomplete";
    warn(
      `${
        basename(file)
      } has no exit record: the run was killed or is still running; imported as incomplete`,
    );
  }
  if (!run.startTime && Number.isFinite(minTime)) {
    run.startTime = new Date(minTime * 1000);
  }
  run.sourceInfo = info;
  if (history.rows) run.tables.push(history.build("history", warn));
  if (system.rows) run.tables.push(system.build("system", warn));
  return run;
}

/** A value's JSON text decoded as a param (NaN, bigints noted). */
function json(
  item: WandbItem,
  what: string,
  warn: (m: string) => void,
): ParamValue {
  let v: unknown;
  try {
    v = parsePythonJson(item.json);
  } catch {
    warn(`${what} is not JSON (${item.json.slice(0, 80)}): kept as its text`);
    return item.json;
  }
  return toParamValue(v, item.key, warn);
}

/**
 * A summary value decoded, or its JSON text as written where decoding would
 * change it (NaN, ±Infinity, integers past 2^53).
 */
function summaryValue(item: WandbItem, warn: (m: string) => void): ParamValue {
  const notes: string[] = [];
  let v: unknown;
  try {
    v = parsePythonJson(item.json);
  } catch {
    warn(
      `summary "${item.key}" is not JSON (${
        item.json.slice(0, 80)
      }): kept as its text`,
    );
    return item.json;
  }
  const p = toParamValue(v, item.key, (m) => notes.push(m));
  return notes.length ? item.json : p;
}

/** Sets a dotted key (W&B's nested keys) inside `obj`. */
function setPath(
  obj: Record<string, ParamValue>,
  key: string,
  value: ParamValue,
  warn: (m: string) => void,
): void {
  const parts = key.split(".");
  let at = obj;
  for (const p of parts.slice(0, -1)) {
    const next = at[p];
    if (
      next === undefined || next === null || typeof next !== "object" ||
      Array.isArray(next)
    ) {
      if (next !== undefined) {
        warn(`config "${key}" replaces the value at "${p}"`);
      }
      at = at[p] = {};
    } else at = next;
  }
  at[parts[parts.length - 1]] = value;
}

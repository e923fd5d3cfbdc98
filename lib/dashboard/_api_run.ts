/**
 * The outcome of a specimen's last run for its page: the run record (status,
 * duration, exit code or signal, error), the last lines of its stderr logs
 * (the runner's and each `storage.exec` child's, `runs/<run>/exec-<n>.stderr.log`),
 * and the interpreters it ran under (Deno; Python and torch of each child,
 * from `provenance.children`).
 *
 * @module
 */
import { join } from "../_deps.ts";
import { openVaultFile } from "../_fs.ts";

/** Lines of a stderr log sent at most (its end). */
export const TAIL_LINES = 20;
/** Bytes read from the end of a stderr log at most. */
const TAIL_BYTES = 8192;

/** The last lines of one log, or why they could not be read. */
export interface LogTail {
  /** Which log: `run` or `exec <n>`. */
  source: string;
  /** The log, relative to the specimen folder. */
  path: string;
  /** Its last lines (at most {@linkcode TAIL_LINES}). */
  lines: string[];
  /** Whether lines before these were left out. */
  cut: boolean;
  /** Why it is not shown (missing, not a regular file), else null. */
  issue: string | null;
}

/** What the specimen page shows first. */
export interface RunOutcome {
  /** The last run record (as in the manifest), or null: never run. */
  run: Record<string, unknown> | null;
  /** How many runs the manifest records. */
  runs: number;
  /** Wall time so far for a run still `running` (ms), else null. */
  running_ms: number | null;
  /** The stderr tails: the failed child's first, then the runner's. */
  stderr: LogTail[];
  /** `deno`, `python`, `torch`, `cuda`… with their versions, as recorded. */
  versions: { name: string; version: string }[];
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? v as Obj : null;

/** The last `TAIL_LINES` lines of `rel` inside the specimen folder `dir`. */
async function tail(
  dir: string,
  rel: string,
  source: string,
): Promise<LogTail> {
  const out: LogTail = {
    source,
    path: rel,
    lines: [],
    cut: false,
    issue: null,
  };
  if (rel.split("/").includes("..")) {
    out.issue = "its path leads out of the specimen folder";
    return out;
  }
  try {
    using file = await openVaultFile(join(dir, rel), { root: dir });
    const size = (await file.stat()).size;
    const from = Math.max(0, size - TAIL_BYTES);
    await file.seek(from, Deno.SeekMode.Start);
    const buf = new Uint8Array(size - from);
    let off = 0;
    while (off < buf.length) {
      const n = await file.read(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    let lines = new TextDecoder().decode(buf.subarray(0, off)).split("\n");
    if (from > 0) lines = lines.slice(1); // a partial first line
    while (lines.length && lines[lines.length - 1].trim() === "") lines.pop();
    out.cut = from > 0 || lines.length > TAIL_LINES;
    out.lines = lines.slice(-TAIL_LINES);
  } catch (e) {
    out.issue = e instanceof Deno.errors.NotFound
      ? "not on disk"
      : (e as Error).message.replace(`${dir}/`, "");
  }
  return out;
}

/** The versions recorded in `provenance`, each name once. */
function versionsOf(provenance: Obj | null): RunOutcome["versions"] {
  const out = new Map<string, string>();
  const runtime = obj(provenance?.runtime);
  if (typeof runtime?.deno === "string") out.set("deno", runtime.deno);
  const children = Array.isArray(provenance?.children)
    ? provenance.children
    : [];
  for (const c of children) {
    const python = obj(obj(c)?.python);
    if (!python) continue;
    if (typeof python.version === "string" && !out.has("python")) {
      out.set("python", python.version.replace(/^Python\s+/, ""));
    }
    const torch = obj(python.torch);
    if (typeof torch?.version === "string" && !out.has("torch")) {
      out.set("torch", torch.version);
      if (typeof torch.cuda_version === "string") {
        out.set("cuda", torch.cuda_version);
      }
      if (typeof torch.device_name === "string") {
        out.set("gpu", torch.device_name);
      }
    }
    const packages = obj(python.packages);
    for (const name of ["numpy", "transformers", "jax"]) {
      if (typeof packages?.[name] === "string" && !out.has(name)) {
        out.set(name, packages[name] as string);
      }
    }
  }
  return [...out].map(([name, version]) => ({ name, version }));
}

/**
 * The outcome of the last run recorded in `manifest`, reading at most
 * 8 KiB of each stderr log (safely: no link out of the specimen folder, no
 * FIFO). `now` is the clock for a running run's elapsed time.
 */
export async function runOutcome(
  specimenDir: string,
  manifest: unknown,
  provenance: unknown,
  now: number = Date.now(),
): Promise<RunOutcome> {
  const m = obj(manifest);
  const runs = Array.isArray(m?.runs) ? m.runs.map(obj).filter(Boolean) : [];
  const run = (runs[runs.length - 1] ?? null) as Obj | null;
  const versions = versionsOf(obj(provenance));
  if (!run) {
    return { run: null, runs: 0, running_ms: null, stderr: [], versions };
  }
  const logs: [string, string][] = [];
  const execs = Array.isArray(run.execs) ? run.execs.map(obj) : [];
  // A failed child's stderr first: it is where a Python traceback is.
  const ordered = [...execs].sort((a, b) =>
    Number(!a?.error && a?.exit_code === 0) -
    Number(!b?.error && b?.exit_code === 0)
  );
  for (const e of ordered) {
    if (typeof e?.stderr === "string") logs.push([e.stderr, `exec ${e.index}`]);
  }
  if (typeof run.stderr === "string") logs.push([run.stderr, "run"]);
  const stderr = await Promise.all(
    logs.slice(0, 4).map(([rel, source]) => tail(specimenDir, rel, source)),
  );
  const started = Date.parse(String(run.started));
  return {
    run,
    runs: runs.length,
    running_ms: run.status === "running" && Number.isFinite(started)
      ? Math.max(0, now - started)
      : null,
    stderr: stderr.filter((t) => t.lines.length || t.issue),
    versions,
  };
}

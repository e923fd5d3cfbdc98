/**
 * Where an exec is recorded: its log files in the run's folder
 * (`runs/<run id>/exec-<n>.*.log`), its entry in the run's `execs`, and its
 * environment in `provenance.children` (see exec.ts).
 *
 * @module
 */
import { join } from "../_deps.ts";
import { updateManifest } from "../specimen/_lock.ts";
import { readManifest } from "../specimen/manifest.ts";
import type {
  ExecRecord,
  Manifest,
  Provenance,
  RunRecord,
} from "../specimen/manifest_types.ts";
import { assertWritable, STATUS_FAILED } from "../specimen/seal.ts";
import type { ChildEnvironment } from "../bridge/child_env.ts";
import { captureProvenance } from "./provenance.ts";
import { newRunId, RUN_ID_ENV, RUNS_DIR } from "./run_record.ts";

/** This process's parent pid, or null when it cannot be read. */
export function parentPid(): number | null {
  try {
    return Deno.ppid;
  } catch {
    return null;
  }
}

/** The command, quoted where needed and cut at 120 characters. */
export function show(command: string[]): string {
  const text = command.map((a) =>
    /^[\w./=:,+-]+$/.test(a) ? a : JSON.stringify(a)
  )
    .join(" ");
  return `"${text.length > 120 ? `${text.slice(0, 120)}…` : text}"`;
}

/** The run in progress that this process belongs to, if any. */
function currentRun(m: Manifest): RunRecord | undefined {
  const last = m.runs?.at(-1);
  if (last?.status !== "running") return undefined;
  let envId: string | undefined;
  try {
    const desc = { name: "env", variable: RUN_ID_ENV } as const;
    if (Deno.permissions.querySync(desc).state === "granted") {
      envId = Deno.env.get(RUN_ID_ENV);
    }
  } catch { /* not under deno task run */ }
  if (envId !== undefined) return last.id === envId ? last : undefined;
  return last.pid === Deno.pid ? last : undefined;
}

/** The log files claimed for an exec, and the run they belong to. */
export interface Logs {
  runId: string | null;
  /** The pid of the process recording the run. */
  recorder: number | null;
  index: number;
  stdout: string;
  stderr: string;
  files: [Deno.FsFile, Deno.FsFile];
}

/** Claims `exec-<n>.stdout.log` / `.stderr.log` in the run's log folder. */
export async function openLogs(dir: string): Promise<Logs> {
  const run = currentRun(await readManifest(dir));
  const folder = `${RUNS_DIR}/${run?.id ?? `exec_${newRunId()}`}`;
  await Deno.mkdir(join(dir, folder), { recursive: true });
  for (let index = 1;; index++) {
    const stdout = `${folder}/exec-${index}.stdout.log`;
    const stderr = `${folder}/exec-${index}.stderr.log`;
    let out: Deno.FsFile;
    try {
      out = await Deno.open(join(dir, stdout), {
        write: true,
        createNew: true,
      });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) continue;
      throw e;
    }
    try {
      const err = await Deno.open(join(dir, stderr), {
        write: true,
        create: true,
        truncate: true,
      });
      return {
        runId: run?.id ?? null,
        recorder: run?.pid ?? null,
        index,
        stdout,
        stderr,
        files: [out, err],
      };
    } catch (e) {
      out.close();
      throw e;
    }
  }
}

/** Records the exec in its run and its environment in the provenance. */
export async function recordStart(
  dir: string,
  runId: string | null,
  record: ExecRecord,
  env: ChildEnvironment,
): Promise<void> {
  await updateManifest(dir, async (m) => {
    assertWritable(m);
    const run = m.runs?.find((r) => r.id === runId);
    if (run) run.execs = [...(run.execs ?? []), record];
    m.provenance ??= await captureProvenance({
      specimenDir: dir,
      capturedBy: "SpecimenStorage",
    });
    const p = m.provenance as Provenance;
    p.children = [...(p.children ?? []), { ...env, exec: record.index }];
  });
}

/**
 * Writes the exec's end into its run. When this process's parent is gone
 * and it was the one recording the run, the run is marked `interrupted`.
 */
export async function recordEnd(
  dir: string,
  runId: string | null,
  record: ExecRecord,
  parentGone: number | null,
): Promise<void> {
  if (runId === null) return;
  await updateManifest(dir, (m) => {
    const run = m.runs?.find((r) => r.id === runId);
    if (!run) return;
    const execs = run.execs ?? [];
    const at = execs.findIndex((e) => e.index === record.index);
    if (at >= 0) execs[at] = record;
    else execs.push(record);
    run.execs = execs;
    if (
      parentGone !== null && run.pid === parentGone && run.status === "running"
    ) {
      run.status = "interrupted";
      run.error =
        `The process recording the run (pid ${parentGone}) died while ${
          show(record.command)
        } ran; the child was stopped`;
      m.status = STATUS_FAILED;
    }
  });
}

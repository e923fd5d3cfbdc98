/**
 * {@linkcode runSpecimen}: `deno task run`'s runner. Runs a protocol as a
 * child process, tees its output to `runs/<run id>/`, and records the run.
 *
 * @module
 */
import { join, relative, resolve } from "../_deps.ts";
import { exists, writeAll } from "../_fs.ts";
import { NotFoundError } from "../errors.ts";
import { readManifest } from "../specimen/manifest.ts";
import type { Manifest, RunRecord } from "../specimen/manifest_types.ts";
import { findDenoConfig, LIBRARY_CONFIG, PROTOCOL_FILE } from "./provenance.ts";
import {
  assertRunnable,
  beginRun,
  finishRun,
  RUN_ID_ENV,
} from "./run_record.ts";

/** Options for {@linkcode runSpecimen}. */
export interface RunSpecimenOptions {
  /** The specimen folder. */
  dir: string;
  /** Arguments passed to the protocol. @default [] */
  args?: string[];
  /** The protocol's working directory. @default Deno.cwd() */
  cwd?: string;
  /** Permission flags for the protocol. @default ["-A"] */
  denoFlags?: string[];
  /** Echo the protocol's stdout and stderr live to this process's. @default true */
  echo?: boolean;
  /** Progress of the sealing hash, in bytes. */
  onSealBytes?: (n: number) => void;
}

/** What {@linkcode runSpecimen} returns. */
export interface RunResult {
  /** The run as recorded. */
  run: RunRecord;
  /** The manifest as written after the run. */
  manifest: Manifest;
}

/**
 * Runs the protocol of the specimen at `options.dir` as a child process
 * (`deno run -A protocol.ts ...args`) and records the run: provenance
 * first, then stdout and stderr teed live to the terminal and to
 * `runs/<run id>/stdout.log` and `stderr.log`, then the exit status. A
 * success seals the specimen; a failure marks it `failed`. SIGINT and
 * SIGTERM are passed on to the protocol, whose end is still recorded.
 *
 * Refuses ({@linkcode ImmutableArtifactError}) a sealed specimen or one
 * that already holds results, before anything is written.
 *
 * Needs `--allow-read`, `--allow-write`, `--allow-run`, `--allow-env` and
 * `--allow-sys`.
 *
 * @example
 * ```ts ignore
 * import { runSpecimen } from "./run.ts";
 * const { run, manifest } = await runSpecimen({ dir: "specimens/my_run", args: ["--epochs", "3"] });
 * console.log(run.status, manifest.status, manifest.seal?.digest);
 * ```
 */
export async function runSpecimen(
  options: RunSpecimenOptions,
): Promise<RunResult> {
  const dir = resolve(options.dir);
  const manifest = await readManifest(dir);
  await assertRunnable(manifest, dir);
  const protocol = join(dir, PROTOCOL_FILE);
  if (!(await exists(protocol))) {
    throw new NotFoundError(
      `Specimen "${manifest.specimen_id}" has no ${PROTOCOL_FILE} at ${protocol}: restore it, or derive a new specimen with deno task create --from`,
    );
  }
  const cwd = resolve(options.cwd ?? Deno.cwd());
  const args = options.args ?? [];
  const flags = options.denoFlags ?? ["-A"];
  // A vault outside the repository has no deno.json above it: use ours.
  const config = (await findDenoConfig(dir)) === null
    ? LIBRARY_CONFIG
    : undefined;
  const configArgs = (path: string) => config ? ["--config", path] : [];

  const run = await beginRun(dir, {
    via: "deno task run",
    command: [
      "deno",
      "run",
      ...flags,
      ...configArgs(config ? relative(cwd, config) : ""),
      relative(cwd, protocol),
      ...args,
    ],
    cwd,
    logs: true,
    config,
  });

  let status: Deno.CommandStatus | null = null;
  let spawnError: string | null = null;
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, ...configArgs(config ?? ""), protocol, ...args],
      cwd,
      env: { [RUN_ID_ENV]: run.id },
      stdin: "inherit",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stopForwarding = forwardSignals(child);
    try {
      const echo = options.echo ?? true;
      await Promise.all([
        tee(child.stdout, join(dir, run.stdout!), echo ? Deno.stdout : null),
        tee(child.stderr, join(dir, run.stderr!), echo ? Deno.stderr : null),
      ]);
      status = await child.status;
    } finally {
      stopForwarding();
    }
  } catch (e) {
    spawnError = `Could not run the protocol: ${(e as Error).message}`;
  }
  return await finishRun(dir, run.id, {
    exitCode: status?.signal ? null : status?.code ?? null,
    signal: status?.signal ?? null,
    error: spawnError,
    onBytes: options.onSealBytes,
  });
}

/** Passes SIGINT/SIGTERM/SIGHUP on to `child`; returns the undo. */
function forwardSignals(child: Deno.ChildProcess): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM", "SIGHUP"];
  const handlers = signals.map((sig) => {
    const handler = () => {
      try {
        child.kill(sig);
      } catch { /* already ended */ }
    };
    Deno.addSignalListener(sig, handler);
    return [sig, handler] as const;
  });
  return () => {
    for (const [sig, handler] of handlers) {
      Deno.removeSignalListener(sig, handler);
    }
  };
}

/**
 * Copies `stream` to a new log file at `path` and, when given, to `echo`,
 * chunk by chunk as it arrives. The log is written in place rather than
 * renamed at the end: a run that dies midway keeps what it printed.
 */
async function tee(
  stream: ReadableStream<Uint8Array>,
  path: string,
  echo: { write(p: Uint8Array): Promise<number> } | null,
): Promise<void> {
  using log = await Deno.open(path, { write: true, createNew: true });
  let echoing = echo !== null;
  for await (const chunk of stream) {
    await writeAll(log, chunk);
    if (echoing) {
      try {
        await writeAll(echo!, chunk);
      } catch {
        echoing = false; // a closed terminal must not stop the log
      }
    }
  }
}

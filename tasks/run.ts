/**
 * `deno task run`: run a specimen's protocol as a child process and record
 * the run (provenance, logs, exit status); seal the specimen on success.
 *
 * @module
 */
import { dirname, join, resolve } from "../lib/_deps.ts";
import { parseTaskArgs, runMain, shownPath, userCwd } from "../lib/cli/cli.ts";
import { formatBytes, ProgressLine } from "../lib/cli/progress.ts";
import { InvalidInputError, NotFoundError } from "../lib/errors.ts";
import {
  type BatchRunRow,
  pendingSpecimens,
  runSpecimen,
  type RunSpecimenOptions,
  runSpecimens,
} from "../lib/run/run.ts";
import {
  checkSystemInterval,
  DEFAULT_SYSTEM_INTERVAL_S,
  MIN_SYSTEM_INTERVAL_S,
} from "../lib/run/system_log.ts";
import { isSpecimenId } from "../lib/specimen/id.ts";
import { findVault } from "../lib/vault.ts";

/** The task's help text. */
export const HELP =
  `Run a specimen's protocol and record the run in its manifest: start and end
time, duration, exit status, command line, and provenance (git commit and
dirty files, Deno/V8/TypeScript, OS, CPU, memory, host, SHA-256 of
protocol.ts and deno.lock, npm package versions, declared seeds). stdout and
stderr are shown live and saved to specimens/<id>/runs/<run id>/.

A successful run seals the specimen: the SHA-256 and size of protocol.ts and
of every file under strata/ and runs/ go into the manifest, and the specimen
can no longer be written or run (check it with deno task verify). A failed
run is kept, marked failed, with its logs; a run stopped by the user
(Ctrl-C: SIGINT, or SIGTERM, SIGHUP; passed on to the protocol) is marked
interrupted. Either may then:
  - run again: deno task run ID moves what the last run wrote under strata/
    to runs/<that run>/strata/ (recorded as its partial_results; nothing is
    lost, and the new run's seal covers it) and starts afresh, or
  - be sealed as it is, on purpose: deno task seal ID.

Usage:
  deno task run ID [options] [-- PROTOCOL_ARGS...]
  deno task run path/to/protocol.ts [options] [-- PROTOCOL_ARGS...]
  deno task run ID ID ... [options] [-- PROTOCOL_ARGS...]
  deno task run --all-pending [options] [-- PROTOCOL_ARGS...]

Several ids (e.g. the ids a sweep printed), or --all-pending (every specimen
not sealed and never run, but the tool's examples), run one after another; a failing run stops
nothing else, and a table of id, status, duration and exit code is printed
at the end. Every id is checked before the first run starts.

Options:
  --all-pending  run every specimen of the vault that is not sealed and has
                 never run; the tool's examples (example: true in their
                 manifest) run only when named
  --vault DIR    the vault, for an ID (default: $SPECIMEN_VAULT, else the
                 nearest folder at or above the working directory with
                 specimens/)
  --system-interval SECONDS
                 seconds between two samples of system metrics (default 2,
                 at least 0.1)
  --no-system-metrics
                 take no system metrics
  -h, --help     show this help

System metrics: while the protocol runs, its process tree (the protocol and
every process it starts, e.g. a Python child) is sampled at the start and
then every --system-interval seconds into strata/system.parquet (columns
step, cpu_percent with 100 = one core, rss_bytes, threads, procs,
mem_used_bytes and mem_total_bytes of the machine, gpu_util_percent and
gpu_mem_bytes when nvidia-smi answers, seconds since the start, time as Unix
seconds). They are written by this task, crash-safe (deno task repair
compacts them after a SIGKILL), kept when the run fails, and queryable as
metrics__system after deno task index. They are the run's, not results: a
run that wrote nothing else is not sealed, and the next run moves an
earlier run's table to runs/<run id>/system.parquet. The protocol cannot
use the table name "system" meanwhile.

Arguments after -- are passed to the protocol (Deno.args). The protocol runs
with -A from the current folder.

Exit codes: 0 the run succeeded; otherwise the protocol's exit code, or 1
when it was killed or sealing failed; 128 + the signal's number when the
user stopped it (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP); 2 invalid
usage, or params the protocol does not declare or of another type (see
deno task create --help); 3 the specimen is sealed, or holds results no
failed or interrupted run left (derive a variation with
deno task create --id NEW --from ID); 4 no such specimen; 8 the specimen is
busy: being run right now by another live process (wait for it to end). With
several
specimens: 0 when every run succeeded, 1 when any failed, was refused or was
not run because the batch was stopped.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  // `deno task run -- ID` passes the separator on: a leading one is not the
  // start of the protocol's arguments.
  if (args[0] === "--") args = args.slice(1);
  const dashes = args.indexOf("--");
  const own = dashes === -1 ? args : args.slice(0, dashes);
  const protocolArgs = dashes === -1 ? [] : args.slice(dashes + 1);
  const { values, positionals, help } = parseTaskArgs(own, {
    vault: { type: "string" },
    "all-pending": { type: "boolean" },
    "system-interval": { type: "string" },
    "no-system-metrics": { type: "boolean" },
  }, { allowPositionals: true });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const system = systemOptions(values);
  if (values["all-pending"] === true || positionals.length > 1) {
    return await runMany(
      positionals,
      values["all-pending"] === true,
      values.vault as string | undefined,
      protocolArgs,
      system,
    );
  }
  if (positionals.length !== 1) {
    throw new InvalidInputError(
      positionals.length === 0
        ? "Missing the specimen: usage: deno task run ID|path/to/protocol.ts [-- ARGS] (see --help)"
        : `Expected one specimen, got ${
          positionals.map((p) => JSON.stringify(p)).join(" ")
        }: arguments for the protocol go after --, e.g. deno task run ${
          positionals[0]
        } -- ${positionals.slice(1).join(" ")}`,
    );
  }
  // deno task runs in the folder of deno.json; INIT_CWD is where it was typed.
  const cwd = userCwd();
  const dir = await specimenDir(positionals[0], cwd, values.vault as string);

  const progress = new ProgressLine();
  let sealed = 0;
  const { run, manifest } = await runSpecimen({
    dir,
    args: protocolArgs,
    cwd,
    ...system,
    onSealBytes: (n) => {
      sealed += n;
      progress.update(() => `sealing: ${formatBytes(sealed)} hashed`);
    },
  });
  progress.clear();

  const logs = run.stdout
    ? `${shownPath(join(dir, dirname(run.stdout)), cwd)}/`
    : "(none)";
  const took = `${((run.duration_ms ?? 0) / 1000).toFixed(2)} s`;
  if (run.status === "succeeded") {
    console.error(
      manifest.seal
        ? `\nRun ${run.id} succeeded in ${took}. Sealed ${manifest.specimen_id}: ${manifest.seal.file_count} files, ${
          formatBytes(manifest.seal.bytes)
        }, digest ${
          manifest.seal.digest.slice(0, 16)
        }… Logs: ${logs}\nCheck it any time with: deno task verify ${manifest.specimen_id}`
        : `\nRun ${run.id} succeeded in ${took} but wrote nothing to strata/, so ${manifest.specimen_id} is not sealed and can run again. Logs: ${logs}`,
    );
    return 0;
  }
  const id = manifest.specimen_id;
  const choices =
    `Run it again (what it wrote moves to runs/${run.id}/strata/): deno task run ${id}\nOr keep it as it is, sealed: deno task seal ${id}`;
  if (run.status === "interrupted") {
    console.error(
      `\nRun ${run.id} INTERRUPTED after ${took} (${
        run.error ?? run.signal
      }). ${id} is marked interrupted; what it wrote is kept. Logs: ${logs}\n${choices}`,
    );
    return 128 + (SIGNAL_NUMBERS[run.signal ?? ""] ?? 2);
  }
  const why = run.error ??
    (run.signal
      ? `killed by ${run.signal}`
      : `exit code ${run.exit_code ?? "unknown"}`);
  console.error(
    `\nRun ${run.id} FAILED after ${took} (${why}). ${id} is marked failed and kept as it is. Logs: ${logs}\n${choices}`,
  );
  return run.exit_code && run.exit_code > 0 ? run.exit_code : 1;
}

/** Several specimens one after another, then a summary table. */
async function runMany(
  targets: string[],
  allPending: boolean,
  vault: string | undefined,
  protocolArgs: string[],
  system: SystemOptions,
): Promise<number> {
  const cwd = userCwd();
  if (allPending && targets.length > 0) {
    throw new InvalidInputError(
      `--all-pending runs every pending specimen: give it without ids (got ${
        targets.join(" ")
      })`,
    );
  }
  const dup = targets.find((t, i) => targets.indexOf(t) !== i);
  if (dup !== undefined) {
    throw new InvalidInputError(
      `${
        JSON.stringify(dup)
      } is given twice: a specimen runs once; give each id once`,
    );
  }
  let dirs: string[];
  if (allPending) {
    const paths = await findVault(
      vault === undefined ? undefined : resolve(cwd, vault),
      cwd,
    );
    dirs = (await pendingSpecimens(paths.specimens)).map((id) =>
      join(paths.specimens, id)
    );
    if (dirs.length === 0) {
      console.error(`No pending specimens in ${paths.specimens}.`);
      return 0;
    }
  } else {
    dirs = [];
    for (const t of targets) {
      try {
        dirs.push(await specimenDir(t, cwd, vault));
      } catch (e) {
        if (!(e instanceof NotFoundError || e instanceof InvalidInputError)) {
          throw e;
        }
        // Perhaps protocol arguments typed without the separator.
        e.message +=
          `. Several ids run one after another; arguments for the protocol go after --, e.g. deno task run ${
            targets[0]
          } -- ${targets.slice(1).join(" ")}`;
        throw e;
      }
    }
  }
  const rows = await runSpecimens(dirs, {
    args: protocolArgs,
    cwd,
    ...system,
    onStart: (dir, i) =>
      console.error(
        `\n== [${i + 1}/${dirs.length}] ${shownPath(dir, cwd)}`,
      ),
  });
  console.log(`\n${summaryTable(rows)}`);
  const failed = rows.filter((r) => r.status !== "succeeded");
  console.log(
    `${rows.length} run${rows.length === 1 ? "" : "s"}: ${
      rows.length - failed.length
    } succeeded, ${failed.length} failed${
      failed.length ? ` (${failed.map((r) => r.id).join(", ")})` : ""
    }`,
  );
  return failed.length ? 1 : 0;
}

/** The numbers of the signals a user stops a run with, for the exit code. */
const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGTERM: 15,
};

type SystemOptions = Pick<
  RunSpecimenOptions,
  "systemMetrics" | "systemInterval"
>;

/** --system-interval and --no-system-metrics, checked. */
function systemOptions(
  values: Record<string, string | boolean | string[] | undefined>,
): SystemOptions {
  const interval = values["system-interval"] as string | undefined;
  if (values["no-system-metrics"] === true) {
    if (interval !== undefined) {
      throw new InvalidInputError(
        `--system-interval ${interval} and --no-system-metrics contradict each other: give one`,
      );
    }
    return { systemMetrics: false };
  }
  if (interval === undefined) return {};
  const seconds = interval.trim() === "" ? NaN : Number(interval);
  try {
    return { systemInterval: checkSystemInterval(seconds) };
  } catch {
    throw new InvalidInputError(
      `Invalid --system-interval ${
        JSON.stringify(interval)
      }: give seconds from ${MIN_SYSTEM_INTERVAL_S} up, e.g. --system-interval 5 (default ${DEFAULT_SYSTEM_INTERVAL_S}), or --no-system-metrics`,
    );
  }
}

/** The batch summary as an aligned text table. */
function summaryTable(rows: BatchRunRow[]): string {
  const head = ["id", "status", "duration", "exit", "note"];
  const body = rows.map((r) => [
    r.id,
    r.status,
    `${(r.duration_ms / 1000).toFixed(2)} s`,
    r.exit_code === null ? "-" : String(r.exit_code),
    r.status === "succeeded"
      ? (r.sealed ? "sealed" : "not sealed (wrote nothing)")
      : (r.error ?? "").split("\n")[0].slice(0, 120),
  ]);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...body.map((row) => row[i].length))
  );
  const line = (cells: string[]) =>
    cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)]
    .join("\n");
}

/** The specimen folder named by an id (in the vault) or a path. */
async function specimenDir(
  target: string,
  cwd: string,
  vault: string | undefined,
): Promise<string> {
  const isPath = /[\\/]/.test(target) || target.endsWith(".ts") ||
    target === "." || target === "..";
  if (isPath) {
    const path = resolve(cwd, target);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch {
      throw new NotFoundError(
        `No such file or folder: ${path}. Give a specimen id or the path of its protocol.ts`,
      );
    }
    return info.isDirectory ? path : dirname(path);
  }
  if (!isSpecimenId(target)) {
    throw new InvalidInputError(
      `Invalid specimen id ${
        JSON.stringify(target)
      }: ids match ^[a-z0-9_]+$; or give the path of a protocol.ts`,
    );
  }
  const paths = await findVault(
    vault === undefined ? undefined : resolve(cwd, vault),
    cwd,
  );
  const dir = join(paths.specimens, target);
  try {
    await Deno.stat(dir);
  } catch {
    throw new NotFoundError(
      `No specimen "${target}" in ${paths.specimens}: create it with deno task create --id ${target} ..., or pass --vault DIR`,
    );
  }
  return dir;
}

if (import.meta.main) await runMain(main);

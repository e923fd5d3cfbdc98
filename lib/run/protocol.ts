/**
 * `runProtocol`: the entry point of every `protocol.ts`. It opens the
 * specimen the protocol lives in, refuses to run it twice (results are
 * write-once), records the run with its provenance and seeds, seals the
 * specimen when the run succeeds (or marks it failed), and turns the vault's
 * errors into a clear message and exit code instead of a stack trace.
 *
 * @module
 */
import { dirname, fromFileUrl, relative } from "../_deps.ts";
import { fsErrorHint } from "../_fs.ts";
import { updateManifest } from "../specimen/_lock.ts";
import { formatBytes } from "../cli/progress.ts";
import { InvalidInputError, VaultError } from "../errors.ts";
import type { Manifest } from "../specimen/manifest.ts";
import type { Params } from "../specimen/params.ts";
import { nearestKey, paramProblems } from "../specimen/param_check.ts";
import { leafMap } from "../specimen/params.ts";
import {
  assertRunnable,
  beginRun,
  finishRun,
  RUN_ID_ENV,
  validateSeeds,
} from "./run.ts";
import { STATUS_RUNNING } from "../specimen/seal.ts";
import { SpecimenStorage } from "./storage.ts";

/** Options for {@linkcode runProtocol}. */
export interface RunProtocolOptions<P extends Params = Params> {
  /**
   * Exit the process with the error's code when the protocol fails with a
   * vault error (set `false` to get the error thrown instead).
   * @default true
   */
  exit?: boolean;
  /**
   * The seeds of every random source the protocol uses, recorded in the
   * manifest's `seeds` before the experiment starts, e.g.
   * `{ data: 42, init: 7 }`. Numbers or strings.
   */
  seeds?: Record<string, number | string>;
  /**
   * The protocol's params with their defaults, e.g. `{ lr: 1e-3, seed: 0 }`:
   * keys the manifest's `params` lacks (`deno task create --param` sets
   * them) take these values, and the final params are recorded in the
   * manifest before `body` runs and passed to it. Refused (exit 2) when the
   * values would change a specimen that already holds results, and before
   * `body` starts when the manifest's params hold a key not declared here
   * (with the nearest declared one: "did you mean lr?") or a value of
   * another type than the default's; keys created with `--new-param`
   * (the manifest's `params_new`) are exempt.
   */
  params?: P;
}

/**
 * Runs `body` with the {@linkcode SpecimenStorage} of the specimen whose
 * folder holds the calling module. Does nothing when the module is imported
 * rather than run (`import.meta.main` is false).
 *
 * A specimen that is sealed or already holds results is refused with a
 * message pointing to `deno task create --from`, and nothing is changed.
 *
 * Run directly (`deno run -A protocol.ts`), it records the run in the
 * manifest (`runs`, `provenance`, `seeds`; no logs) and seals the specimen
 * when `body` succeeds, or marks it `failed` when `body` throws. Under
 * `deno task run`, the task records and seals the run, with its logs.
 *
 * Needs `--allow-read` and `--allow-write` on the specimen folder
 * (`--allow-run` and `--allow-sys` for full provenance).
 *
 * With `params`, the manifest's params filled in with these defaults are
 * recorded before `body` runs, and passed to it typed as the defaults are.
 *
 * @param meta The protocol's `import.meta`.
 * @param body The experiment: the storage, and the final params.
 * @example
 * ```ts ignore
 * import { runProtocol } from "specimen-vault";
 * const SEEDS = { data: 42 };
 * await runProtocol(import.meta, async (storage, params) => {
 *   const loss = [1, 1 - params.lr * 100];
 *   await storage.writeMetrics({ step: [0, 1], loss });
 * }, { seeds: SEEDS, params: { lr: 1e-3, seed: 0 } });
 * ```
 */
export async function runProtocol<P extends Params = Params>(
  meta: ImportMeta,
  body: (storage: SpecimenStorage, params: P) => void | Promise<void>,
  options: RunProtocolOptions<P> = {},
): Promise<void> {
  if (!meta.main) return;
  const dir = meta.dirname ?? dirname(fromFileUrl(meta.url));
  try {
    const { seeds } = options;
    if (seeds !== undefined) validateSeeds(seeds);
    const storage = await SpecimenStorage.open(dir);
    if (managedRun(storage.manifest)) {
      // `deno task run` records, logs and seals this run from outside.
      if (seeds !== undefined) {
        await updateManifest(storage.dir, (m) => {
          m.seeds = seeds;
        });
      }
      checkDeclared(storage.manifest, options.params);
      const params = await storage.recordParams(options.params) as P;
      await body(storage, params);
      await closeLeftLoggers(storage);
      return;
    }
    await assertRunnable(storage.manifest, storage.dir);
    checkDeclared(storage.manifest, options.params);
    const params = await storage.recordParams(options.params) as P;
    const run = await beginRun(storage.dir, {
      via: "deno run",
      command: ["deno", "run", modulePath(meta), ...Deno.args],
      seeds,
    });
    try {
      await body(storage, params);
      await closeLeftLoggers(storage);
    } catch (e) {
      const exits = options.exit !== false &&
        (e instanceof VaultError || fsErrorHint(e) !== undefined);
      await finishRun(storage.dir, run.id, {
        exitCode: exits ? (e instanceof VaultError ? e.exitCode : 1) : null,
        error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
      });
      throw e;
    }
    const { run: done, manifest } = await finishRun(storage.dir, run.id, {
      exitCode: 0,
    });
    if (done.status === "failed") {
      throw new VaultError(
        `Run ${done.id} of specimen "${storage.id}" failed: ${done.error}`,
      );
    }
    if (manifest.seal) {
      console.error(
        `Sealed specimen ${storage.id}: ${manifest.seal.file_count} files, ${
          formatBytes(manifest.seal.bytes)
        } (check with: deno task verify ${storage.id})`,
      );
    }
  } catch (e) {
    if (options.exit === false) throw e;
    // A full disk or a read-only vault: the message and what to do, no stack.
    const hint = e instanceof VaultError ? undefined : fsErrorHint(e);
    if (hint) {
      console.error(`error: ${(e as Error).message}\n${hint}`);
      Deno.exit(1);
    }
    if (!(e instanceof VaultError)) throw e;
    console.error(`error: ${e.message}`);
    Deno.exit(e.exitCode);
  }
}

/**
 * Refuses manifest params the protocol does not declare, or of another
 * type: a typo would otherwise run with the default and be sealed.
 */
function checkDeclared(m: Manifest, declared: Params | undefined): void {
  if (declared === undefined || m.params === undefined) return;
  const id = m.specimen_id;
  const problems = paramProblems(declared, m.params, m.params_new ?? []);
  if (problems.length === 0) return;
  // A command that derives a corrected specimen, from the problems found.
  const fix = [`deno task create --id ${id}_v2 --from ${id}`];
  for (const p of problems) {
    fix.push(`--drop-param ${p.key}`);
    const near = p.kind === "unknown"
      ? nearestKey(p.key, leafMap(declared).keys())
      : p.key;
    // The parent's params are the ones refused here: a key set again after
    // its drop is checked against the protocol when the child runs.
    if (near !== undefined) {
      fix.push(`--${p.kind === "unknown" ? "new-param" : "param"} ${near}=…`);
    }
  }
  const names = [...leafMap(declared).keys()].filter((k) => k !== "");
  throw new InvalidInputError(
    `Cannot run specimen "${id}": ${
      problems.map((p) => p.message).join("; ")
    }. The protocol declares (runProtocol(…, { params })): ${
      names.join(", ") || "(none)"
    }. Nothing ran and nothing was sealed. Derive a corrected specimen: ${
      fix.join(" ")
    }; or add the key to the protocol's params (a key the protocol reads by itself goes with --new-param KEY=VALUE)`,
  );
}

/** Whether `deno task run` started this process for the run in progress. */
function managedRun(m: Manifest): boolean {
  let id: string | undefined;
  try {
    // Query first: reading an ungranted variable would prompt.
    const desc = { name: "env", variable: RUN_ID_ENV } as const;
    if (Deno.permissions.querySync(desc).state !== "granted") return false;
    id = Deno.env.get(RUN_ID_ENV);
  } catch {
    return false;
  }
  const last = m.runs?.at(-1);
  return id !== undefined && m.status === STATUS_RUNNING &&
    last?.id === id && last.status === "running" &&
    last.via === "deno task run";
}

function modulePath(meta: ImportMeta): string {
  try {
    return relative(Deno.cwd(), meta.filename ?? fromFileUrl(meta.url));
  } catch {
    return meta.url;
  }
}

/** Closes the loggers a protocol left open, with a warning naming them. */
async function closeLeftLoggers(storage: SpecimenStorage): Promise<void> {
  const names = await storage.closeLoggers();
  if (names.length) {
    console.error(
      `warning: the protocol left logger(s) ${
        names.join(", ")
      } open; closed them (use \`await using\` or close() to end a log)`,
    );
  }
}

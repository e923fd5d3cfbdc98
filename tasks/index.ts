/**
 * `deno task index`: builds or updates the catalog `vault.duckdb` from every
 * specimen folder. See {@linkcode HELP}.
 *
 * @module
 */
// Only what the fast path needs is imported here (no npm package, no
// DuckDB): an index with nothing to do answers in about the time of an
// empty `deno run`. The rest loads when there is work.
import { taskVault } from "../lib/cli/task_vault.ts";
import { indexIfUnchanged } from "../lib/catalog/unchanged.ts";
import type { IndexProgress, IndexReport } from "../lib/catalog/types.ts";

/** The task's help text. */
export const HELP =
  `Build the catalog vault.duckdb from every specimens/*/ folder, so that SQL can
ask one question across every experiment (deno task query).

Usage:
  deno task index [--vault DIR] [--full | --rescan] [--strict] [--views]

Options:
  --vault DIR  The vault root (default: $SPECIMEN_VAULT, else the nearest folder
               at or above the working directory with a specimens/ folder)
  --full       Re-read every specimen (default: only new and changed ones)
  --rescan     Look at every specimen folder for changes (stat only), not only
               at those the library recorded in vault.duckdb.changes: after
               editing files inside a specimen folder by hand
  --strict     Any warning is an error: the catalog is not replaced, exit 1
  --views      Also store every exp_<id> view in the file, for DuckDB clients
               other than deno task query (costs time on every open)
  -h, --help   Show this help

Which specimens changed: every write the library makes into a specimen (a
manifest, a table, a log part, a tensor) appends its name to vault.duckdb.changes,
and folders added or removed change specimens/ itself; so with nothing changed
the index answers without looking into any folder. Changes made by other means
inside an existing specimen folder need --rescan (or --full).

Bad specimens (no manifest, an invalid one, two folders with one id, metrics
whose column types clash with the other specimens') are named on stderr and
skipped; everything else is indexed. The new catalog replaces the old one in
one rename, so queries never see a half-built one.

Metrics logs (strata/<name>.parts/) count as their table: a live one's flushed
rows are indexed (and its new rows by the next index); one whose process died
is compacted into strata/<name>.parquet, recorded with interrupted: true in the
manifest, and reported ("compacted interrupted log <id>/<name>").

Tables: catalog (one row per specimen), metrics (every specimen's metric rows
with specimen_id), metrics__<name> (other strata/<name>.parquet files),
metric_tables, tensors, vault_info. exp_<id> is one specimen's metrics.

Exit codes: 0 indexed (warnings are printed, not failures); 1 no valid
specimen found (the old catalog is left as it was), or any warning with
--strict; 2 invalid arguments; 4 no vault found.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  return await quickMain(args) ?? await wholeMain(args);
}

/** The task without its fast path. */
async function wholeMain(args: string[]): Promise<number> {
  const [{ parseTaskArgs, stderrIsTerminal }, { indexVault }] = await Promise
    .all([
      import("../lib/cli/cli.ts"),
      import("../lib/catalog/index_vault.ts"),
    ]);
  const { values, help } = parseTaskArgs(args, {
    vault: { type: "string" },
    full: { type: "boolean" },
    rescan: { type: "boolean" },
    strict: { type: "boolean" },
    views: { type: "boolean" },
  });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const paths = await taskVault(values.vault as string | undefined);
  const tty = stderrIsTerminal();
  const encoder = new TextEncoder();
  let progressShown = false;
  const clearProgress = () => {
    if (!progressShown) return;
    Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
    progressShown = false;
  };
  const onProgress = (p: IndexProgress) => {
    if (p.phase === "waiting") {
      console.error(p.message);
      return;
    }
    if (!tty) return;
    Deno.stderr.writeSync(
      encoder.encode(`\r\x1b[2K${p.phase} ${p.done}/${p.total}`),
    );
    progressShown = true;
  };
  const report = await indexVault({
    vault: paths.root,
    full: values.full === true,
    rescan: values.rescan === true,
    strict: values.strict === true,
    views: values.views === true,
    onWarning: (message) => {
      clearProgress();
      console.error(`warning: ${message}`);
    },
    onProgress,
  }).finally(clearProgress);
  console.log(summary(report));
  return 0;
}

/**
 * The fast path: with only `--vault`, `--strict` and `--views` given, and
 * the catalog provably up to date ({@linkcode indexIfUnchanged}), the
 * report; otherwise undefined (the whole task runs, and says what is
 * wrong, if anything).
 */
async function quickMain(args: string[]): Promise<number | undefined> {
  let vault: string | undefined;
  let strict = false;
  let views = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--strict") strict = true;
    else if (arg === "--views") views = true;
    else if (arg === "--vault" && i + 1 < args.length && vault === undefined) {
      vault = args[++i];
    } else if (arg.startsWith("--vault=") && vault === undefined) {
      vault = arg.slice("--vault=".length);
    } else return undefined;
  }
  let root: string;
  try {
    root = (await taskVault(vault)).root;
  } catch {
    return undefined;
  }
  const report = indexIfUnchanged({ vault: root, strict, views });
  if (!report) return undefined;
  for (const message of report.warnings) console.error(`warning: ${message}`);
  console.log(summary(report));
  return 0;
}

/** The line the task ends with. */
function summary(report: IndexReport): string {
  const parts = [
    `${report.read} read`,
    `${report.removed} removed`,
    `${report.skipped} skipped`,
    `${report.warnings.length} warning(s)`,
  ];
  return `${
    report.mode === "unchanged"
      ? "Catalog up to date"
      : `Indexed (${report.mode})`
  }: ${report.indexed} specimen(s) in ${report.catalog} (${
    parts.join(", ")
  }) in ${(report.ms / 1000).toFixed(2)} s`;
}

if (import.meta.main) {
  const quick = await quickMain(Deno.args);
  if (quick === undefined) {
    const { runMain } = await import("../lib/cli/cli.ts");
    await runMain(wholeMain);
  }
}

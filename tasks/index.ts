/**
 * `deno task index`: builds or updates the catalog `vault.duckdb` from every
 * specimen folder. See {@linkcode HELP}.
 *
 * @module
 */
import {
  parseTaskArgs,
  runMain,
  stderrIsTerminal,
  taskVault,
} from "../lib/cli/cli.ts";
import { type IndexProgress, indexVault } from "../lib/catalog/index_vault.ts";

/** The task's help text. */
export const HELP =
  `Build the catalog vault.duckdb from every specimens/*/ folder, so that SQL can
ask one question across every experiment (deno task query).

Usage:
  deno task index [--vault DIR] [--full] [--strict] [--views]

Options:
  --vault DIR  The vault root (default: $SPECIMEN_VAULT, else the nearest folder
               at or above the working directory with a specimens/ folder)
  --full       Re-read every specimen (default: only new and changed ones)
  --strict     Any warning is an error: the catalog is not replaced, exit 1
  --views      Also store every exp_<id> view in the file, for DuckDB clients
               other than deno task query (costs time on every open)
  -h, --help   Show this help

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
  const { values, help } = parseTaskArgs(args, {
    vault: { type: "string" },
    full: { type: "boolean" },
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
    strict: values.strict === true,
    views: values.views === true,
    onWarning: (message) => {
      clearProgress();
      console.error(`warning: ${message}`);
    },
    onProgress,
  }).finally(clearProgress);
  const parts = [
    `${report.read} read`,
    `${report.removed} removed`,
    `${report.skipped} skipped`,
    `${report.warnings.length} warning(s)`,
  ];
  console.log(
    `${
      report.mode === "unchanged"
        ? "Catalog up to date"
        : `Indexed (${report.mode})`
    }: ${report.indexed} specimen(s) in ${report.catalog} (${
      parts.join(", ")
    }) in ${(report.ms / 1000).toFixed(2)} s`,
  );
  return 0;
}

if (import.meta.main) await runMain(main);

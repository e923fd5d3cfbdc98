/**
 * `deno task repair`: compact the metrics logs that a dead process left
 * behind. See {@linkcode HELP}.
 *
 * @module
 */
import {
  parseTaskArgs,
  runMain,
  tableOrJson,
  taskVault,
} from "../lib/cli/cli.ts";
import { repairVault, type SpecimenRepair } from "../lib/metrics_log/repair.ts";

/** The task's help text. */
export const HELP =
  `Repair interrupted metrics logs: a logger whose process died (kill -9, OOM,
power loss) leaves its rows as part files in strata/<name>.parts/. Each such log
is compacted into strata/<name>.parquet, recorded in the manifest with
interrupted: true, and its parts folder removed.

Usage:
  deno task repair [ID...] [options]

Arguments:
  ID...                specimens to repair (default: every specimen)

Options:
  --format table|json  output for people (default) or programs
  --vault DIR          the vault (default: $SPECIMEN_VAULT, else the nearest
                       folder at or above the working directory with specimens/)
  -h, --help           show this help

Sealed specimens are never touched: a log left in one is reported and kept
(readers read its parts). A log a running logger holds is left alone. Only files
a logger wrote are removed (its parts, temp files and lock file); anything else
in a parts folder is reported and left, with the folder. deno task run repairs
a specimen before sealing it, and a logger opening a table repairs that
table's interrupted log first.

Exit codes: 0 nothing left to repair (sealed specimens are only reported);
1 a log could not be repaired, or a specimen could not be read; 2 invalid usage
or id; 4 no vault, or no specimen with a given id.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals, help } = parseTaskArgs(args, {
    format: { type: "string", default: "table" },
    vault: { type: "string" },
  }, { allowPositionals: true });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const format = tableOrJson(values.format);
  const vault = await taskVault(values.vault as string | undefined);
  const results = await repairVault(
    vault.specimens,
    positionals.length ? positionals : undefined,
  );
  const count = (state: string) =>
    results.filter((r) => r.state === state).length;
  const summary = {
    specimens: results.length,
    repaired: results.reduce((n, r) => n + r.repaired.length, 0),
    live: results.reduce((n, r) => n + r.live.length, 0),
    sealed: count("sealed"),
    problems: count("problems"),
    error: count("error"),
  };
  if (format === "json") {
    console.log(JSON.stringify({ summary, specimens: results }, null, 2));
  } else {
    printTable(results, summary);
  }
  return summary.problems + summary.error > 0 ? 1 : 0;
}

function printTable(
  results: SpecimenRepair[],
  summary: Record<string, number>,
): void {
  const color = !Deno.noColor && Deno.stdout.isTerminal();
  const paint = (code: number, s: string) =>
    color ? `\x1b[${code}m${s}\x1b[0m` : s;
  const width = Math.max(0, ...results.map((r) => r.id.length));
  const colors = {
    error: 31,
    problems: 31,
    live: 33,
    repaired: 32,
    sealed: 33,
    clean: 32,
  };
  for (const r of results) {
    if (r.state === "clean" && results.length > 1) continue;
    const what = [
      r.repaired.length ? `compacted ${r.repaired.join(", ")}` : "",
      r.live.length ? `being written: ${r.live.join(", ")}` : "",
    ].filter(Boolean).join("; ");
    console.log(
      `${paint(colors[r.state], r.state.padEnd(8))}  ${r.id.padEnd(width)}${
        what ? `  ${what}` : ""
      }`,
    );
    for (const n of r.notes) console.log(`          ${n}`);
  }
  console.log(
    `\n${summary.specimens} specimen${
      summary.specimens === 1 ? "" : "s"
    }: ${summary.repaired} log${
      summary.repaired === 1 ? "" : "s"
    } compacted, ${summary.live} live, ${summary.sealed} sealed with logs left as they are, ${summary.problems} with problems, ${summary.error} error`,
  );
}

if (import.meta.main) await runMain(main);

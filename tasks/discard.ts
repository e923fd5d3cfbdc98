/**
 * `deno task discard`: move whole specimens into the vault's trash.
 *
 * @module
 */
import {
  parseTaskArgs,
  runMain,
  tableOrJson,
  taskVault,
} from "../lib/cli/cli.ts";
import { discardSpecimens, MAX_REASON_LENGTH } from "../lib/curate/discard.ts";
import { idSelection, outcomesExitCode } from "../lib/curate/_cli.ts";

/** The task's help text. */
export const HELP =
  `Discard specimens: move each whole folder specimens/<id>/ into the
vault's trash/<id>/ (one atomic rename, nothing rewritten), with a record of
when and why in trash/<id>.discard.json. The next \`deno task index\` drops
them from the catalog. Nothing is deleted: \`deno task trash restore ID\`
brings one back (still matching its seal), \`deno task trash empty\` deletes
for good.

Usage:
  deno task discard ID... [--reason TEXT]
  deno task discard --where "SQL PREDICATE" [--reason TEXT] [--dry-run]

Arguments:
  ID...                specimens to discard

Options:
  --reason TEXT        why (kept in the record; at most ${MAX_REASON_LENGTH} characters)
  --where PREDICATE    the specimens for which this SQL condition on the
                       catalog's columns is true (as last indexed), e.g.
                       --where "status = 'failed' AND 'sweep' IN tags";
                       one condition only, run through the read-only SQL gate
                       of deno task query
  --dry-run            print what would be discarded, move nothing
  --format table|json  output for people (default) or programs
  --vault DIR          the vault (default: $SPECIMEN_VAULT, else the nearest
                       folder at or above the working directory)
  -h, --help           show this help

A specimen that a run is recording into, whose metrics log a logger holds,
or that another process is changing is refused (exit 8), as is one already
discarded (exit 3). Each id is done on its own: the others still are.

Exit codes: 0 every specimen discarded; 1 failure; 2 invalid usage or id,
a refused --where; 3 already discarded (also: another discard of it won);
4 no vault, no catalog (for --where), or no such specimen; 8 busy (being
run, logged, or changed by another process). With several refusals, the
first one's code.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals, help } = parseTaskArgs(args, {
    reason: { type: "string" },
    where: { type: "string" },
    "dry-run": { type: "boolean" },
    format: { type: "string", default: "table" },
    vault: { type: "string" },
  }, { allowPositionals: true });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const format = tableOrJson(values.format);
  const selection = idSelection(
    values.where as string | undefined,
    positionals,
  );
  const vault = await taskVault(values.vault as string | undefined);
  const ids = await selection(vault.root);
  if (values["dry-run"] && format === "json") {
    console.log(JSON.stringify({ dry_run: true, ids }, null, 2));
    return 0;
  }
  if (values["dry-run"]) {
    for (const id of ids) console.log(`would discard  ${id}`);
    console.log(`dry run: ${ids.length} specimen(s), nothing was moved`);
    return 0;
  }
  if (ids.length === 0 && format === "table") {
    console.log("No specimen matches: nothing was discarded.");
    return 0;
  }
  const outcomes = await discardSpecimens({
    vault: vault.root,
    ids,
    reason: (values.reason as string | undefined) ?? null,
  });
  const done = outcomes.filter((o) => !o.error);
  if (format === "json") {
    console.log(JSON.stringify(
      {
        discarded: done.map((o) => o.id),
        refused: outcomes.filter((o) => o.error).map((o) => ({
          id: o.id,
          error: o.error!.message,
          exit_code: o.error!.exitCode,
        })),
      },
      null,
      2,
    ));
    return outcomes.find((o) => o.error)?.error?.exitCode ?? 0;
  }
  for (const o of done) console.log(`discarded  ${o.id}`);
  if (done.length) {
    console.log(
      `${done.length} specimen(s) moved to trash/; undo with: deno task trash restore ${
        done.map((o) => o.id).join(" ")
      }`,
    );
  }
  return outcomesExitCode(outcomes);
}

if (import.meta.main) runMain(main);

/**
 * `deno task tag`: set and remove labels of specimens, outside the seal.
 *
 * @module
 */
import {
  parseTaskArgs,
  runMain,
  tableOrJson,
  taskVault,
} from "../lib/cli/cli.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { changeLabels } from "../lib/curate/labels.ts";
import { idSelection, splitLabelWords } from "../lib/curate/_cli.ts";

/** The task's help text. */
export const HELP = `Set and remove labels of specimens after their run.

Usage:
  deno task tag ID... +LABEL... -LABEL... [options]
  deno task tag --where "SQL PREDICATE" +LABEL... -LABEL... [--dry-run]

Labels are kept in specimens/<id>/labels.json, beside the manifest and
outside the seal: changing them never touches a result, and
\`deno task verify\` does not report them. Each label records when it was
set. The next \`deno task index\` puts them in the catalog's \`labels\`
column (VARCHAR[], beside \`tags\`, which are set at create and sealed).

Arguments:
  ID...                   specimens to change
  +LABEL                  add LABEL (a letter or digit, then up to 63 of
                          letters, digits, _ . : -)
  -LABEL                  remove LABEL (-h is help: remove a label "h"
                          with --remove h)

Options:
  --add LABEL             add LABEL (repeatable; same as +LABEL)
  --remove LABEL          remove LABEL (repeatable; same as -LABEL)
  --where PREDICATE       the specimens for which this SQL condition on the
                          catalog's columns is true (as last indexed), e.g.
                          --where "status = 'failed'"; one condition only,
                          run through the read-only SQL gate of deno task query
  --dry-run               print what would change, change nothing
  --format table|json     output for people (default) or programs
  --vault DIR             the vault (default: $SPECIMEN_VAULT, else the
                          nearest folder at or above the working directory)
  -h, --help              show this help

Exit codes: 0 done (or nothing to change); 1 failure; 2 invalid usage, an
invalid label, or a refused --where; 4 no vault, no catalog (for --where),
or no specimen with a given id (a discarded one: restore it first).`;

const VALUED = ["--add", "--remove", "--where", "--format", "--vault"];

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const words = splitLabelWords(args, VALUED);
  const { values, positionals, help } = parseTaskArgs(words.rest, {
    add: { type: "string", multiple: true },
    remove: { type: "string", multiple: true },
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
  const add = [...words.add, ...(values.add as string[] ?? [])];
  const remove = [...words.remove, ...(values.remove as string[] ?? [])];
  if (add.length + remove.length === 0) {
    throw new InvalidInputError(
      "No label given: add with +LABEL, remove with -LABEL (see --help)",
    );
  }
  const selection = idSelection(
    values.where as string | undefined,
    positionals,
  );
  const vault = await taskVault(values.vault as string | undefined);
  const ids = await selection(vault.root);
  const dryRun = values["dry-run"] === true;
  const results = await changeLabels({
    vault: vault.root,
    ids,
    change: { add, remove },
    dryRun,
  });
  if (format === "json") {
    console.log(
      JSON.stringify({ dry_run: dryRun, specimens: results }, null, 2),
    );
    return 0;
  }
  if (results.length === 0) console.log("No specimen matches.");
  for (const r of results) {
    const what = [
      ...r.added.map((l) => `+${l}`),
      ...r.removed.map((l) => `-${l}`),
    ];
    const state = dryRun
      ? (r.changed ? "would change" : "unchanged   ")
      : (r.changed ? "changed  " : "unchanged");
    console.log(
      `${state}  ${r.id}  ${what.length ? what.join(" ") + "  →  " : ""}${
        r.labels.length ? r.labels.join(", ") : "(no labels)"
      }${r.starred ? "  *starred" : ""}`,
    );
  }
  if (dryRun) {
    console.log(`dry run: ${results.length} specimen(s), nothing was changed`);
  }
  return 0;
}

if (import.meta.main) runMain(main);

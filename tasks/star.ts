/**
 * `deno task star` / `deno task unstar`: star specimens, or take the star
 * off, outside the seal.
 *
 * @module
 */
import { parseTaskArgs, runMain, taskVault } from "../lib/cli/cli.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { changeLabels } from "../lib/curate/labels.ts";

/** The task's help text. */
export const HELP = `Star specimens (or take the star off) after their run.

Usage:
  deno task star ID... [options]
  deno task unstar ID... [options]

The star is kept in specimens/<id>/labels.json with when it was set,
outside the seal; the next \`deno task index\` puts it in the catalog's
\`starred\` column (BOOLEAN).

Options:
  --vault DIR   the vault (default: $SPECIMEN_VAULT, else the nearest folder
                at or above the working directory with specimens/)
  -h, --help    show this help

Exit codes: 0 done; 1 failure; 2 invalid usage or id; 4 no vault, or no
specimen with a given id (a discarded one: restore it first).`;

/** Runs the task with `args` (`--off`: unstar); returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals, help } = parseTaskArgs(args, {
    off: { type: "boolean" },
    vault: { type: "string" },
  }, { allowPositionals: true });
  if (help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length === 0) {
    throw new InvalidInputError("No specimen given: name one or more ids");
  }
  const star = values.off !== true;
  const vault = await taskVault(values.vault as string | undefined);
  const results = await changeLabels({
    vault: vault.root,
    ids: positionals,
    change: { star },
  });
  for (const r of results) {
    console.log(
      `${
        r.changed ? (star ? "starred  " : "unstarred") : "unchanged"
      }  ${r.id}`,
    );
  }
  return 0;
}

if (import.meta.main) runMain(main);

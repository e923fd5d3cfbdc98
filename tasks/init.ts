/**
 * `deno task init DIR`: a project folder for a vault outside this clone.
 * See {@linkcode HELP}.
 *
 * @module
 */
import { parseTaskArgs, runMain, shownPath, userPath } from "../lib/cli/cli.ts";
import { initProject, PROJECT_GITIGNORE } from "../lib/cli/init_project.ts";
import { InvalidInputError } from "../lib/errors.ts";

/** The task's help text. */
export const HELP =
  `Make DIR a project folder for your own vault, outside the tool's clone: your
experiments live there (and in your own git repository, if you like), and every
deno task command works from there.

Usage:
  deno task init DIR

DIR is created, or an existing folder without a deno.json is used. It gets:
  specimens/    the vault's specimens
  deno.json     tasks create, run, seal, verify, repair, import, index, query,
                serve (and any other vault task of the clone) that run this
                clone's tasks/*.ts by absolute path, with the same
                permissions; imports map "specimen-vault" to this clone's
                mod.ts, so protocols in DIR import the library
  .gitignore    ${PROJECT_GITIGNORE.filter((l) => !l.startsWith("#")).join(" ")}
                (added to an existing one)
  README.md     how to start (kept when one exists)

Then:
  cd DIR
  deno task create --id 2026_12_07_first --domain training --method fine_tuning --template python
  deno task run 2026_12_07_first

Moving the clone breaks the paths in DIR/deno.json: run deno task init again
on a new folder, or edit them.

Exit codes: 0 done; 2 invalid usage, DIR has a deno.json already, DIR is a
file or inside the clone; 1 other failure.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { positionals, help } = parseTaskArgs(args, {}, {
    allowPositionals: true,
  });
  if (help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0].trim() === "") {
    throw new InvalidInputError(
      `Expected one folder, got ${
        positionals.length ? positionals.join(" ") : "none"
      }: usage: deno task init DIR (see --help)`,
    );
  }
  const done = await initProject({ dir: userPath(positionals[0]) });
  const shown = shownPath(done.dir);
  console.log(
    `Initialized ${shown}: ${done.written.join(", ")}
Tasks: ${done.tasks.join(", ")}
Next:
  cd ${shown}
  deno task create --id ID --domain training --method fine_tuning --template python
  deno task run ID`,
  );
  return 0;
}

if (import.meta.main) await runMain(main);

/**
 * `deno task seal`: keep a failed or interrupted run's results on purpose,
 * sealed as they are. See {@linkcode HELP}.
 *
 * @module
 */
import { join } from "../lib/_deps.ts";
import { parseTaskArgs, runMain, taskVault } from "../lib/cli/cli.ts";
import { formatBytes, ProgressLine } from "../lib/cli/progress.ts";
import { InvalidInputError, NotFoundError } from "../lib/errors.ts";
import { sealAsIs } from "../lib/run/seal_as_is.ts";
import { validateSpecimenId } from "../lib/specimen/id.ts";
import { exists } from "../lib/_fs.ts";

/** The task's help text. */
export const HELP =
  `Seal a specimen whose last run failed or was interrupted (Ctrl-C), as it is:
what the run wrote under strata/ and its logs under runs/ are hashed into the
manifest's seal, marked as_is with the run's status, and the specimen can no
longer be written or run (check it with deno task verify ID).

The other choice is to run it again: deno task run ID moves what the failed or
interrupted run wrote to runs/<that run>/strata/ and starts afresh.

Usage:
  deno task seal ID [options]

Options:
  --vault DIR   the vault (default: $SPECIMEN_VAULT, else the nearest folder
                at or above the working directory with specimens/)
  -h, --help    show this help

Exit codes: 0 sealed; 1 a run of it is in progress, or another failure;
2 invalid usage, or nothing to seal as it is (never run, or its last run
succeeded); 3 already sealed; 4 no vault, or no such specimen.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals, help } = parseTaskArgs(args, {
    vault: { type: "string" },
  }, { allowPositionals: true });
  if (help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new InvalidInputError(
      `Expected one specimen id, got ${
        positionals.length ? positionals.join(" ") : "none"
      }: usage: deno task seal ID (see --help)`,
    );
  }
  const id = positionals[0];
  validateSpecimenId(id);
  const vault = await taskVault(values.vault as string | undefined);
  const dir = join(vault.specimens, id);
  if (!(await exists(dir))) {
    throw new NotFoundError(
      `No specimen "${id}" in ${vault.specimens}: check the id, or pass --vault DIR`,
    );
  }
  const progress = new ProgressLine();
  let hashed = 0;
  const m = await sealAsIs(dir, {
    onBytes: (n) => {
      hashed += n;
      progress.update(() => `sealing: ${formatBytes(hashed)} hashed`);
    },
  });
  progress.clear();
  const seal = m.seal!;
  console.log(
    `Sealed ${id} as it is (its last run ${seal.as_is}): ${seal.file_count} files, ${
      formatBytes(seal.bytes)
    }, digest ${
      seal.digest.slice(0, 16)
    }…\nCheck it any time with: deno task verify ${id}`,
  );
  return 0;
}

if (import.meta.main) await runMain(main);

/**
 * `deno task push`: sealed specimens up to a remote.
 *
 * @module
 */
import { parseTaskArgs, runMain } from "../lib/cli/cli.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { pushSpecimens } from "../lib/remote/push.ts";
import { reportTransfer, transferArgs } from "../lib/remote/_task.ts";

/** The task's help text. */
export const HELP =
  `Push sealed specimens to a remote (S3-compatible object storage or a folder).

Usage:
  deno task push [REMOTE] [ID... | --all] [options]

Arguments:
  REMOTE        a remote's name (default: origin, or the only remote)
  ID...         specimens to push (default, and --all: every sealed specimen)

Options:
  --all             every sealed specimen (the default)
  --concurrency N   uploads at once (default 16)
  --format table|json
  --vault DIR       the vault (default: $SPECIMEN_VAULT, else the nearest
                    folder at or above the working directory with specimens/)
  -h, --help        show this help

Each file goes up under specimens/<id>/<seal digest>/ with its SHA-256 as
metadata (x-amz-meta-sha256); files over 16 MiB in parts; the manifest last,
then the claim that makes the specimen visible, then one log entry. What the
remote holds is not sent again; a push killed midway resumes. Specimens not
sealed are listed with the reason and stay local. Credentials: the AWS chain
(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the remote's
--profile, ~/.aws). See docs/TEAM.md.

Exit codes: 0 every sealed specimen is on the remote; 1 a specimen failed;
2 invalid usage; 3 a conflict (the remote holds the id with other content:
both seal digests are printed); 4 no such remote, specimen or bucket;
9 the remote is unreachable or failing (after retries); 10 access denied.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals, help } = parseTaskArgs(args, {
    all: { type: "boolean" },
    concurrency: { type: "string" },
    format: { type: "string", default: "table" },
    vault: { type: "string" },
  }, { allowPositionals: true });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const { format, concurrency, root, remote, ids } = await transferArgs(
    values,
    positionals,
  );
  if (values.all && ids.length) {
    throw new InvalidInputError("Pass specimen ids or --all, not both");
  }
  return await reportTransfer(
    "push",
    remote,
    format,
    (onProgress) =>
      pushSpecimens({
        vault: root,
        remote,
        ids: ids.length ? ids : undefined,
        concurrency,
        onProgress,
      }),
  );
}

if (import.meta.main) await runMain(main);

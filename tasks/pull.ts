/**
 * `deno task pull`: specimens down from a remote, each verified against
 * its seal before it appears in specimens/.
 *
 * @module
 */
import { parseTaskArgs, runMain } from "../lib/cli/cli.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { pullSpecimens } from "../lib/remote/pull.ts";
import type { NamedRemote } from "../lib/remote/config.ts";
import { reportTransfer, transferArgs } from "../lib/remote/_task.ts";

/** The task's help text. */
export const HELP =
  `Pull specimens from a remote (S3-compatible object storage or a folder).

Usage:
  deno task pull [REMOTE] [ID... | --all] [--prefix P] [--tag T] [options]

Arguments:
  REMOTE        a remote's name (default: origin, or the only remote)
  ID...         specimens to pull

Options:
  --all             every specimen the remote holds
  --prefix P        only ids starting with P
  --tag T           only specimens tagged T
  --concurrency N   downloads at once (default 16)
  --format table|json
  --vault DIR       the vault (default: $SPECIMEN_VAULT, else the nearest
                    folder at or above the working directory with specimens/)
  -h, --help        show this help

Each specimen is downloaded into a hidden folder in specimens/, every file
checked against the seal, then renamed into place, with origin.json saying
where it came from; the next deno task index reads only what arrived. A
file that does not match refuses its specimen (the file is named), the
others continue. A local specimen of that id with other content is kept
and reported as a conflict. See docs/TEAM.md.

Exit codes: 0 everything asked for is here; 1 a specimen failed; 2 invalid
usage; 3 a conflict (local kept); 4 no such remote, bucket or remote
specimen; 5 a specimen refused (corrupt or tampered file on the remote);
9 the remote is unreachable or failing (after retries); 10 access denied.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals, help } = parseTaskArgs(args, {
    all: { type: "boolean" },
    prefix: { type: "string" },
    tag: { type: "string" },
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
  return await runPull(root, remote, {
    ids,
    all: values.all === true,
    prefix: values.prefix as string | undefined,
    tag: values.tag as string | undefined,
    concurrency,
    format,
  });
}

/** Pulls and prints the table (shared with clone); returns the exit code. */
export async function runPull(
  root: string,
  remote: NamedRemote,
  o: {
    ids: string[];
    all: boolean;
    prefix?: string;
    tag?: string;
    concurrency?: number;
    format: string;
  },
): Promise<number> {
  if (o.all && o.ids.length) {
    throw new InvalidInputError("Pass specimen ids or --all, not both");
  }
  return await reportTransfer(
    "pull",
    remote,
    o.format,
    (onProgress) =>
      pullSpecimens({
        vault: root,
        remote,
        ids: o.ids.length ? o.ids : undefined,
        all: o.all,
        prefix: o.prefix,
        tag: o.tag,
        concurrency: o.concurrency,
        onProgress,
      }),
  );
}

if (import.meta.main) await runMain(main);

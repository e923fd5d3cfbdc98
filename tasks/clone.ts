/**
 * `deno task clone URL DIR`: a new vault holding every specimen of a remote.
 *
 * @module
 */
import { parseTaskArgs, runMain, userPath } from "../lib/cli/cli.ts";
import { join } from "../lib/_deps/node.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { addRemote, validateRemoteName } from "../lib/remote/config.ts";
import { SPECIMENS_DIR } from "../lib/vault.ts";
import { parseConcurrency } from "../lib/remote/_task.ts";
import { runPull } from "./pull.ts";

/** The task's help text. */
export const HELP =
  `Make a new vault from a remote: its specimens, verified, and the remote as origin.

Usage:
  deno task clone URL DIR [--endpoint URL] [--region R] [--profile P]
                          [--name origin] [--prefix P] [--tag T]

URL is s3://bucket/prefix or file:///path; DIR must not exist or be empty.
Options as for deno task remote add and deno task pull; --name names the
remote in the new vault (default origin). Rerunning the same clone resumes
it. Then: cd DIR && deno task index.

Exit codes as for deno task pull; 2 also when DIR is not empty.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals, help } = parseTaskArgs(args, {
    endpoint: { type: "string" },
    region: { type: "string" },
    profile: { type: "string" },
    name: { type: "string", default: "origin" },
    prefix: { type: "string" },
    tag: { type: "string" },
    concurrency: { type: "string" },
    format: { type: "string", default: "table" },
  }, { allowPositionals: true });
  if (help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length !== 2) {
    throw new InvalidInputError("Usage: deno task clone URL DIR (see --help)");
  }
  const name = values.name as string;
  validateRemoteName(name);
  const [url, dirArg] = positionals;
  const dir = userPath(dirArg);
  const remote = {
    name,
    url,
    endpoint: values.endpoint as string | undefined,
    region: values.region as string | undefined,
    profile: values.profile as string | undefined,
  };
  let resume = false;
  try {
    const entries = [...Deno.readDirSync(dir)].map((e) => e.name);
    resume = entries.includes("vault.config.json") &&
      entries.includes(SPECIMENS_DIR);
    if (entries.length && !resume) {
      throw new InvalidInputError(
        `Cannot clone into ${dir}: the folder is not empty; pick a new folder`,
      );
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(join(dir, SPECIMENS_DIR), { recursive: true });
  await addRemote(dir, remote, { replace: resume });
  return await runPull(dir, remote, {
    ids: [],
    all: true,
    prefix: values.prefix as string | undefined,
    tag: values.tag as string | undefined,
    concurrency: parseConcurrency(values.concurrency as string | undefined),
    format: values.format as string,
  });
}

if (import.meta.main) await runMain(main);

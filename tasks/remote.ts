/**
 * `deno task remote`: add, list, remove and compare the vault's remotes.
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
import {
  addRemote,
  findRemote,
  readRemotes,
  removeRemote,
} from "../lib/remote/config.ts";
import { dropState } from "../lib/remote/_state.ts";
import { remoteStatus } from "../lib/remote/status.ts";

/** The task's help text. */
export const HELP =
  `Manage the vault's remotes (kept in vault.config.json, never credentials).

Usage:
  deno task remote add NAME URL [--endpoint URL] [--region R] [--profile P]
  deno task remote list [--format table|json]
  deno task remote remove NAME
  deno task remote status [NAME] [--format table|json]

URL is s3://bucket/prefix (AWS S3, or any S3-compatible server with
--endpoint: R2, MinIO, Ceph, Swift, GCS's S3 interface) or file:///path (a
shared file system: NFS, Lustre). Credentials come from the AWS chain:
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE (or --profile),
~/.aws/credentials and ~/.aws/config, SSO, instance roles.

status counts the specimens to push (sealed here, not there), to pull (there,
not here) and in conflict (one id, other content), from the remote's push log
(read incrementally) and the local seals.

Options:
  --vault DIR   the vault (default: $SPECIMEN_VAULT, else the nearest folder
                at or above the working directory with specimens/)
  -h, --help    show this help

Exit codes: 0 done; 2 invalid usage, name or URL; 4 no such remote or
bucket; 9 the remote is unreachable; 10 access denied.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals, help } = parseTaskArgs(args, {
    endpoint: { type: "string" },
    region: { type: "string" },
    profile: { type: "string" },
    format: { type: "string", default: "table" },
    vault: { type: "string" },
  }, { allowPositionals: true });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const [cmd, ...rest] = positionals;
  const json = tableOrJson(values.format) === "json";
  const arity = (n: number, usage: string) => {
    if (rest.length > n) {
      throw new InvalidInputError(
        `Too many arguments: deno task remote ${usage}`,
      );
    }
  };
  const vault = await taskVault(values.vault as string | undefined);
  switch (cmd) {
    case "add": {
      arity(2, "add NAME URL [--endpoint URL] [--region R] [--profile P]");
      if (rest.length < 2) {
        throw new InvalidInputError(
          "Usage: deno task remote add NAME URL [--endpoint URL] [--region R] [--profile P]",
        );
      }
      await addRemote(vault.root, {
        name: rest[0],
        url: rest[1],
        endpoint: values.endpoint as string | undefined,
        region: values.region as string | undefined,
        profile: values.profile as string | undefined,
      });
      console.log(`Added remote ${rest[0]} → ${rest[1]}`);
      return 0;
    }
    case "list": {
      arity(0, "list");
      const remotes = await readRemotes(vault.root);
      if (json) console.log(JSON.stringify(remotes, null, 2));
      else if (remotes.length === 0) {
        console.log("No remotes (deno task remote add NAME URL)");
      } else {
        for (const r of remotes) {
          const extra = [
            r.endpoint && `endpoint ${r.endpoint}`,
            r.region && `region ${r.region}`,
            r.profile && `profile ${r.profile}`,
          ].filter(Boolean).join(", ");
          console.log(`${r.name}\t${r.url}${extra ? `\t(${extra})` : ""}`);
        }
      }
      return 0;
    }
    case "remove": {
      arity(1, "remove NAME");
      if (rest.length < 1) {
        throw new InvalidInputError("Usage: deno task remote remove NAME");
      }
      await removeRemote(vault.root, rest[0]);
      await dropState(vault.root, rest[0]);
      console.log(
        `Removed remote ${rest[0]} (nothing on the remote was touched)`,
      );
      return 0;
    }
    case "status": {
      arity(1, "status [NAME]");
      const remotes = rest.length
        ? [await findRemote(vault.root, rest[0])]
        : await readRemotes(vault.root);
      if (remotes.length === 0) await findRemote(vault.root);
      const all = [];
      for (const remote of remotes) {
        all.push(await remoteStatus({ vault: vault.root, remote }));
      }
      if (json) console.log(JSON.stringify(all, null, 2));
      else {
        for (const s of all) {
          console.log(
            `${s.remote} (${s.url}): ${s.toPush.length} to push, ${s.toPull.length} to pull, ${s.conflicts.length} in conflict, ${s.same} the same; ${s.unsealed} unsealed here; ${s.remoteCount} on the remote`,
          );
          if (s.conflicts.length) {
            console.log(`  conflicts: ${s.conflicts.join(", ")}`);
          }
        }
      }
      return 0;
    }
    default:
      throw new InvalidInputError(
        `${
          cmd === undefined
            ? "Missing subcommand"
            : `Unknown subcommand ${JSON.stringify(cmd)}`
        }: use add, list, remove or status (see --help)`,
      );
  }
}

if (import.meta.main) await runMain(main);

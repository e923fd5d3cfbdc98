/**
 * Private: what the push, pull and clone tasks share on the command line:
 * the remote and ids from the positionals, `--concurrency` and
 * `--format`, and running one transfer under a progress line with its
 * summary printed.
 *
 * @module
 */
import { ProgressLine } from "../cli/progress.ts";
import { tableOrJson, taskVault } from "../cli/cli.ts";
import { InvalidInputError } from "../errors.ts";
import { findRemote, type NamedRemote, readRemotes } from "./config.ts";
import type { PushedSpecimen, TransferProgress } from "./push.ts";
import type { PulledSpecimen } from "./pull.ts";
import { progressText, transferExitCode, transferTable } from "./report.ts";

/** The first positional is a remote when one has that name; the rest are ids. */
export async function remoteAndIds(
  root: string,
  positionals: string[],
): Promise<{ remote: NamedRemote; ids: string[] }> {
  const names = (await readRemotes(root)).map((r) => r.name);
  const named = positionals.length > 0 && names.includes(positionals[0]);
  return {
    remote: await findRemote(root, named ? positionals[0] : undefined),
    ids: named ? positionals.slice(1) : positionals,
  };
}

/** `--concurrency N`, checked. */
export function parseConcurrency(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new InvalidInputError(
      `Invalid --concurrency ${
        JSON.stringify(v)
      }: use an integer from 1 to 256`,
    );
  }
  return n;
}

/**
 * The options push and pull share, checked in the order the tasks always
 * have: `--format`, `--concurrency`, the vault, then the remote and ids.
 */
export async function transferArgs(
  values: {
    format?: unknown;
    concurrency?: unknown;
    vault?: unknown;
  },
  positionals: string[],
): Promise<{
  format: string;
  concurrency: number | undefined;
  root: string;
  remote: NamedRemote;
  ids: string[];
}> {
  const format = tableOrJson(values.format);
  const concurrency = parseConcurrency(
    values.concurrency as string | undefined,
  );
  const vault = await taskVault(values.vault as string | undefined);
  const { remote, ids } = await remoteAndIds(vault.root, positionals);
  return { format, concurrency, root: vault.root, remote, ids };
}

/**
 * Runs one push or pull (`transfer`, given the progress callback) under a
 * progress line on stderr, prints its summary as a table or JSON, and
 * returns its exit code.
 */
export async function reportTransfer(
  verb: "push" | "pull",
  remote: NamedRemote,
  format: string,
  transfer: (
    onProgress: (p: TransferProgress) => void,
  ) => Promise<(PushedSpecimen | PulledSpecimen)[]>,
): Promise<number> {
  const progress = new ProgressLine();
  const t0 = performance.now();
  let rows;
  try {
    rows = await transfer((p) =>
      progress.update(() => progressText(verb, p, t0))
    );
  } finally {
    progress.clear();
  }
  const seconds = (performance.now() - t0) / 1000;
  if (format === "json") {
    console.log(
      JSON.stringify(
        { remote: remote.name, seconds, specimens: rows },
        null,
        2,
      ),
    );
  } else {
    console.log(transferTable(verb, rows, seconds));
  }
  return transferExitCode(rows);
}

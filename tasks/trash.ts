/**
 * `deno task trash`: list, restore and empty the vault's trash.
 *
 * @module
 */
import {
  parseTaskArgs,
  runMain,
  tableOrJson,
  taskVault,
} from "../lib/cli/cli.ts";
import { formatBytes, ProgressLine } from "../lib/cli/progress.ts";
import { InvalidInputError, NotFoundError } from "../lib/errors.ts";
import { restoreSpecimens } from "../lib/curate/discard.ts";
import { emptyTrash, listTrash, parseDuration } from "../lib/curate/trash.ts";
import { outcomesExitCode } from "../lib/curate/_cli.ts";

/** The task's help text. */
export const HELP =
  `The vault's trash: specimens discarded by \`deno task discard\`.

Usage:
  deno task trash list [--format table|json]
  deno task trash restore ID...
  deno task trash empty [--older-than 30d] [ID...] [--dry-run]

Commands:
  list                 the discarded specimens, oldest first: id, when,
                       size, reason
  restore ID...        move each back into specimens/<id>/ (refused if a
                       specimen of that id exists again); it still matches
                       its seal, and the next \`deno task index\` lists it
  empty                delete discarded specimens for good (all, those
                       discarded at least --older-than ago, or the ids
                       given) and report the bytes freed. A symbolic link in
                       the trash is removed as a link: nothing outside the
                       vault is ever deleted

Options:
  --older-than AGE     with empty: only those discarded at least AGE ago
                       (a number and s, m, h, d or w: 30d, 12h)
  --dry-run            with empty: print what would be deleted, delete nothing
  --format table|json  output for people (default) or programs
  --vault DIR          the vault (default: $SPECIMEN_VAULT, else the nearest
                       folder at or above the working directory)
  -h, --help           show this help

Exit codes: 0 done; 1 failure; 2 invalid usage (also: trash/ is a symbolic
link); 3 restore: a specimen of that id exists again; 4 no vault, or no
discarded specimen with a given id; 8 restore: another process is changing
it. With several refusals, the first one's code.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals, help } = parseTaskArgs(args, {
    "older-than": { type: "string" },
    "dry-run": { type: "boolean" },
    format: { type: "string", default: "table" },
    vault: { type: "string" },
  }, { allowPositionals: true });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const [command, ...ids] = positionals;
  const format = tableOrJson(values.format);
  if (command !== "empty" && (values["older-than"] || values["dry-run"])) {
    throw new InvalidInputError(
      "--older-than and --dry-run go with `trash empty` only (see --help)",
    );
  }
  const vault = await taskVault(values.vault as string | undefined);
  switch (command) {
    case "list":
      if (ids.length) {
        throw new InvalidInputError("`trash list` takes no ids (see --help)");
      }
      return await list(vault.root, format);
    case "restore": {
      if (ids.length === 0) {
        throw new InvalidInputError("No specimen given: trash restore ID...");
      }
      const outcomes = await restoreSpecimens({ vault: vault.root, ids });
      for (const o of outcomes) if (!o.error) console.log(`restored  ${o.id}`);
      return outcomesExitCode(outcomes);
    }
    case "empty":
      return await empty(vault.root, ids, values, format);
    default:
      throw new InvalidInputError(
        `${
          command === undefined
            ? "No command given"
            : `Unknown command ${JSON.stringify(command)}`
        }: use list, restore or empty (see --help)`,
      );
  }
}

async function list(root: string, format: string): Promise<number> {
  const entries = await listTrash({ vault: root });
  if (format === "json") {
    console.log(JSON.stringify({ specimens: entries }, null, 2));
    return 0;
  }
  if (entries.length === 0) {
    console.log("The trash is empty.");
    return 0;
  }
  const w = Math.max(...entries.map((e) => e.id.length));
  for (const e of entries) {
    console.log(
      `${e.id.padEnd(w)}  ${e.discarded_at}  ${
        formatBytes(e.bytes).padStart(9)
      }  ${e.reason ?? (e.recorded ? "" : "(no record: moved here by hand?)")}`,
    );
  }
  const total = entries.reduce((n, e) => n + e.bytes, 0);
  console.log(`${entries.length} discarded specimen(s), ${formatBytes(total)}`);
  return 0;
}

async function empty(
  root: string,
  ids: string[],
  values: Record<string, unknown>,
  format: string,
): Promise<number> {
  const older = values["older-than"] === undefined
    ? 0
    : parseDuration(values["older-than"] as string);
  if (values["dry-run"]) {
    const now = Date.now();
    const all = await listTrash({ vault: root });
    const chosen = all.filter((e) =>
      (ids.length === 0 || ids.includes(e.id)) &&
      now - Date.parse(e.discarded_at) >= older
    );
    const missing = ids.filter((id) => !all.some((e) => e.id === id));
    if (missing.length) {
      throw new NotFoundError(
        `No discarded specimen "${
          missing[0]
        }": see them with \`deno task trash list\``,
      );
    }
    for (const e of chosen) {
      console.log(`would delete  ${e.id}  ${formatBytes(e.bytes)}`);
    }
    console.log(
      `dry run: ${chosen.length} specimen(s), ${
        formatBytes(chosen.reduce((n, e) => n + e.bytes, 0))
      } would be freed; nothing was deleted`,
    );
    return 0;
  }
  const progress = new ProgressLine();
  let r;
  try {
    r = await emptyTrash({
      vault: root,
      olderThanMs: older,
      ids: ids.length ? ids : undefined,
      onProgress: (p) =>
        progress.update(() =>
          `trash empty: ${p.done} specimen(s), ${formatBytes(p.bytes)} freed`
        ),
    });
  } finally {
    progress.clear();
  }
  if (format === "json") {
    console.log(JSON.stringify(r, null, 2));
    return 0;
  }
  for (const d of r.deleted) {
    console.log(`deleted  ${d.id}  ${formatBytes(d.bytes)}`);
  }
  console.log(
    `${r.deleted.length} specimen(s) deleted for good, ${
      formatBytes(r.bytes)
    } (${r.bytes} bytes) freed${
      r.kept ? `; ${r.kept} discarded more recently kept` : ""
    }${r.finished ? `; ${r.finished} interrupted deletion(s) finished` : ""}`,
  );
  return 0;
}

if (import.meta.main) runMain(main);

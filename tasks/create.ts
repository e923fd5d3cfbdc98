/**
 * `deno task create`: scaffold a new specimen.
 *
 * @module
 */
import { parseTaskArgs, runMain, taskVault } from "../lib/cli/cli.ts";
import { createSpecimen, deriveSpecimen } from "../lib/specimen/create.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { TAXONOMY } from "../lib/specimen/taxonomy.ts";

/** The task's help text. */
export const HELP =
  `Create a new specimen: specimens/<id>/ with manifest.msgpack, protocol.ts,
field_notes.md and an empty strata/.

Usage:
  deno task create --id ID --domain DOMAIN --method METHOD [options]
  deno task create --id ID --from PARENT_ID [options]

Required:
  --id ID              lowercase letters, digits, underscores; at most 128
                       (e.g. 2026_11_26_my_run)
  --domain DOMAIN      research domain (see below)
  --method METHOD      method, valid for the domain (see below)

Options:
  --from PARENT_ID     derive a variation of PARENT_ID: copy its protocol.ts,
                       record "parent" in the manifest; --domain, --method,
                       --tags and --model default to the parent's
  --tags a,b,c         comma-separated tags (trimmed, deduplicated)
  --model NAME         the model studied, e.g. gpt2
  --description TEXT   one line on what the experiment is
  --vault DIR          the vault (default: $SPECIMEN_VAULT, else the nearest
                       folder at or above the working directory with specimens/)
  -h, --help           show this help

Taxonomy (domain: methods):
${
    Object.entries(TAXONOMY).map(([d, m]) => `  ${d}: ${m.join(", ")}`).join(
      "\n",
    )
  }

Exit codes: 0 created; 2 invalid input; 3 the id exists; 4 no vault found
(or no specimen PARENT_ID); 1 other failure.

Then: edit specimens/<id>/protocol.ts and run it with
  deno task run <id>`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, help } = parseTaskArgs(args, {
    id: { type: "string" },
    domain: { type: "string" },
    method: { type: "string" },
    tags: { type: "string" },
    model: { type: "string" },
    description: { type: "string" },
    from: { type: "string" },
    vault: { type: "string" },
  });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const from = values.from as string | undefined;
  const required = from === undefined ? ["id", "domain", "method"] : ["id"];
  const missing = required.filter((k) => values[k] === undefined);
  if (missing.length) {
    throw new InvalidInputError(
      `Missing ${missing.map((k) => `--${k}`).join(", ")}: usage: ${
        from === undefined
          ? "deno task create --id ID --domain DOMAIN --method METHOD"
          : "deno task create --id ID --from PARENT_ID"
      } (see --help)`,
    );
  }
  const vault = await taskVault(values.vault as string | undefined);
  const common = {
    vault: vault.root,
    id: values.id as string,
    tags: values.tags as string | undefined,
    model: values.model as string | undefined,
    description: values.description as string | undefined,
  };
  const created = from === undefined
    ? await createSpecimen({
      ...common,
      domain: values.domain as string,
      method: values.method as string,
    })
    : await deriveSpecimen({
      ...common,
      from,
      domain: values.domain as string | undefined,
      method: values.method as string | undefined,
    });
  const m = created.manifest;
  console.log(
    `Created specimen ${created.id} at ${created.dir}${
      m.parent ? `\n  parent:   ${m.parent} (protocol.ts copied from it)` : ""
    }
  taxonomy: ${m.taxonomy.domain} / ${m.taxonomy.method}
  tags:     ${m.tags.join(", ") || "(none)"}
  model:    ${m.model ?? "(none)"}
Next: edit ${created.dir}/protocol.ts, then run it:
  deno task run ${created.id}`,
  );
  return 0;
}

if (import.meta.main) await runMain(main);

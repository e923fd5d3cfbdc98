/**
 * `deno task create`: scaffold a new specimen.
 *
 * @module
 */
import {
  parseTaskArgs,
  runMain,
  shownPath,
  taskVault,
  userPath,
} from "../lib/cli/cli.ts";
import { createSpecimen, deriveSpecimen } from "../lib/specimen/create.ts";
import { createSweep } from "../lib/specimen/create_sweep.ts";
import { ProgressLine } from "../lib/cli/progress.ts";
import {
  leafMap,
  mergeParams,
  type Params,
  parseParamArgs,
  validateParams,
} from "../lib/specimen/params.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { TAXONOMY } from "../lib/specimen/taxonomy.ts";

/** The task's help text. */
export const HELP =
  `Create a new specimen: specimens/<id>/ with manifest.msgpack, protocol.ts,
field_notes.md and an empty strata/.

Usage:
  deno task create --id ID --domain DOMAIN --method METHOD [options]
  deno task create --id ID --from PARENT_ID [options]
  deno task create --from PARENT_ID --sweep K=V1,V2 [--sweep K=...] --prefix P [--max N]

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
  --param KEY=VALUE    a parameter (repeatable); VALUE is read as JSON where
                       it parses (3e-4, true, [0.9,0.999]), else a string;
                       dotted keys nest (optimizer.name=adam). With --from,
                       changes to the parent's params; the manifest records
                       the changed keys as params_changed. Checked against
                       the params the parent has (with --from) and, when
                       it runs, against those the protocol declares: an
                       unknown key is refused with the nearest known one
                       ("did you mean lr?"), a value of another type with
                       both types. To give text that reads as a number,
                       quote it: --param 'name="123"'
  --new-param KEY=VALUE
                       like --param, for a key neither the parent nor the
                       protocol has, on purpose (e.g. one the protocol
                       reads from storage.manifest itself); recorded as
                       params_new and not checked
  --drop-param KEY     with --from (or --sweep): leave the parent's param KEY
                       (dotted) out, e.g. one the protocol no longer reads
                       (repeatable)
  --allow-new-params   let every key of --param, --params and --sweep that
                       the parent (or, when it runs, the protocol) lacks
                       through, recorded as params_new; types are still
                       checked. E.g. to sweep a key the parent lacks
  --params FILE.json   parameters from a JSON object (--param values win)
  --template NAME      start from templates/NAME/ instead of the empty
                       protocol: "python" gives train.py (numpy, metrics as
                       JSON lines), params.json (its defaults, which --param
                       is checked against) and a protocol.ts that finds the
                       Python with findPython ($SPECIMEN_PYTHON, when set,
                       else /usr/bin/python3, else python3 on PATH) and runs
                       it through storage.exec; not with --from
  --sweep KEY=V1,V2    with --from and --prefix: one specimen per combination
                       of every --sweep (repeatable), all created or none;
                       ids are PREFIX + a suffix such as _lr_3e_4_batch_64
  --prefix P           the start of every sweep id
  --max N              allow a sweep of up to N combinations (default 1,000;
                       at most 1,000,000); the free disk space is checked
                       first (the first specimen's size × N)
  --yes                allow up to 10,000 combinations (more need --max)
  --vault DIR          the vault (default: $SPECIMEN_VAULT, else the nearest
                       folder at or above the working directory with specimens/)
  -h, --help           show this help

Taxonomy (domain: methods), the seed every vault has:
${
    Object.entries(TAXONOMY).map(([d, m]) => `  ${d}: ${m.join(", ")}`).join(
      "\n",
    )
  }
A vault adds domains and methods in vault.config.json at its root:
  {"taxonomy": {"training": ["from_scratch"], "robotics": ["imitation_learning"]}}

Exit codes: 0 created; 2 invalid input (a bad --param, --params file or
--sweep, a sweep id that exists, more combinations than --max allows, a bad
--max); 3 the id exists; 4 no vault found (or no specimen PARENT_ID); 1 other
failure (e.g. not enough free disk space for the sweep: nothing is created).
A sweep shows its progress on stderr.

Then: edit specimens/<id>/protocol.ts (with --from, it is the parent's,
ready to run) and run it with
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
    param: { type: "string", multiple: true },
    "new-param": { type: "string", multiple: true },
    template: { type: "string" },
    "allow-new-params": { type: "boolean" },
    "drop-param": { type: "string", multiple: true },
    params: { type: "string" },
    sweep: { type: "string", multiple: true },
    prefix: { type: "string" },
    yes: { type: "boolean" },
    max: { type: "string" },
  });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const from = values.from as string | undefined;
  const params = await readParams(
    (values.param as string[] | undefined) ?? [],
    values.params as string | undefined,
  );
  const newArgs = (values["new-param"] as string[] | undefined) ?? [];
  const newParams = newArgs.length ? parseNewParams(newArgs) : undefined;
  if (newParams !== undefined && params !== undefined) {
    const overlap = [...leafMap(newParams).keys()].filter((k) =>
      leafMap(params).has(k)
    );
    if (overlap.length) {
      throw new InvalidInputError(
        `${
          overlap.map((k) => JSON.stringify(k)).join(", ")
        } is given with both --param and --new-param: give each key once`,
      );
    }
  }
  const sweep = values.sweep as string[] | undefined;
  const dropParams = (values["drop-param"] as string[] | undefined) ?? [];
  if (dropParams.length && from === undefined) {
    throw new InvalidInputError(
      `--drop-param ${
        dropParams[0]
      } goes with --from: it leaves a param of the parent out`,
    );
  }
  if (values.template !== undefined && from !== undefined) {
    throw new InvalidInputError(
      `--template ${values.template} does not go with --from: a variation copies its parent's protocol.ts and files`,
    );
  }
  if (sweep !== undefined) {
    return await runSweep(values, sweep, params, newParams);
  }
  if (
    values.prefix !== undefined || values.yes !== undefined ||
    values.max !== undefined
  ) {
    throw new InvalidInputError(
      "--prefix, --max and --yes go with --sweep: usage: deno task create --from PARENT_ID --sweep K=V1,V2 --prefix P",
    );
  }
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
      params,
      newParams,
      allowNewParams: values["allow-new-params"] === true,
      template: values.template as string | undefined,
    })
    : await deriveSpecimen({
      ...common,
      from,
      domain: values.domain as string | undefined,
      method: values.method as string | undefined,
      params,
      newParams,
      allowNewParams: values["allow-new-params"] === true,
      dropParams,
    });
  const m = created.manifest;
  const shown = shownPath(created.dir);
  const next = m.parent
    ? `Next: run it (protocol.ts is the parent's; edit it first if this variation needs other code):
  deno task run ${created.id}`
    : values.template === "python"
    ? `Next: put your training in ${shown}/train.py (it runs as it is: a toy model), then run it:
  deno task run ${created.id}`
    : `Next: edit ${shown}/protocol.ts, then run it:
  deno task run ${created.id}`;
  console.log(
    `Created specimen ${created.id} at ${shown}${
      m.parent ? `\n  parent:   ${m.parent} (protocol.ts copied from it)` : ""
    }
  taxonomy: ${m.taxonomy.domain} / ${m.taxonomy.method}
  tags:     ${m.tags.join(", ") || "(none)"}
  model:    ${m.model ?? "(none)"}${
      m.params === undefined ? "" : `\n  params:   ${JSON.stringify(m.params)}`
    }${
      m.params_changed === undefined
        ? ""
        : `\n  changed:  ${m.params_changed.join(", ") || "(none)"}`
    }${
      m.params_new === undefined
        ? ""
        : `\n  new:      ${m.params_new.join(", ")}`
    }
${next}`,
  );
  return 0;
}

/** `--new-param` values, parsed as `--param` ones are. */
function parseNewParams(args: string[]): Params {
  try {
    return parseParamArgs(args);
  } catch (e) {
    if (e instanceof InvalidInputError) {
      e.message = e.message.replaceAll("--param", "--new-param");
    }
    throw e;
  }
}

/** `--param` values merged over the `--params` file; undefined when neither. */
async function readParams(
  args: string[],
  file: string | undefined,
): Promise<Params | undefined> {
  const fromArgs = args.length ? parseParamArgs(args) : undefined;
  if (file === undefined) return fromArgs;
  const path = userPath(file);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new InvalidInputError(
      `Cannot read --params ${JSON.stringify(file)} (${path}): ${
        (e as Error).message
      }; give a JSON file holding an object, e.g. {"lr": 3e-4}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new InvalidInputError(
      `--params ${path} is not valid JSON (${
        (e as Error).message
      }); give an object, e.g. {"lr": 3e-4}`,
    );
  }
  const fromFile = validateParams(parsed, { label: `--params ${path}` });
  return fromArgs === undefined
    ? fromFile
    : mergeParams(fromFile, fromArgs).params;
}

/** `--sweep`: every combination created from `--from`, or none. */
async function runSweep(
  values: Record<string, string | boolean | string[] | undefined>,
  sweep: string[],
  params: Params | undefined,
  newParams: Params | undefined,
): Promise<number> {
  const from = values.from as string | undefined;
  const prefix = values.prefix as string | undefined;
  if (from === undefined || prefix === undefined) {
    throw new InvalidInputError(
      `--sweep needs ${
        from === undefined ? "--from PARENT_ID" : "--prefix P"
      }: usage: deno task create --from PARENT_ID --sweep K=V1,V2 --prefix P (see --help)`,
    );
  }
  for (const key of ["id", "domain", "method", "model"]) {
    if (values[key] !== undefined) {
      throw new InvalidInputError(
        `--${key} does not go with --sweep: ids come from --prefix, the rest from the parent ${from}`,
      );
    }
  }
  const vault = await taskVault(values.vault as string | undefined);
  const max = values.max === undefined ? undefined : parseMax(values.max);
  const progress = sweepProgress();
  const made = await createSweep({
    vault: vault.root,
    from,
    sweep,
    prefix,
    yes: values.yes === true,
    max,
    onProgress: progress.update,
    params,
    newParams,
    allowNewParams: values["allow-new-params"] === true,
    dropParams: (values["drop-param"] as string[] | undefined) ?? [],
    tags: values.tags as string | undefined,
    description: values.description as string | undefined,
  });
  progress.done();
  console.error(
    `Created ${made.length} specimen${
      made.length === 1 ? "" : "s"
    } from ${from} in ${shownPath(vault.specimens)}:`,
  );
  for (const c of made) console.log(c.id);
  console.error(`Run them: deno task run ${made.map((c) => c.id).join(" ")}`);
  return 0;
}

/** `--max N` as a number (checked for range by createSweep). */
function parseMax(text: unknown): number {
  const n = typeof text === "string" && /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new InvalidInputError(
      `Invalid --max ${
        JSON.stringify(text)
      }: give the most combinations to create as a whole number, e.g. --max 5000`,
    );
  }
  return n;
}

/**
 * Progress of a sweep on stderr: a redrawn line on a terminal; otherwise a
 * line at every tenth of a sweep of 100 or more (a log shows it moving).
 */
function sweepProgress(): {
  update: (done: number, total: number) => void;
  done: () => void;
} {
  const line = new ProgressLine();
  const terminal = Deno.stderr.isTerminal();
  let shown = 0;
  return {
    update(done, total) {
      const text = () => `Building the sweep: ${done} of ${total} specimens`;
      if (terminal) {
        line.update(text);
      } else if (total >= 100 && done * 10 >= (shown + 1) * total) {
        shown = Math.floor((done * 10) / total);
        console.error(text());
      }
    },
    done: () => line.clear(),
  };
}

if (import.meta.main) await runMain(main);

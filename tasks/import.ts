/**
 * `deno task import`: turns runs other tools left on disk (TensorBoard,
 * Lightning CSVLogger, Hugging Face Trainer, MLflow file store, CSV / JSON
 * Lines) into sealed specimens. See {@linkcode HELP}.
 *
 * @module
 */
import { parseTaskArgs, runMain, taskVault, userPath } from "../lib/cli/cli.ts";
import { ProgressLine } from "../lib/cli/progress.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { IMPORT_KINDS, importRuns } from "../lib/importers/detect.ts";
import type { ImportKind } from "../lib/importers/model.ts";
import {
  DEFAULT_TAXONOMY,
  planImport,
  type PlannedSpecimen,
} from "../lib/import/plan.ts";
import { writeImports } from "../lib/import/to_specimen.ts";

/** The task's help text. */
export const HELP =
  `Import runs that other tools wrote as sealed specimens, queryable next to
native ones, each recording where it came from.

Usage:
  deno task import <kind> <path> [--domain D --method M] [--prefix P | --id ID]
                   [--tags a,b] [--dry-run] [--again] [--skip-corrupt]
                   [--step-column C] [--study NAME] [--vault DIR]

Kinds:
  tensorboard  every run folder under <path> holding events.out.tfevents.*
               (scalars, histograms, text, HParams; add_scalars sub-runs apart)
  lightning    lightning_logs/version_N/ with metrics.csv and hparams.yaml
  hf-trainer   a Trainer output or checkpoint folder with trainer_state.json
  mlflow       an MLflow file store (mlruns/), an experiment or a run folder
  csv, jsonl   one table with a step column (--step-column, default "step")
  wandb        W&B offline runs: a run-*.wandb file, its offline-run-* folder,
               or a wandb/ folder holding several (no wandb needed)
  optuna       an Optuna study file (SQLite RDB storage or JournalStorage
               log): one specimen per trial (--study NAME picks one study)
  auto         tell the kind from the path

Options:
  --domain D, --method M  Taxonomy (default: ${DEFAULT_TAXONOMY.domain} / ${DEFAULT_TAXONOMY.method}:
                 ${DEFAULT_TAXONOMY.why})
  --prefix P     Ids are P + the run's name, sanitized (default: tb_, lightning_,
                 hf_, mlflow_, csv_, jsonl_, wandb_ or optuna_)
  --id ID        The id, when <path> holds one run
  --tags a,b     Tags for every specimen (besides "imported", the kind, and
                 MLflow's run and experiment names)
  --dry-run      Print the specimens that would be made; write nothing
  --again        Import a source imported before, and take a free id
                 (ID_2, ID_3, …) where the id is taken
  --skip-corrupt TensorBoard, W&B: skip records that fail their CRC or do not
                 decode (reported; W&B skips to the next 32 KiB block) instead
                 of failing
  --step-column C  csv/jsonl: the step column (default "step")
  --study NAME   optuna: import the trials of this study only
  --vault DIR    The vault root (default: $SPECIMEN_VAULT, else the nearest
                 folder at or above the working directory with specimens/)
  -h, --help     Show this help

Each specimen: strata/metrics.parquet (the run's first table; others by name,
e.g. strata/eval.parquet), step as INT64 and wall_time where the tool kept it;
histograms as Zarr arrays hist_<tag> (step × bucket counts) with
hist_<tag>_edges and a histograms table (step, min, max, num, sum); text in a
texts table; params in the manifest; created = the source run's start time
(else its earliest wall time, else the files' mtime); and
provenance.imported_from: tool, version, source path and run id, and the
SHA-256 of every file read. The same files imported again are skipped (exit 0)
unless --again. Specimens are built in a temp folder and sealed before they
appear: a failure leaves nothing.

Exit codes: 0 imported (or already imported); 2 invalid arguments or input;
3 an id is taken (nothing created); 4 path or vault not found, or no run in
the path; 5 a corrupt source file (named); 6 an unsupported format.`;

const KINDS = [...IMPORT_KINDS, "auto"];

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals, help } = parseTaskArgs(args, {
    domain: { type: "string" },
    method: { type: "string" },
    prefix: { type: "string" },
    id: { type: "string" },
    tags: { type: "string" },
    "dry-run": { type: "boolean" },
    again: { type: "boolean" },
    "skip-corrupt": { type: "boolean" },
    "step-column": { type: "string" },
    study: { type: "string" },
    vault: { type: "string" },
  }, { allowPositionals: true });
  if (help) {
    console.log(HELP);
    return 0;
  }
  checkArgs(values, positionals);
  const [kindArg, pathArg] = positionals;
  const paths = await taskVault(values.vault as string | undefined);
  const kind = kindArg === "auto" ? undefined : kindArg as ImportKind;
  const progress = new ProgressLine();
  progress.update(() => `reading ${pathArg} …`);
  const runs = await importRuns(kind, userPath(pathArg), {
    skipCorrupt: values["skip-corrupt"] === true,
    stepColumn: values["step-column"] as string | undefined,
    study: values.study as string | undefined,
  }).finally(() => progress.clear());
  for (const run of runs) {
    for (const w of run.warnings) console.error(`warning: ${w}`);
  }
  if (values.domain === undefined) {
    console.error(
      `note: filing as ${DEFAULT_TAXONOMY.domain} / ${DEFAULT_TAXONOMY.method}: ${DEFAULT_TAXONOMY.why}`,
    );
  }
  const again = values.again === true;
  const plans = await planImport(runs, {
    specimensDir: paths.specimens,
    domain: values.domain as string | undefined,
    method: values.method as string | undefined,
    id: values.id as string | undefined,
    prefix: values.prefix as string | undefined,
    tags: values.tags as string | undefined,
    again,
  });
  const todo: PlannedSpecimen[] = [];
  for (const p of plans) {
    if (p.alreadyImportedAs !== undefined && !again) {
      console.log(
        `skipped ${p.run.sourceRunId}: already imported as ${p.alreadyImportedAs} (same files; --again imports it anew)`,
      );
    } else todo.push(p);
  }
  if (values["dry-run"] === true) {
    for (const p of todo) console.log(describe(p));
    console.log(
      `dry run: ${todo.length} specimen(s) would be made; nothing written`,
    );
    return 0;
  }
  if (todo.length === 0) return 0;
  const ids = await writeImports(todo, {
    specimensDir: paths.specimens,
    onProgress: (p) =>
      progress.update(() =>
        `importing ${p.specimen}/${p.of} ${p.id}: ${p.artifacts} artifact(s)`
      ),
  }).finally(() => progress.clear());
  for (const [i, id] of ids.entries()) {
    const p = todo[i];
    console.log(
      `imported ${p.run.sourceRunId} → ${id} (${p.tables.length} table(s), ${p.histograms.length} histogram(s), created ${p.created} from ${p.createdFrom}; sealed)`,
    );
  }
  return 0;
}

/** Throws {@linkcode InvalidInputError} for arguments that cannot work together. */
function checkArgs(
  values: Record<string, unknown>,
  positionals: string[],
): void {
  if (positionals.length !== 2) {
    throw new InvalidInputError(
      `Expected <kind> <path>, got ${positionals.length} argument(s)${
        positionals.length ? ` (${positionals.join(" ")})` : ""
      }: e.g. deno task import tensorboard runs/ (see --help)`,
    );
  }
  const kindArg = positionals[0];
  if (!KINDS.includes(kindArg)) {
    throw new InvalidInputError(
      `Unknown kind "${kindArg}": use one of ${KINDS.join(", ")}`,
    );
  }
  if (values.id !== undefined && values.prefix !== undefined) {
    throw new InvalidInputError(
      "Give --id or --prefix, not both: --id names one run, --prefix many",
    );
  }
  if ((values.domain === undefined) !== (values.method === undefined)) {
    throw new InvalidInputError(
      "Give --domain and --method together (deno task create --help lists the pairs)",
    );
  }
}

/** A planned specimen in a few lines: id, tables with rows, params. */
function describe(p: PlannedSpecimen): string {
  const lines = [
    `${p.id}  (from ${p.run.tool} ${
      JSON.stringify(p.run.sourceRunId)
    }, ${p.domain}/${p.method}, created ${p.created} from ${p.createdFrom})`,
  ];
  for (const t of p.tables) {
    lines.push(
      `  strata/${t.artifact}.parquet  ${t.rows} rows  ${t.columns.length} columns  (${t.source})`,
    );
  }
  for (const h of p.histograms) {
    lines.push(`  strata/${h.artifact}.zarr  histogram ${h.tag}`);
  }
  const params = JSON.stringify(p.params);
  lines.push(
    `  params ${params.length > 300 ? params.slice(0, 300) + "…" : params}`,
  );
  lines.push(`  tags ${p.tags.join(", ")}`);
  if (p.alreadyImportedAs) {
    lines.push(`  (imported before as ${p.alreadyImportedAs}; --again)`);
  }
  return lines.join("\n");
}

if (import.meta.main) await runMain(main);

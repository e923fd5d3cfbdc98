/**
 * Planning an import: for each {@linkcode ImportedRun}, the specimen it
 * becomes (id, taxonomy, tags, `created`, params, and the artifact each
 * table, histogram and text goes to), checked against the vault before
 * anything is written.
 *
 * @module
 */
import { InvalidInputError, SpecimenExistsError } from "../errors.ts";
import { validateSpecimenId } from "../specimen/id.ts";
import { readVaultTaxonomy, validateTaxonomy } from "../specimen/taxonomy.ts";
import { normalizeTags } from "../specimen/create.ts";
import { type Params, validateParams } from "../specimen/params.ts";
import { join } from "../importers/_deps.ts";
import { dirname } from "../_deps/path.ts";
import { NameSet, slug } from "./_names.ts";
import { cleanParams } from "./_names.ts";
import { scanVault, sourceDigest } from "./_imported.ts";
import type { ImportedRun, ImportKind } from "../importers/model.ts";
import { MAX_IMPORT_TABLE_COLUMNS } from "../importers/detect.ts";

/** Domain and method used when neither is given, and why. */
export const DEFAULT_TAXONOMY = {
  domain: "training",
  method: "fine_tuning",
  why:
    "the runs these tools log are training runs; pass --domain and --method to file them elsewhere",
} as const;

/** The id prefix of each kind when `--prefix` is not given. */
export const DEFAULT_PREFIX: Record<ImportKind, string> = {
  tensorboard: "tb_",
  lightning: "lightning_",
  "hf-trainer": "hf_",
  mlflow: "mlflow_",
  csv: "csv_",
  jsonl: "jsonl_",
  wandb: "wandb_",
  optuna: "optuna_",
};

/** Options of {@linkcode planImport}. */
export interface PlanImportOptions {
  /** The `specimens/` folder of the vault. */
  specimensDir: string;
  /** @default {DEFAULT_TAXONOMY.domain} */
  domain?: string;
  /** @default {DEFAULT_TAXONOMY.method} */
  method?: string;
  /** The id of the one run imported (not with several runs). */
  id?: string;
  /** Put before each run's sanitized name. @default {DEFAULT_PREFIX[kind]} */
  prefix?: string;
  /** Tags added to every specimen. */
  tags?: string[] | string;
  /** Import again what was imported already, and take a free id. @default false */
  again?: boolean;
}

/** Where one part of a run goes. */
export interface PlannedTable {
  /** The run's own table name (`scalars`, `losses/train`, `eval`). */
  source: string;
  /** The artifact: `strata/<artifact>.parquet`. */
  artifact: string;
  rows: number;
  /** Column names as written, `step` first. */
  columns: string[];
  /** Source column → written name, where they differ. */
  renamed: Record<string, string>;
}

/** The specimen one run becomes. */
export interface PlannedSpecimen {
  run: ImportedRun;
  id: string;
  domain: string;
  method: string;
  tags: string[];
  /** ISO-8601 UTC. */
  created: string;
  /** Where `created` came from. */
  createdFrom: "source start time" | "earliest wall time" | "file mtime";
  params: Params;
  /** Params keys renamed to be valid (new dotted path → original key). */
  paramRenames: Record<string, string>;
  tables: PlannedTable[];
  /** Histogram (sub-run, tag) → Zarr artifact of its counts. */
  histograms: { table: string; tag: string; artifact: string }[];
  /** The digest of the source files' hashes. */
  sourceDigest: string;
  /** Set when the source is in the vault already: that specimen's id. */
  alreadyImportedAs?: string;
}

/**
 * Plans the specimens `runs` become in the vault, without writing. Throws
 * {@linkcode InvalidInputError} (a bad id, taxonomy, tag or param; `--id`
 * with several runs) and {@linkcode SpecimenExistsError} when an id is
 * taken and `again` is not set. A run whose files are imported already is
 * planned with `alreadyImportedAs` (and a fresh id when `again`).
 *
 * Needs read permission on the vault.
 *
 * @example
 * ```ts
 * import { importRuns } from "../importers/detect.ts";
 * import { planImport } from "./plan.ts";
 * const f = await Deno.makeTempFile({ suffix: ".csv" });
 * await Deno.writeTextFile(f, "step,loss\n0,1\n1,0.5\n");
 * const vault = await Deno.makeTempDir();
 * const [p] = await planImport(await importRuns("csv", f), { specimensDir: `${vault}/specimens`, prefix: "old_" });
 * console.assert(p.tables[0].artifact === "metrics" && p.id.startsWith("old_"));
 * await Deno.remove(f);
 * await Deno.remove(vault, { recursive: true });
 * ```
 */
export async function planImport(
  runs: ImportedRun[],
  options: PlanImportOptions,
): Promise<PlannedSpecimen[]> {
  const domain = options.domain ?? DEFAULT_TAXONOMY.domain;
  const method = options.method ?? DEFAULT_TAXONOMY.method;
  validateTaxonomy(
    domain,
    method,
    await readVaultTaxonomy(dirname(options.specimensDir)),
  );
  const userTags = normalizeTags(options.tags);
  if (options.id !== undefined) {
    validateSpecimenId(options.id);
    if (runs.length !== 1) {
      throw new InvalidInputError(
        `--id "${options.id}" names one specimen, but the path holds ${runs.length} runs (${
          runs.slice(0, 5).map((r) => JSON.stringify(r.sourceRunId)).join(", ")
        }${
          runs.length > 5 ? ", …" : ""
        }); use --prefix P to name each P<run name>, or import one run folder`,
      );
    }
  }
  if (
    options.prefix !== undefined && !/^[a-z0-9_]{0,64}$/.test(options.prefix)
  ) {
    throw new InvalidInputError(
      `Invalid --prefix ${
        JSON.stringify(options.prefix)
      }: ids are ^[a-z0-9_]+$, so a prefix is up to 64 of [a-z0-9_], e.g. --prefix tb_2025_`,
    );
  }
  const vault = await scanVault(options.specimensDir);
  const batch = new NameSet();
  const plans: PlannedSpecimen[] = [];
  for (const run of runs) {
    for (const t of run.tables) {
      // step, and each column
      if (t.columns.size + 1 > MAX_IMPORT_TABLE_COLUMNS) {
        throw new InvalidInputError(
          `Cannot import ${run.sourcePath}: its table "${t.name}" has ${
            t.columns.size + 1
          } columns, more than the ${MAX_IMPORT_TABLE_COLUMNS} an imported table may (writing it would take about 4 KB of memory a column, and the catalog loads at most 2,048 of a table); split the file into narrower ones`,
        );
      }
    }
    const digest = sourceDigest(run.sourceFiles);
    const already = vault.imported.get(digest);
    let id = options.id ??
      (options.prefix ?? DEFAULT_PREFIX[run.kind]) +
        (slug(runLabel(run), 100) || "run");
    id = id.slice(0, 120);
    validateSpecimenId(id);
    if (vault.ids.has(id) && !options.again && already === undefined) {
      throw new SpecimenExistsError(
        `Cannot import ${run.sourcePath} as "${id}": a specimen of that id exists (${
          join(options.specimensDir, id)
        }) and specimens are immutable. Choose another id (--id or --prefix), or pass --again for a free id (${id}_2)`,
      );
    }
    if (options.again || batch.has(id)) {
      const base = id;
      for (let k = 2; vault.ids.has(id) || batch.has(id); k++) {
        id = `${base}_${k}`;
      }
    }
    batch.take(id);
    const { params, renamed } = cleanParams(run.params);
    let checked: Params;
    try {
      checked = validateParams(params, {
        label: `the params of ${run.sourcePath}`,
      });
    } catch (e) {
      throw new InvalidInputError(
        `Cannot import ${run.sourcePath}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const created = await createdOf(run);
    plans.push({
      run,
      id,
      domain,
      method,
      tags: normalizeTags([...userTags, ...toolTags(run)]),
      created: created.at.toISOString(),
      createdFrom: created.from,
      params: checked,
      paramRenames: renamed,
      ...artifactsOf(run),
      sourceDigest: digest,
      ...(already === undefined ? {} : { alreadyImportedAs: already }),
    });
  }
  return plans;
}

/**
 * What names a run in its id: MLflow's run name (its run id is a hex
 * string), else the run's path in the source (a checkpoint stays apart from
 * its run folder), without Lightning's `lightning_logs/` folder.
 */
function runLabel(run: ImportedRun): string {
  if (run.kind === "wandb") return `${run.name}_${run.sourceRunId}`;
  if (run.kind === "optuna") return run.name;
  if (run.kind === "mlflow" || run.kind === "csv" || run.kind === "jsonl") {
    return run.name || run.sourceRunId;
  }
  return run.sourceRunId.replace(/^(.*\/)?lightning_logs\//, "$1") ||
    run.name;
}

/**
 * `imported`, the kind, MLflow's run and experiment names, W&B's project and
 * group, Optuna's study and trial state.
 */
function toolTags(run: ImportedRun): string[] {
  const tags = ["imported", run.kind];
  const keys = run.kind === "mlflow"
    ? ["mlflow.runName", "mlflow.experimentName"]
    : run.kind === "wandb"
    ? ["wandb.project", "wandb.group"]
    : run.kind === "optuna"
    ? ["optuna.study", "optuna.state"]
    : [];
  for (const key of keys) {
    const v = run.tags[key];
    // deno-lint-ignore no-control-regex
    const t = v?.replace(/[,\u0000-\u001f\u007f]+/g, " ").trim().slice(
      0,
      128,
    );
    if (t) tags.push(t);
  }
  return tags;
}

async function createdOf(
  run: ImportedRun,
): Promise<{ at: Date; from: PlannedSpecimen["createdFrom"] }> {
  if (run.startTime) return { at: run.startTime, from: "source start time" };
  let min = Infinity;
  for (const t of run.tables) {
    const wall = t.columns.get("wall_time");
    if (wall?.kind !== "number") continue;
    for (let i = 0; i < t.rows; i++) {
      if (wall.present && wall.present[i] === 0) continue;
      if (wall.values[i] > 0 && wall.values[i] < min) min = wall.values[i];
    }
  }
  if (Number.isFinite(min)) {
    return { at: new Date(min * 1000), from: "earliest wall time" };
  }
  let mtime = Infinity;
  for (const f of run.sourceFiles) {
    const path = run.sourceFiles.length === 1 && f.path === ""
      ? run.sourcePath
      : join(run.sourcePath, f.path);
    const info = await Deno.stat(path).catch(() => Deno.stat(run.sourcePath));
    mtime = Math.min(mtime, info.mtime?.getTime() ?? Infinity);
  }
  return {
    at: new Date(Number.isFinite(mtime) ? mtime : Date.now()),
    from: "file mtime",
  };
}

/** Artifact names: the first table is `metrics`, the rest by their names. */
function artifactsOf(
  run: ImportedRun,
): Pick<PlannedSpecimen, "tables" | "histograms"> {
  const names = new NameSet(["metrics", "histograms", "texts"]);
  const tables = run.tables.map((t, i) => {
    const artifact = i === 0
      ? "metrics"
      : names.take(slug(t.name, 64) || "table", 64);
    const cols = new NameSet(["step"]);
    const renamed: Record<string, string> = {};
    const columns = ["step"];
    for (const c of t.columns.keys()) {
      const name = c.trim() === "" ? cols.take("column") : cols.take(c);
      if (name !== c) renamed[c] = name;
      columns.push(name);
    }
    return { source: t.name, artifact, rows: t.rows, columns, renamed };
  });
  const histograms = run.histograms.map((h) => ({
    table: h.table,
    tag: h.tag,
    artifact: names.take(
      slug(`hist_${h.table === "scalars" ? "" : h.table}_${h.tag}`, 56) ||
        "hist",
      56,
    ),
  }));
  for (const h of histograms) names.take(`${h.artifact}_edges`);
  return { tables, histograms };
}

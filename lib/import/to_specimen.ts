/**
 * Writing planned imports as sealed specimens: each specimen is built in a
 * hidden temp folder inside `specimens/` (manifest with params and
 * `provenance.imported_from`, protocol and field notes, metric tables and
 * histogram arrays through {@linkcode SpecimenStorage}), sealed, and only
 * then renamed into place, so a failure midway leaves nothing.
 *
 * @module
 */
import { SpecimenExistsError } from "../errors.ts";
import { placeDir, removeStaleTemps, tempPathFor } from "../_fs.ts";
import {
  encodeManifest,
  type Manifest,
  MANIFEST_FILE,
} from "../specimen/manifest.ts";
import { sealSpecimen } from "../specimen/seal.ts";
import { SpecimenStorage } from "../run/storage.ts";
import type { RunRecord } from "../run/run.ts";
import type { MetricColumns } from "../formats/parquet/parquet.ts";
import { createHash, join } from "../importers/_deps.ts";
import { mime } from "../_deps.ts";
import { NameSet, slug } from "./_names.ts";
import {
  columnToArray,
  denseHistogram,
  type ImportedRun,
} from "../importers/model.ts";
import type { PlannedSpecimen } from "./plan.ts";

/** What {@linkcode writeImports} reports as it goes. */
export interface ImportProgress {
  /** The specimen being written (1-based) and how many there are. */
  specimen: number;
  of: number;
  id: string;
  /** Artifacts written so far for it. */
  artifacts: number;
}

/** Options of {@linkcode writeImports}. */
export interface WriteImportsOptions {
  /** The vault's `specimens/` folder. */
  specimensDir: string;
  /** Called after each artifact. */
  onProgress?: (p: ImportProgress) => void;
}

/**
 * Writes every planned specimen: all are built and sealed in temp folders
 * first, then renamed into place; if any fails to build, none is placed,
 * and if one cannot be placed (its id taken meanwhile), those placed
 * already are taken back: all or nothing. Throws
 * {@linkcode SpecimenExistsError} when an id was taken meanwhile.
 *
 * Needs read and write permission on the vault.
 *
 * @returns The ids written.
 * @example
 * ```ts
 * import { importRuns } from "../importers/detect.ts";
 * import { planImport } from "./plan.ts";
 * import { writeImports } from "./to_specimen.ts";
 * const f = await Deno.makeTempFile({ suffix: ".csv" });
 * await Deno.writeTextFile(f, "step,loss\n0,1\n1,0.5\n");
 * const vault = await Deno.makeTempDir();
 * const specimensDir = `${vault}/specimens`;
 * const plans = await planImport(await importRuns("csv", f), { specimensDir });
 * const [id] = await writeImports(plans, { specimensDir });
 * console.assert((await Deno.stat(`${specimensDir}/${id}/strata/metrics.parquet`)).isFile);
 * await Deno.remove(f);
 * await Deno.remove(vault, { recursive: true });
 * ```
 */
export async function writeImports(
  plans: PlannedSpecimen[],
  options: WriteImportsOptions,
): Promise<string[]> {
  const { specimensDir } = options;
  await Deno.mkdir(specimensDir, { recursive: true });
  await removeStaleTemps(specimensDir, ".tmp-import-");
  const tmp = tempPathFor(join(specimensDir, "import"));
  await Deno.mkdir(tmp);
  const placed: string[] = [];
  try {
    for (const [i, plan] of plans.entries()) {
      await buildSpecimen(
        join(tmp, plan.id),
        plan,
        (artifacts) =>
          options.onProgress?.({
            specimen: i + 1,
            of: plans.length,
            id: plan.id,
            artifacts,
          }),
      );
    }
    try {
      for (const plan of plans) {
        const dest = join(specimensDir, plan.id);
        try {
          await placeDir(join(tmp, plan.id), dest);
        } catch (e) {
          if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
          throw new SpecimenExistsError(
            `Cannot place imported specimen "${plan.id}": ${dest} was created meanwhile; nothing was imported (${placed.length} placed already were taken back); import again (with --again for a free id)`,
            { cause: e },
          );
        }
        placed.push(plan.id);
      }
    } catch (e) {
      // As a sweep does: all or nothing. Each one placed goes back into the
      // temp folder (one rename: a reader never sees half a folder), and
      // from there with it.
      for (const id of placed) {
        await Deno.rename(join(specimensDir, id), join(tmp, `${id}.placed`))
          .catch(() => Deno.remove(join(specimensDir, id), { recursive: true }))
          .catch(() => {});
      }
      throw e;
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  return placed;
}

async function buildSpecimen(
  dir: string,
  plan: PlannedSpecimen,
  progress: (artifacts: number) => void,
): Promise<void> {
  const run = plan.run;
  await Deno.mkdir(join(dir, "strata"), { recursive: true });
  await Deno.writeFile(
    join(dir, MANIFEST_FILE),
    encodeManifest(manifestOf(plan)),
  );
  await Deno.writeTextFile(join(dir, "protocol.ts"), protocolText(plan));
  await Deno.writeTextFile(join(dir, "field_notes.md"), fieldNotes(plan));
  const storage = await SpecimenStorage.open(dir);
  let n = 0;
  for (const [k, t] of run.tables.entries()) {
    const p = plan.tables[k];
    const cols: MetricColumns = { step: t.exactStep ?? Array.from(t.step) };
    for (const [name, col] of t.columns) {
      // One rule with adoption and the native logger: a column whose every
      // value is a whole number is INT64 (-0 and NaN keep it DOUBLE).
      cols[p.renamed[name] ?? name] =
        col.kind === "number" && !col.present && !wholeNumbers(col.values)
          ? col.values
          : col.kind === "number" && !col.present
          ? Array.from(col.values)
          : columnToArray(col) as
            | (number | null)[]
            | (string | null)[]
            | (bigint | null)[];
    }
    await storage.writeMetrics(cols, { name: p.artifact });
    progress(++n);
  }
  const stats = {
    tensor: [] as string[],
    subrun: [] as string[],
    tag: [] as string[],
    row: [] as number[],
    step: [] as number[],
    wall_time: [] as number[],
    min: [] as number[],
    max: [] as number[],
    num: [] as number[],
    sum: [] as number[],
    sum_squares: [] as number[],
  };
  for (const [k, h] of run.histograms.entries()) {
    const name = plan.histograms[k].artifact;
    const { edges, counts } = denseHistogram(h);
    if (edges.length === 0) continue;
    await storage.writeTensor(name, counts, {
      shape: [h.steps.length, edges.length],
    });
    await storage.writeTensor(`${name}_edges`, edges, {
      shape: [edges.length],
    });
    for (let r = 0; r < h.steps.length; r++) {
      stats.tensor.push(name);
      stats.subrun.push(h.table);
      stats.tag.push(h.tag);
      stats.row.push(r);
      stats.step.push(h.steps[r]);
      stats.wall_time.push(h.wallTimes[r]);
      stats.min.push(h.min[r]);
      stats.max.push(h.max[r]);
      stats.num.push(h.num[r]);
      stats.sum.push(h.sum[r]);
      stats.sum_squares.push(h.sumSquares[r]);
    }
    progress(++n);
  }
  if (stats.row.length) {
    await storage.writeMetrics(stats, { name: "histograms" });
  }
  const texts = textColumns(run);
  if (texts.step.length) await storage.writeMetrics(texts, { name: "texts" });
  await keepFiles(storage, plan);
  await sealSpecimen(dir);
}

/** Whether every value is a safe integer (not -0): an INT64 column. */
function wholeNumbers(values: Float64Array): boolean {
  if (values.length === 0) return false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isSafeInteger(v) || Object.is(v, -0)) return false;
  }
  return true;
}

/**
 * The run's kept files (a W&B run's media) as `strata/files/` artifacts,
 * named from their path (`files/media/images/a_1.png` →
 * `media_images_a_1`), each with its SHA-256, size, media type and source.
 */
async function keepFiles(
  storage: SpecimenStorage,
  plan: PlannedSpecimen,
): Promise<void> {
  const names = new NameSet([
    "metrics",
    "histograms",
    "texts",
    ...plan.tables.map((t) => t.artifact),
    ...plan.histograms.flatMap((h) => [h.artifact, `${h.artifact}_edges`]),
  ]);
  for (const f of plan.run.files ?? []) {
    const base = f.source.replace(/^files\//, "").replace(/\.[^./]*$/, "");
    const ext = /\.([A-Za-z0-9]{1,10})$/.exec(f.source)?.[1]?.toLowerCase();
    const name = names.take(slug(base, 60) || "file", 64);
    const bytes = f.bytes ?? await Deno.readFile(f.path);
    await storage.placeArtifact(
      name,
      { format: "file", file: ext ? `${name}.${ext}` : name },
      async (path) => {
        await Deno.writeFile(path, bytes, { createNew: true });
        return {
          bytes: bytes.length,
          sha256: createHash("sha256").update(bytes).digest("hex"),
          media_type: mime.getType(f.source) ?? "application/octet-stream",
          source: f.source,
        };
      },
    );
  }
}

/** Every text entry as a row: sub-run, tag, step, wall time, item, text. */
function textColumns(run: ImportedRun) {
  const t = {
    subrun: [] as string[],
    tag: [] as string[],
    step: [] as number[],
    wall_time: [] as (number | null)[],
    item: [] as number[],
    text: [] as string[],
  };
  for (const x of run.texts) {
    for (const e of x.entries) {
      e.text.forEach((text, item) => {
        t.subrun.push(x.table);
        t.tag.push(x.tag);
        t.step.push(e.step);
        t.wall_time.push(e.wallTime);
        t.item.push(item);
        t.text.push(text);
      });
    }
  }
  return t;
}

/**
 * The source run's own start and end as a run record (none when the files
 * do not say when it started).
 */
function runRecordOf(run: ImportedRun): RunRecord[] {
  const runs: RunRecord[] = [];
  // The source's own exit code where it kept one (W&B's exit record).
  const exitCode = run.sourceInfo.exit_code;
  if (run.startTime) {
    const ended = run.endTime?.toISOString() ?? null;
    runs.push({
      id: run.startTime.toISOString().replace(/:/g, "-"),
      // An imported run was not run here: it records the source's own times.
      via: "import" as RunRecord["via"],
      status: !run.endTime
        ? "interrupted"
        : (typeof exitCode === "number" && exitCode !== 0) ||
            run.sourceInfo.state === "FAIL"
        ? "failed"
        : "succeeded",
      started: run.startTime.toISOString(),
      ended,
      duration_ms: run.endTime
        ? run.endTime.getTime() - run.startTime.getTime()
        : null,
      exit_code: typeof exitCode === "number" ? exitCode : null,
      signal: null,
      error: null,
      command: [],
      cwd: null,
      pid: Deno.pid,
      hostname: null,
      protocol_sha256: null,
      git_commit: null,
      git_dirty: null,
      stdout: null,
      stderr: null,
      sealed: true,
    });
    if (typeof run.sourceInfo.status === "string") {
      (runs[0] as unknown as Record<string, unknown>).source_status =
        run.sourceInfo.status;
    }
  }
  return runs;
}

function manifestOf(plan: PlannedSpecimen): Manifest {
  const run = plan.run;
  const runs = runRecordOf(run);
  return {
    specimen_id: plan.id,
    created: plan.created,
    taxonomy: { domain: plan.domain, method: plan.method },
    status: "active",
    artifacts: {},
    tags: plan.tags,
    model: null,
    description: `Imported from ${run.tool} run ${
      JSON.stringify(run.name || run.sourceRunId)
    }`,
    dependencies: run.toolVersion ? { [run.tool]: run.toolVersion } : {},
    params: plan.params,
    provenance: {
      captured_by: "deno task import",
      captured: new Date().toISOString(),
      imported_from: {
        tool: run.tool,
        kind: run.kind,
        tool_version: run.toolVersion,
        source_path: run.sourcePath,
        source_run_id: run.sourceRunId,
        source_name: run.name,
        source_digest: plan.sourceDigest,
        files: run.sourceFiles.map((f) => ({
          path: f.path,
          sha256: f.sha256,
          bytes: f.bytes,
        })),
        created_from: plan.createdFrom,
        tables: Object.fromEntries(
          plan.tables.map((t) => [t.source, t.artifact]),
        ),
        column_renames: Object.fromEntries(
          plan.tables.filter((t) => Object.keys(t.renamed).length)
            .map((t) => [t.artifact, t.renamed]),
        ),
        param_renames: plan.paramRenames,
        tags: run.tags,
        source_info: run.sourceInfo,
        warnings: run.warnings,
      },
    },
    ...(runs.length ? { runs } : {}),
  };
}

function protocolText(plan: PlannedSpecimen): string {
  const run = plan.run;
  return `/**
 * ${plan.id}: imported by \`deno task import ${run.kind}\` from ${run.tool} run
 * ${JSON.stringify(run.sourceRunId)} (${run.sourcePath}).
 *
 * Its results were not computed here, so there is nothing to run: the
 * source files and their SHA-256 are in the manifest's
 * provenance.imported_from.
 */
console.error(${
    JSON.stringify(
      `${plan.id} was imported from ${run.tool}; it has no protocol to run`,
    )
  });
Deno.exit(1);
`;
}

function fieldNotes(plan: PlannedSpecimen): string {
  const run = plan.run;
  const tables = plan.tables.map((t) =>
    `- \`strata/${t.artifact}.parquet\`: ${t.source} (${t.rows} rows)`
  ).join("\n");
  return `# ${plan.id}

- **Imported from:** ${run.tool}${
    run.toolVersion ? ` ${run.toolVersion}` : ""
  }, run ${JSON.stringify(run.sourceRunId)} at ${run.sourcePath}
- **Created:** ${plan.created} (${plan.createdFrom})
- **Taxonomy:** ${plan.domain} / ${plan.method}
- **Tags:** ${plan.tags.join(", ")}

## Tables
${tables || "(none)"}
${
    run.warnings.length
      ? `\n## Import warnings\n${
        run.warnings.map((w) => `- ${w}`).join("\n")
      }\n`
      : ""
  }
## Observations

`;
}

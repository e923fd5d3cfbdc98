/**
 * Adopting the files a child process left in `SPECIMEN_OUTPUTS` into
 * `strata/`, each recorded in the manifest's `artifacts` (and so sealed):
 *
 * - `.npy` (format 1.0–3.0, C or Fortran order) → a Zarr v3 array
 *   `strata/<name>.zarr` (zstd, streamed with bounded memory);
 * - `.safetensors`, `.npz` → kept as saved, `strata/files/<name>.<ext>`
 *   (SHA-256 in the record), and (up to `splitMaxBytes`) one Zarr v3 array
 *   per tensor, `<file>__<tensor>`, naming its tensor (`source_tensor`);
 * - `.csv`, `.jsonl` (and `.ndjson`) → a metric table
 *   `strata/<name>.parquet`, streamed twice (check, then log through a
 *   `MetricsLogger`); a column holding numbers and text is text;
 * - `.parquet` the vault's reader reads → copied as it is to
 *   `strata/<name>.parquet` (checked from its footer, streamed);
 * - anything else (a checkpoint, a plot) → kept as it is under
 *   `strata/files/<name>.<ext>`, format `"file"`, with its size, media type
 *   and SHA-256. A `.csv`/`.jsonl` with no rows is kept this way too.
 *
 * Folders are walked recursively: `sub/x.npy` is named `sub__x`. A name that
 * is not a valid artifact name, or is taken, is changed (see `_adopt_names.ts`
 * for the exact rule); every record has `source` (the path in the outputs
 * folder) and the report lists the renamed ones.
 *
 * Each file is opened once (no link followed, no FIFO waited on, the file
 * the walk saw) and read only through that handle (`_adopt_open.ts`).
 * Refused, never followed or read: symbolic links (wherever they lead),
 * FIFOs, sockets and devices, a file swapped or removed meanwhile, a file
 * over `maxFileBytes` or larger than the free disk; refused after reading: a
 * bad `.npy` header, a truncated `.safetensors`, a bad `.npz` member, a
 * malformed table. Adoption goes on with the
 * other files, then throws {@linkcode AdoptOutputsError} listing every
 * refused file, so the run fails and is not sealed (unless
 * `failOnRefused: false`). The source files are left where they are.
 *
 * @module
 */
import { join, resolve } from "../_deps.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { STRATA_DIR } from "../vault.ts";
import type { ArtifactRecord } from "../specimen/manifest_types.ts";
import { MetricsLogger } from "../metrics_log/logger.ts";
import { PARTS_SUFFIX } from "../metrics_log/table.ts";
import { assignNames, naturalName } from "./_adopt_names.ts";
import type { NameRequest } from "./_adopt_names.ts";
import {
  checkParquet,
  logCsv,
  logJsonl,
  planCsv,
  planJsonl,
  type Reopen,
  type TablePlan,
} from "./_adopt_tables.ts";
import {
  type AdoptOutputsOptions,
  type AdoptReport,
  type AdoptTarget,
  type Ctx,
  type Found,
  type Kind,
  place,
  refuse,
} from "./_adopt_context.ts";
import {
  copyOpened,
  identify,
  keepOpened,
  type Opened,
  openOutput,
} from "./_adopt_open.ts";
import {
  adoptContainer,
  adoptNpyOutput,
  planContainer,
} from "./_adopt_tensors.ts";

export {
  type AdoptOutputsOptions,
  type AdoptProgress,
  type AdoptReport,
  type AdoptTarget,
  type ArtifactPlacement,
  FILES_DIR,
} from "./_adopt_context.ts";
export {
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_SPLIT_MAX_BYTES,
  mediaType,
} from "./_adopt_open.ts";

/**
 * Some output files were refused: `report` says what was adopted and
 * what was not. Tasks exit with code 2.
 *
 * @example
 * ```ts
 * import { AdoptOutputsError } from "./adopt_outputs.ts";
 * const e = new AdoptOutputsError({
 *   artifacts: [], renamed: {}, adopted: [],
 *   refused: [{ file: "link.npy", reason: "a symbolic link" }],
 * });
 * console.assert(e.message.includes("link.npy"));
 * ```
 */
export class AdoptOutputsError extends InvalidInputError {
  /** What was adopted, and every refused file with its reason. */
  readonly report: AdoptReport;
  /** An error listing every refused file of `report`. */
  constructor(report: AdoptReport) {
    const n = report.refused.length;
    super(
      `${n} output file${
        n === 1 ? " was" : "s were"
      } refused (the other ${report.artifacts.length} artifact(s) were adopted; the run is not sealed):\n${
        report.refused.map((r) => `  - ${r.file}: ${r.reason}`).join("\n")
      }\nFix or remove these files in SPECIMEN_OUTPUTS and run again.`,
    );
    this.name = "AdoptOutputsError";
    this.report = report;
  }
}

const KINDS: Record<string, Kind> = {
  npy: "npy",
  npz: "npz",
  safetensors: "safetensors",
  csv: "csv",
  jsonl: "jsonl",
  ndjson: "jsonl",
  parquet: "parquet",
};

/**
 * Adopts every file under `outputsDir` into the specimen `target` (see the
 * module doc for what each file becomes). A missing `outputsDir` adopts
 * nothing.
 *
 * Needs `--allow-read` on `outputsDir` and `--allow-read --allow-write` on
 * the specimen.
 *
 * @param target The specimen's storage (`SpecimenStorage`).
 * @param outputsDir The folder the child wrote (`SPECIMEN_OUTPUTS`).
 * @param options See {@linkcode AdoptOutputsOptions}.
 * @returns What was adopted, renamed and refused.
 * @throws {AdoptOutputsError} After adopting the rest, if any file was
 *   refused (unless `failOnRefused: false`).
 * @throws {InvalidInputError} If `outputsDir` is not a folder.
 * @throws {ImmutableArtifactError} If the specimen is sealed or failed.
 *
 * @example
 * ```ts
 * import { createSpecimen, SpecimenStorage } from "../../mod.ts";
 * import { adoptOutputs } from "./adopt_outputs.ts";
 * const vault = await Deno.makeTempDir();
 * const { dir } = await createSpecimen({
 *   vault, id: "doc_adopt", domain: "training", method: "fine_tuning",
 * });
 * const out = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${out}/eval.csv`, "step,acc\n0,0.5\n1,0.75\n");
 * await Deno.writeTextFile(`${out}/Notes Final.txt`, "done\n");
 * const storage = await SpecimenStorage.open(dir);
 * const report = await adoptOutputs(storage, out);
 * console.assert(report.artifacts.sort().join() === "eval,notes_final");
 * console.assert(report.renamed["Notes Final.txt"] === "notes_final");
 * console.assert((await storage.readMetrics("eval")).acc[1] === 0.75);
 * await Deno.remove(vault, { recursive: true });
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function adoptOutputs(
  target: AdoptTarget,
  outputsDir: string,
  options: AdoptOutputsOptions = {},
): Promise<AdoptReport> {
  const report: AdoptReport = {
    artifacts: [],
    renamed: {},
    refused: [],
    adopted: [],
  };
  const root = await outputsRoot(outputsDir);
  if (root === null) return report;
  const found: Found[] = [];
  await walk(root, "", found, report);
  found.sort((a, b) => a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0);

  const ctx: Ctx = { target, root, report, options, names: new Map() };
  // A .safetensors or .npz names its arrays by its tensors: read them now.
  const adoptable: Found[] = [];
  for (const f of found) {
    try {
      if (f.kind === "safetensors" || f.kind === "npz") {
        await planContainer(ctx, f);
      }
      adoptable.push(f);
    } catch (e) {
      refuse(report, f.rel, e);
    }
  }
  ctx.names = nameAll(target, adoptable, report);

  for (const f of adoptable) {
    try {
      await adoptOne(ctx, f);
    } catch (e) {
      refuse(report, f.rel, e);
    }
  }
  if (report.refused.length && (options.failOnRefused ?? true)) {
    throw new AdoptOutputsError(report);
  }
  return report;
}

/**
 * Every artifact's name (see `_adopt_names.ts`), keyed by file (`file#tensor`
 * for a tensor); the changed ones go into `report.renamed`.
 */
function nameAll(
  target: AdoptTarget,
  adoptable: Found[],
  report: AdoptReport,
): Map<string, string> {
  const requests: NameRequest[] = [];
  for (const f of adoptable) {
    requests.push({ key: f.rel, natural: f.natural, ext: f.ext });
    for (const t of f.tensors ?? []) {
      requests.push({
        key: `${f.rel}#${t}`,
        natural: `${f.natural}__${t}`,
        ext: "",
      });
    }
  }
  const strata = join(target.dir, STRATA_DIR);
  const existing = target.artifacts;
  const names = assignNames(requests, (n) =>
    Object.hasOwn(existing, n) ||
    [".zarr", ".parquet", PARTS_SUFFIX].some((s) => existsSync(strata, n + s)));
  for (const r of requests) {
    if (names.get(r.key) !== r.natural) {
      report.renamed[r.key] = names.get(r.key)!;
    }
  }
  return names;
}

function existsSync(dir: string, name: string): boolean {
  try {
    Deno.lstatSync(join(dir, name));
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The real path of the outputs folder, or null if it does not exist. */
async function outputsRoot(outputsDir: string): Promise<string | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(outputsDir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  if (!info.isDirectory) {
    throw new InvalidInputError(
      `Cannot adopt outputs from "${outputsDir}": it is not a folder; SPECIMEN_OUTPUTS must be a folder the child writes files into`,
    );
  }
  return await Deno.realPath(resolve(outputsDir));
}

/** Lists the regular files under `root` (sorted); refuses everything else. */
async function walk(
  root: string,
  rel: string,
  found: Found[],
  report: AdoptReport,
): Promise<void> {
  const dir = rel ? join(root, rel) : root;
  const entries: Deno.DirEntry[] = [];
  for await (const e of Deno.readDir(dir)) entries.push(e);
  entries.sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of entries) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    try {
      await walkEntry(root, path, e, found, report);
    } catch (err) {
      // Removed or renamed since the listing (a process still writing).
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      report.refused.push({
        file: path,
        reason:
          `it was removed or renamed while being adopted (does a process the run started still write to SPECIMEN_OUTPUTS?): let every process finish before the run ends`,
      });
    }
  }
}

async function walkEntry(
  root: string,
  path: string,
  e: Deno.DirEntry,
  found: Found[],
  report: AdoptReport,
): Promise<void> {
  const abs = join(root, path);
  if (e.isSymlink) {
    const to = await Deno.readLink(abs).catch(() => "?");
    report.refused.push({
      file: path,
      reason:
        `it is a symbolic link (to ${to}); links are never followed: write the file itself into SPECIMEN_OUTPUTS`,
    });
  } else if (e.isDirectory) {
    await walk(root, path, found, report);
  } else if (e.isFile) {
    const { natural, ext } = naturalName(path);
    const f: Found = {
      rel: path,
      abs,
      kind: Object.hasOwn(KINDS, ext) ? KINDS[ext] : "file",
      natural,
      ext,
    };
    await identify(f);
    found.push(f);
  } else {
    const info = await Deno.lstat(abs);
    const kind = info.isFifo
      ? "a FIFO (named pipe)"
      : info.isSocket
      ? "a socket"
      : info.isCharDevice || info.isBlockDevice
      ? "a device"
      : "not a regular file";
    report.refused.push({
      file: path,
      reason:
        `it is ${kind}, not a regular file; it is not read (reading could wait forever): write a regular file instead`,
    });
  }
}

async function adoptOne(ctx: Ctx, f: Found): Promise<void> {
  const name = ctx.names.get(f.rel)!;
  // Opened once, checked; every byte adopted is read through this handle
  // (the tables' second pass through a handle checked to be the same file).
  using opened = await openOutput(ctx, f);
  switch (f.kind) {
    case "npy":
      return await adoptNpyOutput(ctx, f, name, opened);
    case "safetensors":
    case "npz":
      return await adoptContainer(ctx, f, opened);
    case "parquet": {
      const fields = await checkParquet(f.abs, ctx.root, f.rel);
      await place(ctx, f.rel, name, { format: "parquet" }, async (path) => ({
        ...fields,
        bytes: await copyOpened(ctx, f, opened, path),
        source: f.rel,
      }));
      return;
    }
    case "csv":
    case "jsonl":
      return await adoptTable(ctx, f, name, opened);
    case "file":
      await keepOpened(ctx, f, name, opened);
      return;
  }
}

/**
 * A `.csv`/`.jsonl` logged as a table; one with no rows is kept as a file.
 * The first pass reads through `opened`; the second through a handle
 * checked to be the same file.
 */
async function adoptTable(
  ctx: Ctx,
  f: Found,
  name: string,
  opened: Opened,
): Promise<void> {
  // Each pass closes what it is given: its own handle, checked.
  const open: Reopen = async () => (await openOutput(ctx, f)).file;
  const plan: TablePlan = f.kind === "csv"
    ? await planCsv(open, f.rel)
    : await planJsonl(open, f.rel);
  if (plan.rows === 0) {
    await keepOpened(ctx, f, name, opened, { note: "no rows" });
    return;
  }
  await place(ctx, f.rel, name, { format: "parquet" }, async (path) => {
    let captured: ArtifactRecord | undefined;
    const log = await MetricsLogger.open({
      dir: ctx.target.dir,
      name,
      record: (r) => Promise.resolve(captured = r),
    });
    try {
      if (f.kind === "csv") await logCsv(open, f.rel, plan, log);
      else await logJsonl(open, f.rel, plan, log);
    } catch (e) {
      await log.close().catch(() => {});
      await Deno.remove(path).catch(() => {});
      throw e;
    }
    await log.close();
    if (!captured) {
      throw new NotFoundError(`"${f.rel}" gave no rows to log`);
    }
    const { path: _p, format: _f, ...fields } = captured;
    return {
      ...fields,
      source: f.rel,
      ...(plan.rounded.size ? { rounded_columns: [...plan.rounded] } : {}),
    };
  });
}

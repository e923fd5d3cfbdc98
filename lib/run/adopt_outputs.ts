/**
 * Adopting the files a child process left in `SPECIMEN_OUTPUTS` into
 * `strata/`, each recorded in the manifest's `artifacts` (and so sealed):
 *
 * - `.npy` (format 1.0–3.0, C or Fortran order) → a Zarr v3 array
 *   `strata/<name>.zarr` (zstd, streamed with bounded memory);
 * - `.safetensors` → one Zarr v3 array per tensor, `<file>__<tensor>`;
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
 * Refused, never followed or read: symbolic links (wherever they lead),
 * FIFOs, sockets and devices; refused after reading: a bad `.npy` header, a
 * truncated `.safetensors`, a malformed table. Adoption goes on with the
 * other files, then throws {@linkcode AdoptOutputsError} listing every
 * refused file, so the run fails and is not sealed (unless
 * `failOnRefused: false`). The source files are left where they are.
 *
 * @module
 */
import { createHash, join, mime, resolve } from "../_deps.ts";
import { openVaultFile, placeDir, tempPathFor } from "../_fs.ts";
import { errorMessage, InvalidInputError, NotFoundError } from "../errors.ts";
import { STRATA_DIR } from "../vault.ts";
import type { ArtifactRecord } from "../specimen/manifest_types.ts";
import {
  adoptNpy,
  adoptSafetensors,
  readSafetensorsHeader,
} from "../formats/tensor_files/mod.ts";
import type { AdoptedTensor } from "../formats/tensor_files/mod.ts";
import { MetricsLogger } from "../metrics_log/logger.ts";
import { PARTS_SUFFIX } from "../metrics_log/table.ts";
import { assignNames, cleanExt, naturalName } from "./_adopt_names.ts";
import type { NameRequest } from "./_adopt_names.ts";
import {
  copyFile,
  copyParquet,
  logCsv,
  logJsonl,
  planCsv,
  planJsonl,
  type TablePlan,
} from "./_adopt_tables.ts";

/** The folder under `strata/` that holds kept files. */
export const FILES_DIR = "files";

/**
 * Where {@linkcode AdoptTarget.placeArtifact} puts an artifact:
 * `strata/<name>.zarr`, `strata/<name>.parquet`, or (format `"file"`)
 * `strata/files/<file>`.
 */
export type ArtifactPlacement =
  | { format: "zarr" }
  | { format: "parquet" }
  | { format: "file"; file: string };

/**
 * What adoption needs from a specimen's storage (`SpecimenStorage`
 * implements it; this module never imports storage).
 */
export interface AdoptTarget {
  /** Absolute path of the specimen folder. */
  readonly dir: string;
  /** The specimen id. */
  readonly id: string;
  /** The artifacts recorded so far, by name. */
  readonly artifacts: Record<string, ArtifactRecord>;
  /**
   * Claims artifact `name` (valid, free, specimen writable), lets `write`
   * create it at the absolute path `placement` gives, and records it with
   * the fields `write` returns.
   */
  placeArtifact(
    name: string,
    placement: ArtifactPlacement,
    write: (path: string) => Promise<Partial<ArtifactRecord>>,
  ): Promise<ArtifactRecord>;
}

/** What {@linkcode adoptOutputs} did. */
export interface AdoptReport {
  /** Artifact names created, in order. */
  artifacts: string[];
  /**
   * Output files whose artifact name is not their natural name (an invalid
   * or taken name): file → artifact name; a tensor of a `.safetensors` as
   * `file#tensor`.
   */
  renamed: Record<string, string>;
  /** Files refused (a symlink, a FIFO, a bad header …) and why. */
  refused: { file: string; reason: string }[];
  /** Every artifact created: the file (`file#tensor` for a tensor of a `.safetensors`), its name and format. */
  adopted: { file: string; artifact: string; format: string }[];
}

/** Options of {@linkcode adoptOutputs}. */
export interface AdoptOutputsOptions {
  /**
   * Throw {@linkcode AdoptOutputsError} (after adopting every other file)
   * when a file was refused.
   * @default true
   */
  failOnRefused?: boolean;
  /**
   * Adopted tensors: the compressor (`"zstd"` or `"none"`, default zstd),
   * the zstd level (default 1) and the bytes read at a time (default 16 MiB).
   */
  tensors?: {
    compression?: "zstd" | "none";
    level?: number;
    pieceBytes?: number;
  };
}

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

type Kind = "npy" | "safetensors" | "csv" | "jsonl" | "parquet" | "file";

const KINDS: Record<string, Kind> = {
  npy: "npy",
  safetensors: "safetensors",
  csv: "csv",
  jsonl: "jsonl",
  ndjson: "jsonl",
  parquet: "parquet",
};

interface Found {
  rel: string;
  abs: string;
  kind: Kind;
  natural: string;
  ext: string;
  /** `.safetensors`: tensor names in data order. */
  tensors?: string[];
}

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

  // A .safetensors names its artifacts by its tensors: read its header now.
  const adoptable: Found[] = [];
  for (const f of found) {
    if (f.kind !== "safetensors") adoptable.push(f);
    else {
      try {
        const header = await readSafetensorsHeader(f.abs);
        f.tensors = header.tensors.map((t) => t.name);
        adoptable.push(f);
      } catch (e) {
        refuse(report, f.rel, e);
      }
    }
  }
  const names = nameAll(target, adoptable, report);

  const ctx: Ctx = { target, root, report, options };
  for (const f of adoptable) {
    try {
      await adoptOne(ctx, f, names);
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
    if (f.tensors) {
      for (const t of f.tensors) {
        requests.push({
          key: `${f.rel}#${t}`,
          natural: `${f.natural}__${t}`,
          ext: "",
        });
      }
    } else {
      requests.push({ key: f.rel, natural: f.natural, ext: f.ext });
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

interface Ctx {
  target: AdoptTarget;
  root: string;
  report: AdoptReport;
  options: AdoptOutputsOptions;
}

function refuse(report: AdoptReport, file: string, e: unknown): void {
  report.refused.push({ file, reason: errorMessage(e) });
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
      found.push({ rel: path, abs, kind: KINDS[ext] ?? "file", natural, ext });
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
}

async function adoptOne(
  ctx: Ctx,
  f: Found,
  names: Map<string, string>,
): Promise<void> {
  const name = names.get(f.rel)!;
  // Still a regular file inside the folder (not swapped for a link or a
  // FIFO since the walk): the readers below open it by path.
  (await openVaultFile(f.abs, { root: ctx.root })).close();
  switch (f.kind) {
    case "npy":
      return await place(ctx, f.rel, name, { format: "zarr" }, async (path) => {
        const a = await adoptNpy(f.abs, path, ctx.options.tensors);
        return tensorFields(a, f.rel);
      });
    case "safetensors":
      return await adoptTensors(ctx, f, names);
    case "parquet":
      return await place(
        ctx,
        f.rel,
        name,
        { format: "parquet" },
        async (path) => ({
          ...await copyParquet(f.abs, ctx.root, f.rel, path),
          source: f.rel,
        }),
      );
    case "csv":
    case "jsonl":
      return await adoptTable(ctx, f, name);
    case "file":
      return await keepFile(ctx, f, name);
  }
}

async function place(
  ctx: Ctx,
  file: string,
  name: string,
  placement: ArtifactPlacement,
  write: (path: string) => Promise<Partial<ArtifactRecord>>,
): Promise<void> {
  const record = await ctx.target.placeArtifact(name, placement, write);
  ctx.report.artifacts.push(name);
  ctx.report.adopted.push({ file, artifact: name, format: record.format });
}

function tensorFields(a: AdoptedTensor, source: string) {
  const { shape, dtype, chunks, codecs, bytes } = a.info;
  return {
    shape,
    dtype,
    chunks,
    codecs,
    bytes,
    source_dtype: a.source_dtype,
    source_order: a.source_order,
    source,
  };
}

/** Every tensor of a `.safetensors` into a temp folder, then placed one by one. */
async function adoptTensors(
  ctx: Ctx,
  f: Found,
  names: Map<string, string>,
): Promise<void> {
  const strata = join(ctx.target.dir, STRATA_DIR);
  await Deno.mkdir(strata, { recursive: true });
  const tmp = tempPathFor(join(strata, "adopt"));
  await Deno.mkdir(tmp);
  try {
    const index = new Map(f.tensors!.map((t, i) => [t, i]));
    const { tensors } = await adoptSafetensors(
      f.abs,
      (t) => join(tmp, `t${index.get(t)}.zarr`),
      ctx.options.tensors,
    );
    for (const t of tensors) {
      const key = `${f.rel}#${t.name}`;
      const from = join(tmp, `t${index.get(t.name)}.zarr`);
      await place(
        ctx,
        key,
        names.get(key)!,
        { format: "zarr" },
        async (path) => {
          await placeDir(from, path);
          return { ...tensorFields(t, f.rel), source_tensor: t.name };
        },
      );
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** A `.csv`/`.jsonl` logged as a table; one with no rows is kept as a file. */
async function adoptTable(ctx: Ctx, f: Found, name: string): Promise<void> {
  const plan: TablePlan = f.kind === "csv"
    ? await planCsv(f.abs, ctx.root, f.rel)
    : await planJsonl(f.abs, f.rel);
  if (plan.rows === 0) return await keepFile(ctx, f, name, "no rows");
  await place(ctx, f.rel, name, { format: "parquet" }, async (path) => {
    let captured: ArtifactRecord | undefined;
    const log = await MetricsLogger.open({
      dir: ctx.target.dir,
      name,
      record: (r) => Promise.resolve(captured = r),
    });
    try {
      if (f.kind === "csv") await logCsv(f.abs, ctx.root, f.rel, plan, log);
      else await logJsonl(f.abs, f.rel, plan, log);
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
    return { ...fields, source: f.rel };
  });
}

/** Copies a file as it is to `strata/files/`, hashing it on the way. */
async function keepFile(
  ctx: Ctx,
  f: Found,
  name: string,
  note?: string,
): Promise<void> {
  const ext = cleanExt(f.ext);
  const file = ext ? `${name}.${ext}` : name;
  await place(ctx, f.rel, name, { format: "file", file }, async (path) => {
    const hash = createHash("sha256");
    const bytes = await copyFile(f.abs, ctx.root, path, (c) => hash.update(c));
    return {
      bytes,
      sha256: hash.digest("hex"),
      media_type: mediaType(f.rel),
      source: f.rel,
      ...(note ? { note } : {}),
    };
  });
}

/**
 * The media type of a file name, from its extension (the `mime` package's
 * table); `application/octet-stream` when unknown.
 *
 * @example
 * ```ts
 * import { mediaType } from "./adopt_outputs.ts";
 * console.assert(mediaType("plots/loss.PNG") === "image/png");
 * console.assert(mediaType("model.ckpt") === "application/octet-stream");
 * ```
 */
export function mediaType(name: string): string {
  return mime.getType(name.toLowerCase()) ?? "application/octet-stream";
}

/**
 * `SpecimenStorage`: what a protocol uses to write its results into
 * `strata/` — metrics as Parquet, tensors as Zarr v3 — and to read them back.
 * Every artifact is written once, under a temp name first, and recorded in
 * the manifest. A sealed specimen (or one whose run failed) refuses writes.
 *
 * @module
 */
import { join, resolve } from "../_deps.ts";
import { STRATA_DIR } from "../vault.ts";
import { removeStaleTemps } from "../_fs.ts";
import { ImmutableArtifactError } from "../errors.ts";
import { type Params, validateParams } from "../specimen/params.ts";
import {
  type ArtifactRecord,
  type Manifest,
  readManifest,
} from "../specimen/manifest.ts";
import { execChild, type ExecOptions, type ExecResult } from "./exec.ts";
import { type ArtifactPlacement, FILES_DIR } from "./adopt_outputs.ts";
import {
  MetricsLogger,
  type MetricsLoggerOptions,
} from "../metrics_log/logger.ts";
import type { MetricColumns, ReadColumn } from "../formats/parquet/parquet.ts";
import {
  createZarrWriter,
  type DType,
  readZarr,
  type Selection,
  type TensorData,
  type TensorInfo,
  type TensorOptions,
  type TensorSlice,
  writeZarr,
  zarrInfo,
  type ZarrWriter,
} from "../formats/zarr/zarr.ts";
import {
  type ArtifactSite,
  claimPath,
  existingPath,
  immutableError,
  placeArtifactAt,
  writeError,
} from "./_storage_place.ts";
import {
  tensorRecord,
  type TensorWriter,
  tensorWriter,
} from "./_storage_tensors.ts";
import {
  readMetricsTable,
  type WriteMetricsOptions,
  writeMetricsTable,
} from "./_storage_metrics.ts";
import { recordArtifactIn, recordParamsIn } from "./_storage_record.ts";

export { STRATA_DIR };
export type { TensorWriter } from "./_storage_tensors.ts";
export type { WriteMetricsOptions } from "./_storage_metrics.ts";

export {
  ARTIFACT_NAME_PATTERN,
  READABLE_ARTIFACT_NAME_PATTERN,
  validateArtifactName,
} from "../specimen/artifact_name.ts";

/**
 * Reads and writes one specimen's results.
 *
 * Needs `--allow-read` and `--allow-write` on the specimen folder.
 *
 * @example
 * ```ts
 * import { createSpecimen, SpecimenStorage } from "../../mod.ts";
 * const vault = await Deno.makeTempDir();
 * const { dir } = await createSpecimen({
 *   vault, id: "doc_storage", domain: "training", method: "fine_tuning",
 * });
 * const storage = await SpecimenStorage.open(dir);
 * await storage.writeMetrics({ step: [0, 1, 2], loss: [1, 0.5, 0.25] });
 * const { loss } = await storage.readMetrics();
 * console.assert(loss[2] === 0.25);
 * await Deno.remove(vault, { recursive: true });
 * ```
 */
export class SpecimenStorage {
  /** The specimen id. */
  readonly id: string;
  /** Absolute path of the specimen folder. */
  readonly dir: string;
  /** Absolute path of its `strata/` folder. */
  readonly strata: string;
  #manifest: Manifest;
  #pending: Promise<unknown> = Promise.resolve();
  #loggers: MetricsLogger[] = [];
  /** This specimen, for claiming and finding artifacts (_storage_place.ts). */
  readonly #site: ArtifactSite;

  private constructor(dir: string, manifest: Manifest) {
    this.dir = dir;
    this.id = manifest.specimen_id;
    this.strata = join(dir, STRATA_DIR);
    this.#manifest = manifest;
    this.#site = {
      id: this.id,
      dir,
      strata: this.strata,
      artifacts: () => this.#manifest.artifacts,
    };
  }

  /**
   * Opens the specimen at `dir` (a path or a `file:` URL, e.g.
   * `import.meta.dirname` inside a protocol). Throws
   * {@linkcode NotFoundError} or {@linkcode CorruptFileError} when `dir`
   * holds no valid manifest.
   *
   * @example
   * ```ts ignore
   * const storage = await SpecimenStorage.open(import.meta.dirname!);
   * console.log(storage.id, Object.keys(storage.artifacts));
   * ```
   */
  static async open(dir: string | URL): Promise<SpecimenStorage> {
    const path = resolve(
      dir instanceof URL ? decodeURIComponent(dir.pathname) : dir,
    );
    const manifest = await readManifest(path);
    await Deno.mkdir(join(path, STRATA_DIR), { recursive: true });
    // What writes killed midway left (hidden, never read): reclaim the space.
    await removeStaleTemps(path);
    await removeStaleTemps(join(path, STRATA_DIR));
    await removeStaleTemps(join(path, STRATA_DIR, FILES_DIR));
    return new SpecimenStorage(path, manifest);
  }

  /** A copy of the manifest as last read or written. */
  get manifest(): Manifest {
    return structuredClone(this.#manifest);
  }

  /**
   * The specimen's configuration: a copy of the manifest's `params` (`{}`
   * when it has none). For a typed view use {@linkcode paramsAs}.
   *
   * @example
   * ```ts ignore
   * const lr = storage.params.lr as number;
   * ```
   */
  get params(): Params {
    return structuredClone(this.#manifest.params ?? {});
  }

  /**
   * {@linkcode params} typed as `T` (not checked against `T`: declare the
   * defaults with `runProtocol(..., { params })` so every key is there).
   *
   * @example
   * ```ts ignore
   * const { lr, seed } = storage.paramsAs<{ lr: number; seed: number }>();
   * ```
   */
  paramsAs<T extends Params = Params>(): T {
    return this.params as T;
  }

  /**
   * Fills in `defaults` for the keys the manifest's `params` lacks (records
   * merge key by key; the manifest's values win) and records the result as
   * the manifest's `params`. Returns the final params.
   *
   * Params belong with the results they produced: once any artifact is
   * recorded, or the specimen is sealed or failed, a change is refused with
   * {@linkcode InvalidInputError} (recording the same values again is fine).
   *
   * @example
   * ```ts
   * import { createSpecimen, SpecimenStorage } from "../../mod.ts";
   * const vault = await Deno.makeTempDir();
   * const { dir } = await createSpecimen({
   *   vault, id: "doc_params", domain: "training", method: "fine_tuning",
   *   params: { lr: 1e-4 },
   * });
   * const storage = await SpecimenStorage.open(dir);
   * const p = await storage.recordParams({ lr: 1e-3, seed: 0 });
   * console.assert(p.lr === 1e-4 && p.seed === 0);
   * await Deno.remove(vault, { recursive: true });
   * ```
   */
  async recordParams(defaults: Params = {}): Promise<Params> {
    const checked = validateParams(defaults, { label: "params defaults" });
    const run = async () => {
      const { result, manifest } = await recordParamsIn(
        this.dir,
        this.id,
        checked,
      );
      this.#manifest = manifest;
      return result;
    };
    const next = this.#pending.then(run, run);
    this.#pending = next.catch(() => {});
    return structuredClone(await next);
  }

  /** The artifacts recorded so far, by name. */
  get artifacts(): Record<string, ArtifactRecord> {
    return structuredClone(this.#manifest.artifacts);
  }

  /**
   * Writes `columns` (equal-length arrays) to `strata/<name>.parquet`:
   * integer columns as INT64, other numbers as DOUBLE, strings, booleans;
   * null allowed. Refuses to replace an existing table.
   *
   * @example
   * ```ts ignore
   * const step = Int32Array.from({ length: 100 }, (_, i) => i);
   * const loss = Float64Array.from(step, (s) => Math.exp(-s / 30));
   * await storage.writeMetrics({ step, loss }); // strata/metrics.parquet
   * await storage.writeMetrics({ step: [0, 50], acc: [0.1, 0.8] }, { name: "eval" });
   * ```
   */
  async writeMetrics(
    columns: MetricColumns,
    options: WriteMetricsOptions = {},
  ): Promise<ArtifactRecord> {
    return await writeMetricsTable(
      this.#site,
      columns,
      options,
      (name, record) => this.#record(name, record),
    );
  }

  /**
   * Runs `command` (e.g. `["python3", "train.py"]`) as a child process for
   * this specimen: its environment holds `SPECIMEN_DIR`, `SPECIMEN_ID`,
   * `SPECIMEN_PARAMS`, `SPECIMEN_METRICS` and `SPECIMEN_OUTPUTS`; the JSON
   * lines it appends are logged crash-safe and its output files adopted
   * into `strata/`. Its output is teed to `runs/<run>/exec-<n>.*.log`, and
   * it is recorded in the run's `execs` and `provenance.children`. A
   * failing child throws `ChildProcessError` (the run is not
   * sealed); see `execChild` for every rule.
   *
   * Needs `--allow-run`, `--allow-read`, `--allow-write` and `--allow-env`.
   *
   * @example
   * ```ts ignore
   * const result = await storage.exec(["python3", "train.py", "--epochs", "5"]);
   * console.log(result.durationMs, result.rows);
   * ```
   */
  async exec(
    command: string[],
    options: ExecOptions = {},
  ): Promise<ExecResult> {
    try {
      return await execChild(this, command, options);
    } finally {
      // The exec and its environment were recorded from outside this object.
      this.#manifest = await readManifest(this.dir).catch(() => this.#manifest);
    }
  }

  /**
   * Reads `strata/<name>.parquet` back, column types preserved; for a
   * metrics log not compacted yet (being logged, or left by a process that
   * died), its part files, unioned as if compacted.
   *
   * @example
   * ```ts ignore
   * const { step, loss } = await storage.readMetrics();
   * console.log(step.length, loss[loss.length - 1]);
   * ```
   */
  async readMetrics(name = "metrics"): Promise<Record<string, ReadColumn>> {
    return await readMetricsTable(this.#site, name);
  }

  /**
   * Opens a logger that writes `strata/<name>.parquet` one row per step,
   * crash-safe: rows are flushed as part files every `flushRows` rows or
   * `flushSeconds` seconds, and `close()` (or `await using`) compacts them
   * into the table and records it. Refuses a table that exists
   * ({@linkcode ImmutableArtifactError}) or that another logger writes.
   *
   * @example
   * ```ts ignore
   * await using log = await storage.logger("train", { flushSeconds: 30 });
   * for (let step = 0; step < 1000; step++) log.log({ step, loss: 1 / (step + 1) });
   * ```
   */
  async logger(
    name = "metrics",
    options: MetricsLoggerOptions = {},
  ): Promise<MetricsLogger> {
    const logger = await MetricsLogger.open({
      dir: this.dir,
      name,
      options,
      record: (record) => this.#record(name, record),
    });
    this.#loggers.push(logger);
    return logger;
  }

  /**
   * Closes (and so compacts and records) every logger opened through this
   * storage that is still open; returns their names. {@linkcode runProtocol}
   * calls it when the protocol's body returns, so a run is never sealed with
   * a log still in parts.
   *
   * @example
   * ```ts ignore
   * const log = await storage.logger("train");
   * log.log({ step: 0, loss: 1 });
   * console.log(await storage.closeLoggers()); // ["train"]
   * ```
   */
  async closeLoggers(): Promise<string[]> {
    const open = this.#loggers.filter((l) => !l.closed);
    this.#loggers = [];
    for (const l of open) await l.close();
    return open.map((l) => l.name);
  }

  /**
   * Writes a whole tensor to `strata/<name>.zarr` (Zarr v3, zstd by default,
   * chunks of a few MB unless given). Refuses to replace an existing array.
   *
   * @example
   * ```ts ignore
   * const acts = new Float32Array(1000 * 768);
   * await storage.writeTensor("activations", acts, { shape: [1000, 768] });
   * ```
   */
  async writeTensor(
    name: string,
    data: TensorData,
    options: TensorOptions,
  ): Promise<ArtifactRecord> {
    const path = await claimPath(this.#site, name, "zarr");
    let info: TensorInfo;
    try {
      info = await writeZarr(path, data, options);
    } catch (e) {
      if (e instanceof ImmutableArtifactError) {
        throw immutableError(this.id, name);
      }
      throw writeError(this.id, e, `tensor "${name}"`);
    }
    return await this.#record(name, tensorRecord(name, info)).catch((e) => {
      throw writeError(this.id, e, `tensor "${name}"`);
    });
  }

  /**
   * Starts a tensor written block by block (whole rows, in order), for arrays
   * larger than memory. Memory stays bounded by about one band of chunks.
   *
   * @example
   * ```ts ignore
   * await using w = await storage.createTensor("acts", { shape: [1000, 768], dtype: "float32" });
   * for (let i = 0; i < 10; i++) await w.write(new Float32Array(100 * 768));
   * await w.close();
   * ```
   */
  async createTensor(
    name: string,
    options: TensorOptions & { dtype: DType },
  ): Promise<TensorWriter> {
    const path = await claimPath(this.#site, name, "zarr");
    const failed = (e: unknown): never => {
      throw writeError(this.id, e, `tensor "${name}"`);
    };
    const writer: ZarrWriter = await createZarrWriter(path, options)
      .catch(failed);
    return tensorWriter(
      writer,
      failed,
      (info) => this.#record(name, tensorRecord(name, info)),
    );
  }

  /**
   * Reads a tensor, or a slice of it: only the chunks the selection touches
   * are read. `selection` has one entry per axis: an index, `[start, stop]`,
   * or `null` for the whole axis.
   *
   * @example
   * ```ts ignore
   * const row = await storage.readTensor("activations", [42]); // shape [768]
   * const block = await storage.readTensor("activations", [[0, 10], [0, 8]]);
   * console.log(row.shape, block.shape); // [768] [10, 8]
   * ```
   */
  async readTensor(name: string, selection?: Selection): Promise<TensorSlice> {
    return await readZarr(
      await existingPath(this.#site, name, "zarr"),
      selection,
      {
        root: this.dir,
      },
    );
  }

  /**
   * Shape, dtype, chunks, codecs and bytes on disk of a tensor.
   *
   * @example
   * ```ts ignore
   * const { shape, dtype, bytes } = await storage.tensorInfo("activations");
   * ```
   */
  async tensorInfo(name: string): Promise<TensorInfo> {
    return await zarrInfo(await existingPath(this.#site, name, "zarr"), {
      root: this.dir,
    });
  }

  /**
   * Claims artifact `name` (a valid name, free, the specimen writable), lets
   * `write` create it at the absolute path `placement` gives —
   * `strata/<name>.zarr`, `strata/<name>.parquet`, or for format `"file"`
   * `strata/files/<file>` — and records it with the fields `write` returns.
   * `adoptOutputs` places what a child leaves in `SPECIMEN_OUTPUTS` this way.
   *
   * @example
   * ```ts ignore
   * await storage.placeArtifact("notes", { format: "file", file: "notes.txt" },
   *   async (path) => {
   *     await Deno.writeTextFile(path, "hello", { createNew: true });
   *     return { bytes: 5, media_type: "text/plain" };
   *   });
   * ```
   */
  async placeArtifact(
    name: string,
    placement: ArtifactPlacement,
    write: (path: string) => Promise<Partial<ArtifactRecord>>,
  ): Promise<ArtifactRecord> {
    return await placeArtifactAt(
      this.#site,
      name,
      placement,
      write,
      (record) => this.#record(name, record),
    );
  }

  /**
   * Records an artifact in the manifest. Updates are serialized in this
   * process and locked across processes, and re-read the manifest first so
   * concurrent writers to one specimen do not drop each other's records.
   */
  #record(name: string, record: ArtifactRecord): Promise<ArtifactRecord> {
    const run = async () => {
      const { result, manifest } = await recordArtifactIn(
        this.dir,
        name,
        record,
      );
      this.#manifest = manifest;
      return result;
    };
    const next = this.#pending.then(run, run);
    this.#pending = next.catch(() => {});
    return next;
  }
}

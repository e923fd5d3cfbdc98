/**
 * `SpecimenStorage`: what a protocol uses to write its results into
 * `strata/` — metrics as Parquet, tensors as Zarr v3 — and to read them back.
 * Every artifact is written once, under a temp name first, and recorded in
 * the manifest. A sealed specimen (or one whose run failed) refuses writes.
 *
 * @module
 */
import { recordChange } from "../vault_changes.ts";
import { join, resolve } from "../_deps.ts";
import { STRATA_DIR } from "../vault.ts";
import { updateManifest } from "../specimen/_lock.ts";
import {
  atomicWriteFile,
  exists,
  removeStaleTemps,
  withWriteContext,
} from "../_fs.ts";
import {
  ImmutableArtifactError,
  InvalidInputError,
  NotFoundError,
} from "../errors.ts";
import {
  canonicalJson,
  mergeParams,
  type Params,
  validateParams,
} from "../specimen/params.ts";
import {
  type ArtifactRecord,
  type Manifest,
  readManifest,
} from "../specimen/manifest.ts";
import { captureProvenance } from "./provenance.ts";
import { execChild, type ExecOptions, type ExecResult } from "./exec.ts";
import { type ArtifactPlacement, FILES_DIR } from "./adopt_outputs.ts";
import {
  MetricsLogger,
  type MetricsLoggerOptions,
} from "../metrics_log/logger.ts";
import { PARTS_SUFFIX, readMetricTable } from "../metrics_log/table.ts";
import { MAX_COLUMNS } from "../metrics_log/options.ts";
import { assertWritable } from "../specimen/seal.ts";
import { validateArtifactName } from "../specimen/artifact_name.ts";
import {
  encodeMetrics,
  type EncodeMetricsOptions,
  type MetricColumns,
  type ReadColumn,
} from "../formats/parquet/parquet.ts";
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

export { STRATA_DIR };

export {
  ARTIFACT_NAME_PATTERN,
  READABLE_ARTIFACT_NAME_PATTERN,
  validateArtifactName,
} from "../specimen/artifact_name.ts";

/** Options for {@linkcode SpecimenStorage.writeMetrics}. */
export interface WriteMetricsOptions extends EncodeMetricsOptions {
  /** The table name: the file is `strata/<name>.parquet`. @default "metrics" */
  name?: string;
}

/** A streaming tensor writer that records its artifact on close. */
export interface TensorWriter extends AsyncDisposable {
  /** Rows (leading-axis entries) written so far. */
  readonly rowsWritten: number;
  /** Appends whole rows, in order. */
  write(block: TensorData): Promise<void>;
  /** Checks every row arrived, places the array and records it. */
  close(): Promise<ArtifactRecord>;
  /** Drops everything written; nothing is left behind. */
  abort(): Promise<void>;
}

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

  private constructor(dir: string, manifest: Manifest) {
    this.dir = dir;
    this.id = manifest.specimen_id;
    this.strata = join(dir, STRATA_DIR);
    this.#manifest = manifest;
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
      const { result, manifest } = await updateManifest(this.dir, (m) => {
        const { params } = mergeParams(checked, m.params ?? {});
        if (canonicalJson(params) === canonicalJson(m.params ?? {})) {
          return params;
        }
        const results = Object.keys(m.artifacts);
        if (
          results.length > 0 || m.seal !== undefined ||
          m.status === "sealed" || m.status === "failed"
        ) {
          throw new InvalidInputError(
            `Cannot change the params of specimen "${this.id}": it already holds results (${
              results.slice(0, 3).join(", ") || m.status
            }), and params are recorded with the results they produced. Derive a variation instead: deno task create --id ${this.id}_v2 --from ${this.id} --param KEY=VALUE`,
          );
        }
        m.params = params;
        return params;
      });
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
    const name = options.name ?? "metrics";
    const count = columns && typeof columns === "object"
      ? Object.keys(columns).length
      : 0;
    if (count > MAX_COLUMNS) {
      throw new InvalidInputError(
        `Cannot write metrics table "${name}": it has ${count} columns, over the limit of ${MAX_COLUMNS} per table; write per-item values as a tensor (writeTensor) or spread them over tables`,
      );
    }
    const path = await this.#claim(name, "parquet");
    const encoded = await encodeMetrics(columns, options);
    const what = `metrics table "${name}"`;
    try {
      await atomicWriteFile(path, encoded.bytes, { createNew: true });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) throw this.#immutable(name);
      throw this.#writeError(e, what);
    }
    return await this.#record(name, {
      path: `${STRATA_DIR}/${name}.parquet`,
      format: "parquet",
      columns: encoded.columns,
      rows: encoded.rows,
      bytes: encoded.bytes.length,
    }).catch((e) => {
      throw this.#writeError(e, what);
    });
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
    validateArtifactName(name, { reading: true });
    try {
      // The file, or the parts of a log not compacted yet (one being
      // written, or left by a process that died).
      return (await readMetricTable(this.dir, name)).columns;
    } catch (e) {
      if (e instanceof NotFoundError) {
        const path = join(this.strata, `${name}.parquet`);
        throw new NotFoundError(
          `Specimen "${this.id}" has no metrics table "${name}" (${path})${
            this.#listing("parquet")
          }`,
          { cause: e },
        );
      }
      throw e;
    }
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
    const path = await this.#claim(name, "zarr");
    let info: TensorInfo;
    try {
      info = await writeZarr(path, data, options);
    } catch (e) {
      if (e instanceof ImmutableArtifactError) throw this.#immutable(name);
      throw this.#writeError(e, `tensor "${name}"`);
    }
    return await this.#record(name, tensorRecord(name, info)).catch((e) => {
      throw this.#writeError(e, `tensor "${name}"`);
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
    const path = await this.#claim(name, "zarr");
    const failed = (e: unknown) => {
      throw this.#writeError(e, `tensor "${name}"`);
    };
    const writer: ZarrWriter = await createZarrWriter(path, options)
      .catch(failed);
    let closed = false;
    const close = async (): Promise<ArtifactRecord> => {
      closed = true;
      const info = await writer.close().catch(failed);
      return await this.#record(name, tensorRecord(name, info)).catch(failed);
    };
    return {
      get rowsWritten() {
        return writer.rowsWritten;
      },
      write: (block) => writer.write(block).catch(failed),
      close,
      abort: async () => {
        closed = true;
        await writer.abort();
      },
      [Symbol.asyncDispose]: async () => {
        if (!closed) await writer.abort();
      },
    };
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
    return await readZarr(await this.#existing(name, "zarr"), selection, {
      root: this.dir,
    });
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
    return await zarrInfo(await this.#existing(name, "zarr"), {
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
    let path: string, rel: string;
    if (placement.format === "file") {
      path = await this.#claimFile(name, placement.file);
      rel = `${STRATA_DIR}/${FILES_DIR}/${placement.file}`;
    } else {
      path = await this.#claim(name, placement.format);
      rel = `${STRATA_DIR}/${name}.${placement.format}`;
    }
    const what = `artifact "${name}"`;
    let fields: Partial<ArtifactRecord>;
    try {
      fields = await write(path);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) throw this.#immutable(name);
      throw this.#writeError(e, what);
    }
    return await this.#record(name, {
      ...fields,
      path: rel,
      format: placement.format,
    }).catch((e) => {
      throw this.#writeError(e, what);
    });
  }

  /** As `#claim`, for a kept file `strata/files/<file>`. */
  async #claimFile(name: string, file: string): Promise<string> {
    if (!/^[a-z0-9_]{1,64}(\.[a-z0-9]{1,16})?$/.test(file)) {
      throw new InvalidInputError(
        `Invalid file name ${
          JSON.stringify(file)
        } for artifact "${name}": kept files are named <artifact name>[.<ext>], e.g. "plot.png"`,
      );
    }
    // The name must be free of tables and arrays too.
    await this.#claim(name, "zarr");
    const dir = join(this.strata, FILES_DIR);
    await Deno.mkdir(dir, { recursive: true });
    if (await exists(join(dir, file))) throw this.#immutable(name);
    return join(dir, file);
  }

  /** Checks the name and that nothing is there yet; returns the target path. */
  async #claim(name: string, ext: string): Promise<string> {
    validateArtifactName(name);
    // From disk, not the cached copy: another process may have sealed it.
    assertWritable(await readManifest(this.dir));
    const path = join(this.strata, `${name}.${ext}`);
    const other = ext === "zarr" ? "parquet" : "zarr";
    if (
      Object.hasOwn(this.#manifest.artifacts, name) || await exists(path) ||
      await exists(join(this.strata, `${name}.${other}`)) ||
      // A metrics log of that name (open, or interrupted) is its table.
      await exists(join(this.strata, `${name}${PARTS_SUFFIX}`))
    ) {
      throw this.#immutable(name);
    }
    return path;
  }

  async #existing(name: string, ext: string): Promise<string> {
    validateArtifactName(name, { reading: true });
    const path = join(this.strata, `${name}.${ext}`);
    if (!(await exists(path))) {
      throw new NotFoundError(
        `Specimen "${this.id}" has no tensor "${name}" (${path})${
          this.#listing("zarr")
        }`,
      );
    }
    return path;
  }

  #listing(format: string): string {
    const names = Object.entries(this.#manifest.artifacts)
      .filter(([, a]) => a.format === format).map(([n]) => n);
    return names.length ? `; it has: ${names.join(", ")}` : "";
  }

  /** A full disk or a read-only vault, said with the artifact's name. */
  #writeError(e: unknown, what: string): unknown {
    return withWriteContext(
      e,
      `Cannot write ${what} of specimen "${this.id}"`,
    );
  }

  #immutable(name: string): ImmutableArtifactError {
    return new ImmutableArtifactError(
      `Artifact "${name}" of specimen "${this.id}" already exists: specimens are immutable: create a new specimen for a variation (deno task create --id ${this.id}_v2 ...)`,
    );
  }

  /**
   * Records an artifact in the manifest. Updates are serialized in this
   * process and locked across processes, and re-read the manifest first so
   * concurrent writers to one specimen do not drop each other's records.
   */
  #record(name: string, record: ArtifactRecord): Promise<ArtifactRecord> {
    const run = async () => {
      const { result, manifest } = await updateManifest(this.dir, async (m) => {
        try {
          assertWritable(m);
        } catch (e) {
          // Sealed while this artifact was being written: take it back out.
          await Deno.remove(join(this.dir, record.path), { recursive: true })
            .catch(() => {});
          recordChange(this.dir);
          throw e;
        }
        // A script using storage without runProtocol still says where its
        // results came from: provenance is captured with the first artifact.
        m.provenance ??= await captureProvenance({
          specimenDir: this.dir,
          capturedBy: "SpecimenStorage",
        });
        m.artifacts[name] = { ...record, created: new Date().toISOString() };
        return m.artifacts[name];
      });
      this.#manifest = manifest;
      return result;
    };
    const next = this.#pending.then(run, run);
    this.#pending = next.catch(() => {});
    return next;
  }
}

function tensorRecord(name: string, info: TensorInfo): ArtifactRecord {
  return {
    path: `${STRATA_DIR}/${name}.zarr`,
    format: "zarr",
    shape: info.shape,
    dtype: info.dtype,
    chunks: info.chunks,
    codecs: info.codecs,
    bytes: info.bytes,
  };
}

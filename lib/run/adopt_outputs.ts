/**
 * Adopting the files a child process left in `SPECIMEN_OUTPUTS` into
 * `strata/`: `.npy`/`.safetensors` become Zarr arrays, `.parquet`/`.csv`/
 * `.jsonl` metric tables, anything else is kept under `strata/files/`.
 *
 * STUB: the interface is fixed; the implementation lands with issue 14.
 *
 * @module
 */

/**
 * What adoption needs from a specimen's storage (`SpecimenStorage`
 * implements it; this module never imports storage).
 */
export interface AdoptTarget {
  /** Absolute path of the specimen folder. */
  readonly dir: string;
}

/** What {@linkcode adoptOutputs} did. */
export interface AdoptReport {
  /** Artifact names created, in order. */
  artifacts: string[];
  /** Output files whose names were not valid artifact names: file → artifact name. */
  renamed: Record<string, string>;
  /** Files refused (a symlink, a FIFO, a bad header …) and why. */
  refused: { file: string; reason: string }[];
}

/**
 * Adopts every file under `outputsDir` into the specimen `target`.
 *
 * @example
 * ```ts ignore
 * const report = await adoptOutputs(storage, outputsDir);
 * console.log(report.artifacts);
 * ```
 */
export function adoptOutputs(
  _target: AdoptTarget,
  _outputsDir: string,
): Promise<AdoptReport> {
  return Promise.resolve({ artifacts: [], renamed: {}, refused: [] });
}

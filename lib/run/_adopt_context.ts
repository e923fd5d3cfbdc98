/**
 * Private: the types adoption's parts share (the public ones re-exported by
 * `adopt_outputs.ts`), and `place`, the one way an artifact is recorded.
 *
 * @module
 */
import { errorMessage } from "../errors.ts";
import type { ArtifactRecord } from "../specimen/manifest_types.ts";

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
 * implements it; adoption never imports storage).
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

/** What `adoptOutputs` did. */
export interface AdoptReport {
  /** Artifact names created, in order. */
  artifacts: string[];
  /**
   * Output files whose artifact name is not their natural name (an invalid
   * or taken name): file → artifact name; a tensor of a `.safetensors` (a
   * member of a `.npz`) as `file#tensor`.
   */
  renamed: Record<string, string>;
  /** Files refused (a symlink, a FIFO, a bad header …) and why. */
  refused: { file: string; reason: string }[];
  /**
   * Every artifact created: the file (`file#tensor` for a tensor of a
   * `.safetensors` or a member of a `.npz`), its name and format.
   */
  adopted: { file: string; artifact: string; format: string }[];
}

/** Progress of a long adoption step (a large file copied and hashed). */
export interface AdoptProgress {
  /** The output file, relative to the outputs folder. */
  file: string;
  /** Bytes done. */
  done: number;
  /** Bytes in all. */
  total: number;
}

/** Options of `adoptOutputs`. */
export interface AdoptOutputsOptions {
  /**
   * Throw `AdoptOutputsError` (after adopting every other file) when a file
   * was refused.
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
  /**
   * An output file larger than this is refused unread (its size named).
   * @default 256 GiB (`DEFAULT_MAX_FILE_BYTES`)
   */
  maxFileBytes?: number;
  /**
   * A `.safetensors` or `.npz` is always kept as the file that was saved;
   * it is also split into one Zarr array per tensor when it is at most
   * this large (a larger one is kept as the file alone: its record says
   * so). `0` never splits.
   * @default 4 GiB (`DEFAULT_SPLIT_MAX_BYTES`)
   */
  splitMaxBytes?: number;
  /**
   * Called while a large file is copied and hashed (at most about ten
   * times a second). Without it, a progress line is drawn on stderr when
   * it is a terminal.
   */
  onProgress?: (p: AdoptProgress) => void;
}

/** What a file becomes: by its extension. */
export type Kind =
  | "npy"
  | "npz"
  | "safetensors"
  | "csv"
  | "jsonl"
  | "parquet"
  | "file";

/** An output file found by the walk. */
export interface Found {
  rel: string;
  abs: string;
  kind: Kind;
  natural: string;
  ext: string;
  /** `.safetensors` / `.npz` split into arrays: their names in the file. */
  tensors?: string[];
  /** `.safetensors` / `.npz` kept as a file only: why it is not split. */
  unsplit?: string;
  /** The file's identity when first opened: later opens must match it. */
  id?: { dev: number; ino: number };
}

/** One adoption's state. */
export interface Ctx {
  target: AdoptTarget;
  root: string;
  report: AdoptReport;
  options: AdoptOutputsOptions;
  names: Map<string, string>;
}

/** Records a refused file. */
export function refuse(report: AdoptReport, file: string, e: unknown): void {
  report.refused.push({ file, reason: errorMessage(e) });
}

/** Places and records one artifact, and reports it. */
export async function place(
  ctx: Ctx,
  file: string,
  name: string,
  placement: ArtifactPlacement,
  write: (path: string) => Promise<Partial<ArtifactRecord>>,
): Promise<ArtifactRecord> {
  const record = await ctx.target.placeArtifact(name, placement, write);
  ctx.report.artifacts.push(name);
  ctx.report.adopted.push({ file, artifact: name, format: record.format });
  return record;
}

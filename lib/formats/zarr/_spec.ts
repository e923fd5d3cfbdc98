/**
 * Checks the layout options of a tensor write and fills in the defaults.
 *
 * @module
 */
import type { zarr } from "../../_deps/zarrita.ts";
import { basename } from "../../_deps.ts";
import { ImmutableArtifactError, InvalidInputError } from "../../errors.ts";
import { CTORS, DTYPES, isDType } from "./_dtypes.ts";
import type { DType, TensorOptions } from "./types.ts";
import { ZSTD_MAX_LEVEL, ZSTD_MIN_LEVEL } from "./zstd.ts";

const CHUNK_TARGET_BYTES = 4 * 1024 * 1024;

function isPositiveInt(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) > 0;
}

/** Chunks of about 4 MB: full trailing axes, split at the first axis that overflows. */
function defaultChunks(shape: number[], bytesPerElement: number): number[] {
  const chunks = shape.slice();
  let inner = bytesPerElement;
  for (let k = shape.length - 1; k >= 0; k--) {
    if (inner * shape[k] <= CHUNK_TARGET_BYTES) {
      inner *= shape[k];
      continue;
    }
    chunks[k] = Math.max(1, Math.floor(CHUNK_TARGET_BYTES / inner));
    for (let j = 0; j < k; j++) chunks[j] = 1;
    break;
  }
  return chunks;
}

export interface Spec {
  path: string;
  shape: number[];
  dtype: DType;
  chunks: number[];
  compression: "zstd" | "none";
  level: number;
}

export function checkSpec(
  path: string,
  options: TensorOptions & { dtype: DType },
): Spec {
  const fail = (why: string) =>
    new InvalidInputError(`Cannot write tensor "${path}": ${why}`);
  const name = typeof path === "string" ? basename(path) : "";
  if (!name || name === "." || name === "..") {
    throw fail(
      "the path must name the array folder, e.g. <specimen>/strata/embeddings.zarr",
    );
  }
  const { shape, dtype } = options;
  if (
    !Array.isArray(shape) || shape.length === 0 || !shape.every(isPositiveInt)
  ) {
    throw fail(
      `shape must be a non-empty list of positive integers, got ${
        JSON.stringify(shape)
      }`,
    );
  }
  if (!isDType(dtype)) {
    throw fail(
      `unknown dtype ${JSON.stringify(dtype)}: use one of ${DTYPES.join(", ")}`,
    );
  }
  const chunks = options.chunks ??
    defaultChunks(shape, CTORS[dtype].BYTES_PER_ELEMENT);
  if (!Array.isArray(chunks) || chunks.length !== shape.length) {
    throw fail(
      `chunks ${JSON.stringify(chunks)} do not match shape ${
        JSON.stringify(shape)
      }: give one chunk size per axis (${shape.length})`,
    );
  }
  if (!chunks.every(isPositiveInt)) {
    throw fail(
      `chunks must be positive integers, got ${JSON.stringify(chunks)}`,
    );
  }
  const compression = options.compression ?? "zstd";
  if (compression !== "zstd" && compression !== "none") {
    throw fail(
      `compression must be "zstd" or "none", got ${
        JSON.stringify(compression)
      }`,
    );
  }
  const level = options.level ?? 1;
  if (
    !Number.isInteger(level) || level < ZSTD_MIN_LEVEL || level > ZSTD_MAX_LEVEL
  ) {
    throw fail(
      `zstd level must be an integer from ${ZSTD_MIN_LEVEL} to ${ZSTD_MAX_LEVEL} (1 = fast), got ${
        JSON.stringify(level)
      }`,
    );
  }
  return {
    path,
    shape: shape.slice(),
    dtype,
    chunks: chunks.slice(),
    compression,
    level,
  };
}

export function codecsFor(spec: Spec): zarr.CodecMetadata[] {
  const codecs: zarr.CodecMetadata[] = [
    { name: "bytes", configuration: { endian: "little" } },
  ];
  if (spec.compression === "zstd") {
    codecs.push({
      name: "zstd",
      configuration: { level: spec.level, checksum: false },
    });
  }
  return codecs;
}

export function immutable(path: string): ImmutableArtifactError {
  return new ImmutableArtifactError(
    `Cannot write tensor "${path}": it already exists, and specimens are immutable: create a new specimen for a variation`,
  );
}

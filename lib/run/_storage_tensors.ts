/**
 * The tensors `SpecimenStorage` (storage.ts) writes: the streaming
 * `TensorWriter` it hands out, and the manifest record of a Zarr array.
 *
 * @module
 */
import { STRATA_DIR } from "../vault.ts";
import type { ArtifactRecord } from "../specimen/manifest.ts";
import type {
  TensorData,
  TensorInfo,
  ZarrWriter,
} from "../formats/zarr/zarr.ts";

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
 * Wraps `writer` as a `TensorWriter`: `failed` turns an error into the one
 * thrown, `record` records the array once closed.
 */
export function tensorWriter(
  writer: ZarrWriter,
  failed: (e: unknown) => never,
  record: (info: TensorInfo) => Promise<ArtifactRecord>,
): TensorWriter {
  let closed = false;
  const close = async (): Promise<ArtifactRecord> => {
    closed = true;
    const info = await writer.close().catch(failed);
    return await record(info).catch(failed);
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

/** The manifest record of the Zarr array `strata/<name>.zarr`. */
export function tensorRecord(name: string, info: TensorInfo): ArtifactRecord {
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

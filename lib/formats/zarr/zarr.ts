/**
 * Tensors ↔ Zarr v3 folders (`<specimen>/strata/<name>.zarr`).
 *
 * Metadata is written and every array is read through zarrita; the chunks of
 * the common layout (chunks spanning the full trailing dimensions, C order)
 * are written by a loop of our own, straight from the caller's memory, with
 * zstd from `node:zlib` running on the thread pool. Writes go to a hidden temp
 * folder beside the target that is renamed into place at the end, so a crash
 * never leaves a partial array under the real name, and an existing array is
 * never replaced.
 *
 * Permissions: `--allow-read` for reading, `--allow-read --allow-write` for
 * writing.
 *
 * @module
 */
export type {
  DType,
  ReadOptions,
  Selection,
  TensorData,
  TensorInfo,
  TensorOptions,
  TensorSlice,
  ZarrWriter,
} from "./types.ts";
export { MAX_CHUNK_BYTES, MAX_SELECTION_BYTES } from "./_read.ts";
export { MAX_TENSOR_DIMS } from "./types.ts";
export { registerCodecs } from "./zstd.ts";
export { createZarrWriter, writeZarr } from "./write.ts";
export { zarrInfo } from "./info.ts";
export { readZarr } from "./read.ts";

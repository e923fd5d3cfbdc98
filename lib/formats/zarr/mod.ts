/**
 * Tensors ↔ Zarr v3 array folders: write whole or row block by row block
 * (atomic, write-once), describe, and read slices lazily (v3 and v2). The
 * same names as `zarr.ts`, which other folders import.
 *
 * @example
 * ```ts
 * import { MAX_SELECTION_BYTES, registerCodecs } from "./mod.ts";
 * registerCodecs(); // zstd through node:zlib, for zarrita
 * console.assert(MAX_SELECTION_BYTES === 2 ** 31);
 * ```
 *
 * @module
 */
export * from "./zarr.ts";

/**
 * Adopting tensor files written elsewhere (.npy, .safetensors) as Zarr
 * arrays, and reading their headers.
 *
 * @example
 * ```ts
 * import { MAX_NPY_HEADER_BYTES, MAX_SAFETENSORS_HEADER_BYTES } from "./mod.ts";
 * console.assert(MAX_NPY_HEADER_BYTES < MAX_SAFETENSORS_HEADER_BYTES);
 * ```
 *
 * @module
 */
export {
  adoptNpy,
  MAX_NPY_HEADER_BYTES,
  type NpyFile,
  type NpyHeader,
  openNpy,
  parseNpyHeader,
} from "./npy.ts";
export {
  adoptSafetensors,
  MAX_SAFETENSORS_HEADER_BYTES,
  readSafetensorsHeader,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from "./safetensors.ts";
export type { AdoptedTensor, AdoptOptions, SourceDType } from "./npy.ts";

/**
 * Adopting tensor files written elsewhere (.npy, .npz, .safetensors) as Zarr
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
  adoptNpySource,
  MAX_NPY_HEADER_BYTES,
  type NpyFile,
  type NpyHeader,
  openNpy,
  type OpenNpyOptions,
  parseNpyHeader,
  readNpyHeader,
} from "./npy.ts";
export {
  type AdoptedMember,
  adoptNpz,
  MAX_NPZ_MEMBERS,
  type NpzMember,
  readNpzMembers,
} from "./npz.ts";
export {
  adoptSafetensors,
  MAX_SAFETENSORS_HEADER_BYTES,
  readSafetensorsHeader,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from "./safetensors.ts";
export type {
  AdoptedTensor,
  AdoptOptions,
  ByteSource,
  SourceDType,
} from "./npy.ts";

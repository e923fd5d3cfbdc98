/**
 * Small helpers of the Parquet codec: the magic bytes, and error wording.
 *
 * @module
 */

export const MAGIC = new TextEncoder().encode("PAR1");

export function hasMagic(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 12) return false;
  const n = bytes.byteLength;
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== MAGIC[i] || bytes[n - 4 + i] !== MAGIC[i]) return false;
  }
  return true;
}

export { errorMessage as messageOf } from "../../errors.ts";
export { show } from "../../cli/show.ts";

/**
 * Byte helpers with no dependency at all (fast paths import them).
 *
 * @module
 */

/**
 * The chunks `parts` joined into one array.
 *
 * @example
 * ```ts
 * import { concatBytes } from "./_bytes.ts";
 * const joined = concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]);
 * console.assert(joined.join() === "1,2,3");
 * ```
 */
export function concatBytes(
  parts: readonly Uint8Array[],
): Uint8Array<ArrayBuffer> {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

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

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A short rendering of an offending value for an error message. */
export function show(v: unknown): string {
  if (typeof v === "string") {
    return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  }
  if (typeof v === "bigint") return `${v}n`;
  if (v === undefined) return "undefined (use null for a missing value)";
  const text = typeof v === "object" && v !== null
    ? Deno.inspect(v, { depth: 1, breakLength: Infinity, compact: true })
    : String(v);
  const short = text.length > 60 ? text.slice(0, 60) + "…" : text;
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? `an object ${short}`
    : short;
}

/**
 * {@linkcode show}: the one way an offending value is quoted in an error
 * message.
 *
 * @module
 */

/**
 * A short rendering of an offending value for an error message: a string
 * quoted and cut at 40 characters, a bigint with its `n`, an object named
 * as one and cut at 60 characters, `undefined` with the hint to use null.
 *
 * @example
 * ```ts
 * import { show } from "./show.ts";
 * console.assert(show("nan") === '"nan"');
 * console.assert(show(3n) === "3n");
 * console.assert(show({ a: 1 }) === "an object { a: 1 }");
 * console.assert(show([1, 2]) === "[ 1, 2 ]");
 * ```
 */
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

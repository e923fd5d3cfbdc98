/**
 * Private: the one way a value read from a foreign file's header (a `.npy`
 * dict, a safetensors JSON, a zip member name) is quoted in an error
 * message: at most {@linkcode MAX_QUOTE} characters, nesting shown two
 * levels deep, so a hostile header never makes a long message.
 *
 * @module
 */

/** The most characters of a quoted value. */
export const MAX_QUOTE = 200;

/**
 * `v` for an error message: a string JSON-quoted, anything else inspected
 * two levels deep; cut at `max` characters, saying how long it was.
 *
 * @example
 * ```ts
 * import { quote } from "./_quote.ts";
 * console.assert(quote("<f4") === '"<f4"');
 * console.assert(quote("x".repeat(5000)).length < 260);
 * let deep: unknown = 1;
 * for (let i = 0; i < 5000; i++) deep = [deep];
 * console.assert(quote(deep).length < 260);
 * ```
 */
export function quote(v: unknown, max: number = MAX_QUOTE): string {
  let text: string;
  if (typeof v === "string") {
    text = JSON.stringify(v.length > max ? v.slice(0, max) : v);
    if (v.length > max) {
      return `${text.slice(0, max)}…" (${v.length} characters)`;
    }
  } else {
    try {
      text = Deno.inspect(v, {
        depth: 2,
        breakLength: Infinity,
        compact: true,
        iterableLimit: 16,
        strAbbreviateSize: max,
      });
    } catch {
      text = Object.prototype.toString.call(v);
    }
  }
  return text.length > max
    ? `${text.slice(0, max)}… (${text.length} characters)`
    : text;
}

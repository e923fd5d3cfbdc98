/**
 * A short rendering of an offending value, for error messages.
 *
 * @module
 */
/** A short rendering of an offending value for an error message. */
export function show(v: unknown): string {
  if (typeof v === "string") {
    return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  }
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "object" && v !== null) {
    const text = Deno.inspect(v, {
      depth: 1,
      breakLength: Infinity,
      compact: true,
    });
    return text.length > 60 ? text.slice(0, 60) + "…" : text;
  }
  return String(v);
}

/**
 * Private: values other tools decoded from JSON made into params, which hold
 * neither NaN, ±Infinity nor bigints (`validateParams`). Each change is told
 * through `note` with the key, so nothing is altered without a word.
 *
 * @module
 */
import type { ParamValue } from "./model.ts";

/**
 * `value` as a {@linkcode ParamValue}: NaN and ±Infinity become `null` (and
 * `note` says which it was), a bigint its decimal text (exact), anything not
 * JSON-like its `String()`.
 */
export function toParamValue(
  value: unknown,
  key: string,
  note: (message: string) => void,
): ParamValue {
  if (
    value === null || typeof value === "string" || typeof value === "boolean"
  ) {
    return value;
  }
  if (typeof value === "number") {
    if (Number.isFinite(value)) return value;
    note(
      `param "${key}" is ${value}, which params cannot hold: stored as null`,
    );
    return null;
  }
  if (typeof value === "bigint") {
    note(
      `param "${key}" is the integer ${value}, beyond what a double holds exactly: stored as the string "${value}"`,
    );
    return value.toString();
  }
  if (value instanceof Uint8Array) {
    note(`param "${key}" is ${value.length} bytes of binary: stored as base64`);
    return btoa(String.fromCharCode(...value));
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => toParamValue(v, `${key}[${i}]`, note));
  }
  if (typeof value === "object") {
    const out: Record<string, ParamValue> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = toParamValue(v, key ? `${key}.${k}` : k, note);
    }
    return out;
  }
  note(`param "${key}" is a ${typeof value}: stored as its text`);
  return String(value);
}

/**
 * JSON as Python's `json` module writes it: bare `NaN`, `Infinity` and
 * `-Infinity` (its default, `allow_nan=True`), and integers of any size. The
 * one reader for `SPECIMEN_METRICS` lines, `import jsonl`, `import
 * hf-trainer` and W&B's `value_json`.
 *
 * @module
 */

const NON_FINITE: Record<string, number> = {
  NaN: NaN,
  Infinity: Infinity,
  "-Infinity": -Infinity,
};
/** A marker no JSON string from a writer holds (it cannot contain U+0000 raw). */
const MARK = "\u0000nonfinite:";
/** A run of 16 digits: the only texts that may hold an integer past 2^53. */
const LONG_DIGITS = /\d{16}/;
const INTEGER = /^-?\d+$/;

/** Options of {@linkcode parsePythonJson}. */
export interface ParsePythonJsonOptions {
  /**
   * Read an integer beyond ±(2^53 − 1) as a `bigint`, exact (else it is
   * rounded to the nearest double, as `JSON.parse` does).
   * @default true
   */
  bigints?: boolean;
}

/**
 * `JSON.parse`, also reading the bare `NaN`, `Infinity` and `-Infinity`
 * Python writes, and integers past 2^53 as exact `bigint`s. Text that parses
 * strictly and holds no 16-digit run takes `JSON.parse` alone.
 *
 * @param text JSON text.
 * @returns The value.
 * @throws {SyntaxError} Not JSON, even allowing Python's extensions.
 * @example
 * ```ts
 * import { parsePythonJson } from "./python_json.ts";
 * const v = parsePythonJson('{"loss": NaN, "t": 1765000000123456789}') as Record<string, unknown>;
 * console.assert(Number.isNaN(v.loss) && v.t === 1765000000123456789n);
 * ```
 */
export function parsePythonJson(
  text: string,
  options: ParsePythonJsonOptions = {},
): unknown {
  const big = (options.bigints ?? true) && LONG_DIGITS.test(text);
  try {
    return big ? JSON.parse(text, bigReviver as Reviver) : JSON.parse(text);
  } catch (e) {
    if (!/NaN|Infinity/.test(text)) throw e;
    const marked = markNonFinite(text);
    if (marked === text) throw e;
    const reviver = (k: string, v: unknown, ctx?: { source?: string }) => {
      if (typeof v === "string" && v.startsWith(MARK)) {
        return NON_FINITE[v.slice(MARK.length)];
      }
      return big ? bigReviver(k, v, ctx) : v;
    };
    return JSON.parse(marked, reviver as Reviver);
  }
}

/**
 * The number a single JSON value's text denotes, as Python wrote it: an
 * integer (a `bigint` past 2^53), a float, or `NaN` / `±Infinity`; `undefined`
 * when the text is not a bare number.
 *
 * @example
 * ```ts
 * import { parsePythonNumber } from "./python_json.ts";
 * console.assert(parsePythonNumber("NaN") !== parsePythonNumber("NaN"));
 * console.assert(parsePythonNumber("1152921504606846977") === 1152921504606846977n);
 * console.assert(parsePythonNumber('"x"') === undefined);
 * ```
 */
export function parsePythonNumber(text: string): number | bigint | undefined {
  const c = text.charCodeAt(0);
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
    const n = Number(text);
    if (Number.isNaN(n)) return text === "-Infinity" ? -Infinity : undefined;
    // Only a double past 2^53 can be a rounded integer.
    if (
      Number.isInteger(n) && !Number.isSafeInteger(n) && INTEGER.test(text)
    ) return BigInt(text);
    return n;
  }
  if (text === "NaN") return NaN;
  if (text === "Infinity") return Infinity;
  return undefined;
}

/**
 * `JSON.parse`'s reviver as TypeScript's lib types it; V8 also passes a
 * third argument, `{ source }`, the value's text (JSON.parse source text
 * access), which the revivers here read.
 */
type Reviver = (key: string, value: unknown) => unknown;

/** Keeps an integer's exact value where a double would round it. */
function bigReviver(
  _key: string,
  value: unknown,
  context?: { source?: string },
): unknown {
  if (
    typeof value === "number" && !Number.isSafeInteger(value) &&
    context?.source !== undefined && INTEGER.test(context.source)
  ) return BigInt(context.source);
  return value;
}

/** Replaces bare NaN/±Infinity tokens outside strings with marked strings. */
function markNonFinite(text: string): string {
  let out = "";
  let i = 0;
  let from = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      // Skip the string, escapes included.
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === "\\") i++;
      }
      i++;
      continue;
    }
    const token = text.startsWith("-Infinity", i)
      ? "-Infinity"
      : text.startsWith("Infinity", i)
      ? "Infinity"
      : text.startsWith("NaN", i)
      ? "NaN"
      : undefined;
    if (token) {
      out += text.slice(from, i) + JSON.stringify(MARK + token);
      i += token.length;
      from = i;
    } else i++;
  }
  return out + text.slice(from);
}

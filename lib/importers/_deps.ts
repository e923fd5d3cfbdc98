/**
 * Private: the third-party and built-in modules the importers use, named once
 * (npm packages by full specifiers, as in lib/_deps.ts, so that lib/ works
 * imported by path from any script).
 *
 * @module
 */
export {
  basename,
  crc32c,
  createHash,
  dirname,
  join,
  relative,
  resolve,
  SEPARATOR as sep,
} from "../_deps.ts";
export { crc32 } from "node:zlib";
export { DatabaseSync } from "node:sqlite";
export { BinaryReader } from "npm:@bufbuild/protobuf@2.17.0/wire";
export { parse as parseCsv } from "npm:csv-parse@7.0.3/sync";
// deno-lint-ignore no-import-prefix -- a deps module: npm packages by full specifiers (see lib/_deps.ts)
import { parse } from "npm:yaml@2.9.1";
export { isPair, isScalar, parseDocument, visit } from "npm:yaml@2.9.1";

/**
 * The most deeply YAML collections may nest: hparams and meta files are
 * flat maps or a few levels deep, and the parser (like every step after
 * it) recurses per level.
 */
export const MAX_YAML_DEPTH = 64;

/**
 * `yaml`'s `parse` (or `parser`, e.g. one with custom tags), with deep
 * nesting refused as a `SyntaxError` saying
 * so, not the parser's stack overflow ("Maximum call stack size exceeded")
 * nor a value too deep for what reads it next. The caller names the file.
 *
 * @example
 * ```ts
 * import { parseYaml } from "./_deps.ts";
 * console.assert((parseYaml("lr: 0.1") as { lr: number }).lr === 0.1);
 * ```
 */
export function parseYaml(
  text: string,
  parser: (text: string) => unknown = parse,
): unknown {
  let value: unknown;
  try {
    value = parser(text);
  } catch (e) {
    if (e instanceof RangeError || /call stack/i.test(String(e))) {
      throw new SyntaxError(
        `its lists and maps nest too deeply to read (far over ${MAX_YAML_DEPTH} levels); such files are flat maps of values: this one is damaged or hostile`,
      );
    }
    throw e;
  }
  if (depthOver(value, MAX_YAML_DEPTH)) {
    throw new SyntaxError(
      `its lists and maps nest more than ${MAX_YAML_DEPTH} levels deep; such files are flat maps of values: this one is damaged or hostile`,
    );
  }
  return value;
}

/** Whether lists and maps in `value` nest deeper than `limit` (no recursion). */
function depthOver(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  const seen = new Set<unknown>();
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object" || seen.has(v)) continue;
    if (d + 1 > limit) return true;
    seen.add(v); // YAML aliases may share (or loop back to) a node
    const items = v instanceof Map
      ? [...v.values()]
      : Array.isArray(v)
      ? v
      : Object.values(v);
    for (const x of items) stack.push([x, d + 1]);
  }
  return false;
}

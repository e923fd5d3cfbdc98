/**
 * Sweeps: `--sweep lr=1e-3,3e-4 --sweep batch=32,64` expanded into one params
 * map per combination, and readable specimen ids for them.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";
import {
  Assignments,
  checkValue,
  type Params,
  type ParamValue,
  parseAssignment,
  parseValue,
  setPath,
} from "./_params_core.ts";
import { canonicalJson, leafMap } from "./params.ts";

/**
 * The most combinations {@linkcode expandSweep} makes unless told more.
 *
 * @example
 * ```ts
 * import { MAX_SWEEP_COMBINATIONS } from "./sweep.ts";
 * console.assert(MAX_SWEEP_COMBINATIONS === 1000);
 * ```
 */
export const MAX_SWEEP_COMBINATIONS = 1_000;

/**
 * The most combinations `--yes` allows (without `--max`), and the largest
 * `--max`: a sweep is built in one temp folder before any is placed.
 *
 * @example
 * ```ts
 * import { MAX_SWEEP_WITH_YES, MAX_SWEEP_LIMIT } from "./sweep.ts";
 * console.assert(MAX_SWEEP_WITH_YES === 10_000 && MAX_SWEEP_LIMIT === 1_000_000);
 * ```
 */
export const MAX_SWEEP_WITH_YES = 10_000;
/** The largest `--max` (see {@linkcode MAX_SWEEP_WITH_YES}). */
export const MAX_SWEEP_LIMIT = 1_000_000;

/**
 * The specimen id rule (`lib/specimen/id.ts`), repeated here so this module
 * stands alone; a test checks that the two agree.
 */
const ID_PATTERN = /^[a-z0-9_]{1,128}$/;
const MAX_ID_LENGTH = 128;

/** Splits at commas outside `[]`, `{}` and double-quoted JSON strings. */
function splitValues(text: string, spec: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "[" || c === "{") depth++;
    else if (c === "]" || c === "}") {
      if (--depth < 0) break;
    } else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0 || inString) {
    throw new InvalidInputError(
      `Invalid --sweep ${JSON.stringify(spec)}: unbalanced ${
        inString ? "quote" : "brackets"
      }; a comma inside [...], {...} or "..." belongs to one value, e.g. --sweep 'betas=[0.9,0.99],[0.8,0.9]'`,
    );
  }
  parts.push(text.slice(start));
  return parts;
}

/**
 * Expands `--sweep key=v1,v2,...` specs into the cartesian product of their
 * values, one params map per combination. Each value is read like a
 * `--param` value (JSON where it parses, else a string), and dotted keys nest.
 * Commas split values except inside `[...]`, `{...}` and double-quoted JSON
 * strings: `--sweep 'betas=[0.9,0.99],[0.8,0.9]'` gives two lists and
 * `--sweep 'name="a,b",c'` the strings `a,b` and `c`.
 *
 * Order is stable: the first spec varies slowest, values in the order given
 * (like nested loops, first spec outermost). Merge each combination into the
 * parent's params with `mergeParams`.
 *
 * @param specs The values of the repeated `--sweep` option.
 * @param options `max`: the most combinations allowed (default
 *   {@linkcode MAX_SWEEP_COMBINATIONS}; `--max N`).
 * @returns The combinations.
 * @throws {InvalidInputError} Naming the spec: no specs, no `=`, a bad key,
 *   a key given twice or overlapping another, an empty value, a value given
 *   twice in one spec, unbalanced brackets, a value params cannot hold, or
 *   more combinations than `max` (naming the count, the limit and `--max`).
 *
 * @example
 * ```ts
 * import { expandSweep } from "./sweep.ts";
 * const combos = expandSweep(["lr=1e-3,3e-4", "batch=32,64"]);
 * console.assert(JSON.stringify(combos) === JSON.stringify([
 *   { lr: 1e-3, batch: 32 }, { lr: 1e-3, batch: 64 },
 *   { lr: 3e-4, batch: 32 }, { lr: 3e-4, batch: 64 },
 * ]));
 * ```
 */
export function expandSweep(
  specs: string[],
  options: { max?: number } = {},
): Params[] {
  const max = options.max ?? MAX_SWEEP_COMBINATIONS;
  if (specs.length === 0) {
    throw new InvalidInputError(
      "Invalid sweep: no --sweep given; write e.g. --sweep lr=1e-3,3e-4",
    );
  }
  const seen = new Assignments("--sweep");
  const axes: { segments: string[]; values: ParamValue[] }[] = [];
  for (const spec of specs) {
    const { segments, rawValue } = parseAssignment(spec, "--sweep");
    seen.add(segments, spec);
    const texts = splitValues(rawValue, spec);
    const values: ParamValue[] = [];
    const given = new Map<string, string>();
    for (const text of texts) {
      if (text.trim() === "") {
        throw new InvalidInputError(
          `Invalid --sweep ${
            JSON.stringify(spec)
          }: an empty value (a leading, trailing or doubled comma); give the empty string as "" if you mean it`,
        );
      }
      const value = checkValue(parseValue(text), segments, spec, "--sweep");
      const canon = canonicalJson(value);
      const before = given.get(canon);
      if (before !== undefined) {
        throw new InvalidInputError(
          `Invalid --sweep ${JSON.stringify(spec)}: the values ${
            JSON.stringify(before)
          } and ${
            JSON.stringify(text)
          } are the same value; give each value once`,
        );
      }
      given.set(canon, text);
      values.push(value);
    }
    axes.push({ segments, values });
  }
  let count = 1;
  for (const axis of axes) count *= axis.values.length;
  if (count > max) {
    throw new InvalidInputError(
      `The sweep makes ${count} combinations (${
        axes.map((a) => a.values.length).join(" × ")
      }), over the limit of ${max}; pass --max ${count} to create them all (free disk space is checked first), or sweep fewer values`,
    );
  }
  const combos: Params[] = [];
  const index = axes.map(() => 0);
  for (let n = 0; n < count; n++) {
    const combo: Params = {};
    axes.forEach((axis, i) =>
      setPath(combo, axis.segments, structuredClone(axis.values[index[i]]))
    );
    combos.push(combo);
    for (let i = axes.length - 1; i >= 0; i--) {
      if (++index[i] < axes[i].values.length) break;
      index[i] = 0;
    }
  }
  return combos;
}

/** A number as short readable id text: 3e-4 → 3e_4, 0.001 → 0_001, -1 → m1. */
function numberText(n: number): string {
  const plain = String(n);
  let text = plain;
  if (!Number.isInteger(n) && !plain.includes("e")) {
    const exp = n.toExponential().replace("e+", "e");
    if (exp.length + 2 <= plain.length) text = exp;
  }
  return text.replace("e+", "e").replace(/^-/, "m").replace("e-", "e_")
    .replace(".", "_");
}

/** Text as id characters: lowercase, other runs to `_`, trimmed. */
function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(
    /^_+|_+$/g,
    "",
  );
}

function valueText(v: ParamValue): string {
  if (typeof v === "number") return numberText(v);
  if (typeof v === "string") return slug(v) || "empty";
  if (v === null || typeof v === "boolean") return String(v);
  const parts: string[] = [];
  for (const item of Array.isArray(v) ? v : Object.values(v)) {
    parts.push(valueText(item));
  }
  return parts.join("_") || "empty";
}

/**
 * A readable id suffix for one combination: `_` + key + `_` + value for each
 * leaf, in the combination's key order (the order of the `--sweep` specs).
 * Keys and strings are lowercased with other characters turned into `_`;
 * numbers read as written: `3e-4` → `3e_4`, `0.001` → `0_001`, `-1` → `m1`,
 * `1e-5` → `1e_5`. Deterministic. Readable rather than
 * unique: distinct numeric combinations over the same keys give distinct
 * suffixes when each key has a letter other than `e` and `m` (tested over
 * thousands of random ones), but case folding and punctuation make strings
 * clash (`Adam` and `adam`), and keys made of digits can too;
 * {@linkcode sweepIds} detects every clash and resolves it.
 *
 * @param combo One combination from {@linkcode expandSweep}.
 * @returns The suffix, starting with `_`; empty for an empty combination.
 *
 * @example
 * ```ts
 * import { sweepSuffix } from "./sweep.ts";
 * console.assert(sweepSuffix({ lr: 3e-4, batch: 64 }) === "_lr_3e_4_batch_64");
 * console.assert(sweepSuffix({ optimizer: { name: "AdamW" }, wd: 0.001, shift: -1 }) ===
 *   "_optimizer_name_adamw_wd_0_001_shift_m1");
 * ```
 */
export function sweepSuffix(combo: Params): string {
  let out = "";
  for (const [key, value] of leafMap(combo)) {
    out += `_${slug(key)}_${valueText(value)}`;
  }
  return out;
}

/** FNV-1a over UTF-16 code units, 32 bits, as 8 hex digits: a short stable tag. */
function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/**
 * The specimen ids of a sweep: `prefix` + {@linkcode sweepSuffix} of each
 * combination, in the same order. Combinations whose readable suffixes
 * clash (`"Adam"` and `"adam"`) all get `_h` + 8 hex digits of a hash of
 * their values appended, so each id still depends only on its own values.
 *
 * @param prefix The start of every id, e.g. `2026_11_27_lr_sweep`.
 * @param combos The combinations, from {@linkcode expandSweep}.
 * @param options `existing`: ids already in the vault; any generated id among
 *   them is an error.
 * @returns One id per combination, each passing the specimen id rule.
 * @throws {InvalidInputError} When the prefix breaks the id rule, when ids
 *   are over 128 characters (naming how many, the longest, and the prefix
 *   length that would fit), when two combinations are equal, or when ids
 *   exist already.
 *
 * @example
 * ```ts
 * import { expandSweep, sweepIds } from "./sweep.ts";
 * const ids = sweepIds("lr_sweep", expandSweep(["lr=1e-3,3e-4"]));
 * console.assert(ids.join(" ") === "lr_sweep_lr_0_001 lr_sweep_lr_3e_4");
 * ```
 */
export function sweepIds(
  prefix: string,
  combos: Params[],
  options: { existing?: Iterable<string> } = {},
): string[] {
  if (!/^[a-z0-9_]+$/.test(prefix)) {
    throw new InvalidInputError(
      `Invalid --prefix ${
        JSON.stringify(prefix)
      }: it starts every specimen id, so it must be lowercase letters, digits and _, e.g. 2026_11_27_lr_sweep`,
    );
  }
  const ids = combos.map((c) => prefix + sweepSuffix(c));
  const groups = new Map<string, number[]>();
  ids.forEach((id, i) => groups.set(id, [...(groups.get(id) ?? []), i]));
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const canon = new Map<string, number>();
    for (const i of members) {
      const c = canonicalJson(combos[i]);
      if (canon.has(c)) {
        throw new InvalidInputError(
          `Invalid sweep: combinations ${
            canon.get(c)
          } and ${i} are the same (${c}); give each combination once`,
        );
      }
      canon.set(c, i);
      ids[i] = `${ids[i]}_h${shortHash(c)}`;
    }
  }
  if (new Set(ids).size !== ids.length) {
    throw new InvalidInputError(
      "Invalid sweep: two combinations still give the same id after disambiguation; change the prefix or the values",
    );
  }
  const long = ids.filter((id) => id.length > MAX_ID_LENGTH);
  if (long.length > 0) {
    const longest = long.reduce((a, b) => (b.length > a.length ? b : a));
    const room = MAX_ID_LENGTH - (longest.length - prefix.length);
    throw new InvalidInputError(
      `Invalid sweep: ${long.length} of ${ids.length} ids are over ${MAX_ID_LENGTH} characters, the longest ${longest.length} (${
        JSON.stringify(longest)
      }); ${
        room > 0
          ? `use a prefix of at most ${room} characters`
          : "sweep fewer or shorter keys and values"
      }`,
    );
  }
  for (const id of ids) {
    if (!ID_PATTERN.test(id)) {
      throw new InvalidInputError(
        `Invalid sweep id ${JSON.stringify(id)}: ids must match ^[a-z0-9_]+$`,
      );
    }
  }
  if (options.existing) {
    const existing = new Set(options.existing);
    const taken = ids.filter((id) => existing.has(id));
    if (taken.length > 0) {
      throw new InvalidInputError(
        `Invalid sweep: ${taken.length} id${
          taken.length === 1 ? "" : "s"
        } exist already (${
          taken.slice(0, 5).map((t) => JSON.stringify(t)).join(", ")
        }${
          taken.length > 5 ? ", …" : ""
        }); choose another --prefix. Nothing was created`,
      );
    }
  }
  return ids;
}

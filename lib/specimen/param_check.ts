/**
 * Checking params against the ones that are known (a protocol's declared
 * defaults, a parent's params): an unknown key is refused with the nearest
 * known one, a value of another type with both types. A typo (`lrr=0.5`)
 * would otherwise run with the default and be sealed with a value that
 * changed nothing.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";
import { leafMap, type Params, type ParamValue } from "./params.ts";

/** Options for {@linkcode checkParams}. */
export interface CheckParamsOptions {
  /**
   * Where the known params come from, for the message, e.g.
   * `the parent "base"` or `the protocol's declared params`.
   */
  known: string;
  /**
   * Dotted keys that are meant to be new (and everything under them), e.g.
   * given with `--new-param`; `true` lets every new key through.
   * @default []
   */
  allowNew?: readonly string[] | true;
  /** What to do about an unknown key, appended to the message. */
  fix: string;
}

/** One problem {@linkcode paramProblems} found. */
export interface ParamProblem {
  /** The dotted key. */
  key: string;
  /** `unknown` key, or a value of another `type`. */
  kind: "unknown" | "type";
  /** The message for this key, e.g. `"lrr" is not a known param (did you mean "lr"?)`. */
  message: string;
}

/**
 * The JSON type of a param value: `number`, `string`, `boolean`, `null`,
 * `list` or `record`.
 *
 * @example
 * ```ts
 * import { paramType } from "./param_check.ts";
 * console.assert(paramType([1, 2]) === "list" && paramType(3e-4) === "number");
 * ```
 */
export function paramType(v: ParamValue): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "list";
  return typeof v === "object" ? "record" : typeof v;
}

/**
 * The edit distance of `a` and `b` counting insertions, deletions,
 * substitutions and swaps of two neighbours (optimal string alignment, the
 * restricted Damerau–Levenshtein distance).
 *
 * @example
 * ```ts
 * import { editDistance } from "./param_check.ts";
 * console.assert(editDistance("lr", "lrr") === 1 && editDistance("hidden", "hiddne") === 1);
 * ```
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) rows[i].push(i === 0 ? j : 0);
  }
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(
        rows[i - 1][j] + 1,
        rows[i][j - 1] + 1,
        rows[i - 1][j - 1] + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, rows[i - 2][j - 2] + 1);
      }
      rows[i][j] = d;
    }
  }
  return rows[a.length][b.length];
}

/**
 * The known key nearest to `key`, when it is near enough to be a typo: at
 * most a third of the key's length in edits (at least 1, at most 3), or a
 * case difference, or the same last level (`opt.lr` for `lr`).
 *
 * @example
 * ```ts
 * import { nearestKey } from "./param_check.ts";
 * console.assert(nearestKey("lrr", ["lr", "hidden"]) === "lr");
 * console.assert(nearestKey("zzzz", ["lr", "hidden"]) === undefined);
 * ```
 */
export function nearestKey(
  key: string,
  known: Iterable<string>,
): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(key.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    if (k.toLowerCase() === key.toLowerCase()) return k;
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance || (d === bestDistance && best && k < best)) {
      best = k;
      bestDistance = d;
    }
  }
  if (best !== undefined && bestDistance <= limit) return best;
  const last = key.split(".").at(-1)!;
  for (const k of known) if (k.split(".").at(-1) === last) return k;
  return undefined;
}

/**
 * Every problem of `given` measured against `known`: a leaf key that is
 * neither a known leaf nor under a known empty record (`{}` leaves its keys
 * open) nor allowed as new, and a value whose type differs from the known
 * one. `null` on either side matches any type (a default of `null` means
 * "unset"; a `null` value means "none"), and a known record may not be
 * replaced by a scalar or the other way round.
 *
 * @param known The params known so far (defaults, a parent's).
 * @param given The params to check.
 * @param allowNew Dotted keys meant to be new, or `true` for all.
 * @returns The problems, sorted by key; empty when all is well.
 *
 * @example
 * ```ts
 * import { paramProblems } from "./param_check.ts";
 * const p = paramProblems({ lr: 0.01, hidden: 32 }, { lrr: 0.5, hidden: "big" });
 * console.assert(p.map((x) => `${x.key}:${x.kind}`).join() === "hidden:type,lrr:unknown");
 * ```
 */
export function paramProblems(
  known: Params,
  given: Params,
  allowNew: readonly string[] | true = [],
): ParamProblem[] {
  const knownLeaves = leafMap(known);
  const problems: ParamProblem[] = [];
  const isNew = (key: string) =>
    allowNew === true ||
    allowNew.some((k) => key === k || key.startsWith(`${k}.`));
  for (const [key, value] of leafMap(given)) {
    if (key === "") continue; // an empty params record
    const found = lookup(known, key);
    if (found.kind === "missing") {
      if (isNew(key)) continue;
      const near = nearestKey(key, knownLeaves.keys());
      problems.push({
        key,
        kind: "unknown",
        message: `"${key}" is not a known param${
          near === undefined ? "" : ` (did you mean "${near}"?)`
        }`,
      });
      continue;
    }
    if (found.kind === "open") continue;
    if (found.kind === "clash") {
      problems.push({
        key,
        kind: "type",
        message:
          `"${key}" makes "${found.at}" a record, but the known "${found.at}" is ${
            paramType(found.value)
          } (${JSON.stringify(found.value)})`,
      });
      continue;
    }
    const want = paramType(found.value);
    const got = paramType(value);
    if (want === got || want === "null" || got === "null") continue;
    if (want === "record" && got === "record") continue;
    problems.push({
      key,
      kind: "type",
      message: `"${key}" is ${got} ${JSON.stringify(value)}, but the known ${
        JSON.stringify(key)
      } is ${want} (${JSON.stringify(found.value)})`,
    });
  }
  return problems.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/**
 * Throws an {@linkcode InvalidInputError} listing every problem
 * {@linkcode paramProblems} finds, or returns when there is none.
 *
 * @param known The params known so far.
 * @param given The params to check.
 * @param options Where `known` comes from, new keys allowed, the fix.
 * @throws {InvalidInputError} Naming each unknown key (with the nearest known
 *   one) and each value of the wrong type (with both types).
 *
 * @example
 * ```ts
 * import { checkParams } from "./param_check.ts";
 * checkParams({ lr: 0.01 }, { lr: 0.1 }, { known: "the parent", fix: "" });
 * try {
 *   checkParams({ lr: 0.01 }, { lrr: 0.1 }, { known: "the parent", fix: "use --new-param for a new key" });
 * } catch (e) {
 *   console.assert(String(e).includes('did you mean "lr"?'));
 * }
 * ```
 */
export function checkParams(
  known: Params,
  given: Params,
  options: CheckParamsOptions,
): void {
  const problems = paramProblems(known, given, options.allowNew ?? []);
  if (problems.length === 0) return;
  const names = [...leafMap(known).keys()].filter((k) => k !== "");
  const unknown = problems.some((p) => p.kind === "unknown");
  throw new InvalidInputError(
    `${
      problems.map((p) => p.message).join("; ")
    }. Known params (${options.known}): ${
      names.length ? names.join(", ") : "(none)"
    }${unknown && options.fix ? `. ${options.fix}` : ""}`,
  );
}

type Lookup =
  | { kind: "missing" }
  | { kind: "open" }
  | { kind: "clash"; at: string; value: ParamValue }
  | { kind: "found"; value: ParamValue };

/** The known value at a dotted key; `open` under a known empty record. */
function lookup(known: Params, key: string): Lookup {
  let node: ParamValue = known;
  const parts = key.split(".");
  for (let i = 0; i < parts.length; i++) {
    if (typeof node !== "object" || node === null || Array.isArray(node)) {
      // A scalar or list where the key goes deeper.
      return { kind: "clash", at: parts.slice(0, i).join("."), value: node };
    }
    if (i > 0 && Object.keys(node).length === 0) return { kind: "open" };
    if (!Object.hasOwn(node, parts[i])) return { kind: "missing" };
    node = (node as Record<string, ParamValue>)[parts[i]];
  }
  return { kind: "found", value: node };
}

/**
 * Internals of params: the validating walker and the `key=value` helpers
 * shared by `params.ts` and `sweep.ts`. Not re-exported.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";

/**
 * One param value: JSON without non-finite numbers.
 *
 * @example
 * ```ts
 * import type { ParamValue } from "./params.ts";
 * const betas: ParamValue = [0.9, 0.999];
 * console.assert(Array.isArray(betas));
 * ```
 */
export type ParamValue =
  | number
  | string
  | boolean
  | null
  | ParamValue[]
  | { [key: string]: ParamValue };

/**
 * A specimen's params: a record at the top.
 *
 * @example
 * ```ts
 * import type { Params } from "./params.ts";
 * const p: Params = { lr: 3e-4, optimizer: { name: "adam" } };
 * console.assert(p.lr === 3e-4);
 * ```
 */
export type Params = Record<string, ParamValue>;

/**
 * What one key (one level of a dotted path) may look like.
 *
 * @example
 * ```ts
 * import { PARAM_KEY_PATTERN } from "./params.ts";
 * console.assert(PARAM_KEY_PATTERN.test("warmup-steps_2") && !PARAM_KEY_PATTERN.test("a.b"));
 * ```
 */
export const PARAM_KEY_PATTERN: RegExp = /^[A-Za-z0-9_-]+$/;

/**
 * What a dotted key given on the command line may look like.
 *
 * @example
 * ```ts
 * import { PARAM_PATH_PATTERN } from "./params.ts";
 * console.assert(PARAM_PATH_PATTERN.test("optimizer.name") && !PARAM_PATH_PATTERN.test("a b"));
 * ```
 */
export const PARAM_PATH_PATTERN: RegExp = /^[A-Za-z0-9_.-]+$/;

/**
 * The documented limits `validateParams` applies by default: depth 16,
 * 10,000 values, 256 KiB of JSON, strings of 8,192 characters, keys of 128.
 *
 * @example
 * ```ts
 * import { PARAM_LIMITS } from "./params.ts";
 * console.assert(PARAM_LIMITS.maxDepth === 16 && PARAM_LIMITS.maxBytes === 262144);
 * ```
 */
export const PARAM_LIMITS: Readonly<Required<ValidateParamsOptions>> = {
  maxDepth: 16,
  maxLeaves: 10_000,
  maxBytes: 256 * 1024,
  maxStringLength: 8_192,
  maxKeyLength: 128,
};

/**
 * Limits for `validateParams`; each defaults to {@linkcode PARAM_LIMITS}.
 *
 * @example
 * ```ts
 * import { validateParams } from "./params.ts";
 * validateParams({ a: { b: 1 } }, { maxDepth: 2 });
 * ```
 */
export interface ValidateParamsOptions {
  /**
   * Deepest nesting of records and lists; the top record is level 1.
   * @default {16}
   */
  maxDepth?: number;
  /**
   * Most scalar values (including those inside lists) and empty containers.
   * @default {10000}
   */
  maxLeaves?: number;
  /**
   * Largest size of the whole map as UTF-8 JSON, in bytes.
   * @default {262144}
   */
  maxBytes?: number;
  /**
   * Longest string value, in UTF-16 code units.
   * @default {8192}
   */
  maxStringLength?: number;
  /**
   * Longest key of one level.
   * @default {128}
   */
  maxKeyLength?: number;
}

export type Segment = string | number;

/** `optimizer.betas[1]`; the top itself is called `params`. */
function showPath(path: readonly Segment[]): string {
  let out = "";
  for (const s of path) {
    out += typeof s === "number" ? `[${s}]` : out === "" ? s : `.${s}`;
  }
  return out === "" ? "params" : out;
}

export function fail(
  where: string,
  path: readonly Segment[],
  why: string,
): never {
  throw new InvalidInputError(
    `Invalid params${where}: ${JSON.stringify(showPath(path))} ${why}`,
  );
}

function describe(v: unknown): string {
  if (typeof v === "bigint") return `the bigint ${v}n`;
  if (typeof v === "function") return "a function";
  if (typeof v === "symbol") return `the symbol ${String(v)}`;
  if (v === undefined) return "undefined";
  if (v instanceof Date) return "a Date";
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  const proto = Object.getPrototypeOf(v);
  const name = proto?.constructor?.name;
  return name ? `an instance of ${name}` : "an object of an unknown kind";
}

export function topKind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (["number", "string", "boolean"].includes(typeof v)) {
    return `the ${typeof v} ${JSON.stringify(v)}`;
  }
  return describe(v);
}

const FIX =
  "params hold only finite numbers, strings, booleans, null, lists and plain records";

/** Checks and copies a value, counting leaves and watching for cycles. */
export class Walker {
  leaves = 0;
  readonly ancestors = new Set<object>();
  constructor(
    readonly limits: Required<ValidateParamsOptions>,
    readonly where: string,
  ) {}

  value(v: unknown, path: Segment[], depth: number): ParamValue {
    switch (typeof v) {
      case "number":
        this.leaf(path);
        if (Number.isNaN(v)) {
          fail(
            this.where,
            path,
            'is NaN; give a finite number, or null for "no value"',
          );
        }
        if (!Number.isFinite(v)) {
          fail(
            this.where,
            path,
            `is ${v}; JSON and the catalog cannot hold it: give a finite number such as 1e308, or null`,
          );
        }
        return Object.is(v, -0) ? 0 : v;
      case "string":
        this.leaf(path);
        if (v.length > this.limits.maxStringLength) {
          fail(
            this.where,
            path,
            `is a string of ${v.length} characters, over the limit of ${this.limits.maxStringLength}; store long text as an artifact and put its name in params`,
          );
        }
        if (!v.isWellFormed()) {
          fail(
            this.where,
            path,
            "is a string with a lone UTF-16 surrogate; give valid Unicode text",
          );
        }
        return v;
      case "boolean":
        this.leaf(path);
        return v;
      case "object":
        if (v === null) {
          this.leaf(path);
          return null;
        }
        return this.container(v, path, depth + 1);
      default:
        fail(
          this.where,
          path,
          typeof v === "bigint"
            ? `is ${
              describe(v)
            }; ${FIX}: convert it with Number(x) (exact up to 2^53) or store it as a string`
            : `is ${describe(v)}; ${FIX}`,
        );
    }
  }

  leaf(path: Segment[]): void {
    if (++this.leaves > this.limits.maxLeaves) {
      fail(
        this.where,
        path,
        `is one value too many: params hold at most ${this.limits.maxLeaves} values; store large tables as an artifact`,
      );
    }
  }

  container(v: object, path: Segment[], depth: number): ParamValue {
    if (depth > this.limits.maxDepth) {
      fail(
        this.where,
        path,
        `is nested ${depth} levels deep, over the limit of ${this.limits.maxDepth}; flatten the structure`,
      );
    }
    if (this.ancestors.has(v)) {
      fail(
        this.where,
        path,
        "refers back to one of its own parents (a cycle); params must be a tree",
      );
    }
    const isList = Array.isArray(v);
    const proto = Object.getPrototypeOf(v);
    if (
      isList
        ? proto !== Array.prototype
        : proto !== Object.prototype && proto !== null
    ) {
      fail(
        this.where,
        path,
        `is ${describe(v)}; ${FIX} (convert it, e.g. a Date to an ISO string)`,
      );
    }
    if (Object.getOwnPropertySymbols(v).length > 0) {
      fail(this.where, path, `has a symbol key; ${FIX} with string keys`);
    }
    this.ancestors.add(v);
    try {
      if (isList) {
        const list = v as unknown[];
        if (list.length === 0) this.leaf(path);
        const out: ParamValue[] = [];
        for (let i = 0; i < list.length; i++) {
          path.push(i);
          if (!(i in list)) {
            fail(
              this.where,
              path,
              "is a hole in a sparse list; give null where there is no value",
            );
          }
          out.push(this.value(list[i], path, depth));
          path.pop();
        }
        return out;
      }
      const keys = Object.keys(v);
      if (keys.length === 0) this.leaf(path);
      const out: { [key: string]: ParamValue } = {};
      for (const key of keys) {
        if (
          !PARAM_KEY_PATTERN.test(key) ||
          key.length > this.limits.maxKeyLength || key === "__proto__"
        ) this.key(key, path);
        path.push(key);
        out[key] = this.value((v as Record<string, unknown>)[key], path, depth);
        path.pop();
      }
      return out;
    } finally {
      this.ancestors.delete(v);
    }
  }

  /** Throws the reason a key is refused. */
  key(key: string, path: Segment[]): void {
    const shown = showPath([...path, key]);
    const at = ` (at ${JSON.stringify(shown)})`;
    if (key === "") {
      fail(
        this.where,
        path,
        "has an empty key; give every key a name of [A-Za-z0-9_-]",
      );
    }
    if (key.length > this.limits.maxKeyLength) {
      fail(
        this.where,
        path,
        `has a key of ${key.length} characters, over the limit of ${this.limits.maxKeyLength}; shorten it`,
      );
    }
    if (!PARAM_KEY_PATTERN.test(key)) {
      const bad = [...key].find((c) => !/[A-Za-z0-9_-]/.test(c))!;
      const hint = bad === "."
        ? '; a dot separates levels, so nest a record instead ({"a": {"b": 1}} for a.b)'
        : "; use letters, digits, _ and -";
      fail(
        this.where,
        path,
        `has the key ${JSON.stringify(key)}${at} containing ${
          JSON.stringify(bad)
        }${hint}`,
      );
    }
    if (key === "__proto__") {
      fail(
        this.where,
        path,
        `has the key "__proto__"${at}, which JavaScript objects cannot hold safely; rename it`,
      );
    }
  }
}

/** Splits a dotted path, refusing empty segments and characters outside the pattern. */
function splitPath(key: string, arg: string, flag: string): string[] {
  const where = `${flag} ${JSON.stringify(arg)}`;
  if (key === "") {
    throw new InvalidInputError(
      `Invalid ${where}: the key is empty; write ${flag} name=value`,
    );
  }
  if (!PARAM_PATH_PATTERN.test(key)) {
    const bad = [...key].find((c) => !/[A-Za-z0-9_.-]/.test(c))!;
    throw new InvalidInputError(
      `Invalid ${where}: the key ${JSON.stringify(key)} contains ${
        JSON.stringify(bad)
      }; keys use only letters, digits, _, - and . (a dot nests: optimizer.name=adam)`,
    );
  }
  const segments = key.split(".");
  if (segments.some((s) => s === "")) {
    throw new InvalidInputError(
      `Invalid ${where}: the key ${
        JSON.stringify(key)
      } has an empty level (a leading, trailing or doubled dot); write e.g. optimizer.name=adam`,
    );
  }
  if (segments.includes("__proto__")) {
    throw new InvalidInputError(
      `Invalid ${where}: "__proto__" cannot be a key; rename it`,
    );
  }
  return segments;
}

/** JSON where it parses, else the text itself. */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Records every assignment so that equal or nested keys are refused. */
export class Assignments {
  readonly #seen = new Map<string, string>();
  constructor(readonly flag: string) {}

  add(segments: string[], arg: string): void {
    const key = segments.join(".");
    for (const [other, otherArg] of this.#seen) {
      const clash = other === key
        ? "gives the same key as"
        : other.startsWith(key + ".") || key.startsWith(other + ".")
        ? "conflicts with"
        : "";
      if (clash) {
        throw new InvalidInputError(
          `Invalid ${this.flag} ${
            JSON.stringify(arg)
          }: it ${clash} ${this.flag} ${JSON.stringify(otherArg)} (${
            JSON.stringify(key)
          } vs ${
            JSON.stringify(other)
          }); give each key once, and either a record or its parts`,
        );
      }
    }
    this.#seen.set(key, arg);
  }
}

/** sets a dotted path, creating records on the way. */
export function setPath(
  target: Params,
  segments: string[],
  value: ParamValue,
): void {
  let node: Record<string, ParamValue> = target;
  for (const s of segments.slice(0, -1)) {
    const next = node[s];
    if (typeof next !== "object" || next === null || Array.isArray(next)) {
      node = node[s] = {};
    } else {
      node = next;
    }
  }
  node[segments[segments.length - 1]] = value;
}

/** one `key=value` argument, split and checked. */
export function parseAssignment(
  arg: string,
  flag: string,
): { segments: string[]; rawValue: string } {
  const eq = arg.indexOf("=");
  if (eq < 0) {
    throw new InvalidInputError(
      `Invalid ${flag} ${
        JSON.stringify(arg)
      }: no "=" in it; write ${flag} name=value, e.g. ${flag} lr=3e-4`,
    );
  }
  return {
    segments: splitPath(arg.slice(0, eq), arg, flag),
    rawValue: arg.slice(eq + 1),
  };
}

/** validates one parsed value, naming the argument on failure. */
export function checkValue(
  value: unknown,
  segments: string[],
  arg: string,
  flag: string,
): ParamValue {
  const walker = new Walker(PARAM_LIMITS, "");
  try {
    return walker.value(value, [...segments], segments.length);
  } catch (e) {
    if (!(e instanceof InvalidInputError)) throw e;
    throw new InvalidInputError(
      e.message.replace(
        /^Invalid params/,
        `Invalid ${flag} ${JSON.stringify(arg)}`,
      ),
      { cause: e },
    );
  }
}

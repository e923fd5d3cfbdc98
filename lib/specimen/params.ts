/**
 * Hyperparameters ("params") of a specimen: a nested record of numbers,
 * strings, booleans, null and lists, sealed with the manifest.
 *
 * Pure functions only: validation, `--param key=value` parsing, merging a
 * parent's params with changes, flattening to one row per leaf for the
 * catalog, and the per-key diff of several specimens.
 *
 * Leaves: a scalar, a list (always one leaf, stored as JSON: a `key =
 * 'optimizer.betas'` lookup finds the whole list, and list positions never
 * clash with record keys such as `"0"`), or an empty record. Dotted paths
 * (`optimizer.name`) name leaves; that is why a key cannot contain a dot.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";

/** One param value: JSON without non-finite numbers. */
export type ParamValue =
  | number
  | string
  | boolean
  | null
  | ParamValue[]
  | { [key: string]: ParamValue };

/** A specimen's params: a record at the top. */
export type Params = Record<string, ParamValue>;

/** What one key (one level of a dotted path) may look like. */
export const PARAM_KEY_PATTERN: RegExp = /^[A-Za-z0-9_-]+$/;

/** What a dotted key given on the command line may look like. */
export const PARAM_PATH_PATTERN: RegExp = /^[A-Za-z0-9_.-]+$/;

/** The documented limits {@linkcode validateParams} applies by default. */
export const PARAM_LIMITS: Readonly<Required<ValidateParamsOptions>> = {
  maxDepth: 16,
  maxLeaves: 10_000,
  maxBytes: 256 * 1024,
  maxStringLength: 8_192,
  maxKeyLength: 128,
};

/** Limits for {@linkcode validateParams}; each defaults to {@linkcode PARAM_LIMITS}. */
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

type Segment = string | number;

/** `optimizer.betas[1]`; the top itself is called `params`. */
function showPath(path: readonly Segment[]): string {
  let out = "";
  for (const s of path) {
    out += typeof s === "number" ? `[${s}]` : out === "" ? s : `.${s}`;
  }
  return out === "" ? "params" : out;
}

function fail(where: string, path: readonly Segment[], why: string): never {
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

function topKind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (["number", "string", "boolean"].includes(typeof v)) {
    return `the ${typeof v} ${JSON.stringify(v)}`;
  }
  return describe(v);
}

const FIX =
  "params hold only finite numbers, strings, booleans, null, lists and plain records";

class Walker {
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
          if (!(i in list)) {
            fail(
              this.where,
              [...path, i],
              "is a hole in a sparse list; give null where there is no value",
            );
          }
          out.push(this.value(list[i], [...path, i], depth));
        }
        return out;
      }
      const keys = Object.keys(v);
      if (keys.length === 0) this.leaf(path);
      const out: { [key: string]: ParamValue } = {};
      for (const key of keys) {
        this.key(key, path);
        out[key] = this.value((v as Record<string, unknown>)[key], [
          ...path,
          key,
        ], depth);
      }
      return out;
    } finally {
      this.ancestors.delete(v);
    }
  }

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

/**
 * Checks that `value` is a valid params map and returns a plain copy of it
 * (`-0` becomes `0`). Refused, each with an {@linkcode InvalidInputError}
 * naming the dotted path and the fix: NaN and ±Infinity, bigints (convert with
 * `Number(x)` or store as a string: silently converting would round large
 * ones), functions, symbols, `undefined`, Dates, typed arrays, class
 * instances, cycles, sparse lists, keys outside `[A-Za-z0-9_-]` (so no dots)
 * or named `__proto__`, strings with lone surrogates, and anything over the
 * limits in {@linkcode PARAM_LIMITS}. A record shared twice (not a cycle) is
 * fine and copied twice.
 *
 * @param value What to check, e.g. decoded from a manifest or `params.json`.
 * @param options Limits; and `label`, a name for where the value came from
 *   (`params.json`), put in the error message.
 * @returns A fresh copy made of plain objects and arrays.
 * @throws {InvalidInputError} When anything breaks the rules above.
 *
 * @example
 * ```ts
 * import { validateParams } from "./params.ts";
 * const p = validateParams({ lr: 3e-4, optimizer: { name: "adam", betas: [0.9, 0.999] } });
 * console.assert(p.lr === 3e-4);
 * try {
 *   validateParams({ optimizer: { lr: NaN } });
 * } catch (e) {
 *   console.assert(String(e).includes('"optimizer.lr" is NaN'));
 * }
 * ```
 */
export function validateParams(
  value: unknown,
  options: ValidateParamsOptions & { label?: string } = {},
): Params {
  const { label, ...limits } = options;
  const where = label ? ` in ${label}` : "";
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(
      where,
      [],
      `is ${topKind(value)}; params must be a record such as {"lr": 0.001}`,
    );
  }
  const walker = new Walker({ ...PARAM_LIMITS, ...limits }, where);
  const out = walker.value(value, [], 0) as Params;
  const bytes = new TextEncoder().encode(JSON.stringify(out)).length;
  if (bytes > walker.limits.maxBytes) {
    fail(
      where,
      [],
      `take ${bytes} bytes as JSON, over the limit of ${walker.limits.maxBytes}; store large values as an artifact and keep params small`,
    );
  }
  return out;
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

/** Internal, for sweeps: JSON where it parses, else the text itself. */
export function _parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Records every assignment so that equal or nested keys are refused. */
class Assignments {
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

/** Internal, for sweeps: sets a dotted path, creating records on the way. */
export function _setPath(
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

/** Internal, for sweeps: one `key=value` argument, split and checked. */
export function _parseAssignment(
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

/** Internal, for sweeps: validates one parsed value, naming the argument on failure. */
export function _checkValue(
  value: unknown,
  segments: string[],
  arg: string,
  flag: string,
): ParamValue {
  try {
    const wrapped = validateParams({ v: value });
    return wrapped.v;
  } catch (e) {
    if (!(e instanceof InvalidInputError)) throw e;
    const detail = e.message.replace(
      /^Invalid params: "v/,
      `"${segments.join(".")}`,
    );
    throw new InvalidInputError(
      `Invalid ${flag} ${JSON.stringify(arg)}: ${detail}`,
      { cause: e },
    );
  }
}

/** Internal, for sweeps: registers keys and refuses duplicates or overlaps. */
export { Assignments as _Assignments };

/**
 * Parses the values of repeated `--param key=value` options into params.
 * The text after the first `=` is read as JSON where it parses (numbers such
 * as `3e-4`, `true`/`false`/`null`, `[0.9,0.999]`, `{"a":1}`, `"quoted"`),
 * and kept as a string otherwise (`adam`, `1.`, `NaN`; an empty value is the
 * empty string). Dotted keys build nesting. Pass the option values only, as
 * `node:util` `parseArgs` with `multiple: true` gives them.
 *
 * @param args The values, e.g. `["lr=3e-4", "optimizer.name=adam"]`.
 * @returns The params, validated with {@linkcode validateParams}.
 * @throws {InvalidInputError} Naming the argument: no `=`, an empty key or
 *   level, a character outside `[A-Za-z0-9_.-]`, a key given twice or
 *   overlapping another (`a.b=1` with `a=2`), or a value params cannot hold.
 *
 * @example
 * ```ts
 * import { parseParamArgs } from "./params.ts";
 * const p = parseParamArgs(["lr=3e-4", "optimizer.name=adam", "optimizer.betas=[0.9,0.999]"]);
 * console.assert(p.lr === 3e-4);
 * console.assert(JSON.stringify(p.optimizer) === '{"name":"adam","betas":[0.9,0.999]}');
 * ```
 */
export function parseParamArgs(args: string[]): Params {
  const flag = "--param";
  const seen = new Assignments(flag);
  const out: Params = {};
  for (const arg of args) {
    const { segments, rawValue } = _parseAssignment(arg, flag);
    seen.add(segments, arg);
    _setPath(
      out,
      segments,
      _checkValue(_parseValue(rawValue), segments, arg, flag),
    );
  }
  return validateParams(out);
}

/**
 * JSON with record keys sorted, so equal text means equal values
 * (`undefined` gives the text `undefined`).
 *
 * @example
 * ```ts
 * import { canonicalJson } from "./params.ts";
 * console.assert(canonicalJson({ b: 1, a: [true] }) === '{"a":[true],"b":1}');
 * ```
 */
export function canonicalJson(value: ParamValue | undefined): string {
  if (value === undefined) return "undefined";
  if (typeof value !== "object" || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${
    keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")
  }}`;
}

function isRecord(
  v: ParamValue | undefined,
): v is { [key: string]: ParamValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Leaves in key order of the records (insertion order). */
function* leaves(
  value: ParamValue,
  prefix: string,
): Generator<[string, ParamValue]> {
  if (isRecord(value) && (prefix === "" || Object.keys(value).length > 0)) {
    for (const [k, v] of Object.entries(value)) {
      yield* leaves(v, prefix === "" ? k : `${prefix}.${k}`);
    }
  } else {
    yield [prefix, value];
  }
}

/**
 * The leaves of params as a map from dotted key to value, in record order.
 *
 * @example
 * ```ts
 * import { leafMap } from "./params.ts";
 * const m = leafMap({ lr: 0.1, opt: { name: "sgd" } });
 * console.assert([...m.keys()].join() === "lr,opt.name");
 * ```
 */
export function leafMap(params: Params): Map<string, ParamValue> {
  return new Map([...leaves(params, "")].filter(([k]) => k !== ""));
}

function mergeInto(
  base: ParamValue | undefined,
  change: ParamValue,
): ParamValue {
  if (!isRecord(change)) return change;
  const out: { [key: string]: ParamValue } = isRecord(base) ? { ...base } : {};
  for (const [k, v] of Object.entries(change)) out[k] = mergeInto(out[k], v);
  return out;
}

/**
 * Applies `changes` to `base`: records merge key by key, every other value
 * (scalars and lists, which are replaced whole) overrides. An empty record in
 * `changes` leaves the base's record as it is. Neither input is modified.
 *
 * @param base The parent's params.
 * @param changes The new values, e.g. from {@linkcode parseParamArgs}.
 * @returns The merged params and `changed`: the sorted dotted keys of leaves
 *   added, modified, or gone because a record replaced a value or the other
 *   way round.
 * @throws {InvalidInputError} When the result breaks {@linkcode validateParams}.
 *
 * @example
 * ```ts
 * import { mergeParams } from "./params.ts";
 * const { params, changed } = mergeParams(
 *   { lr: 1e-3, optimizer: { name: "adam", eps: 1e-8 } },
 *   { lr: 1e-4, optimizer: { name: "adam", momentum: 0.9 } },
 * );
 * console.assert(JSON.stringify(changed) === '["lr","optimizer.momentum"]');
 * console.assert((params.optimizer as Record<string, unknown>).eps === 1e-8);
 * ```
 */
export function mergeParams(
  base: Params,
  changes: Params,
): { params: Params; changed: string[] } {
  const params = validateParams(mergeInto(base, changes));
  const before = leafMap(base);
  const after = leafMap(params);
  const changed = new Set<string>();
  for (const [k, v] of after) {
    if (canonicalJson(before.get(k)) !== canonicalJson(v)) changed.add(k);
  }
  for (const k of before.keys()) if (!after.has(k)) changed.add(k);
  return { params, changed: [...changed].sort(byCodeUnit) };
}

/** Code-unit order, which is DuckDB's default for these ASCII keys. */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One row of the long `params` table. */
export interface ParamRow {
  /** The dotted path of the leaf, e.g. `optimizer.name`. */
  key: string;
  /** Strings as they are; everything else as JSON (`0.0003`, `true`, `[0.9,0.999]`). */
  value: string;
  /** The number when the leaf is a number; null otherwise (booleans too). */
  num: number | null;
}

/**
 * One row per leaf, sorted by key, for the catalog's long `params` table. A
 * list is one leaf holding its JSON (`optimizer.betas` → `[0.9,0.999]`), so
 * `WHERE key = 'optimizer.betas'` finds the whole list, and
 * `value::JSON->>0` picks an element. An empty record is a leaf `{}`.
 *
 * @param params Valid params.
 * @returns The rows.
 *
 * @example
 * ```ts
 * import { flattenParams } from "./params.ts";
 * const rows = flattenParams({ lr: 3e-4, optimizer: { name: "adam", betas: [0.9, 0.999] }, amp: true });
 * console.assert(JSON.stringify(rows) === JSON.stringify([
 *   { key: "amp", value: "true", num: null },
 *   { key: "lr", value: "0.0003", num: 3e-4 },
 *   { key: "optimizer.betas", value: "[0.9,0.999]", num: null },
 *   { key: "optimizer.name", value: "adam", num: null },
 * ]));
 * ```
 */
export function flattenParams(params: Params): ParamRow[] {
  const rows: ParamRow[] = [];
  for (const [key, v] of leaves(params, "")) {
    if (key === "") continue;
    rows.push({
      key,
      value: typeof v === "string" ? v : canonicalJson(v),
      num: typeof v === "number" ? v : null,
    });
  }
  return rows.sort((a, b) => byCodeUnit(a.key, b.key));
}

/** One row of {@linkcode diffParams}. */
export interface ParamDiffRow {
  /** The dotted key. */
  key: string;
  /** The value for each specimen, in the order given; `undefined` where absent. */
  values: (ParamValue | undefined)[];
  /** Whether the values are not all equal (absent differs from present). */
  differs: boolean;
}

/**
 * The params of several specimens side by side: every leaf key any of them
 * has, sorted, with each one's value and whether they differ. Filter on
 * `differs` for a "diff only" view.
 *
 * @param list The specimens, in the column order wanted.
 * @returns One row per key.
 *
 * @example
 * ```ts
 * import { diffParams } from "./params.ts";
 * const rows = diffParams([
 *   { id: "a", params: { lr: 1e-3, seed: 1 } },
 *   { id: "b", params: { lr: 1e-4, seed: 1, warmup: 100 } },
 * ]);
 * console.assert(rows.map((r) => `${r.key}:${r.differs}`).join(" ") === "lr:true seed:false warmup:true");
 * console.assert(rows[2].values[0] === undefined);
 * ```
 */
export function diffParams(
  list: { id: string; params: Params }[],
): ParamDiffRow[] {
  const maps = list.map((s) => leafMap(s.params));
  const keys = new Set<string>();
  for (const m of maps) for (const k of m.keys()) if (k !== "") keys.add(k);
  return [...keys].sort(byCodeUnit).map((key) => {
    const values = maps.map((m) => m.get(key));
    const first = canonicalJson(values[0]);
    return {
      key,
      values,
      differs: values.some((v) => canonicalJson(v) !== first),
    };
  });
}

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
import {
  Assignments,
  checkValue,
  fail,
  PARAM_LIMITS,
  type Params,
  type ParamValue,
  parseAssignment,
  parseValue,
  setPath,
  topKind,
  type ValidateParamsOptions,
  Walker,
} from "./_params_core.ts";

export {
  PARAM_KEY_PATTERN,
  PARAM_LIMITS,
  PARAM_PATH_PATTERN,
  type Params,
  type ParamValue,
  type ValidateParamsOptions,
} from "./_params_core.ts";

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
  const proto = typeof value === "object" && value !== null
    ? Object.getPrototypeOf(value)
    : undefined;
  if (proto !== Object.prototype && proto !== null) {
    fail(
      where,
      [],
      `is ${topKind(value)}; params must be a record such as {"lr": 0.001}`,
    );
  }
  const chosen = { ...PARAM_LIMITS };
  for (const [k, v] of Object.entries(limits)) {
    if (v !== undefined) chosen[k as keyof typeof chosen] = v;
  }
  const walker = new Walker(chosen, where);
  const out = walker.value(value, [], 0) as Params;
  const json = JSON.stringify(out);
  const bytes = json.length * 3 <= walker.limits.maxBytes
    ? json.length
    : new TextEncoder().encode(json).length;
  if (bytes > walker.limits.maxBytes) {
    fail(
      where,
      [],
      `take ${bytes} bytes as JSON, over the limit of ${walker.limits.maxBytes}; store large values as an artifact and keep params small`,
    );
  }
  return out;
}

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
    const { segments, rawValue } = parseAssignment(arg, flag);
    seen.add(segments, arg);
    setPath(
      out,
      segments,
      checkValue(parseValue(rawValue), segments, arg, flag),
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
function eachLeaf(
  value: ParamValue,
  prefix: string,
  visit: (key: string, value: ParamValue) => void,
): void {
  if (isRecord(value)) {
    let empty = true;
    for (const k of Object.keys(value)) {
      empty = false;
      eachLeaf(value[k], prefix === "" ? k : `${prefix}.${k}`, visit);
    }
    if (!empty || prefix === "") return;
  }
  visit(prefix, value);
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
  const out = new Map<string, ParamValue>();
  eachLeaf(params, "", (k, v) => out.set(k, v));
  return out;
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

/**
 * One row of the long `params` table.
 *
 * @example
 * ```ts
 * import type { ParamRow } from "./params.ts";
 * const row: ParamRow = { key: "lr", value: "0.0003", num: 3e-4 };
 * console.assert(row.num === 3e-4);
 * ```
 */
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
  eachLeaf(params, "", (key, v) =>
    rows.push({
      key,
      value: typeof v === "string" ? v : canonicalJson(v),
      num: typeof v === "number" ? v : null,
    }));
  return rows.sort((a, b) => byCodeUnit(a.key, b.key));
}

/**
 * One row of {@linkcode diffParams}.
 *
 * @example
 * ```ts
 * import type { ParamDiffRow } from "./params.ts";
 * const row: ParamDiffRow = { key: "lr", values: [1e-3, undefined], differs: true };
 * console.assert(row.differs);
 * ```
 */
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

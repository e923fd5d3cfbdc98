/**
 * Private: names other tools allow (any tag, any run name, dotted param
 * keys) made into the names the vault allows (specimen ids, artifact
 * names, SQL-distinct column names, param keys), deterministically.
 *
 * @module
 */
import { createHash } from "../importers/_deps.ts";
import type { ParamValue } from "../importers/model.ts";

function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

/**
 * `text` as `^[a-z0-9_]+$` of at most `max` characters: lowercased, every
 * other run of characters one `_`, trimmed of `_`. A name cut short ends in
 * a hash of the whole, so two long names stay apart. Empty when nothing is
 * left.
 */
export function slug(text: string, max: number): string {
  const s = text.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(
    /^_+|_+$/g,
    "",
  );
  if (s.length <= max) return s;
  return `${s.slice(0, max - 9).replace(/_+$/, "")}_${shortHash(text)}`;
}

/** Hands out names unique within one set, case-insensitively. */
export class NameSet {
  #used = new Set<string>();
  constructor(reserved: Iterable<string> = []) {
    for (const r of reserved) this.#used.add(r.toLowerCase());
  }
  /** Whether `name` is taken. */
  has(name: string): boolean {
    return this.#used.has(name.toLowerCase());
  }
  /** `name`, or `name_2`, `name_3`, … (cut to `max`), whichever is free. */
  take(name: string, max = Infinity): string {
    let out = name.slice(0, max);
    for (let k = 2; this.has(out); k++) {
      const suffix = `_${k}`;
      out = `${name.slice(0, max - suffix.length)}${suffix}`;
    }
    this.#used.add(out.toLowerCase());
    return out;
  }
}

/** Characters a params key may hold (no dots: dots are path separators). */
const PARAM_KEY = /^[A-Za-z0-9_-]+$/;

/**
 * Params with every key made valid (`[A-Za-z0-9_-]`, at most 128): other
 * characters become `_`, a clash gets a suffix. `renamed` maps each new
 * dotted path to the original key.
 */
export function cleanParams(
  params: Record<string, ParamValue>,
): { params: Record<string, ParamValue>; renamed: Record<string, string> } {
  const renamed: Record<string, string> = {};
  const walk = (v: ParamValue, path: string): ParamValue => {
    if (Array.isArray(v)) return v.map((x) => walk(x, path));
    if (v === null || typeof v !== "object") return v;
    const out: Record<string, ParamValue> = {};
    const names = new NameSet();
    for (const [k, x] of Object.entries(v)) {
      let key = k;
      if (!PARAM_KEY.test(k) || k.length > 128 || k === "__proto__") {
        key = k.replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, 120) || "key";
      }
      key = names.take(key, 128);
      const full = path ? `${path}.${key}` : key;
      if (key !== k) renamed[full] = k;
      out[key] = walk(x, full);
    }
    return out;
  };
  return {
    params: walk(params, "") as Record<string, ParamValue>,
    renamed,
  };
}

/**
 * Private: how the files a child leaves in `SPECIMEN_OUTPUTS` are named as
 * artifacts. The rule, for a file at relative path `dir/sub/name.ext`:
 *
 * - its natural name is the path without the last extension, folders joined
 *   by `__`: `dir__sub__name` (a `.safetensors` tensor `t` adds `__t`);
 * - a natural name that is a valid artifact name (`^[a-z0-9_]{1,64}$`) is
 *   kept when no other output or existing artifact holds it;
 * - otherwise it is made valid: lowercased, accents dropped, every run of
 *   other characters turned into `_`, `output` if nothing is left, and a
 *   name over 64 characters cut to 55 plus `_` and 8 hex digits of the
 *   SHA-256 of the natural name;
 * - a name already taken, or reserved (`__proto__`, `constructor`, …: see
 *   `RESERVED_ARTIFACT_NAMES`), gets `_<ext>` appended, then `_2`, `_3`, …
 *
 * Files are named in sorted path order, and names that need no change are
 * claimed before any renamed one, so the result depends only on the set of
 * paths and the names already taken.
 *
 * @module
 */
import { ARTIFACT_NAME_PATTERN } from "../specimen/artifact_name.ts";
import { sha256Hex } from "../_hash.ts";

const MAX = 64;

/** A path split into its natural name and its (lowercased) extension. */
export function naturalName(rel: string): { natural: string; ext: string } {
  const parts = rel.split("/");
  const last = parts.pop()!;
  const m = /^(.*[^.].*)\.([^.]+)$/.exec(last);
  const stem = m ? m[1] : last;
  const ext = m ? m[2].toLowerCase() : "";
  return { natural: [...parts, stem].join("__"), ext };
}

/** `text` made into a valid artifact name (see the module doc). */
export function sanitizeName(text: string): string {
  let s = text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_");
  if (!/[a-z0-9]/.test(s)) s = "output";
  if (s.length > MAX) s = `${s.slice(0, 55)}_${sha256Hex(text).slice(0, 8)}`;
  return s;
}

/** An extension as it may appear in a name or a kept file's name. */
export function cleanExt(ext: string): string {
  return /^[a-z0-9]{1,16}$/.test(ext) ? ext : "";
}

function withSuffix(base: string, suffix: string): string {
  return base.slice(0, MAX - suffix.length) + suffix;
}

/** One thing to name: `key` identifies it in the result. */
export interface NameRequest {
  key: string;
  natural: string;
  ext: string;
}

/**
 * Assigns every request a distinct valid artifact name that `taken` does
 * not hold, by the rule of the module doc. `requests` must be sorted.
 */
export function assignNames(
  requests: NameRequest[],
  taken: (name: string) => boolean,
): Map<string, string> {
  const used = new Set<string>();
  // A reserved name (`__proto__`, `constructor`, …) is never free: it is
  // changed the way a taken name is.
  const free = (n: string) =>
    ARTIFACT_NAME_PATTERN.test(n) && !used.has(n) && !taken(n);
  const out = new Map<string, string>();
  for (const r of requests) {
    if (ARTIFACT_NAME_PATTERN.test(r.natural) && free(r.natural)) {
      used.add(r.natural);
      out.set(r.key, r.natural);
    }
  }
  for (const r of requests) {
    if (out.has(r.key)) continue;
    const base = ARTIFACT_NAME_PATTERN.test(r.natural)
      ? r.natural
      : sanitizeName(r.natural);
    let name = base;
    const ext = cleanExt(r.ext);
    if (!free(name) && ext) name = withSuffix(base, `_${ext}`);
    for (let i = 2; !free(name); i++) name = withSuffix(base, `_${i}`);
    used.add(name);
    out.set(r.key, name);
  }
  return out;
}

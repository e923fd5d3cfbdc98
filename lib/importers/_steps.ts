/**
 * Sorted step arrays: search, ascending checks, unique unions. Private to
 * the importers.
 *
 * @module
 */

export function sameSteps(a: Float64Array, b: Float64Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function isAscending(a: Float64Array): boolean {
  for (let i = 1; i < a.length; i++) if (a[i] < a[i - 1]) return false;
  return true;
}

export function lowerBound(a: Float64Array, v: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Sorted unique union of step arrays; linear when each is ascending. */
export function unionSteps(all: Float64Array[]): Float64Array {
  if (all.length === 0) return new Float64Array(0);
  if (all.every(isAscending)) {
    let acc = dedupe(all[0]);
    for (let k = 1; k < all.length; k++) {
      const b = all[k];
      acc = mergeUnique(acc, b);
    }
    return acc;
  }
  let n = 0;
  for (const a of all) n += a.length;
  const cat = new Float64Array(n);
  let o = 0;
  for (const a of all) {
    cat.set(a, o);
    o += a.length;
  }
  return dedupe(cat.sort());
}

export function dedupe(a: Float64Array): Float64Array {
  let unique = true;
  for (let i = 1; i < a.length && unique; i++) unique = a[i] !== a[i - 1];
  if (unique) return a;
  let n = 0;
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    if (n === 0 || out[n - 1] !== a[i]) out[n++] = a[i];
  }
  return n === a.length ? out : out.slice(0, n);
}

/** Whether every value of ascending `b` is in ascending unique `a`. */
function isSubset(b: Float64Array, a: Float64Array): boolean {
  let j = 0;
  for (let i = 0; i < b.length; i++) {
    while (j < a.length && a[j] < b[i]) j++;
    if (j === a.length || a[j] !== b[i]) return false;
  }
  return true;
}

export function mergeUnique(a: Float64Array, b: Float64Array): Float64Array {
  if (isSubset(b, a)) return a;
  const out = new Float64Array(a.length + b.length);
  let i = 0, j = 0, n = 0;
  while (i < a.length || j < b.length) {
    const v = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
    if (n === 0 || out[n - 1] !== v) out[n++] = v;
  }
  return out.slice(0, n);
}

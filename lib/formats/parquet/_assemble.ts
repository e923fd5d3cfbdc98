/**
 * The column assembly of the fast path (`_fast.ts`): a column's decoded
 * values made into what the general reader gives for it (`toReadColumn` in
 * `_columns.ts`), a typed array or a plain array with nulls.
 *
 * @module
 */
import type { Leaf } from "./_columns.ts";
import { TYPED, TYPED_KINDS } from "./_layout.ts";
import { int64, typedView, WIDTH } from "./_pages.ts";
import type { ReadColumn } from "./types.ts";

/** A column decoded: values at their rows (zero where null), and the nulls. */
export interface Decoded {
  /** The values as a plain array, null where missing (when asked for). */
  array?: (number | null)[];
  /** The array holds an INT64 beyond 2^53 (rounded). */
  unsafe: boolean;
  /** Else `rows × width` bytes, little-endian values of the physical type. */
  data: ArrayBuffer;
  /** 1 where the row has a value; absent when every row has one. */
  defined?: Uint8Array;
  nulls: number;
}

/**
 * The column as the general reader returns it (`toReadColumn`): the typed
 * array kind it was written as when it has no nulls, else plain arrays
 * (INT64 as numbers when every value is a safe integer, else bigints).
 */
export function finish(
  d: Decoded,
  physical: string,
  leaf: Leaf,
  kind: string | undefined,
): ReadColumn {
  if (d.array) return d.array;
  const type = leaf.info.type;
  const rows = d.data.byteLength / WIDTH[physical];
  const typed = TYPED_KINDS.find((k) => k === kind);
  if (typed && TYPED[typed].type === type && d.nulls === 0) {
    const Ctor = TYPED[typed].ctor;
    if (physical === "INT64") {
      if (Ctor === BigInt64Array) return new BigInt64Array(d.data);
      const out = new Ctor(rows);
      const words = new Int32Array(d.data);
      for (let i = 0; i < rows; i++) out[i] = int64(words, i);
      return out;
    }
    const src = physical === "DOUBLE"
      ? new Float64Array(d.data)
      : physical === "FLOAT"
      ? new Float32Array(d.data)
      : new Int32Array(d.data);
    if (src instanceof Ctor) return src;
    if (Ctor === BigInt64Array) {
      const out = new BigInt64Array(rows);
      for (let i = 0; i < rows; i++) out[i] = BigInt(src[i]);
      return out;
    }
    const out = new Ctor(rows) as Float64Array;
    out.set(src);
    return out;
  }
  const defined = d.nulls ? d.defined : undefined;
  if (physical === "INT64") {
    const words = new Int32Array(d.data);
    let bigint = kind === "bigint[]";
    if (!bigint && kind !== "number[]") {
      for (let i = 0; i < rows; i++) {
        if (
          (!defined || defined[i]) &&
          !Number.isSafeInteger(int64(words, i))
        ) {
          bigint = true;
          break;
        }
      }
    }
    if (bigint) {
      const big = new BigInt64Array(d.data);
      const out: (bigint | null)[] = [];
      for (let i = 0; i < rows; i++) {
        out.push(!defined || defined[i] ? big[i] : null);
      }
      return out;
    }
    const out: (number | null)[] = new Array(rows).fill(0.5);
    for (let i = 0; i < rows; i++) {
      out[i] = !defined || defined[i] ? int64(words, i) : null;
    }
    return out;
  }
  if (physical === "INT32" && kind === "bigint[]") {
    const src = new Int32Array(d.data);
    const out: (bigint | null)[] = [];
    for (let i = 0; i < rows; i++) {
      out.push(!defined || defined[i] ? BigInt(src[i]) : null);
    }
    return out;
  }
  const src = typedView(physical, d.data, 0, rows);
  const out: (number | null)[] = new Array(rows).fill(0.5);
  for (let i = 0; i < rows; i++) {
    out[i] = !defined || defined[i] ? src[i] : null;
  }
  return out;
}

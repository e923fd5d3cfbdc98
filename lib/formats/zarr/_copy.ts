/**
 * Copies boxes of raw element bytes between C-order buffers, and undoes
 * transposes and byte order.
 *
 * @module
 */

export function product(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Calls `fn` for every index vector in the box `[lo, hi)` (C order). */
export function* box(lo: number[], hi: number[]): Generator<number[]> {
  if (lo.some((l, i) => l >= hi[i])) return;
  const at = lo.slice();
  while (true) {
    yield at.slice();
    let axis = at.length - 1;
    for (; axis >= 0; axis--) {
      if (++at[axis] < hi[axis]) break;
      at[axis] = lo[axis];
    }
    if (axis < 0) return;
  }
}

/**
 * Copies the box `count` from `src` (shape `srcShape`, at `srcAt`) into
 * `dst` (shape `dstShape`, at `dstAt`); raw bytes, `size` per element.
 */
export function copyBox(
  src: Uint8Array,
  srcShape: number[],
  srcAt: number[],
  dst: Uint8Array,
  dstShape: number[],
  dstAt: number[],
  count: number[],
  size: number,
): void {
  // Trailing axes taken whole on both sides are one contiguous run.
  let n = count.length;
  while (
    n > 1 && count[n - 1] === srcShape[n - 1] &&
    count[n - 1] === dstShape[n - 1]
  ) {
    size *= count[n - 1];
    n--;
  }
  if (n < count.length) {
    srcShape = srcShape.slice(0, n);
    dstShape = dstShape.slice(0, n);
    srcAt = srcAt.slice(0, n);
    dstAt = dstAt.slice(0, n);
    count = count.slice(0, n);
  }
  if (n === 0) {
    dst.set(src.subarray(0, size));
    return;
  }
  const srcStride = strides(srcShape, size);
  const dstStride = strides(dstShape, size);
  const run = count[n - 1] * size;
  const outer = count.slice(0, -1);
  for (const idx of box(outer.map(() => 0), outer)) {
    let s = srcAt[n - 1] * size, d = dstAt[n - 1] * size;
    for (let j = 0; j < n - 1; j++) {
      s += (srcAt[j] + idx[j]) * srcStride[j];
      d += (dstAt[j] + idx[j]) * dstStride[j];
    }
    dst.set(src.subarray(s, s + run), d);
  }
}

function strides(shape: number[], size: number): number[] {
  const out = new Array<number>(shape.length);
  let step = size;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = step;
    step *= shape[i];
  }
  return out;
}

/** Stored axis order → C order of `shape` (raw bytes). */
export function untranspose(
  raw: Uint8Array,
  shape: number[],
  order: number[],
  size: number,
): Uint8Array {
  if (order.every((a, i) => a === i)) return raw;
  const stored = order.map((a) => shape[a]);
  const storedStride = strides(stored, size);
  // The stride, in the stored bytes, of each axis of `shape`.
  const stride = new Array<number>(shape.length);
  order.forEach((a, j) => stride[a] = storedStride[j]);
  const out = new Uint8Array(raw.length);
  let o = 0;
  for (const idx of box(shape.map(() => 0), shape)) {
    let s = 0;
    for (let j = 0; j < idx.length; j++) s += idx[j] * stride[j];
    for (let b = 0; b < size; b++) out[o++] = raw[s + b];
  }
  return out;
}

export function swapBytes(raw: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < raw.length; i += size) {
    raw.subarray(i, i + size).reverse();
  }
}

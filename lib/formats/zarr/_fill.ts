/**
 * Zarr `fill_value` decoding (v3 core spec, "fill value" section; v2 as
 * zarr-python 2 wrote it) into the raw little-endian bytes of one element,
 * so a NaN payload written as a hex string survives bit for bit.
 *
 * @module
 */
import { CorruptFileError } from "../../errors.ts";

/** Bytes per element of every data type the reader supports. */
export const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  bool: 1,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  float16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  int64: 8,
  uint64: 8,
  float64: 8,
};

// The NaN the spec means by "NaN": sign 0, quiet bit set, payload 0.
const CANONICAL_NAN: Record<string, bigint> = {
  float16: 0x7e00n,
  float32: 0x7fc00000n,
  float64: 0x7ff8000000000000n,
};

const INT_RANGE: Record<string, [bigint, bigint]> = {
  int8: [-(2n ** 7n), 2n ** 7n - 1n],
  uint8: [0n, 2n ** 8n - 1n],
  int16: [-(2n ** 15n), 2n ** 15n - 1n],
  uint16: [0n, 2n ** 16n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

/**
 * The little-endian bytes of one element equal to `fill` (a parsed
 * `fill_value`; for integers beyond 2^53 pass its JSON source text, a
 * string of digits, to keep it exact). `null` (v2: no fill value) is 0.
 *
 * @throws {CorruptFileError} If `fill` is not a valid fill value of `dtype`.
 */
export function fillBytes(
  dtype: string,
  fill: unknown,
  where: string,
): Uint8Array {
  const size = ELEMENT_BYTES[dtype];
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  const bad = (why: string) =>
    new CorruptFileError(
      `${where}: fill_value ${
        JSON.stringify(fill)
      } is not valid for data type "${dtype}" (${why}): correct it in the array's metadata`,
    );
  if (fill === null || fill === undefined) return out;
  if (dtype === "bool") {
    if (typeof fill === "boolean") out[0] = fill ? 1 : 0;
    // zarr-python 2 writes 0/1 for bool as well.
    else if (fill === 0 || fill === 1) out[0] = fill;
    else throw bad("expected true or false");
    return out;
  }
  if (dtype in INT_RANGE) {
    let value: bigint;
    if (typeof fill === "number" && Number.isInteger(fill)) {
      value = BigInt(fill);
    } else if (typeof fill === "string" && /^-?\d+$/.test(fill)) {
      value = BigInt(fill);
    } else if (typeof fill === "string" && /^0x[0-9a-f]+$/i.test(fill)) {
      value = BigInt(fill);
    } else {
      throw bad("expected an integer");
    }
    const [lo, hi] = INT_RANGE[dtype];
    if (value < lo || value > hi) throw bad(`outside ${lo}..${hi}`);
    const bits = value < 0n ? value + (1n << BigInt(size * 8)) : value;
    writeBits(view, size, bits);
    return out;
  }
  // Floating point.
  if (typeof fill === "string") {
    if (fill === "NaN") {
      writeBits(view, size, CANONICAL_NAN[dtype]);
      return out;
    }
    if (fill === "Infinity" || fill === "-Infinity") {
      writeFloat(view, size, fill === "Infinity" ? Infinity : -Infinity);
      return out;
    }
    const hex = /^0x([0-9a-fA-F]+)$/.exec(fill);
    if (hex) {
      if (hex[1].length !== size * 2) {
        throw bad(`a hex fill value holds ${size * 2} hex digits`);
      }
      writeBits(view, size, BigInt(fill));
      return out;
    }
    // A number in a string (the original's source text of a float).
    if (/^-?\d+(\.\d*)?([eE][-+]?\d+)?$/.test(fill)) {
      writeFloat(view, size, Number(fill));
      return out;
    }
    throw bad(`expected a number, "NaN", "Infinity", "-Infinity" or "0x…"`);
  }
  if (typeof fill === "number") {
    writeFloat(view, size, fill);
    return out;
  }
  throw bad(`expected a number, "NaN", "Infinity", "-Infinity" or "0x…"`);
}

function writeBits(view: DataView, size: number, bits: bigint): void {
  if (size === 1) view.setUint8(0, Number(bits));
  else if (size === 2) view.setUint16(0, Number(bits), true);
  else if (size === 4) view.setUint32(0, Number(bits), true);
  else view.setBigUint64(0, bits, true);
}

function writeFloat(view: DataView, size: number, value: number): void {
  if (size === 2) view.setFloat16(0, value, true);
  else if (size === 4) view.setFloat32(0, value, true);
  else view.setFloat64(0, value, true);
}

/**
 * Fills `out` (raw bytes of whole elements) with the element `fill`,
 * byte-exact (a typed array's `fill` may canonicalise a NaN payload).
 */
export function fillRaw(out: Uint8Array, fill: Uint8Array): void {
  const size = fill.length;
  if (fill.every((b) => b === fill[0])) {
    out.fill(fill[0]);
    return;
  }
  if (out.length === 0) return;
  out.set(fill, 0);
  // Doubling copies: log2(n) calls.
  let filled = size;
  while (filled < out.length) {
    const n = Math.min(filled, out.length - filled);
    out.copyWithin(filled, 0, n);
    filled += n;
  }
}

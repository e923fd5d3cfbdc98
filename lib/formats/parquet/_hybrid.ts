/**
 * The RLE/bit-packed hybrid encoding of Parquet, as the fast path (`_fast.ts`)
 * decodes it: definition levels and dictionary indices, straight into typed
 * arrays.
 *
 * @module
 */

/**
 * Decodes `count` values of the RLE/bit-packed hybrid encoding starting at
 * `buf[pos]` into `out`. Throws when the runs end before `count` values.
 */
export function readHybrid(
  buf: Uint8Array,
  pos: number,
  bitWidth: number,
  count: number,
  out: Int32Array | Uint8Array,
): void {
  const end = buf.length;
  const valueBytes = (bitWidth + 7) >> 3;
  let at = 0;
  while (at < count) {
    let header = 0;
    let shift = 0;
    let b: number;
    do {
      if (pos >= end) throw new Error("runs end early");
      b = buf[pos++];
      header += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80 && shift < 35);
    if (header % 2 === 0) {
      if (pos + valueBytes > end) throw new Error("runs end early");
      let value = 0;
      for (let k = 0; k < valueBytes; k++) value |= buf[pos + k] << (8 * k);
      pos += valueBytes;
      const take = Math.min(header / 2, count - at);
      out.fill(value, at, at + take);
      at += take;
    } else {
      const groups = (header - 1) / 2;
      const take = Math.min(groups * 8, count - at);
      if (pos + Math.ceil(take * bitWidth / 8) > end) {
        throw new Error("runs end early");
      }
      unpack(buf, pos, bitWidth, take, out, at);
      pos += groups * bitWidth;
      at += take;
    }
  }
}

/** Unpacks `count` little-endian bit-packed values of `bitWidth` bits. */
function unpack(
  buf: Uint8Array,
  pos: number,
  bitWidth: number,
  count: number,
  out: Int32Array | Uint8Array,
  at: number,
): void {
  if (bitWidth === 0) {
    out.fill(0, at, at + count);
  } else if (bitWidth <= 24) {
    const mask = (1 << bitWidth) - 1;
    let acc = 0;
    let bits = 0;
    for (let i = 0; i < count; i++) {
      while (bits < bitWidth) {
        acc |= buf[pos++] << bits;
        bits += 8;
      }
      out[at + i] = acc & mask;
      acc >>>= bitWidth;
      bits -= bitWidth;
    }
  } else {
    const scale = 2 ** bitWidth;
    let acc = 0;
    let bits = 0;
    for (let i = 0; i < count; i++) {
      while (bits < bitWidth) {
        acc += buf[pos++] * 2 ** bits;
        bits += 8;
      }
      const v = acc % scale;
      out[at + i] = v | 0;
      acc = (acc - v) / scale;
      bits -= bitWidth;
    }
  }
}

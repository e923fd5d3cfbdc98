/**
 * The page decoding of the fast path (`_fast.ts`): the pages of one column
 * chunk (PLAIN or dictionary-encoded, v1 or v2, with definition levels)
 * decoded into the state of the column being read, its values at their rows
 * either in a plain array or as raw little-endian bytes. A page it does not
 * decode throws {@linkcode Unsupported}: the general reader takes the column.
 *
 * @module
 */
import { type FileMetaData, parquetHeader } from "../../_deps/hyparquet.ts";
import { decompressPage } from "./_codecs.ts";
import { readHybrid } from "./_hybrid.ts";

/** Bytes per value of the physical types this path reads. */
export const WIDTH: Readonly<Record<string, number>> = {
  INT32: 4,
  FLOAT: 4,
  INT64: 8,
  DOUBLE: 8,
};

/** A page this path does not decode: the general reader takes the column. */
export class Unsupported extends Error {}

/** The state of a column being decoded. */
export interface Column {
  physical: string;
  width: number;
  optional: boolean;
  rows: number;
  /** The plain array values go to, if the column becomes one. */
  array: (number | null)[] | undefined;
  /** Else the values' bytes, at their rows. */
  out8: Uint8Array;
  out32: Int32Array;
  /** Aligned room for the values of an unaligned page. */
  scratch: ArrayBuffer;
  /** Room for a page of INT64 values as numbers (array mode). */
  numbers: Float64Array;
  /** An INT64 beyond 2^53 went into `array`. */
  unsafe: boolean;
  defined: Uint8Array | undefined;
  nulls: number;
  /** The next row to fill. */
  row: number;
}

type ChunkMeta = NonNullable<
  FileMetaData["row_groups"][number]["columns"][number]["meta_data"]
>;

/** Decodes the pages of one column chunk (`groupRows` rows). */
export function readChunk(
  col: Column,
  bytes: Uint8Array,
  meta: ChunkMeta,
  groupRows: number,
): void {
  const { width } = col;
  const end = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = { view, offset: 0 };
  const groupEnd = col.row + groupRows;
  let dict: ArrayBuffer | undefined;
  let dictSize = 0;
  while (col.row < groupEnd) {
    if (reader.offset >= end) throw new Error("column chunk ends early");
    const header = parquetHeader(reader);
    const at = reader.offset;
    const size = header.compressed_page_size;
    if (!(size >= 0) || at + size > end) {
      throw new Error("page runs past its column chunk");
    }
    reader.offset = at + size;
    const raw = bytes.subarray(at, at + size);
    if (header.type === "DICTIONARY_PAGE") {
      const dh = header.dictionary_page_header!;
      if (dh.encoding !== "PLAIN" && dh.encoding !== "PLAIN_DICTIONARY") {
        throw new Unsupported();
      }
      const page = decompressPage(
        meta.codec,
        raw,
        header.uncompressed_page_size,
      );
      dictSize = dh.num_values;
      if (!(dictSize >= 0) || page.length < dictSize * width) {
        throw new Error("dictionary page too short");
      }
      dict = new ArrayBuffer(dictSize * width);
      new Uint8Array(dict).set(page.subarray(0, dictSize * width));
      continue;
    }
    let levels: Uint8Array | undefined;
    let values: Uint8Array;
    let n: number;
    let encoding: string;
    if (header.type === "DATA_PAGE") {
      const h = header.data_page_header!;
      n = h.num_values;
      encoding = h.encoding;
      const page = decompressPage(
        meta.codec,
        raw,
        header.uncompressed_page_size,
      );
      let pos = 0;
      if (col.optional) {
        if (h.definition_level_encoding !== "RLE") throw new Unsupported();
        if (page.length < 4) throw new Error("page too short");
        const len = (page[0] | page[1] << 8 | page[2] << 16 | page[3] << 24) >>>
          0;
        if (4 + len > page.length) throw new Error("levels past the page");
        levels = page.subarray(4, 4 + len);
        pos = 4 + len;
      }
      values = page.subarray(pos);
    } else if (header.type === "DATA_PAGE_V2") {
      const h = header.data_page_header_v2!;
      n = h.num_values;
      encoding = h.encoding;
      const rl = h.repetition_levels_byte_length ?? 0;
      const dl = h.definition_levels_byte_length ?? 0;
      if (rl !== 0 || h.num_rows !== n) throw new Unsupported();
      if (!(dl >= 0) || dl > size) throw new Error("levels past the page");
      if (col.optional && dl > 0) levels = raw.subarray(0, dl);
      const body = raw.subarray(dl);
      const bodySize = header.uncompressed_page_size - dl;
      values = h.is_compressed !== false && bodySize
        ? decompressPage(meta.codec, body, bodySize)
        : body;
    } else {
      throw new Unsupported();
    }
    if (!(n >= 0) || col.row + n > groupEnd) {
      throw new Error("pages hold more rows than the row group");
    }
    const present = levels ? readLevels(col, levels, n) : n;
    if (encoding === "PLAIN") {
      plain(col, values, n, present);
    } else if (
      encoding === "RLE_DICTIONARY" || encoding === "PLAIN_DICTIONARY"
    ) {
      if (!dict) throw new Error("dictionary page missing");
      dictionary(col, values, n, present, dict, dictSize);
    } else {
      throw new Unsupported();
    }
    col.row += n;
  }
}

/**
 * Reads a page's definition levels (bit width 1). Returns how many rows
 * have a value; marks the rest in `col.defined` (made on the first null).
 */
function readLevels(col: Column, levels: Uint8Array, n: number): number {
  // Common case: one RLE run of "defined" covering the page.
  let pos = 0;
  let header = 0;
  let shift = 0;
  let b: number;
  do {
    if (pos >= levels.length) throw new Error("levels end early");
    b = levels[pos++];
    header += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80 && shift < 35);
  if (header % 2 === 0 && header / 2 >= n && levels[pos] === 1) {
    if (col.defined) col.defined.fill(1, col.row, col.row + n);
    return n;
  }
  if (!col.defined) {
    col.defined = new Uint8Array(col.rows);
    col.defined.fill(1, 0, col.row);
  }
  const defined = col.defined.subarray(col.row, col.row + n);
  readHybrid(levels, 0, 1, n, defined);
  let present = 0;
  for (let i = 0; i < n; i++) {
    if (defined[i] === 1) present++;
    else defined[i] = 0;
  }
  col.nulls += n - present;
  return present;
}

/** PLAIN values: one copy without nulls, else a scatter to their rows. */
function plain(col: Column, values: Uint8Array, n: number, present: number) {
  const { width, row } = col;
  if (values.length < present * width) throw new Error("values end early");
  const array = col.array;
  if (array) {
    const src = col.physical === "INT64"
      ? int64Numbers(col, int64Words(col, values, present), true)
      : typedValues(col, values, present);
    if (present === n) {
      for (let i = 0; i < n; i++) array[row + i] = src[i];
    } else {
      const defined = col.defined!;
      let j = 0;
      for (let i = 0; i < n; i++) {
        array[row + i] = defined[row + i] === 1 ? src[j++] : null;
      }
    }
    return;
  }
  if (present === n) {
    col.out8.set(values.subarray(0, n * width), row * width);
    return;
  }
  const src = new Int32Array(alignedBuffer(col, values, present * width));
  const words = width >> 2;
  const out = col.out32;
  const defined = col.defined!;
  let j = 0;
  for (let i = 0; i < n; i++) {
    const r = row + i;
    if (defined[r] !== 1) continue;
    for (let w = 0; w < words; w++) out[r * words + w] = src[j * words + w];
    j++;
  }
}

/** Dictionary indices (RLE/bit-packed) gathered from the dictionary. */
function dictionary(
  col: Column,
  values: Uint8Array,
  n: number,
  present: number,
  dict: ArrayBuffer,
  dictSize: number,
) {
  if (values.length < 1) throw new Error("indices missing");
  const bitWidth = values[0];
  if (bitWidth > 32) throw new Error(`index bit width ${bitWidth}`);
  const indices = new Int32Array(present);
  readHybrid(values, 1, bitWidth, present, indices);
  for (let i = 0; i < present; i++) {
    if (indices[i] >>> 0 >= dictSize) {
      throw new Error(`index ${indices[i] >>> 0} outside the dictionary`);
    }
  }
  const row = col.row;
  const defined = present === n ? undefined : col.defined!;
  const array = col.array;
  if (array) {
    const src = col.physical === "INT64"
      ? int64Numbers(col, new Int32Array(dict), false).slice(0, dictSize)
      : typedView(col.physical, dict, 0, dictSize);
    let j = 0;
    for (let i = 0; i < n; i++) {
      array[row + i] = defined && defined[row + i] !== 1
        ? null
        : src[indices[j++]];
    }
    if (col.physical === "INT64") {
      for (let i = 0; i < n; i++) {
        const v = array[row + i];
        if (v !== null && (v > MAX_SAFE || v < -MAX_SAFE)) col.unsafe = true;
      }
    }
    return;
  }
  const out = col.out32;
  const words = new Int32Array(dict);
  if (col.width === 8) {
    let j = 0;
    for (let i = 0; i < n; i++) {
      if (defined && defined[row + i] !== 1) continue;
      const k = indices[j++] << 1;
      const r = (row + i) << 1;
      out[r] = words[k];
      out[r + 1] = words[k + 1];
    }
  } else {
    let j = 0;
    for (let i = 0; i < n; i++) {
      if (defined && defined[row + i] !== 1) continue;
      out[row + i] = words[indices[j++]];
    }
  }
}

/** The first `count` INT64 values of `bytes` as (low, high) words. */
function int64Words(col: Column, bytes: Uint8Array, count: number) {
  if (bytes.byteOffset % 4 === 0) {
    return new Int32Array(bytes.buffer, bytes.byteOffset, count * 2);
  }
  return new Int32Array(alignedBuffer(col, bytes, count * 8), 0, count * 2);
}

/**
 * INT64 words (low, high pairs) as numbers, in the column's reused buffer;
 * notes in `col.unsafe` a value beyond 2^53 (rounded as `Number` rounds).
 */
function int64Numbers(
  col: Column,
  words: Int32Array,
  mark: boolean,
): Float64Array {
  const count = words.length >> 1;
  if (col.numbers.length < count) col.numbers = new Float64Array(count);
  const out = col.numbers;
  let unsafe = false;
  for (let i = 0; i < count; i++) {
    const v = int64(words, i);
    out[i] = v;
    if (v > MAX_SAFE || v < -MAX_SAFE) unsafe = true;
  }
  if (unsafe && mark) col.unsafe = true;
  return out;
}
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** `count` values of the column's type at the start of `bytes`. */
function typedValues(
  col: Column,
  bytes: Uint8Array,
  count: number,
): Float64Array | Float32Array | Int32Array {
  const length = count * col.width;
  if (bytes.byteOffset % col.width === 0) {
    return typedView(col.physical, bytes.buffer, bytes.byteOffset, count);
  }
  return typedView(col.physical, alignedBuffer(col, bytes, length), 0, count);
}

export function typedView(
  physical: string,
  buffer: ArrayBufferLike,
  offset: number,
  count: number,
): Float64Array | Float32Array | Int32Array {
  return physical === "DOUBLE"
    ? new Float64Array(buffer, offset, count)
    : physical === "FLOAT"
    ? new Float32Array(buffer, offset, count)
    : new Int32Array(buffer, offset, count);
}

/**
 * The first `length` bytes of `bytes` copied to the start of the column's
 * scratch buffer (reused page after page); returns the buffer, `length`
 * bytes long at least.
 */
function alignedBuffer(
  col: Column,
  bytes: Uint8Array,
  length: number,
): ArrayBuffer {
  if (col.scratch.byteLength < length) col.scratch = new ArrayBuffer(length);
  new Uint8Array(col.scratch, 0, length).set(bytes.subarray(0, length));
  return col.scratch;
}

/**
 * The INT64 at `i` as a number, rounded as `Number(bigint)` rounds: the high
 * word times 2³² is exact, and the one addition rounds to nearest.
 */
export function int64(words: Int32Array, i: number): number {
  return words[2 * i + 1] * 4294967296 + (words[2 * i] >>> 0);
}

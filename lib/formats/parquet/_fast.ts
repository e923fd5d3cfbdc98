/**
 * The reader's fast path: flat INT32, INT64, FLOAT and DOUBLE columns whose
 * pages are PLAIN or dictionary-encoded (what this vault, polars, pyarrow
 * and DuckDB write for numbers by default), decoded straight from the file
 * bytes into one typed array per column. hyparquet's general reader builds
 * a JS array per page and assembles it value by value (Dremel levels), which
 * made it 4× slower than DuckDB on a 1M-row file; here a PLAIN page without
 * nulls is one copy, and the only per-value loops are the gathers of
 * dictionary pages and the scatter around nulls.
 *
 * Anything else (another encoding or page type, annotations that convert
 * values) is left to the general reader, column by column, as is a column
 * that fails here: the general reader then gives the error, so both paths
 * accept and refuse the same files. The result of a column equals what the
 * general reader gives for it (`toReadColumn` in `_columns.ts`); the tests
 * compare the two on many files.
 *
 * @module
 */
import {
  type FileMetaData,
  parquetHeader,
  type SchemaElement,
} from "../../_deps/hyparquet.ts";
import { decompressPage, READABLE_CODECS } from "./_codecs.ts";
import type { Leaf } from "./_columns.ts";
import { TYPED, TYPED_KINDS } from "./_layout.ts";
import type { ReadColumn } from "./types.ts";

/** Bytes per value of the physical types this path reads. */
const WIDTH: Readonly<Record<string, number>> = {
  INT32: 4,
  FLOAT: 4,
  INT64: 8,
  DOUBLE: 8,
};

/** A page this path does not decode: the general reader takes the column. */
class Unsupported extends Error {}

/** A column decoded: values at their rows (zero where null), and the nulls. */
interface Decoded {
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
 * The bytes `start..end` of the file (a column chunk), valid until the next
 * call, or copied into `into` (its first `end - start` bytes, to transfer);
 * throws if they are not all inside the data part of the file.
 */
export type ChunkSource = (
  start: number,
  end: number,
  into?: Uint8Array,
) => Uint8Array;

/** A {@linkcode ChunkSource} over the whole file in memory. */
export function bytesSource(bytes: Uint8Array): ChunkSource {
  return (start, end, into) => {
    if (!(start >= 4) || !(end >= start) || !(end <= bytes.length - 8)) {
      throw new Error("column chunk outside the file");
    }
    const chunk = bytes.subarray(start, end);
    if (!into) return chunk;
    into.set(chunk);
    return into.subarray(0, chunk.length);
  };
}

/** The file ranges of a column's chunks, one per row group, in order. */
export function chunkRanges(
  metadata: FileMetaData,
  el: SchemaElement,
): [number, number][] | undefined {
  const ranges: [number, number][] = [];
  for (const rg of metadata.row_groups) {
    const meta = chunkOf(rg, el)?.meta_data;
    if (!meta) return undefined;
    let start = Number(meta.data_page_offset);
    const dictAt = Number(meta.dictionary_page_offset ?? 0);
    if (dictAt > 0 && dictAt < start) start = dictAt;
    ranges.push([start, start + Number(meta.total_compressed_size)]);
  }
  return ranges;
}

type RowGroup = FileMetaData["row_groups"][number];
type ColumnChunk = RowGroup["columns"][number];

/** Each row group's flat chunks by name, built once: a lookup per column was a scan (quadratic in columns). */
const chunksByName = new WeakMap<RowGroup, Map<string, ColumnChunk>>();

/** The chunk of column `el` in a row group. */
export function chunkOf(
  rg: RowGroup,
  el: SchemaElement,
): ColumnChunk | undefined {
  let byName = chunksByName.get(rg);
  if (byName === undefined) {
    byName = new Map();
    for (const c of rg.columns) {
      const path = c.meta_data?.path_in_schema;
      if (path?.length === 1 && !byName.has(path[0])) byName.set(path[0], c);
    }
    chunksByName.set(rg, byName);
  }
  return byName.get(el.name);
}

/** A column the fast path may read, and how. */
export interface FastPlan {
  leaf: Leaf;
  el: SchemaElement;
  /** The JS kind the writer recorded for it, if any. */
  kind: string | undefined;
  /**
   * Straight into the plain array the general reader would give, unless
   * the column becomes a typed array or bigints.
   */
  toArray: boolean;
}

/**
 * The columns the fast path may read (each may still turn out to need the
 * general reader); none when the row groups do not add up to the rows.
 */
export function planFastColumns(
  metadata: FileMetaData,
  leaves: Leaf[],
  kinds: Record<string, string> | undefined,
): FastPlan[] {
  const rows = Number(metadata.num_rows);
  let total = 0;
  for (const rg of metadata.row_groups) total += Number(rg.num_rows);
  if (!(rows > 0) || total !== rows) return [];
  const elements = new Map<string, SchemaElement>();
  for (const el of metadata.schema.slice(1)) elements.set(el.name, el);
  const plans: FastPlan[] = [];
  for (const leaf of leaves) {
    const el = elements.get(leaf.name);
    if (!el || !eligible(el, leaf)) continue;
    const kind = kinds?.[leaf.name];
    const typed = TYPED_KINDS.find((k) => k === kind);
    const toArray = kind !== "bigint[]" &&
      !(typed && TYPED[typed].type === leaf.info.type);
    plans.push({ leaf, el, kind, toArray });
  }
  return plans;
}

/**
 * Decodes every column the fast path can read. Returns column name → values
 * for those; the others are absent (the general reader reads them).
 */
export function readFastColumns(
  source: ChunkSource,
  metadata: FileMetaData,
  leaves: Leaf[],
  kinds: Record<string, string> | undefined,
): Map<string, ReadColumn> {
  const out = new Map<string, ReadColumn>();
  for (const plan of planFastColumns(metadata, leaves, kinds)) {
    const column = readFastColumn(source, metadata, plan);
    if (column) out.set(plan.leaf.name, column);
  }
  return out;
}

/**
 * One planned column, or undefined where the general reader must take it
 * (unsupported, or corrupt: the general reader then words the error).
 */
export function readFastColumn(
  source: ChunkSource,
  metadata: FileMetaData,
  plan: FastPlan,
): ReadColumn | undefined {
  const { el, kind, toArray } = plan;
  const rows = Number(metadata.num_rows);
  try {
    // INT64 values beyond 2^53 make bigints unless the kind says numbers:
    // then the column is read again as raw words.
    let decoded = decodeColumn(source, metadata, el, rows, toArray);
    if (decoded?.unsafe && kind !== "number[]") {
      decoded = decodeColumn(source, metadata, el, rows, false);
    }
    return decoded && finish(decoded, el.type!, plan.leaf, kind);
  } catch {
    return undefined;
  }
}

/**
 * A planned column decoded to its raw values (what a worker thread does):
 * transferable buffers, to be made the column by {@linkcode finishRaw}.
 * Throws where the column is not for the fast path.
 */
export function decodeRaw(
  source: ChunkSource,
  metadata: FileMetaData,
  el: SchemaElement,
): RawColumn {
  const decoded = decodeColumn(
    source,
    metadata,
    el,
    Number(metadata.num_rows),
    false,
  );
  if (!decoded) throw new Unsupported();
  return decoded;
}

/** A column's raw values, as {@linkcode decodeRaw} gives them. */
export type RawColumn = Omit<Decoded, "array">;

/** The column of a {@linkcode decodeRaw} result, as the fast path reads it. */
export function finishRaw(raw: RawColumn, plan: FastPlan): ReadColumn {
  return finish(raw, plan.el.type!, plan.leaf, plan.kind);
}

/** A flat number column whose stored values are its values. */
function eligible(el: SchemaElement, leaf: Leaf): boolean {
  if (!el.type || !(el.type in WIDTH)) return false;
  if (leaf.info.type !== "INT64" && leaf.info.type !== "DOUBLE") return false;
  const lt = el.logical_type;
  // hyparquet turns unsigned 32-bit integers into Uint32 values.
  return el.converted_type !== "UINT_32" &&
    !(lt?.type === "INTEGER" && lt.bitWidth === 32 && !lt.isSigned);
}

/** Decodes one column over all row groups; undefined if a chunk is missing. */
function decodeColumn(
  source: ChunkSource,
  metadata: FileMetaData,
  el: SchemaElement,
  rows: number,
  toArray: boolean,
): Decoded | undefined {
  const width = WIDTH[el.type!];
  const optional = el.repetition_type !== "REQUIRED";
  const data = new ArrayBuffer(toArray ? 0 : rows * width);
  const col: Column = {
    physical: el.type!,
    width,
    optional,
    rows,
    // Full size with a double in it: V8 keeps it an unboxed double array
    // (growing one by `push` cost 4× more here).
    array: toArray ? new Array(rows).fill(0.5) : undefined,
    out8: new Uint8Array(data),
    out32: new Int32Array(data),
    scratch: new ArrayBuffer(0),
    numbers: new Float64Array(0),
    unsafe: false,
    defined: undefined,
    nulls: 0,
    row: 0,
  };
  for (const rg of metadata.row_groups) {
    const chunk = chunkOf(rg, el);
    const meta = chunk?.meta_data;
    if (!meta || meta.type !== el.type || chunk.file_path) return undefined;
    if (!READABLE_CODECS.has(meta.codec)) return undefined;
    let start = Number(meta.data_page_offset);
    const dictAt = Number(meta.dictionary_page_offset ?? 0);
    if (dictAt > 0 && dictAt < start) start = dictAt;
    const end = start + Number(meta.total_compressed_size);
    readChunk(col, source(start, end), meta, Number(rg.num_rows));
  }
  if (col.row !== rows) throw new Error("column ends early");
  return {
    array: col.array,
    unsafe: col.unsafe,
    data,
    defined: col.defined,
    nulls: col.nulls,
  };
}

/** The state of a column being decoded. */
interface Column {
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
function readChunk(
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

function typedView(
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
 * Decodes `count` values of the RLE/bit-packed hybrid encoding starting at
 * `buf[pos]` into `out`. Throws when the runs end before `count` values.
 */
function readHybrid(
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

/**
 * The column as the general reader returns it (`toReadColumn`): the typed
 * array kind it was written as when it has no nulls, else plain arrays
 * (INT64 as numbers when every value is a safe integer, else bigints).
 */
function finish(
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

/**
 * The INT64 at `i` as a number, rounded as `Number(bigint)` rounds: the high
 * word times 2³² is exact, and the one addition rounds to nearest.
 */
function int64(words: Int32Array, i: number): number {
  return words[2 * i + 1] * 4294967296 + (words[2 * i] >>> 0);
}

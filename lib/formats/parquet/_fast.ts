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
import type { FileMetaData, SchemaElement } from "../../_deps/hyparquet.ts";
import { READABLE_CODECS } from "./_codecs.ts";
import type { Leaf } from "./_columns.ts";
import { type Decoded, finish } from "./_assemble.ts";
import { chunkOf, type ChunkSource } from "./_chunks.ts";
import { TYPED, TYPED_KINDS } from "./_layout.ts";
import { type Column, readChunk, Unsupported, WIDTH } from "./_pages.ts";
import type { ReadColumn } from "./types.ts";

export {
  bytesSource,
  chunkOf,
  chunkRanges,
  type ChunkSource,
} from "./_chunks.ts";

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

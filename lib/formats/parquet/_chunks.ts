/**
 * The column chunks of the fast path (`_fast.ts`): where each flat column's
 * chunk lies in the file, and the bytes of a chunk from a
 * {@linkcode ChunkSource} (the file in memory, or a read of its range).
 *
 * @module
 */
import type { FileMetaData, SchemaElement } from "../../_deps/hyparquet.ts";

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

/**
 * Writes prepared columns as one Parquet file: row groups, pages (PLAIN,
 * compressed), statistics and the footer.
 *
 * @module
 */
import { ByteWriter } from "../../_deps/hyparquet_writer.ts";
import { writePageHeader } from "../../_deps/hyparquet_writer.ts";
import { writeRleBitPackedHybrid } from "../../_deps/hyparquet_writer.ts";
import { writeMetadata } from "../../_deps/hyparquet_writer.ts";
import { writePlain } from "../../_deps/hyparquet_writer.ts";
import { snappyCompress } from "../../_deps/hyparquet_writer.ts";
import { zstdCompressSync } from "../../_deps.ts";
import {
  type Codec,
  type ColumnChunk,
  CREATED_BY,
  INFO_TYPE,
  MIN_SAVING,
  PAGE_BYTES,
  PAGE_ROWS,
  type Prepared,
  ROW_GROUP_ROWS,
  type RowGroup,
  type Statistics,
  type WriteElement,
} from "./_layout.ts";
import { MAGIC } from "./_util.ts";
import { type EncodedMetrics, KINDS_KEY } from "./types.ts";

/** Lays out prepared columns as one Parquet file. */
export function writePrepared(
  prepared: Prepared[],
  rows: number,
  codec: Codec,
): EncodedMetrics {
  const parts: Uint8Array[] = [MAGIC];
  let offset = MAGIC.length;
  const push = (b: Uint8Array) => {
    parts.push(b);
    offset += b.length;
  };
  const schema: WriteElement[] = [
    { name: "schema", num_children: prepared.length },
    ...prepared.map(schemaElement),
  ];
  const rowGroups: RowGroup[] = [];
  for (let r0 = 0; r0 < rows; r0 += ROW_GROUP_ROWS) {
    const r1 = Math.min(rows, r0 + ROW_GROUP_ROWS);
    const groupStart = offset;
    const chunks: ColumnChunk[] = [];
    let uncompressed = 0n;
    for (const col of prepared) {
      const chunkStart = offset;
      const size = writeChunk(col, r0, r1, codec, push);
      uncompressed += BigInt(size);
      chunks.push({
        file_offset: BigInt(chunkStart),
        meta_data: {
          type: col.type,
          encodings: ["PLAIN", "RLE"],
          path_in_schema: [col.name],
          codec,
          num_values: BigInt(r1 - r0),
          total_uncompressed_size: BigInt(size),
          total_compressed_size: BigInt(offset - chunkStart),
          data_page_offset: BigInt(chunkStart),
          statistics: statistics(col, r0, r1),
        },
      });
    }
    rowGroups.push({
      columns: chunks,
      total_byte_size: uncompressed,
      num_rows: BigInt(r1 - r0),
      file_offset: BigInt(groupStart),
      total_compressed_size: BigInt(offset - groupStart),
    });
  }

  const footer = new ByteWriter();
  writeMetadata(footer, {
    version: 2,
    schema,
    num_rows: BigInt(rows),
    row_groups: rowGroups,
    key_value_metadata: [{
      key: KINDS_KEY,
      value: JSON.stringify(
        Object.fromEntries(prepared.map((c) => [c.name, c.kind])),
      ),
    }],
    created_by: CREATED_BY,
    metadata_length: 0,
  });
  footer.appendUint32(0x31524150); // "PAR1"
  push(footer.getBytes());

  const bytes = new Uint8Array(offset);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return {
    bytes,
    rows,
    columns: prepared.map((c) => ({ name: c.name, type: INFO_TYPE[c.type] })),
  };
}

function schemaElement(col: Prepared): WriteElement {
  const element: WriteElement = {
    name: col.name,
    type: col.type,
    repetition_type: "OPTIONAL",
  };
  if (col.type === "BYTE_ARRAY") {
    element.converted_type = "UTF8";
    element.logical_type = { type: "STRING" };
  }
  return element;
}

/**
 * Writes one column chunk (rows r0..r1) as DATA_PAGE_V2 pages, PLAIN values
 * and RLE definition levels; returns its uncompressed size.
 */
function writeChunk(
  col: Prepared,
  r0: number,
  r1: number,
  codec: Codec,
  push: (b: Uint8Array) => void,
): number {
  let uncompressed = 0;
  let start = r0;
  while (start < r1) {
    const end = pageEnd(col, start, r1);
    let nulls = 0;
    const levels = new ByteWriter(16);
    if (col.defined) {
      const defined = col.defined.subarray(start, end);
      for (let i = 0; i < defined.length; i++) nulls += 1 - defined[i];
      writeRleBitPackedHybrid(levels, defined, 1);
    } else {
      // One RLE run of "defined": header (count << 1), then the value byte.
      levels.appendVarInt((end - start) << 1);
      levels.appendUint8(1);
    }
    const d0 = col.cursor;
    const d1 = d0 + (end - start - nulls);
    col.cursor = d1;
    const raw = plainValues(col, d0, d1);
    let packed = compress(raw, codec);
    const compressed = packed.length < raw.length * (1 - MIN_SAVING);
    if (!compressed) packed = raw;
    const levelBytes = levels.getBytes();
    const header = new ByteWriter(64);
    writePageHeader(header, {
      type: "DATA_PAGE_V2",
      uncompressed_page_size: levelBytes.length + raw.length,
      compressed_page_size: levelBytes.length + packed.length,
      data_page_header_v2: {
        num_values: end - start,
        num_nulls: nulls,
        num_rows: end - start,
        encoding: "PLAIN",
        definition_levels_byte_length: levelBytes.length,
        repetition_levels_byte_length: 0,
        is_compressed: compressed,
      },
    });
    const headerBytes = header.getBytes();
    push(headerBytes);
    push(levelBytes);
    push(packed);
    uncompressed += headerBytes.length + levelBytes.length + raw.length;
    start = end;
  }
  return uncompressed;
}

/** Where the page that starts at row `start` ends. */
function pageEnd(col: Prepared, start: number, limit: number): number {
  if (col.type !== "BYTE_ARRAY") return Math.min(limit, start + PAGE_ROWS);
  const items = col.items as Uint8Array[];
  let bytes = 0;
  let d = col.cursor;
  for (let r = start; r < limit; r++) {
    if (col.defined && col.defined[r] === 0) continue;
    bytes += 4 + items[d++].length;
    if (bytes >= PAGE_BYTES) return r + 1;
  }
  return limit;
}

/** PLAIN encoding of dense values d0..d1. */
function plainValues(col: Prepared, d0: number, d1: number): Uint8Array {
  // Deno runs on little-endian CPUs only, so typed-array bytes are PLAIN.
  const dense = col.f64 ?? col.words;
  if (dense) {
    return new Uint8Array(
      dense.buffer,
      dense.byteOffset + d0 * 8,
      (d1 - d0) * 8,
    );
  }
  const writer = new ByteWriter();
  writePlain(writer, col.items!.slice(d0, d1), col.type, undefined);
  return writer.getBytes();
}

function compress(raw: Uint8Array, codec: Codec): Uint8Array {
  if (codec === "ZSTD") return zstdCompressSync(raw);
  if (codec === "SNAPPY") return snappyCompress(raw);
  return raw;
}

/** Column-chunk statistics for rows r0..r1 (the cursor is past them). */
function statistics(
  col: Prepared,
  r0: number,
  r1: number,
): Statistics {
  let nulls = 0;
  if (col.defined) {
    for (let i = r0; i < r1; i++) nulls += 1 - col.defined[i];
  }
  const d1 = col.cursor;
  const d0 = d1 - (r1 - r0 - nulls);
  const stats: Statistics = { null_count: BigInt(nulls) };
  if (d1 === d0) return stats;
  if (col.f64) {
    let min = Infinity;
    let max = -Infinity;
    let seen = false;
    const f = col.f64;
    for (let i = d0; i < d1; i++) {
      const v = f[i];
      if (v < min) min = v;
      if (v > max) max = v;
      if (v === v) seen = true;
    }
    // NaN never enters min/max (Parquet spec); zeros: min -0, max +0.
    if (seen) {
      stats.min_value = min === 0 ? -0 : min;
      stats.max_value = max === 0 ? 0 : max;
    }
  } else if (col.words) {
    const w = col.words;
    let minHi = w[2 * d0 + 1], minLo = w[2 * d0] >>> 0;
    let maxHi = minHi, maxLo = minLo;
    for (let i = d0 + 1; i < d1; i++) {
      const hi = w[2 * i + 1], lo = w[2 * i] >>> 0;
      if (hi < minHi || (hi === minHi && lo < minLo)) {
        minHi = hi;
        minLo = lo;
      }
      if (hi > maxHi || (hi === maxHi && lo > maxLo)) {
        maxHi = hi;
        maxLo = lo;
      }
    }
    stats.min_value = (BigInt(minHi) << 32n) | BigInt(minLo);
    stats.max_value = (BigInt(maxHi) << 32n) | BigInt(maxLo);
  } else if (col.type === "BOOLEAN") {
    const items = col.items!;
    let anyFalse = false, anyTrue = false;
    for (let i = d0; i < d1; i++) {
      if (items[i]) anyTrue = true;
      else anyFalse = true;
    }
    stats.min_value = !anyFalse;
    stats.max_value = anyTrue;
  } else {
    const items = col.items as Uint8Array[];
    let min = items[d0], max = items[d0];
    for (let i = d0 + 1; i < d1; i++) {
      if (compareBytes(items[i], min) < 0) min = items[i];
      if (compareBytes(items[i], max) > 0) max = items[i];
    }
    // writeMetadata truncates long string bounds (and marks them inexact).
    stats.min_value = min;
    stats.max_value = max;
  }
  return stats;
}

/** Unsigned lexicographic order: Parquet's order for UTF-8 strings. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

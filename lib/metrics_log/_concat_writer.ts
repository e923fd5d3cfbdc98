/**
 * `ConcatWriter`: a Parquet file assembled from row groups copied from
 * other files, then a footer.
 *
 * @module
 */
import type { FileMetaData } from "../_deps/hyparquet.ts";
import { writeMetadata } from "../_deps/hyparquet_writer.ts";
import { ByteWriter } from "../_deps/hyparquet_writer.ts";
import { CorruptFileError } from "../errors.ts";
import {
  encodeTypedMetrics,
  KINDS_KEY,
  type ParquetColumnInfo,
} from "../formats/parquet/parquet.ts";
import {
  type ColumnChunk,
  metadataOf,
  type PlainKind,
  type RowGroup,
} from "./_footer.ts";

/** Where ConcatWriter copies column chunks from. */
export interface ChunkSource {
  /** Bytes from..from+length (valid until the next read). */
  read(from: number, length: number): Promise<Uint8Array>;
}

export function memorySource(bytes: Uint8Array): ChunkSource {
  return {
    read: (from, length) =>
      Promise.resolve(bytes.subarray(from, from + length)),
  };
}

export function fileSource(
  file: Deno.FsFile,
  scratch: { buffer: Uint8Array },
): ChunkSource {
  return {
    async read(from, length) {
      if (scratch.buffer.length < length) {
        scratch.buffer = new Uint8Array(length);
      }
      const out = scratch.buffer.subarray(0, length);
      await file.seek(from, Deno.SeekMode.Start);
      let at = 0;
      while (at < length) {
        const n = await file.read(out.subarray(at));
        if (n === null) {
          throw new CorruptFileError(
            `A log part ends before its column chunk at ${from} (${length} bytes); it is truncated`,
          );
        }
        at += n;
      }
      return out;
    },
  };
}

/** Appends row groups copied from other Parquet files, then a footer. */
export class ConcatWriter {
  readonly file: Deno.FsFile;
  offset = 0;
  rows = 0;
  readonly rowGroups: RowGroup[] = [];
  #nulls = new Map<string, { bytes: Uint8Array; metadata: FileMetaData }>();

  constructor(file: Deno.FsFile) {
    this.file = file;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.file.write(bytes.subarray(at));
    this.offset += bytes.length;
  }

  /**
   * Copies each row group of `source` (a whole Parquet file, whose column
   * types match `schema`), column chunks in schema order; a column the
   * source lacks becomes an all-null chunk.
   */
  async append(
    source: ChunkSource,
    metadata: FileMetaData,
    schema: ParquetColumnInfo[],
  ): Promise<void> {
    for (const rg of metadata.row_groups) {
      const rows = Number(rg.num_rows);
      const byName = new Map(
        rg.columns.map((c) => [c.meta_data!.path_in_schema[0], c]),
      );
      const chunks: ColumnChunk[] = [];
      const start = this.offset;
      let uncompressed = 0n;
      for (const col of schema) {
        let chunk = byName.get(col.name);
        let src = source;
        if (!chunk) {
          const filler = await this.#nullChunk(col, rows);
          chunk = filler.metadata.row_groups[0].columns[0];
          src = memorySource(filler.bytes);
        }
        const meta = chunk.meta_data!;
        const from = Number(
          meta.dictionary_page_offset !== undefined &&
            meta.dictionary_page_offset < meta.data_page_offset
            ? meta.dictionary_page_offset
            : meta.data_page_offset,
        );
        const length = Number(meta.total_compressed_size);
        const at = BigInt(this.offset);
        const shift = at - BigInt(from);
        await this.write(await src.read(from, length));
        uncompressed += meta.total_uncompressed_size;
        const stats = meta.statistics;
        const statistics = stats && col.type === "STRING" &&
            (stats.is_min_value_exact === false ||
              stats.is_max_value_exact === false)
          // Truncated string bounds do not survive a decode and re-encode.
          ? { null_count: stats.null_count }
          : stats;
        chunks.push({
          file_offset: at,
          meta_data: {
            ...meta,
            path_in_schema: [col.name],
            statistics,
            data_page_offset: meta.data_page_offset + shift,
            dictionary_page_offset: meta.dictionary_page_offset === undefined
              ? undefined
              : meta.dictionary_page_offset + shift,
            index_page_offset: undefined,
            bloom_filter_offset: undefined,
            bloom_filter_length: undefined,
          },
        } as ColumnChunk);
      }
      this.rowGroups.push({
        columns: chunks,
        total_byte_size: uncompressed,
        num_rows: BigInt(rows),
        file_offset: BigInt(start),
        total_compressed_size: BigInt(this.offset - start),
      });
      this.rows += rows;
    }
  }

  async finish(
    schema: ParquetColumnInfo[],
    kinds: Record<string, PlainKind>,
  ): Promise<void> {
    const footer = new ByteWriter();
    writeMetadata(footer, {
      version: 2,
      schema: [
        { name: "schema", num_children: schema.length },
        ...schema.map((c) => ({
          name: c.name,
          type: c.type === "STRING" ? "BYTE_ARRAY" as const : c.type,
          repetition_type: "OPTIONAL" as const,
          ...(c.type === "STRING"
            ? {
              converted_type: "UTF8" as const,
              logical_type: { type: "STRING" as const },
            }
            : {}),
        })),
      ],
      num_rows: BigInt(this.rows),
      row_groups: this.rowGroups,
      key_value_metadata: [{ key: KINDS_KEY, value: JSON.stringify(kinds) }],
      created_by: "specimen-vault (log compaction)",
      metadata_length: 0,
    });
    footer.appendUint32(0x31524150); // "PAR1"
    await this.write(footer.getBytes());
  }

  async #nullChunk(col: ParquetColumnInfo, rows: number) {
    const key = `${col.type}:${rows}`;
    let filler = this.#nulls.get(key);
    if (!filler) {
      const values = col.type === "STRING" || col.type === "BOOLEAN"
        ? new Array<null>(rows).fill(null)
        : new Float64Array(rows);
      const { bytes } = await encodeTypedMetrics([{
        name: col.name,
        type: col.type,
        values,
        defined: new Uint8Array(rows),
      }], rows);
      filler = { bytes, metadata: await metadataOf(bytes) };
      this.#nulls.set(key, filler);
    }
    return filler;
  }
}

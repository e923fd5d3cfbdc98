/**
 * Parquet bytes → metric columns: flat number columns on the fast path of
 * `_fast.ts`, the others through hyparquet with the vault's decompressors
 * and exact type conversions.
 *
 * @module
 */
import { parquetMetadata, parquetRead } from "../../_deps/hyparquet.ts";
import type { ColumnData, FileMetaData } from "../../_deps/hyparquet.ts";
import { DECOMPRESSORS, READABLE_CODECS } from "./_codecs.ts";
import { PARSERS } from "./_types.ts";
import { CorruptFileError, UnsupportedFormatError } from "../../errors.ts";
import {
  flatLeaves,
  type Leaf,
  storedKinds,
  toReadColumn,
} from "./_columns.ts";
import { hasMagic, messageOf } from "./_util.ts";
import { readFastColumns } from "./_fast.ts";
import type { DecodedMetrics, ReadColumn, ReadColumnInfo } from "./types.ts";

/** Options of {@linkcode decodeParquet}. */
export interface DecodeOptions {
  /**
   * Decode flat number columns on the fast path (`_fast.ts`); `false` reads
   * every column with hyparquet (the tests compare the two).
   */
  fast: boolean;
}

/** {@linkcode decodeMetrics}, with the choice of path. */
export async function decodeParquet(
  bytes: Uint8Array,
  source: string | undefined,
  options: DecodeOptions,
): Promise<DecodedMetrics> {
  const where = source === undefined ? "the given bytes" : `"${source}"`;
  const corrupt = (reason: string, cause?: unknown) =>
    new CorruptFileError(`Cannot read metrics from ${where}: ${reason}`, {
      cause,
    });

  if (bytes.byteLength === 0) {
    throw corrupt("it is empty (0 bytes); write the metrics again");
  }
  if (!hasMagic(bytes)) {
    throw corrupt(
      `it is not a Parquet file (${bytes.byteLength} bytes that do not start and end with "PAR1"); it may be truncated or another format`,
    );
  }
  let metadata;
  try {
    metadata = parquetMetadata(footerBuffer(bytes));
  } catch (e) {
    throw corrupt(`its footer does not decode (${messageOf(e)})`, e);
  }

  const unsupported = (reason: string) =>
    new UnsupportedFormatError(
      `Cannot read metrics from ${where}: ${reason}`,
    );
  const { leaves, schema: readSchema } = flatLeaves(
    metadata.schema,
    corrupt,
    unsupported,
  );
  const kinds = storedKinds(metadata.key_value_metadata);
  checkCodecs(metadata, unsupported);

  const rows = Number(metadata.num_rows);
  const fast = options.fast
    ? readFastColumns(bytes, metadata, leaves, kinds)
    : new Map<string, ReadColumn>();
  const rest = leaves.filter((l) => !fast.has(l.name));
  const chunks = new Map<string, ColumnData[]>(
    rest.map((l) => [l.name, []]),
  );
  if (rows > 0 && rest.length > 0) {
    try {
      await parquetRead({
        file: wholeBuffer(bytes),
        metadata: { ...metadata, schema: readSchema },
        columns: rest.map((l) => l.name),
        compressors: DECOMPRESSORS,
        utf8: false,
        parsers: PARSERS,
        onChunk: (chunk) => chunks.get(chunk.columnName)?.push(chunk),
      });
    } catch (e) {
      throw corrupt(`its data does not decode (${messageOf(e)})`, e);
    }
  }

  return assemble(leaves, fast, chunks, rows, kinds, corrupt);
}

/** Refuses a file with a column compressed by a codec the reader lacks. */
function checkCodecs(
  metadata: FileMetaData,
  unsupported: (reason: string) => Error,
): void {
  for (const rg of metadata.row_groups) {
    for (const c of rg.columns) {
      const codec = c.meta_data?.codec;
      if (codec && !READABLE_CODECS.has(codec)) {
        throw unsupported(
          `column "${
            c.meta_data?.path_in_schema.join(".")
          }" is compressed with ${codec}, which this reader cannot decode (it reads ${
            [...READABLE_CODECS].join(", ")
          }); rewrite the file with zstd, snappy or lz4`,
        );
      }
    }
  }
}

/**
 * The bytes hyparquet reads the footer from: the footer and its length and
 * magic, copied (the offsets in it are the file's; no data is read). A
 * length past the file gets the whole file, for hyparquet's own message.
 */
function footerBuffer(bytes: Uint8Array): ArrayBuffer {
  const n = bytes.byteLength;
  const length = new DataView(bytes.buffer, bytes.byteOffset, n)
    .getUint32(n - 8, true);
  return length + 8 <= n
    ? copy(bytes.subarray(n - length - 8))
    : wholeBuffer(bytes);
}

/** The file as one ArrayBuffer (copied unless `bytes` is all of one). */
function wholeBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 &&
      bytes.byteLength === bytes.buffer.byteLength &&
      bytes.buffer instanceof ArrayBuffer
    ? bytes.buffer
    : copy(bytes);
}

/** A copy in a new ArrayBuffer (`slice` of a node Buffer would be a view). */
function copy(bytes: Uint8Array): ArrayBuffer {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out.buffer;
}

/** Joins each column's decoded pages in row order, checking none is missing. */
function assemble(
  leaves: Leaf[],
  fast: Map<string, ReadColumn>,
  chunks: Map<string, ColumnData[]>,
  rows: number,
  kinds: ReturnType<typeof storedKinds>,
  corrupt: (reason: string) => Error,
): DecodedMetrics {
  const columns: Record<string, ReadColumn> = {};
  const schema: ReadColumnInfo[] = [];
  for (const leaf of leaves) {
    const done = fast.get(leaf.name);
    if (done) {
      set(columns, leaf.name, done);
      schema.push(leaf.info);
      continue;
    }
    const parts = chunks.get(leaf.name)!.sort((a, b) =>
      a.rowStart - b.rowStart
    );
    let n = 0;
    for (const p of parts) {
      if (p.rowStart !== n) {
        throw corrupt(
          `column "${leaf.name}" has rows ${n}..${p.rowStart} missing`,
        );
      }
      n += p.columnData.length;
    }
    if (n !== rows) {
      throw corrupt(
        `column "${leaf.name}" has ${n} values but the footer says ${rows} rows`,
      );
    }
    const data = parts.map((p) => p.columnData as ArrayLike<unknown>);
    set(
      columns,
      leaf.name,
      toReadColumn(data, rows, leaf.info, kinds?.[leaf.name]),
    );
    schema.push(leaf.info);
  }
  return { columns, rows, schema };
}

/** defineProperty: a column may be called "__proto__". */
function set(
  columns: Record<string, ReadColumn>,
  name: string,
  value: ReadColumn,
): void {
  Object.defineProperty(columns, name, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

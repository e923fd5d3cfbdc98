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
import { bytesSource, type ChunkSource } from "./_fast.ts";
import { readFastColumnsParallel, type WorkerMode } from "./_pool.ts";
import { openVaultFileSync, readVaultFileSync } from "../../_fs.ts";
import type { DecodedMetrics, ReadColumn, ReadColumnInfo } from "./types.ts";

/** Options of {@linkcode decodeParquet}. */
export interface DecodeOptions {
  /**
   * Decode flat number columns on the fast path (`_fast.ts`); `false` reads
   * every column with hyparquet (the tests compare the two).
   */
  fast: boolean;
  /**
   * Whether the fast path may hand columns to the decode worker
   * (`_pool.ts`). Off by default: measured on an idle 2-core machine, one
   * thread read 1M×4 values 1.27× faster than two (the copies to and from
   * the worker cost more than the second core gives).
   * @default {"never"}
   */
  worker?: WorkerMode;
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
    ? await readFastColumnsParallel(
      bytesSource(bytes),
      metadata,
      leaves,
      kinds,
      options.worker,
    )
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

/**
 * {@linkcode decodeParquet} of the file at `path` (a regular file inside
 * `root`), with the same result. When every column is on the fast path it
 * reads the footer, then one column chunk at a time into a buffer reused
 * from call to call, so the file's bytes never take fresh memory; otherwise,
 * or if anything is amiss, it reads the whole file and decodes that (which
 * words any error).
 */
export async function decodeParquetFile(
  path: string,
  root: string,
  worker: WorkerMode = "never",
): Promise<DecodedMetrics> {
  const fast = await decodeByChunks(path, root, worker);
  if (fast) return fast;
  return await decodeParquet(
    readVaultFileSync(path, { root }),
    path,
    { fast: true, worker },
  );
}

/** Chunk reads share this buffer (kept up to 64 MiB). */
let chunkBuffer = new Uint8Array(0);
const KEEP_CHUNK_BUFFER = 64 << 20;

/** The fast path over chunk reads; undefined where it does not apply. */
async function decodeByChunks(
  path: string,
  root: string,
  worker: WorkerMode,
): Promise<DecodedMetrics | undefined> {
  try {
    using file = openVaultFileSync(path, { root });
    const size = file.statSync().size;
    const read = (offset: number, into: Uint8Array) => {
      file.seekSync(offset, Deno.SeekMode.Start);
      for (let at = 0; at < into.length;) {
        const n = file.readSync(into.subarray(at));
        if (n === null) throw new Error("the file ended");
        at += n;
      }
      return into;
    };
    if (size < 12) return undefined;
    const head = read(0, new Uint8Array(4));
    const tail = read(
      size - Math.min(size, 65536),
      new Uint8Array(Math.min(size, 65536)),
    );
    if (
      !hasMagic(new Uint8Array([...head, ...tail.subarray(tail.length - 8)]))
    ) {
      return undefined;
    }
    const length = new DataView(tail.buffer).getUint32(tail.length - 8, true);
    if (length + 12 > size) return undefined;
    const footer = length + 8 <= tail.length
      ? tail.subarray(tail.length - length - 8)
      : read(size - length - 8, new Uint8Array(length + 8));
    const metadata = parquetMetadata(copy(footer));
    const fail = (reason: string) => new Error(reason);
    const { leaves } = flatLeaves(metadata.schema, fail, fail);
    const kinds = storedKinds(metadata.key_value_metadata);
    checkCodecs(metadata, fail);
    const rows = Number(metadata.num_rows);
    if (!(rows > 0)) return undefined;
    // Each chunk is consumed before the next read (no await in between), so
    // concurrent reads may share the buffer; chunks for the worker go
    // into buffers of their own.
    const source: ChunkSource = (start, end, into) => {
      if (!(start >= 4) || !(end >= start) || !(end <= size - 8)) {
        throw new Error("column chunk outside the file");
      }
      const n = end - start;
      if (into) return read(start, into.subarray(0, n));
      if (chunkBuffer.length < n) {
        const grown = new Uint8Array(n);
        if (n > KEEP_CHUNK_BUFFER) return read(start, grown);
        chunkBuffer = grown;
      }
      return read(start, chunkBuffer.subarray(0, n));
    };
    const fast = await readFastColumnsParallel(
      source,
      metadata,
      leaves,
      kinds,
      worker,
    );
    if (fast.size !== leaves.length) return undefined;
    return assemble(leaves, fast, new Map(), rows, kinds, fail);
  } catch {
    return undefined;
  }
}

/** Refuses a file with a column compressed by a codec the reader lacks. */
export function checkCodecs(
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

/**
 * The one Parquet footer reader: the metadata at the end of a file (schema,
 * row count, row groups), read without the data. The catalog reads each
 * metric file's footer (sync: thousands per index); the metrics log reads
 * each part's before compacting them.
 *
 * @module
 */
import { parquetMetadata } from "../../_deps/hyparquet.ts";
import type { FileMetaData } from "../../_deps/hyparquet.ts";
import {
  openVaultFile,
  openVaultFileSync,
  type VaultFileOptions,
} from "../../_fs.ts";
import { CorruptFileError } from "../../errors.ts";
import type { ParquetColumnInfo } from "./parquet.ts";

/**
 * The physical types of a flat metrics column, and the type a reader
 * reports for each (INT32 widens to INT64, FLOAT to DOUBLE).
 *
 * @example
 * ```ts
 * import { LEAF_TYPES } from "./footer.ts";
 * console.assert(LEAF_TYPES.INT32 === "INT64");
 * ```
 */
export const LEAF_TYPES: Readonly<Record<string, ParquetColumnInfo["type"]>> = {
  INT32: "INT64",
  INT64: "INT64",
  FLOAT: "DOUBLE",
  DOUBLE: "DOUBLE",
  BYTE_ARRAY: "STRING",
  BOOLEAN: "BOOLEAN",
};

/** Options of {@linkcode readParquetFooter}. */
export interface ReadParquetFooterOptions extends VaultFileOptions {
  /** How messages name the file, e.g. `"log part"`. @default "Parquet file" */
  what?: string;
}

/** A footer of a few columns is well under 4 KiB: read more only if not. */
const FIRST_READ = 4096;

/**
 * Reads the footer of the Parquet file at `path`, a regular file inside
 * `options.root` (a FIFO, device or link leading out is refused with the
 * errors of {@linkcode openVaultFile}, never waited on). Bytes that are not
 * a Parquet footer throw {@linkcode CorruptFileError}, whose `cause` says
 * what is wrong in a few words.
 *
 * Needs `--allow-read` on `path`.
 *
 * @example
 * ```ts
 * import { readParquetFooter } from "./footer.ts";
 * import { encodeMetrics } from "./parquet.ts";
 * const dir = await Deno.makeTempDir();
 * const { bytes } = await encodeMetrics({ step: [0, 1], loss: [0.5, 0.25] });
 * await Deno.writeFile(`${dir}/m.parquet`, bytes);
 * const footer = await readParquetFooter(`${dir}/m.parquet`, { root: dir });
 * console.assert(Number(footer.num_rows) === 2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readParquetFooter(
  path: string,
  options: ReadParquetFooterOptions,
): Promise<FileMetaData> {
  using file = await openVaultFile(path, options);
  const size = (await file.stat()).size;
  const at = async (offset: number, length: number) => {
    const buf = new Uint8Array(length);
    await file.seek(offset, Deno.SeekMode.Start);
    for (let off = 0; off < length;) {
      const n = await file.read(buf.subarray(off));
      if (n === null) throw new Error(`unexpected end of file at ${off}`);
      off += n;
    }
    return buf;
  };
  return await decode(path, options, size, async () => {
    const first = Math.min(size, FIRST_READ);
    const tail = await at(size - first, first);
    const len = footerSpan(tail, size);
    return len > first ? await at(size - len, len) : tail;
  });
}

/**
 * The sync twin of {@linkcode readParquetFooter}, with the same checks.
 *
 * @example
 * ```ts
 * import { readParquetFooterSync } from "./footer.ts";
 * import { encodeMetrics } from "./parquet.ts";
 * const dir = Deno.makeTempDirSync();
 * const { bytes } = await encodeMetrics({ step: [0] });
 * Deno.writeFileSync(`${dir}/m.parquet`, bytes);
 * const footer = readParquetFooterSync(`${dir}/m.parquet`, { root: dir });
 * console.assert(footer.schema[1].name === "step");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function readParquetFooterSync(
  path: string,
  options: ReadParquetFooterOptions,
): FileMetaData {
  using file = openVaultFileSync(path, options);
  const size = file.statSync().size;
  const at = (offset: number, length: number) => {
    const buf = new Uint8Array(length);
    file.seekSync(offset, Deno.SeekMode.Start);
    for (let off = 0; off < length;) {
      const n = file.readSync(buf.subarray(off));
      if (n === null) throw new Error(`unexpected end of file at ${off}`);
      off += n;
    }
    return buf;
  };
  return decodeSync(path, options, size, () => {
    const first = Math.min(size, FIRST_READ);
    const tail = at(size - first, first);
    const len = footerSpan(tail, size);
    return len > first ? at(size - len, len) : tail;
  });
}

/** The bytes the footer takes at the end of the file, with its length and magic. */
function footerSpan(tail: Uint8Array, size: number): number {
  const footer = new DataView(tail.buffer, tail.byteOffset, tail.length)
    .getUint32(tail.length - 8, true);
  if (footer + 12 > size) {
    throw new Error(`footer length ${footer} exceeds the file (${size} B)`);
  }
  return footer + 8;
}

function fail(
  path: string,
  options: ReadParquetFooterOptions,
  e: unknown,
): CorruptFileError {
  const reason = e instanceof Error ? e : new Error(String(e));
  return new CorruptFileError(
    `Cannot read ${
      options.what ?? "Parquet file"
    } "${path}": its footer does not decode (${reason.message}); it may be truncated`,
    { cause: reason },
  );
}

function tooShort(size: number): Error {
  return new Error(`${size} bytes is too short for Parquet`);
}

async function decode(
  path: string,
  options: ReadParquetFooterOptions,
  size: number,
  read: () => Promise<Uint8Array>,
): Promise<FileMetaData> {
  try {
    if (size < 12) throw tooShort(size);
    return parquetMetadata(toBuffer(await read()));
  } catch (e) {
    throw fail(path, options, e);
  }
}

function decodeSync(
  path: string,
  options: ReadParquetFooterOptions,
  size: number,
  read: () => Uint8Array,
): FileMetaData {
  try {
    if (size < 12) throw tooShort(size);
    return parquetMetadata(toBuffer(read()));
  } catch (e) {
    throw fail(path, options, e);
  }
}

/** hyparquet reads the footer from the end of an ArrayBuffer. */
function toBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer as ArrayBuffer
    : bytes.slice().buffer;
}

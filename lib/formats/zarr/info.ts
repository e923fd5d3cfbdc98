/**
 * Describes a Zarr array on disk (v3, or v2), leniently: arrays the reader
 * refuses are described too.
 *
 * @module
 */
import { join } from "../../_deps.ts";
import { NotFoundError } from "../../errors.ts";
import { arrayRoot } from "./_file.ts";
import { corruptMeta, type MetaDoc, readMetaDoc, v2DType } from "./_meta.ts";
import type { TensorInfo } from "./types.ts";

interface RawMeta {
  format: 2 | 3;
  shape: number[];
  dtype: string;
  chunks: number[];
  codecs: string[];
}

/** What zarrInfo reports; lenient, so the index lists arrays we cannot read. */
function describeMeta(path: string, meta: MetaDoc): RawMeta {
  const { file, doc } = meta;
  const isDims = (value: unknown): value is number[] =>
    Array.isArray(value) &&
    value.every((n) => Number.isSafeInteger(n) && n >= 0);
  if (file === "zarr.json") {
    if (doc.node_type === "group") {
      throw new NotFoundError(
        `No tensor at "${path}": it is a Zarr group, not an array: name one of its arrays`,
      );
    }
    const grid = (doc.chunk_grid as Json)?.configuration as Json;
    const codecs = doc.codecs;
    if (
      !isDims(doc.shape) || typeof doc.data_type !== "string" ||
      !isDims(grid?.chunk_shape) || !Array.isArray(codecs)
    ) {
      throw corruptMeta(
        path,
        file,
        "lacks shape, data_type, chunk_grid or codecs",
      );
    }
    return {
      format: 3,
      shape: doc.shape,
      dtype: doc.data_type,
      chunks: grid.chunk_shape as number[],
      codecs: codecs.map((c) => String(c?.name)),
    };
  }
  if (
    !isDims(doc.shape) || !isDims(doc.chunks) || typeof doc.dtype !== "string"
  ) {
    throw corruptMeta(path, file, "lacks shape, chunks or dtype");
  }
  const filters = (doc.filters ?? []) as Json[];
  const compressor = doc.compressor as Json | null;
  return {
    format: 2,
    shape: doc.shape,
    dtype: v2DType(doc.dtype),
    chunks: doc.chunks,
    codecs: [...filters, ...(compressor ? [compressor] : [])].map((c) =>
      String(c?.id)
    ),
  };
}

type Json = Record<string, unknown>;

async function bytesOnDisk(dir: string): Promise<number> {
  let total = 0;
  const subdirs: Promise<number>[] = [];
  const files: Promise<Deno.FileInfo>[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const p = join(dir, entry.name);
    if (entry.isDirectory) subdirs.push(bytesOnDisk(p));
    else files.push(Deno.lstat(p));
  }
  for (const info of await Promise.all(files)) total += info.size;
  for (const n of await Promise.all(subdirs)) total += n;
  return total;
}

/**
 * Describes the Zarr array at `path` (v3, or v2 as the original Python vault
 * wrote): shape, dtype, chunks, codec names and bytes on disk. Arrays of a
 * data type or codec {@linkcode readZarr} refuses are described too.
 *
 * Needs `--allow-read`.
 *
 * @param path The array folder.
 * @param options `root`: a folder the array folder must be inside.
 * @returns Its metadata and size.
 * @throws {NotFoundError} If there is no array at `path`.
 * @throws {CorruptFileError} If its metadata cannot be parsed.
 * @throws {UnsafeFileError} If its metadata file is not a regular file
 *   inside the folder.
 * @example
 * ```ts ignore
 * import { zarrInfo } from "./zarr.ts";
 * const info = await zarrInfo("/tmp/s/strata/embeddings.zarr");
 * console.log(info.shape, info.dtype, info.bytes);
 * ```
 */
export async function zarrInfo(
  path: string,
  options: { root?: string } = {},
): Promise<TensorInfo> {
  const root = await arrayRoot(path, options.root);
  const meta = describeMeta(path, await readMetaDoc(path, root));
  return {
    shape: meta.shape,
    dtype: meta.dtype,
    chunks: meta.chunks,
    codecs: meta.codecs,
    bytes: await bytesOnDisk(path),
    zarr_format: meta.format,
  };
}

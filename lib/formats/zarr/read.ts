/**
 * Reads a tensor, or a slice of it, from a Zarr array (v3, or v2).
 *
 * @module
 */
import { InvalidInputError } from "../../errors.ts";
import { arrayRoot } from "./_file.ts";
import { readMetaDoc } from "./_meta.ts";
import { planOf } from "./_plan.ts";
import { MAX_CHUNK_BYTES, MAX_SELECTION_BYTES, readBox } from "./_read.ts";
import type { DType, ReadOptions, Selection, TensorSlice } from "./types.ts";
import { CTORS } from "./_dtypes.ts";

const READS_IN_FLIGHT = 8;

/** The selection as one `[start, stop)` per axis, and the axes it keeps. */
function toRanges(
  path: string,
  selection: Selection,
  shape: number[],
): { ranges: [number, number][]; kept: number[] } {
  const fail = (why: string) =>
    new InvalidInputError(`Cannot read tensor "${path}": ${why}`);
  if (!Array.isArray(selection)) {
    throw fail(
      `selection must be a list (one entry per axis), got ${
        JSON.stringify(selection)
      }`,
    );
  }
  if (selection.length > shape.length) {
    throw fail(
      `selection ${
        JSON.stringify(selection)
      } has ${selection.length} entries but shape ${
        JSON.stringify(shape)
      } has ${shape.length} axes`,
    );
  }
  const kept: number[] = [];
  const ranges = shape.map((n, axis): [number, number] => {
    const s = selection[axis] ?? null;
    if (s === null) {
      kept.push(n);
      return [0, n];
    }
    if (typeof s === "number") {
      if (!Number.isSafeInteger(s) || s < 0 || s >= n) {
        throw fail(
          `index ${s} on axis ${axis} is outside 0..${n - 1} (shape ${
            JSON.stringify(shape)
          })`,
        );
      }
      return [s, s + 1];
    }
    if (
      Array.isArray(s) && s.length === 2 && Number.isSafeInteger(s[0]) &&
      Number.isSafeInteger(s[1]) && s[0] >= 0 && s[0] <= s[1] && s[1] <= n
    ) {
      kept.push(s[1] - s[0]);
      return [s[0], s[1]];
    }
    throw fail(
      `range ${
        JSON.stringify(s)
      } on axis ${axis} must be [start, stop] with 0 <= start <= stop <= ${n}`,
    );
  });
  return { ranges, kept };
}

/**
 * Reads a tensor, or a slice of it, from a Zarr array: v3 (codecs `bytes`,
 * `transpose`, `sharding_indexed` with its index at the start or the end,
 * `zstd`, `gzip`, `blosc`, `crc32c`), or v2 as zarr-python 2 wrote it
 * (compressors zstd, gzip, zlib, blosc, lz4; C or F order). Lazy: only the
 * chunks the selection touches are read, and memory is the selection plus
 * the chunks being decoded. Chunks that were never written read as the fill
 * value (every fill value encoding of the v3 spec, NaN payloads kept).
 *
 * `bool` reads as a `Uint8Array` of 0 and 1; `float16` as a `Float16Array`.
 * An axis of length 0 gives an empty tensor of that shape.
 *
 * Every file is opened only if it is a regular file inside the array folder
 * (or `options.root`): a symlink leading out of it, a FIFO or a device is
 * refused.
 *
 * Needs `--allow-read`.
 *
 * @param path The array folder.
 * @param selection Per axis: an index (drops the axis), `[start, stop]`, or
 *   `null` (whole axis); missing trailing entries mean whole axes.
 * @param options `onRead` observes every read (key, bytes); `maxBytes` and
 *   `maxChunkBytes` bound memory.
 * @returns The values in C order and their shape.
 * @throws {NotFoundError} If there is no array at `path`.
 * @throws {InvalidInputError} If the selection is out of bounds, or holds
 *   more than `maxBytes`.
 * @throws {CorruptFileError} If a chunk, a shard index or the metadata is
 *   damaged (the message names the file).
 * @throws {UnsupportedFormatError} If the array uses a data type or codec the
 *   vault does not read (the message names it), or a chunk decodes to more
 *   than `maxChunkBytes`.
 * @throws {UnsafeFileError} If a file of the array is not a regular file
 *   inside it.
 * @example
 * ```ts ignore
 * import { readZarr } from "./zarr.ts";
 * // Row 42 of a [100000, 768] tensor: reads one chunk, returns shape [768].
 * const { data, shape } = await readZarr("/tmp/s/strata/emb.zarr", [42]);
 * // Rows 10..20, columns 0..8: shape [10, 8].
 * const block = await readZarr("/tmp/s/strata/emb.zarr", [[10, 20], [0, 8]]);
 * ```
 */
export async function readZarr(
  path: string,
  selection: Selection = [],
  options: ReadOptions = {},
): Promise<TensorSlice> {
  const root = await arrayRoot(path, options.root);
  const plan = planOf(
    path,
    root,
    await readMetaDoc(path, root, options.onRead),
  );
  const { ranges, kept } = toRanges(path, selection, plan.shape);
  const raw = await readBox(plan, ranges, {
    maxBytes: options.maxBytes ?? MAX_SELECTION_BYTES,
    maxChunkBytes: options.maxChunkBytes ?? MAX_CHUNK_BYTES,
    concurrency: options.concurrency ?? READS_IN_FLIGHT,
    onRead: options.onRead,
  });
  const Ctor = CTORS[plan.dtype as DType];
  return {
    data: new Ctor(
      raw.buffer,
      raw.byteOffset,
      raw.byteLength / Ctor.BYTES_PER_ELEMENT,
    ),
    shape: kept,
  };
}

/**
 * NumPy `.npy` files (format versions 1.0, 2.0 and 3.0): open one, stream
 * its data in bounded pieces, and adopt the array into a Zarr v3 array with
 * bounded memory. The header is `npy_header.ts`'s (re-exported here).
 *
 * Supported element types: `bool`, `int8`…`int64`, `uint8`…`uint64`,
 * `float16`, `float32`, `float64`, either byte order. Structured, complex,
 * string and object arrays are refused with a message naming the dtype.
 *
 * Permissions: `--allow-read` (and `--allow-write` to adopt).
 *
 * @module
 */
import { CorruptFileError } from "../../errors.ts";
import {
  type AdoptedTensor,
  type AdoptOptions,
  adoptRaw,
  type ByteSource,
  itemSize,
  type SourceDType,
} from "./_adopt.ts";
import { quote } from "./_quote.ts";
import { type NpyHeader, readNpyHeader } from "./npy_header.ts";

export type { AdoptedTensor, AdoptOptions, ByteSource, SourceDType };
export {
  MAX_NPY_HEADER_BYTES,
  type NpyHeader,
  parseNpyHeader,
  readNpyHeader,
} from "./npy_header.ts";

/**
 * An open `.npy` file: its header, and its data in pieces. Close it (or use
 * `await using`).
 *
 * @example
 * ```ts ignore
 * import { openNpy } from "./npy.ts";
 * await using npy = await openNpy("weights.npy");
 * for await (const piece of npy.pieces(1 << 20)) console.log(piece.byteLength);
 * ```
 */
export interface NpyFile extends AsyncDisposable {
  /** The file's path. */
  readonly path: string;
  /** The parsed header. */
  readonly header: NpyHeader;
  /**
   * Yields the data in file order (C or Fortran, as the header says), in
   * pieces of at most `maxBytes` (rounded down to whole elements, at least
   * one), in the file's byte order. A piece is valid until the next one is
   * asked for (its buffer is reused).
   */
  pieces(maxBytes?: number): AsyncGenerator<Uint8Array>;
  /** Closes the file. */
  close(): void;
}

/**
 * The header of the `.npy` bytes in `src` (of `size` bytes), checked
 * against that size.
 */
async function checkedHeader(
  src: ByteSource,
  size: number,
  name: string,
): Promise<NpyHeader> {
  const header = await readNpyHeader(src, name);
  const expected = header.dataOffset + header.dataBytes;
  if (size !== expected) {
    throw new CorruptFileError(
      `Cannot read "${name}" as a .npy file: it has ${size} bytes but its header (shape ${
        quote(header.shape)
      }, dtype ${quote(header.descr)}) needs ${expected}: the file is ${
        size < expected ? "truncated" : "followed by extra bytes"
      }; write it again`,
    );
  }
  return header;
}

/** Options of {@linkcode openNpy}. */
export interface OpenNpyOptions {
  /**
   * Read through this open file instead of opening `path` (e.g. one opened
   * with the vault's safe open); it is not closed.
   */
  file?: Deno.FsFile;
}

/**
 * Opens a `.npy` file and reads its header. The file must hold exactly the
 * data the header announces.
 *
 * Needs `--allow-read`.
 *
 * @param path The `.npy` file.
 * @param options `file`: read through this open file.
 * @returns The open file; close it.
 * @throws {CorruptFileError} If the header is bad, or the data is shorter or
 *   longer than the header announces (the message names the file).
 * @throws {InvalidInputError} If the element type is not supported.
 * @example
 * ```ts ignore
 * import { openNpy } from "./npy.ts";
 * await using npy = await openNpy("weights.npy");
 * console.log(npy.header.dtype, npy.header.shape, npy.header.fortranOrder);
 * ```
 */
export async function openNpy(
  path: string,
  options: OpenNpyOptions = {},
): Promise<NpyFile> {
  const file = options.file ?? await Deno.open(path, { read: true });
  const owned = options.file === undefined;
  try {
    const { size } = await file.stat();
    const header = await checkedHeader(file, size, path);
    return new OpenNpy(path, header, file, owned);
  } catch (e) {
    if (owned) file.close();
    throw e;
  }
}

class OpenNpy implements NpyFile {
  #file: Deno.FsFile;
  #closed = false;
  #owned: boolean;
  constructor(
    readonly path: string,
    readonly header: NpyHeader,
    file: Deno.FsFile,
    owned: boolean,
  ) {
    this.#file = file;
    this.#owned = owned;
  }

  get file(): Deno.FsFile {
    return this.#file;
  }

  async *pieces(maxBytes = 16 * 1024 * 1024): AsyncGenerator<Uint8Array> {
    const size = itemSize(this.header.dtype);
    const step = Math.max(size, Math.floor(maxBytes / size) * size);
    const total = this.header.dataBytes;
    const buf = new Uint8Array(Math.min(step, total));
    await this.#file.seek(this.header.dataOffset, Deno.SeekMode.Start);
    for (let pos = 0; pos < total;) {
      const want = buf.subarray(0, Math.min(step, total - pos));
      let got = 0;
      while (got < want.byteLength) {
        const n = await this.#file.read(want.subarray(got));
        if (n === null) {
          throw new CorruptFileError(
            `Cannot read "${this.path}" as a .npy file: it ended at byte ${
              this.header.dataOffset + pos + got
            }: the file was truncated while being read`,
          );
        }
        got += n;
      }
      pos += got;
      yield want;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owned) this.#file.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/**
 * Adopts a `.npy` file into a new Zarr v3 array at `zarrPath`, streaming with
 * bounded memory (about two pieces plus the chunks in flight, whatever the
 * array's size). Read back, the array equals what numpy loads:
 * - C order goes through the vault's streaming writer (`createZarrWriter`);
 * - Fortran order keeps its shape and is stored with Zarr's `transpose`
 *   codec (axes reversed), each chunk a contiguous run of the file, so
 *   nothing is transposed on write and readers transpose per chunk;
 * - 0-d and empty arrays are written as Zarr allows (shape `[]`, a 0 axis);
 * - big-endian data is stored little-endian, every dtype as it is (`bool` as
 *   Zarr `bool`, `float16` as `float16`), the source dtype in `source_dtype`.
 *
 * Needs `--allow-read --allow-write`.
 *
 * @param npyPath The `.npy` file.
 * @param zarrPath The array folder to create (its parent must exist).
 * @param options Compression, level and read size.
 * @returns The Zarr array's info and the source's dtype and order.
 * @throws {CorruptFileError} If the `.npy` is bad or truncated.
 * @throws {InvalidInputError} If its dtype is not supported.
 * @throws {ImmutableArtifactError} If `zarrPath` exists.
 * @example
 * ```ts
 * import { adoptNpy } from "./npy.ts";
 * import { readZarr } from "../zarr/zarr.ts";
 * const dir = await Deno.makeTempDir();
 * const dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";
 * const text = dict.padEnd(117, " ") + "\n";
 * const bytes = new Uint8Array([
 *   0x93, ...new TextEncoder().encode("NUMPY"), 1, 0, text.length, 0,
 *   ...new TextEncoder().encode(text), 7, 0, 0, 0, 9, 0, 0, 0,
 * ]);
 * await Deno.writeFile(`${dir}/a.npy`, bytes);
 * await adoptNpy(`${dir}/a.npy`, `${dir}/a.zarr`);
 * const { data } = await readZarr(`${dir}/a.zarr`);
 * console.assert(data[0] === 7 && data[1] === 9);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function adoptNpy(
  npyPath: string,
  zarrPath: string,
  options: AdoptOptions & OpenNpyOptions = {},
): Promise<AdoptedTensor & { header: NpyHeader }> {
  await using npy = await openNpy(npyPath, options) as OpenNpy;
  return await adoptBody(npy.file, npy.header, npyPath, zarrPath, options);
}

/**
 * Adopts the `.npy` bytes of `src` (`size` bytes: a member of a `.npz`)
 * into a new Zarr v3 array at `zarrPath`, as {@linkcode adoptNpy} does.
 * `src` may seek forward only.
 *
 * @param src The bytes.
 * @param size How many bytes `src` holds.
 * @param name Its name, for errors (e.g. `run.npz` member `w.npy`).
 * @param zarrPath The array folder to create.
 * @param options Compression, level, read size and attributes.
 * @returns The Zarr array's info, the source's dtype, order and header.
 * @example
 * ```ts ignore
 * const a = await adoptNpySource(member, member.size, "run.npz/w.npy", "w.zarr");
 * ```
 */
export async function adoptNpySource(
  src: ByteSource,
  size: number,
  name: string,
  zarrPath: string,
  options: AdoptOptions = {},
): Promise<AdoptedTensor & { header: NpyHeader }> {
  const header = await checkedHeader(src, size, name);
  return await adoptBody(src, header, name, zarrPath, options);
}

async function adoptBody(
  src: ByteSource,
  h: NpyHeader,
  name: string,
  zarrPath: string,
  options: AdoptOptions,
): Promise<AdoptedTensor & { header: NpyHeader }> {
  const adopted = await adoptRaw(
    src,
    {
      path: name,
      offset: h.dataOffset,
      dtype: h.dtype,
      shape: h.shape,
      order: h.fortranOrder ? "F" : "C",
      littleEndian: h.littleEndian,
    },
    zarrPath,
    options,
  );
  return { ...adopted, header: h };
}

/**
 * Adopts one tensor stored as raw bytes in a file (a `.npy` body, one tensor
 * of a `.safetensors` file) into a Zarr v3 array, streaming with bounded
 * memory. Shared by `npy.ts` and `safetensors.ts`.
 *
 * Two paths:
 * - C order with every axis non-empty and a row that fits one piece: pieces of
 *   whole rows go through the vault's own streaming writer
 *   (`createZarrWriter`), exactly as `writeTensor` writes.
 * - Everything else (Fortran order, 0-d, empty, huge rows): chunks that are
 *   each one contiguous run of the file are written directly. A Fortran-order
 *   array keeps its shape and gets Zarr v3's `transpose` codec with the axes
 *   reversed, so a chunk's stored bytes are its Fortran-order bytes: nothing
 *   is transposed on write, and every Zarr reader (zarrita, zarr-python,
 *   tensorstore) returns the same array numpy does.
 *
 * `bfloat16`, which the vault cannot hold, is widened without loss to
 * `float32`; every other source type is stored as it is.
 *
 * @module
 */
import { join, resolve } from "../../_deps.ts";
import { atomicWriteFile, tempPathFor } from "../../_fs.ts";
import { InvalidInputError } from "../../errors.ts";
import { createZarrWriter, zarrInfo } from "../zarr/zarr.ts";
import {
  type AdoptedTensor,
  type AdoptOptions,
  type ByteSource,
  convert,
  label,
  type RawTensor,
  readExactly,
  SIZES,
  storedDType,
} from "./_adopt_bytes.ts";
import { adoptTakenError, direct, placeAdopted } from "./_adopt_direct.ts";

export {
  type AdoptedTensor,
  type AdoptOptions,
  type ByteSource,
  itemSize,
  type RawTensor,
  type SourceDType,
  storedDType,
} from "./_adopt_bytes.ts";

const DEFAULT_PIECE = 16 * 1024 * 1024;

/**
 * Streams the tensor `src` (opened as `file`) into a new Zarr array at
 * `zarrPath`. The caller has checked that the file holds all its bytes.
 */
export async function adoptRaw(
  file: ByteSource,
  src: RawTensor,
  zarrPath: string,
  options: AdoptOptions = {},
): Promise<AdoptedTensor> {
  const { compression = "zstd", level = 1 } = options;
  if (compression !== "zstd" && compression !== "none") {
    throw new InvalidInputError(
      `Cannot adopt ${label(src)}: compression must be "zstd" or "none", got ${
        JSON.stringify(compression)
      }`,
    );
  }
  if (!Number.isInteger(level) || level < -131072 || level > 22) {
    throw new InvalidInputError(
      `Cannot adopt ${
        label(src)
      }: the zstd level must be an integer from -131072 to 22 (1 = fast), got ${
        JSON.stringify(level)
      }`,
    );
  }
  try {
    await Deno.lstat(zarrPath);
    throw adoptTakenError(src, zarrPath);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const piece = Math.max(1024, options.pieceBytes ?? DEFAULT_PIECE);
  const size = SIZES[src.dtype];
  const rowBytes = src.shape.slice(1).reduce((a, b) => a * b, 1) * size;
  const simple = src.shape.length > 0 && src.shape.every((n) => n > 0) &&
    (src.order === "C" || src.shape.filter((n) => n > 1).length <= 1) &&
    rowBytes <= piece;
  // Built beside its place, given its attributes, then renamed into place.
  const tmp = tempPathFor(resolve(zarrPath));
  try {
    if (simple) await viaWriter(file, src, tmp, options, piece, rowBytes);
    else await direct(file, src, tmp, options);
    if (options.attributes) await setAttributes(tmp, options.attributes);
    await placeAdopted(tmp, zarrPath, src, zarrPath);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  return {
    info: await zarrInfo(zarrPath),
    source_dtype: src.dtype,
    source_order: src.order,
  };
}

/** Writes `attributes` into the `zarr.json` of the array at `dir`. */
async function setAttributes(
  dir: string,
  attributes: Record<string, unknown>,
): Promise<void> {
  const path = join(dir, "zarr.json");
  const doc = JSON.parse(await Deno.readTextFile(path));
  doc.attributes = { ...doc.attributes, ...attributes };
  await atomicWriteFile(
    path,
    new TextEncoder().encode(JSON.stringify(doc, null, 2)),
  );
}

/** C order, whole rows per piece, read one piece ahead of the writer. */
async function viaWriter(
  file: ByteSource,
  src: RawTensor,
  zarrPath: string,
  options: AdoptOptions,
  piece: number,
  rowBytes: number,
): Promise<void> {
  await using writer = await createZarrWriter(zarrPath, {
    shape: src.shape,
    dtype: storedDType(src.dtype),
    compression: options.compression,
    level: options.level,
  });
  const rows = src.shape[0];
  const perPiece = Math.max(1, Math.floor(piece / rowBytes));
  const buffers = [
    new Uint8Array(Math.min(rows, perPiece) * rowBytes),
    new Uint8Array(Math.min(rows, perPiece) * rowBytes),
  ];
  const load = async (row: number, k: number): Promise<Uint8Array> => {
    const n = Math.min(perPiece, rows - row);
    const buf = buffers[k].subarray(0, n * rowBytes);
    await readExactly(file, src, src.offset + row * rowBytes, buf);
    return buf;
  };
  let next: Promise<Uint8Array> = load(0, 0);
  try {
    for (let row = 0, k = 0; row < rows; row += perPiece, k ^= 1) {
      const bytes = await next;
      const following = row + perPiece;
      // Reads the next piece while this one is compressed and written.
      if (following < rows) next = load(following, k ^ 1);
      await writer.write(convert(src, bytes));
    }
  } finally {
    // A read still in flight when the writer failed: let it settle before
    // the caller closes the file, and never leave its rejection unhandled.
    await next.catch(() => {});
  }
  await writer.close();
}

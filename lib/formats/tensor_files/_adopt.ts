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
import { zarr } from "../../_deps/zarrita.ts";
import { FileSystemStore } from "../../_deps/zarrita_storage.ts";
import { dirname, join, resolve } from "../../_deps.ts";
import { atomicWriteFile, placeDir, tempPathFor } from "../../_fs.ts";
import {
  CorruptFileError,
  ImmutableArtifactError,
  InvalidInputError,
  NotFoundError,
} from "../../errors.ts";
import {
  createZarrWriter,
  type DType,
  registerCodecs,
  type TensorData,
  type TensorInfo,
  zarrInfo,
} from "../zarr/zarr.ts";
import { quote } from "./_quote.ts";

/** Element types a source file may hold: the vault's, plus three it widens. */
export type SourceDType = DType | "bool" | "float16" | "bfloat16";

/** Options of an adoption. */
export interface AdoptOptions {
  /**
   * The compressor of each chunk.
   * @default "zstd"
   */
  compression?: "zstd" | "none";
  /**
   * The zstd level.
   * @default 1
   */
  level?: number;
  /**
   * Bytes read from the source file at a time (memory holds about two
   * pieces plus the chunks being compressed).
   * @default 16 MiB
   */
  pieceBytes?: number;
  /**
   * Zarr attributes written into the array's `zarr.json` (e.g. the tensor's
   * name in its source file).
   * @default {}
   */
  attributes?: Record<string, unknown>;
}

/**
 * Where a tensor's bytes are read from: an open file (`Deno.FsFile`), or a
 * stream that only seeks forward (a deflated `.npz` member). Reads go in
 * increasing positions.
 */
export interface ByteSource {
  /** Moves to `offset` (only `Deno.SeekMode.Start` is used). */
  seek(offset: number, whence: Deno.SeekMode): Promise<number>;
  /** Reads into `p`; null at the end. */
  read(p: Uint8Array): Promise<number | null>;
}

/** What an adoption wrote, and what it read. */
export interface AdoptedTensor {
  /** The Zarr array as written (shape, dtype, chunks, codecs, bytes). */
  info: TensorInfo;
  /** The element type in the source file. */
  source_dtype: SourceDType;
  /** The memory order in the source file. */
  source_order: "C" | "F";
}

/** One tensor's bytes inside a file. */
export interface RawTensor {
  /** The file, named in errors. */
  path: string;
  /** The tensor's name inside the file, if it holds several. */
  tensor?: string;
  /** Where the tensor's first byte is. */
  offset: number;
  dtype: SourceDType;
  shape: number[];
  order: "C" | "F";
  littleEndian: boolean;
}

const SIZES: Record<SourceDType, number> = {
  bool: 1,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  int64: 8,
  uint64: 8,
  float64: 8,
};

const CTORS: Record<
  DType,
  new (b: ArrayBuffer, o: number, n: number) => TensorData
> = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
  float16: Float16Array,
};

/** The bytes one element of `dtype` takes in a source file. */
export function itemSize(dtype: SourceDType): number {
  return SIZES[dtype];
}

/** The vault dtype `dtype` is stored as. */
export function storedDType(dtype: SourceDType): DType {
  return dtype === "bfloat16" ? "float32" : dtype;
}

const DEFAULT_PIECE = 16 * 1024 * 1024;
const CHUNK_TARGET = 4 * 1024 * 1024;
const IN_FLIGHT = 4;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

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
    throw new ImmutableArtifactError(
      `Cannot adopt ${
        label(src)
      }: "${zarrPath}" already exists, and specimens are immutable: adopt it under another name`,
    );
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
    try {
      await placeDir(tmp, zarrPath);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        throw new ImmutableArtifactError(
          `Cannot adopt ${
            label(src)
          }: "${zarrPath}" already exists, and specimens are immutable: adopt it under another name`,
        );
      }
      throw e;
    }
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

function label(src: RawTensor): string {
  return src.tensor === undefined
    ? `"${src.path}"`
    : `"${src.path}" tensor ${quote(src.tensor)}`;
}

async function readExactly(
  file: ByteSource,
  src: RawTensor,
  position: number,
  buf: Uint8Array,
): Promise<void> {
  await file.seek(position, Deno.SeekMode.Start);
  let got = 0;
  while (got < buf.byteLength) {
    const n = await file.read(buf.subarray(got));
    if (n === null) {
      throw new CorruptFileError(
        `Cannot adopt ${label(src)}: the file ended at byte ${
          position + got
        }, inside the tensor's data: the file is truncated; write it again`,
      );
    }
    got += n;
  }
}

/** Source bytes → a typed array of the stored dtype (little-endian host). */
function convert(src: RawTensor, bytes: Uint8Array): TensorData {
  const size = SIZES[src.dtype];
  if (src.littleEndian !== LITTLE_ENDIAN_HOST && size > 1) {
    swapBytes(bytes, size);
  }
  const n = bytes.byteLength / size;
  if (src.dtype === "bfloat16") {
    const half = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = half[i] << 16;
    return new Float32Array(out.buffer);
  }
  const Ctor = CTORS[storedDType(src.dtype)];
  return new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, n);
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.byteLength; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
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

/**
 * Chunk shape and chunk order where each chunk is one contiguous run of the
 * file: in the file's own axis order, trailing axes whole, one axis split,
 * leading axes by 1.
 */
function runLayout(shape: number[], size: number, order: "C" | "F") {
  const n = shape.length;
  const axes = [...Array(n).keys()];
  if (order === "F") axes.reverse();
  const p = axes.map((a) => shape[a]);
  const pChunks = p.map((d) => Math.max(1, d));
  let inner = size;
  // The axis along which one run ends and the next begins.
  let split = 0;
  for (let k = n - 1; k >= 0; k--) {
    if (inner * p[k] <= CHUNK_TARGET) {
      inner *= Math.max(1, p[k]);
      continue;
    }
    pChunks[k] = Math.max(1, Math.floor(CHUNK_TARGET / inner));
    for (let j = 0; j < k; j++) pChunks[j] = 1;
    split = k;
    break;
  }
  const chunks = new Array<number>(n);
  axes.forEach((a, k) => chunks[a] = pChunks[k]);
  return { axes, p, pChunks, chunks, split };
}

async function direct(
  file: ByteSource,
  src: RawTensor,
  zarrPath: string,
  options: AdoptOptions,
): Promise<void> {
  registerCodecs();
  const size = SIZES[src.dtype];
  const dtype = storedDType(src.dtype);
  const outSize = SIZES[dtype];
  const { axes, p, pChunks, chunks, split: k } = runLayout(
    src.shape,
    outSize,
    src.order,
  );
  const n = src.shape.length;
  const transposed = src.order === "F" && n > 1;
  const codecs: zarr.CodecMetadata[] = [];
  if (transposed) {
    codecs.push({ name: "transpose", configuration: { order: axes } });
  }
  codecs.push({ name: "bytes", configuration: { endian: "little" } });
  const compression = options.compression ?? "zstd";
  const level = options.level ?? 1;
  if (compression === "zstd") {
    codecs.push({ name: "zstd", configuration: { level, checksum: false } });
  }
  const path = resolve(zarrPath);
  const tmp = tempPathFor(path);
  try {
    await Deno.mkdir(tmp);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `Cannot adopt ${label(src)} as "${zarrPath}": the folder "${
          dirname(path)
        }" does not exist: create it first`,
        { cause: e },
      );
    }
    throw e;
  }
  try {
    await zarr.create(zarr.root(new FileSystemStore(tmp)), {
      shape: src.shape,
      chunkShape: chunks,
      dtype,
      codecs,
      fillValue: 0 as zarr.Scalar<DType>,
    });
    if (src.shape.every((d) => d > 0)) {
      await writeChunks(file, src, tmp, {
        axes,
        p,
        pChunks,
        chunks,
        k,
        dtype,
        size,
        outSize,
        compression,
        level,
      });
    }
    try {
      await placeDir(tmp, path);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        throw new ImmutableArtifactError(
          `Cannot adopt ${
            label(src)
          }: "${zarrPath}" already exists, and specimens are immutable: adopt it under another name`,
        );
      }
      throw e;
    }
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** The layout `direct` writes, from `runLayout` and the options. */
interface DirectPlan {
  axes: number[];
  p: number[];
  pChunks: number[];
  chunks: number[];
  k: number;
  dtype: DType;
  size: number;
  outSize: number;
  compression: AdoptOptions["compression"];
  level: number;
}

/** Reads the file run by run and writes each as one chunk, a few at a time. */
async function writeChunks(
  file: ByteSource,
  src: RawTensor,
  tmp: string,
  plan: DirectPlan,
): Promise<void> {
  const { axes, p, pChunks, chunks, k, dtype, size, outSize } = plan;
  const { compression, level } = plan;
  const n = src.shape.length;
  const zstd = compression === "zstd"
    ? (await zarr.registry.get("zstd")!()).fromConfig(
      { level, checksum: false },
      // deno-lint-ignore no-explicit-any
      { dataType: dtype, shape: chunks } as any,
    ) as unknown as { encode(b: Uint8Array): Promise<Uint8Array> }
    : null;
  const chunkElements = pChunks.reduce((a, b) => a * b, 1);
  // Chunks along the split axis k; coordinates advance in file order.
  const grid = p.map((d, k) => Math.ceil(d / pChunks[k]));
  const coords = new Array<number>(n).fill(0);
  const stepElements = p.slice(k + 1).reduce((a, b) => a * b, 1);
  const total = p.reduce((a, b) => a * b, 1);
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  const made = new Map<string, Promise<void>>();
  for (let done = 0; done < total;) {
    const steps = n === 0
      ? 1
      : Math.min(pChunks[k], p[k] - coords[k] * pChunks[k]);
    const valid = n === 0 ? 1 : steps * stepElements;
    const raw = new Uint8Array(valid * size);
    await readExactly(file, src, src.offset + done * size, raw);
    const values = convert(src, raw);
    let bytes = new Uint8Array(
      values.buffer,
      values.byteOffset,
      values.byteLength,
    );
    if (valid < chunkElements) {
      const full = new Uint8Array(chunkElements * outSize);
      full.set(bytes);
      bytes = full;
    }
    const zcoords = new Array<number>(n);
    axes.forEach((a, j) => zcoords[a] = coords[j]);
    const key = ["c", ...zcoords].join("/");
    const out = join(tmp, ...key.split("/"));
    const task = (async () => {
      const encoded = zstd ? await zstd.encode(bytes) : bytes;
      const dir = dirname(out);
      if (!made.has(dir)) {
        made.set(dir, Deno.mkdir(dir, { recursive: true }));
      }
      await made.get(dir);
      await Deno.writeFile(out, encoded);
    })().catch((e) => {
      failure ??= e;
    });
    inflight.add(task);
    task.finally(() => inflight.delete(task));
    while (inflight.size >= IN_FLIGHT) await Promise.race(inflight);
    if (failure) throw failure;
    done += valid;
    for (let j = k; j >= 0; j--) {
      if (++coords[j] < grid[j] || j === 0) break;
      coords[j] = 0;
    }
  }
  await Promise.all(inflight);
  if (failure) throw failure;
}

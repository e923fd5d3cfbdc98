/**
 * Private: the direct adoption path (Fortran order, 0-d, empty, rows larger
 * than a piece): chunks that are each one contiguous run of the file,
 * written a few at a time. A Fortran-order array keeps its shape and gets
 * Zarr v3's `transpose` codec with the axes reversed, so nothing is
 * transposed on write.
 *
 * @module
 */
import { zarr } from "../../_deps/zarrita.ts";
import { FileSystemStore } from "../../_deps/zarrita_storage.ts";
import { dirname, join, resolve } from "../../_deps.ts";
import { placeDir, tempPathFor } from "../../_fs.ts";
import { ImmutableArtifactError, NotFoundError } from "../../errors.ts";
import { type DType, registerCodecs } from "../zarr/zarr.ts";
import {
  type AdoptOptions,
  type ByteSource,
  convert,
  label,
  type RawTensor,
  readExactly,
  SIZES,
  storedDType,
} from "./_adopt_bytes.ts";

const CHUNK_TARGET = 4 * 1024 * 1024;
const IN_FLIGHT = 4;

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

/** Writes `src` as Zarr chunks that are each one run of the file. */
export async function direct(
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
    await placeAdopted(tmp, path, src, zarrPath);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** The refusal to adopt `src` as `zarrPath`, where something already is. */
export function adoptTakenError(
  src: RawTensor,
  zarrPath: string,
): ImmutableArtifactError {
  return new ImmutableArtifactError(
    `Cannot adopt ${
      label(src)
    }: "${zarrPath}" already exists, and specimens are immutable: adopt it under another name`,
  );
}

/**
 * Renames the finished folder `tmp` to `path` (`zarrPath` as the caller
 * named it), refusing with `adoptTakenError` when something is there.
 */
export async function placeAdopted(
  tmp: string,
  path: string,
  src: RawTensor,
  zarrPath: string,
): Promise<void> {
  try {
    await placeDir(tmp, path);
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw adoptTakenError(src, zarrPath);
    }
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

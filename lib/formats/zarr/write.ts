/**
 * Writes tensors as Zarr v3 arrays: whole (`writeZarr`) or row block by row
 * block (`createZarrWriter`), atomically and write-once.
 *
 * @module
 */
import { zarr } from "../../_deps/zarrita.ts";
import { dirname, resolve } from "../../_deps.ts";
import { exists, tempPathFor } from "../../_fs.ts";
import { InvalidInputError, NotFoundError } from "../../errors.ts";
import {
  CTORS,
  describe,
  dtypeOf,
  DTYPES,
  fits,
  isDType,
  product,
} from "./_dtypes.ts";
import { checkSpec, codecsFor, immutable } from "./_spec.ts";
import { ObservedStore } from "./_store.ts";
import { Writer } from "./_writer.ts";
import type {
  DType,
  TensorData,
  TensorInfo,
  TensorOptions,
  ZarrWriter,
} from "./types.ts";
import { registerCodecs } from "./zstd.ts";

/**
 * Starts writing a tensor whose rows arrive in blocks (e.g. activations of
 * one batch at a time), for tensors larger than memory. Each chunk is written
 * as soon as its rows are complete; memory stays about one band of chunk rows
 * plus the chunks in flight. Everything goes to a hidden temp folder beside
 * `path`, moved into place by `close()`.
 *
 * Needs `--allow-read --allow-write`.
 *
 * @param path The array folder to create, e.g. `<specimen>/strata/acts.zarr`.
 * @param options The layout; `dtype` is required here.
 * @returns A writer; use it with `await using` so it aborts on failure.
 * @throws {ImmutableArtifactError} If `path` already exists.
 * @throws {InvalidInputError} If an option is invalid.
 * @throws {NotFoundError} If the folder that should hold `path` is missing.
 * @example
 * ```ts ignore
 * import { createZarrWriter } from "./zarr.ts";
 * await using writer = await createZarrWriter("/tmp/s/strata/acts.zarr", {
 *   shape: [1000, 64],
 *   dtype: "float32",
 * });
 * for (let row = 0; row < 1000; row += 100) {
 *   await writer.write(new Float32Array(100 * 64).fill(row));
 * }
 * const info = await writer.close();
 * console.log(info.chunks, info.bytes);
 * ```
 */
export async function createZarrWriter(
  path: string,
  options: TensorOptions & { dtype: DType },
): Promise<ZarrWriter> {
  registerCodecs();
  const spec = checkSpec(path, options);
  spec.path = resolve(path);
  if (await exists(spec.path)) throw immutable(path);
  const tmp = tempPathFor(spec.path);
  try {
    await Deno.mkdir(tmp);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `Cannot write tensor "${path}": the folder "${
          dirname(spec.path)
        }" does not exist: create the specimen (and its strata/ folder) first`,
        { cause: e },
      );
    }
    throw e;
  }
  try {
    const store = new ObservedStore(tmp);
    const array = await zarr.create(zarr.root(store), {
      shape: spec.shape,
      chunkShape: spec.chunks,
      dtype: spec.dtype,
      codecs: codecsFor(spec),
      // A literal 0 (never a BigInt) so the JSON stays valid for int64;
      // the spec's fill value of a bool array is a JSON boolean.
      fillValue: (spec.dtype === "bool" ? false : 0) as zarr.Scalar<DType>,
    });
    return new Writer(spec, tmp, store, array);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/**
 * Writes a whole tensor as a Zarr v3 array (`bytes` little endian, then
 * `zstd` unless `compression: "none"`), readable by zarr-python and
 * tensorstore. Atomic and write-once: the array appears complete under
 * `path` or not at all, and an existing `path` is never replaced.
 *
 * Needs `--allow-read --allow-write`.
 *
 * @param path The array folder to create, e.g. `<specimen>/strata/emb.zarr`.
 * @param data The values, flat in C order.
 * @param options The layout: `shape` is required.
 * @returns What was written (shape, dtype, chunks, codecs, bytes on disk).
 * @throws {ImmutableArtifactError} If `path` already exists.
 * @throws {InvalidInputError} If the data does not match the options.
 * @throws {NotFoundError} If the folder that should hold `path` is missing.
 * @example
 * ```ts ignore
 * import { writeZarr } from "./zarr.ts";
 * const info = await writeZarr(
 *   "/tmp/s/strata/embeddings.zarr",
 *   new Float32Array(1000 * 768),
 *   { shape: [1000, 768] },
 * );
 * console.log(info.codecs); // ["bytes", "zstd"]
 * ```
 */
export async function writeZarr(
  path: string,
  data: TensorData,
  options: TensorOptions,
): Promise<TensorInfo> {
  const fail = (why: string) =>
    new InvalidInputError(`Cannot write tensor "${path}": ${why}`);
  const actual = dtypeOf(data);
  if (!actual) {
    throw fail(
      `data must be a typed array (${
        DTYPES.map((d) => CTORS[d].name).join(", ")
      }), got ${describe(data)}`,
    );
  }
  const dtype = options?.dtype ?? actual;
  if (isDType(dtype) && !fits(data, dtype)) {
    throw fail(
      `dtype "${dtype}" does not match the data, a ${
        CTORS[actual].name
      } ("${actual}"): convert the data or leave dtype out (bool takes a Uint8Array of 0/1)`,
    );
  }
  const spec = checkSpec(path, { ...options, dtype });
  const size = product(spec.shape);
  if (size !== data.length) {
    throw fail(
      `shape ${
        JSON.stringify(spec.shape)
      } holds ${size} values but the data has ${data.length}: pass the shape of the data`,
    );
  }
  await using writer = await createZarrWriter(path, spec);
  await writer.write(data);
  return await writer.close();
}

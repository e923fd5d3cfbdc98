/**
 * `.safetensors` files: read the header, stream each tensor's bytes, and
 * adopt every tensor as its own Zarr v3 array with bounded memory.
 *
 * The format: an 8-byte little-endian header length N, N bytes of UTF-8
 * JSON mapping each tensor name to `{dtype, shape, data_offsets: [begin,
 * end]}` (offsets into the data that follows the header), plus an optional
 * `__metadata__` map of strings, then the data: every tensor C order,
 * little-endian, the tensors together filling the data exactly.
 *
 * Supported dtypes: `BOOL`, `U8`…`U64`, `I8`…`I64`, `F16`, `BF16`, `F32`,
 * `F64` (stored as they are, but `BF16`, which Zarr lacks, as `float32`:
 * exact).
 * The 8-bit float types and anything else are refused by name.
 *
 * Permissions: `--allow-read` (and `--allow-write` to adopt).
 *
 * @module
 */
import { CorruptFileError, InvalidInputError } from "../../errors.ts";
import { MAX_TENSOR_DIMS } from "../zarr/types.ts";
import {
  type AdoptedTensor,
  type AdoptOptions,
  adoptRaw,
  itemSize,
  type SourceDType,
} from "./_adopt.ts";
import { quote } from "./_quote.ts";
import { readAt } from "./_adopt_bytes.ts";

export type { AdoptedTensor, AdoptOptions, SourceDType };

/**
 * One tensor of a `.safetensors` file.
 *
 * @example
 * ```ts
 * import type { SafetensorsEntry } from "./safetensors.ts";
 * const e: SafetensorsEntry = {
 *   name: "w", dtype: "F32", sourceDType: "float32", shape: [2, 3],
 *   begin: 0, end: 24,
 * };
 * ```
 */
export interface SafetensorsEntry {
  /** The tensor's name in the file. */
  name: string;
  /** The dtype as written, e.g. `"F32"`, `"BF16"`. */
  dtype: string;
  /** The element type. */
  sourceDType: SourceDType;
  /** The tensor's dimensions. */
  shape: number[];
  /** First byte, relative to the start of the data. */
  begin: number;
  /** One past the last byte, relative to the start of the data. */
  end: number;
}

/**
 * The header of a `.safetensors` file.
 *
 * @example
 * ```ts
 * import type { SafetensorsHeader } from "./safetensors.ts";
 * const h: SafetensorsHeader = { tensors: [], metadata: {}, dataOffset: 16 };
 * ```
 */
export interface SafetensorsHeader {
  /** The tensors, in the order of their data. */
  tensors: SafetensorsEntry[];
  /**
   * `__metadata__`: free-form strings, in the file's order (an object with
   * no prototype: any key, `__proto__` too, is kept as written).
   */
  metadata: Record<string, string>;
  /** The file offset where the data starts (8 + header length). */
  dataOffset: number;
}

/** Headers longer than this are refused (the reference reader's limit). */
export const MAX_SAFETENSORS_HEADER_BYTES = 100 * 1024 * 1024;

const DTYPES: Record<string, SourceDType> = {
  BOOL: "bool",
  U8: "uint8",
  I8: "int8",
  U16: "uint16",
  I16: "int16",
  F16: "float16",
  BF16: "bfloat16",
  U32: "uint32",
  I32: "int32",
  F32: "float32",
  U64: "uint64",
  I64: "int64",
  F64: "float64",
};

/**
 * Reads and checks the header of a `.safetensors` file: every tensor's
 * dtype, shape and byte range, and that the data fills the file exactly.
 *
 * Needs `--allow-read`.
 *
 * @param path The `.safetensors` file.
 * @returns The tensors (in data order) and the metadata.
 * @throws {CorruptFileError} If the header is bad or the file truncated
 *   (the message names the file and the tensor).
 * @throws {InvalidInputError} If a tensor's dtype is not supported.
 * @example
 * ```ts
 * import { readSafetensorsHeader } from "./safetensors.ts";
 * const json = JSON.stringify({ w: { dtype: "I32", shape: [2], data_offsets: [0, 8] } });
 * const head = new Uint8Array(8);
 * new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
 * const file = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await Deno.writeFile(file, new Uint8Array([...head, ...new TextEncoder().encode(json), ...new Uint8Array(8)]));
 * const h = await readSafetensorsHeader(file);
 * console.assert(h.tensors[0].name === "w" && h.dataOffset === 8 + json.length);
 * await Deno.remove(file);
 * ```
 */
export async function readSafetensorsHeader(
  path: string,
  options: { file?: Deno.FsFile } = {},
): Promise<SafetensorsHeader> {
  if (options.file) return await readHeader(options.file, path);
  using file = await Deno.open(path, { read: true });
  return await readHeader(file, path);
}

async function readHeader(
  file: Deno.FsFile,
  path: string,
): Promise<SafetensorsHeader> {
  const bad = (why: string, cause?: unknown) =>
    new CorruptFileError(
      `Cannot read "${path}" as a .safetensors file: ${why}: write it again with safetensors' save_file`,
      { cause },
    );
  const { size } = await file.stat();
  if (size < 8) {
    throw bad(`it has ${size} bytes, fewer than the 8 of its header length`);
  }
  const lenBytes = new Uint8Array(8);
  await readAt(file, 0, lenBytes);
  const n = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (n > BigInt(MAX_SAFETENSORS_HEADER_BYTES)) {
    throw bad(
      `its header claims ${n} bytes, over the ${MAX_SAFETENSORS_HEADER_BYTES}-byte limit (is it a .safetensors file?)`,
    );
  }
  const headerLen = Number(n);
  if (8 + headerLen > size) {
    throw bad(
      `its header claims ${headerLen} bytes but the file has ${size}: the file is truncated`,
    );
  }
  const text = new Uint8Array(headerLen);
  await readAt(file, 8, text);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(text));
  } catch (e) {
    throw bad(`its header is not UTF-8 JSON (${(e as Error).message})`, e);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw bad("its header is not a JSON object");
  }
  const metadata: Record<string, string> = Object.create(null);
  const tensors: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(doc as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        throw bad("__metadata__ is not a map of strings");
      }
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== "string") {
          throw bad(`__metadata__ ${quote(k)} is not a string`);
        }
        metadata[k] = v;
      }
      continue;
    }
    tensors.push(entryOf(name, raw, path, bad));
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataOffset = 8 + headerLen;
  checkLayout(tensors, dataOffset, size, bad);
  return { tensors, metadata, dataOffset };
}

/** Checks one tensor entry of the header: dtype, shape and byte span. */
function entryOf(
  name: string,
  raw: unknown,
  path: string,
  bad: (why: string) => Error,
): SafetensorsEntry {
  const t = raw as Record<string, unknown>;
  const where = `tensor ${quote(name)}`;
  if (typeof t !== "object" || t === null) {
    throw bad(`${where} is not an object`);
  }
  if (typeof t.dtype !== "string") throw bad(`${where} has no dtype`);
  const sourceDType = Object.hasOwn(DTYPES, t.dtype)
    ? DTYPES[t.dtype]
    : undefined;
  if (!sourceDType) {
    throw new InvalidInputError(
      `Cannot adopt "${path}": ${where} has dtype ${
        quote(t.dtype)
      }, not supported (${
        Object.keys(DTYPES).join(", ")
      }): convert it before saving, e.g. tensor.float()`,
    );
  }
  const shape = t.shape;
  if (
    !Array.isArray(shape) ||
    !shape.every((d) => Number.isSafeInteger(d) && d >= 0)
  ) {
    throw bad(
      `${where} has shape ${quote(shape)}, not a list of non-negative integers`,
    );
  }
  if (shape.length > MAX_TENSOR_DIMS) {
    throw new InvalidInputError(
      `Cannot adopt "${path}": ${where} has ${shape.length} dimensions, more than the ${MAX_TENSOR_DIMS} the vault allows: reshape it before saving`,
    );
  }
  const offsets = t.data_offsets;
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw bad(`${where} has data_offsets ${quote(offsets)}, not [begin, end]`);
  }
  const bytes = shape.reduce((a: number, b: number) => a * b, 1) *
    itemSize(sourceDType);
  if (offsets[1] - offsets[0] !== bytes) {
    throw bad(
      `${where} (dtype ${t.dtype}, shape ${
        quote(shape)
      }) needs ${bytes} bytes but data_offsets ${quote(offsets)} span ${
        offsets[1] - offsets[0]
      }`,
    );
  }
  return {
    name,
    dtype: t.dtype,
    sourceDType,
    shape: shape as number[],
    begin: offsets[0],
    end: offsets[1],
  };
}

/** Checks that the tensors, in order, tile the data up to the end of the file. */
function checkLayout(
  tensors: SafetensorsEntry[],
  dataOffset: number,
  size: number,
  bad: (why: string) => Error,
): void {
  let at = 0;
  for (const t of tensors) {
    if (t.begin !== at) {
      throw bad(
        `tensor ${
          quote(t.name)
        } starts at byte ${t.begin} of the data, expected ${at}: tensors overlap or leave a gap`,
      );
    }
    at = t.end;
  }
  if (dataOffset + at !== size) {
    const last = tensors.at(-1);
    throw bad(
      dataOffset + at > size
        ? `its tensors need ${at} bytes of data but the file holds ${
          size - dataOffset
        }${
          last ? ` (tensor ${quote(last.name)} ends past the end)` : ""
        }: the file is truncated`
        : `${size - dataOffset - at} bytes follow the last tensor`,
    );
  }
}

/**
 * Adopts every tensor of a `.safetensors` file as its own Zarr v3 array,
 * streamed with bounded memory (the vault's streaming writer, as
 * `adoptNpy` does). The whole header is checked before anything is written;
 * if a later tensor fails, the arrays already written stay.
 *
 * Needs `--allow-read --allow-write`.
 *
 * @param path The `.safetensors` file.
 * @param target The array folder for a tensor name, e.g.
 *   `(name) => \`${strata}/${name}.zarr\``; its parent must exist.
 * @param options Compression, level, read size, attributes, and `file` (read
 *   through this open file, not closed, instead of opening `path`).
 * @returns One result per tensor, in data order, with its name, and the
 *   file's `__metadata__`. Each array's Zarr attributes hold
 *   `source_tensor` (its name in the file), `source_dtype` and, when the
 *   file has any, `source_metadata` (its `__metadata__`).
 * @throws {CorruptFileError} If the header is bad or the file truncated.
 * @throws {InvalidInputError} If a dtype is not supported.
 * @throws {ImmutableArtifactError} If a target exists.
 * @example
 * ```ts
 * import { adoptSafetensors } from "./safetensors.ts";
 * import { readZarr } from "../zarr/zarr.ts";
 * const dir = await Deno.makeTempDir();
 * const json = JSON.stringify({ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } });
 * const head = new Uint8Array(8);
 * new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
 * const data = new Uint8Array(new Float32Array([1.5, -2]).buffer);
 * await Deno.writeFile(`${dir}/m.safetensors`, new Uint8Array([...head, ...new TextEncoder().encode(json), ...data]));
 * const { tensors } = await adoptSafetensors(`${dir}/m.safetensors`, (name) => `${dir}/${name}.zarr`);
 * console.assert(tensors[0].name === "w");
 * console.assert((await readZarr(`${dir}/w.zarr`)).data[1] === -2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function adoptSafetensors(
  path: string,
  target: (tensorName: string) => string,
  options: AdoptOptions & { file?: Deno.FsFile } = {},
): Promise<{
  tensors: (AdoptedTensor & { name: string })[];
  metadata: Record<string, string>;
}> {
  using owned = options.file
    ? undefined
    : await Deno.open(path, { read: true });
  const file = options.file ?? owned!;
  const header = await readHeader(file, path);
  const tensors: (AdoptedTensor & { name: string })[] = [];
  const hasMetadata = Object.keys(header.metadata).length > 0;
  for (const t of header.tensors) {
    const adopted = await adoptRaw(
      file,
      {
        path,
        tensor: t.name,
        offset: header.dataOffset + t.begin,
        dtype: t.sourceDType,
        shape: t.shape,
        order: "C",
        littleEndian: true,
      },
      target(t.name),
      {
        ...options,
        attributes: {
          ...options.attributes,
          source_tensor: t.name,
          source_dtype: t.dtype,
          ...(hasMetadata ? { source_metadata: header.metadata } : {}),
        },
      },
    );
    tensors.push({ name: t.name, ...adopted });
  }
  return { tensors, metadata: header.metadata };
}

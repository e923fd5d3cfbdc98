/**
 * Reads and parses a Zarr array's metadata file (v3 zarr.json, or v2
 * .zarray), through the safe opener and with a size bound.
 *
 * @module
 */
import {
  CorruptFileError,
  NotFoundError,
  UnsupportedFormatError,
} from "../../errors.ts";
import { openInside } from "./_file.ts";

/** Largest metadata file read (zarr.json, .zarray): 16 MiB. */
const MAX_METADATA_BYTES = 16 * 1024 * 1024;

export type Json = Record<string, unknown>;

/** A parsed metadata document and the file it came from. */
export interface MetaDoc {
  file: "zarr.json" | ".zarray";
  doc: Json;
}

const V2_DTYPES: Record<string, string> = {
  b1: "bool",
  i1: "int8",
  u1: "uint8",
  i2: "int16",
  u2: "uint16",
  i4: "int32",
  u4: "uint32",
  i8: "int64",
  u8: "uint64",
  f2: "float16",
  f4: "float32",
  f8: "float64",
};

/** A v2 dtype string (`<f4`) as its v3 name, or the string as it is. */
export function v2DType(dtype: string): string {
  return V2_DTYPES[dtype.slice(1)] ?? dtype;
}

/**
 * Reads and parses the array's metadata file (zarr.json, else .zarray).
 * Integers are parsed from their source text where JSON numbers would lose
 * digits (a uint64 fill value).
 */
export async function readMetaDoc(
  path: string,
  root: string,
  onRead?: (key: string, n: number) => void,
): Promise<MetaDoc> {
  for (const file of ["zarr.json", ".zarray"] as const) {
    const bytes = await readWhole(path, root, file, MAX_METADATA_BYTES);
    if (!bytes) continue;
    onRead?.(file, bytes.byteLength);
    let doc: unknown;
    try {
      doc = JSON.parse(
        new TextDecoder().decode(bytes),
        function (_key, value, context?: { source?: string }) {
          return typeof value === "number" && !Number.isSafeInteger(value) &&
              context?.source && /^-?\d+$/.test(context.source)
            ? context.source
            : value;
        },
      );
    } catch (e) {
      throw corruptMeta(path, file, "is not valid JSON", e);
    }
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
      throw corruptMeta(path, file, "is not a map");
    }
    return { file, doc: doc as Json };
  }
  throw new NotFoundError(
    `No tensor at "${path}": expected a Zarr array folder (zarr.json or .zarray): check the name in the manifest's artifacts`,
  );
}

export function corruptMeta(
  path: string,
  file: string,
  why: string,
  cause?: unknown,
): CorruptFileError {
  return new CorruptFileError(
    `Cannot read tensor "${path}": ${file} ${why}: the array is damaged; restore it or re-run its specimen`,
    { cause },
  );
}

async function readWhole(
  path: string,
  root: string,
  key: string,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  const opened = await openInside(path, root, key);
  if (!opened) return undefined;
  using file = opened.file;
  if (opened.size > maxBytes) {
    throw new UnsupportedFormatError(
      `Cannot read tensor "${path}": ${key} has ${opened.size} bytes, more than the reader's limit of ${maxBytes}`,
    );
  }
  return await readExactly(file, 0, opened.size);
}

export async function readExactly(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  if (offset) await file.seek(offset, Deno.SeekMode.Start);
  let at = 0;
  while (at < length) {
    const n = await file.read(out.subarray(at));
    if (n === null) break;
    at += n;
  }
  if (at < length) {
    throw new Error(
      `it ends at byte ${offset + at}, expected ${offset + length}`,
    );
  }
  return out;
}

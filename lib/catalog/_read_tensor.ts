/**
 * Reading a tensor's metadata: a Zarr v3 `zarr.json` or v2 `.zarray`.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { readVaultFileSync } from "../_fs.ts";
import { SPECIMENS_DIR, STRATA_DIR as STRATA } from "../vault.ts";
import { MAX_TENSOR_DIMS } from "../formats/zarr/types.ts";
import type { TensorRow } from "./_records.ts";
import type { ZarrEntry } from "./_scan.ts";

const V2_DTYPES: Record<string, string> = {
  b1: "bool",
  i1: "int8",
  i2: "int16",
  i4: "int32",
  i8: "int64",
  u1: "uint8",
  u2: "uint16",
  u4: "uint32",
  u8: "uint64",
  f2: "float16",
  f4: "float32",
  f8: "float64",
  c8: "complex64",
  c16: "complex128",
};

function duBytes(path: string): number {
  let total = 0;
  for (const entry of Deno.readDirSync(path)) {
    const p = join(path, entry.name);
    if (entry.isDirectory) total += duBytes(p);
    else if (entry.isFile) total += Deno.statSync(p).size;
  }
  return total;
}

/** The largest Zarr metadata file read (zarr.json, .zarray): 1 MiB. */
const MAX_ZARR_META_BYTES = 1024 * 1024;
/** The most dimensions a tensor may have in the catalog: adoption's rule too. */
const MAX_DIMS = MAX_TENSOR_DIMS;

/**
 * Why `v` cannot be a `BIGINT[]` of dimensions, or undefined when it can (or
 * is absent: recorded as NULL). A dimension must be a whole number from 0 to
 * 2^53 - 1: what JSON numbers hold exactly, and far inside BIGINT.
 */
function badDims(what: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return `${what} is ${typeof v}, not a list`;
  if (v.length > MAX_DIMS) {
    return `${what} has ${v.length} dimensions, more than ${MAX_DIMS}`;
  }
  const i = v.findIndex((x) => !Number.isSafeInteger(x) || x < 0);
  if (i < 0) return undefined;
  const x = v[i];
  // Never JSON.stringify: a hostile value may nest deeper than the stack.
  const shown = typeof x === "string"
    ? JSON.stringify(x.slice(0, 40))
    : Array.isArray(x)
    ? "a list"
    : x !== null && typeof x === "object"
    ? "an object"
    : String(x);
  return `${what} dimension ${i} is ${shown}, not a whole number from 0 to 2^53 - 1`;
}

function numbers(v: unknown): number[] | null {
  return Array.isArray(v) && v.every((x) => typeof x === "number")
    ? v as number[]
    : null;
}

export function readTensor(
  id: string,
  dir: string,
  z: ZarrEntry,
): TensorRow | string {
  const path = join(dir, STRATA, z.name);
  let meta: Record<string, unknown>;
  try {
    const bytes = readVaultFileSync(join(path, z.meta), {
      root: dir,
      maxBytes: MAX_ZARR_META_BYTES,
    });
    meta = JSON.parse(new TextDecoder().decode(bytes));
    if (meta === null || typeof meta !== "object" || Array.isArray(meta)) {
      throw new TypeError("not a JSON object");
    }
  } catch (e) {
    return `${STRATA}/${z.name}/${z.meta} is not readable JSON (${
      (e as Error).message
    }); not indexed as a tensor`;
  }
  const bad = badDims("shape", meta.shape) ??
    badDims(
      "chunk shape",
      z.meta === "zarr.json"
        ? (meta.chunk_grid as { configuration?: { chunk_shape?: unknown } })
          ?.configuration?.chunk_shape
        : meta.chunks,
    );
  if (bad) {
    return `${STRATA}/${z.name}/${z.meta}: ${bad}; not indexed as a tensor`;
  }
  const row: TensorRow = {
    id,
    name: z.name.slice(0, -".zarr".length),
    path: `${SPECIMENS_DIR}/${id}/${STRATA}/${z.name}`,
    shape: numbers(meta.shape),
    dtype: null,
    chunks: null,
    codecs: [],
    bytes: duBytes(path),
    zarrFormat: z.meta === "zarr.json" ? 3 : 2,
  };
  if (z.meta === "zarr.json") {
    if (meta.node_type !== undefined && meta.node_type !== "array") {
      return `${STRATA}/${z.name} is a Zarr ${
        String(meta.node_type)
      }, not an array; not indexed as a tensor`;
    }
    row.dtype = typeof meta.data_type === "string" ? meta.data_type : null;
    const grid = meta.chunk_grid as
      | { configuration?: { chunk_shape?: unknown } }
      | undefined;
    row.chunks = numbers(grid?.configuration?.chunk_shape);
    if (Array.isArray(meta.codecs)) {
      row.codecs = meta.codecs.map((c) =>
        typeof c === "string" ? c : String((c as { name?: unknown }).name)
      );
    }
  } else {
    const dtype = typeof meta.dtype === "string" ? meta.dtype : null;
    row.dtype = dtype ? V2_DTYPES[dtype.slice(1)] ?? dtype : null;
    row.chunks = numbers(meta.chunks);
    const filters = Array.isArray(meta.filters) ? meta.filters : [];
    for (const f of [...filters, meta.compressor]) {
      const codec = (f as { id?: unknown } | null)?.id;
      if (typeof codec === "string") row.codecs.push(codec);
    }
  }
  return row;
}

// ---------------------------------------------------------------------------
// Column types across specimens.

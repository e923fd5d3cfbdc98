/**
 * Tensor previews for the dashboard: a 2-D (or 1-D) slice the user chooses,
 * read lazily (only the chunks it touches) and sent as float32 values for a
 * heatmap drawn in the browser.
 *
 * @module
 */
import type { Selection } from "../formats/zarr/zarr.ts";
import { readZarr } from "../formats/zarr/zarr.ts";
import { InvalidInputError } from "../errors.ts";

/** Most values in one preview (512 × 512). */
export const MAX_CELLS = 512 * 512;

/**
 * Most bytes one chunk of a previewed tensor may decode to (64 MiB), and
 * chunks decoded at once (2): one request holds at most about 128 MiB of
 * chunks besides its 1 MiB preview, however the array is chunked.
 */
export const PREVIEW_MAX_CHUNK_BYTES = 64 * 1024 * 1024;
const PREVIEW_CONCURRENCY = 2;

/** A preview: values row-major, with their statistics. */
export interface TensorPreview {
  /** The slice as `sel` text, one entry per axis (`i`, `a:b`). */
  sel: string;
  /** Shape of the preview: `[rows, cols]` (1-D slices come as one row). */
  shape: [number, number];
  /** The tensor's data type. */
  dtype: string;
  /** Smallest and largest finite value (null if none). */
  min: number | null;
  max: number | null;
  /** Mean of the finite values (null if none). */
  mean: number | null;
  /** The values as little-endian float32, base64. */
  data: string;
}

/**
 * The default slice of a tensor of `shape`: index 0 on all but the last two
 * axes, and as much of those two as fits in {@linkcode MAX_CELLS}.
 *
 * @example
 * ```ts
 * import { defaultSelection } from "./_tensor.ts";
 * console.assert(defaultSelection([100, 512]) === "0:100,0:512");
 * console.assert(defaultSelection([3, 2000, 2000]) === "0,0:256,0:1024");
 * ```
 */
export function defaultSelection(shape: number[]): string {
  if (shape.length === 0) return "";
  if (shape.length === 1) return `0:${Math.min(shape[0], MAX_CELLS)}`;
  const lead = shape.slice(0, -2).map(() => "0");
  const cols = Math.min(shape.at(-1)!, 1024);
  const rows = Math.min(
    shape.at(-2)!,
    Math.max(1, Math.floor(MAX_CELLS / Math.max(cols, 1))),
  );
  return [...lead, `0:${rows}`, `0:${cols}`].join(",");
}

/**
 * Parses `sel` (`i`, `a:b`, `a:` or `:` per axis, comma-separated) against
 * `shape`: at most two axes may be ranges, and the slice may hold at most
 * {@linkcode MAX_CELLS} values.
 */
export function parseSelection(
  sel: string,
  shape: number[],
): { selection: Selection; dims: number[]; text: string } {
  const fail = (why: string): never => {
    throw new InvalidInputError(
      `Invalid slice ${
        JSON.stringify(sel)
      } for a tensor of shape [${shape}]: ${why}. Write one entry per axis, an index or a range start:stop, e.g. ${
        JSON.stringify(defaultSelection(shape))
      }`,
    );
  };
  const parts = sel.trim() === "" ? [] : sel.split(",").map((s) => s.trim());
  if (parts.length !== shape.length) {
    fail(`${parts.length} entries for ${shape.length} axes`);
  }
  const selection: Selection = [];
  const dims: number[] = [];
  const text: string[] = [];
  const int = (s: string, axis: number, dflt: number) => {
    if (s === "") return dflt;
    if (!/^\d+$/.test(s)) {
      fail(`axis ${axis}: ${JSON.stringify(s)} is not a whole number`);
    }
    return Number(s);
  };
  parts.forEach((p, axis) => {
    const n = shape[axis];
    if (p.includes(":")) {
      const [a, b, extra] = p.split(":");
      if (extra !== undefined) fail(`axis ${axis}: steps are not supported`);
      const start = int(a, axis, 0);
      const stop = Math.min(int(b, axis, n), n);
      if (start >= stop) {
        fail(`axis ${axis}: range ${p} is empty (the axis has ${n} entries)`);
      }
      selection.push([start, stop]);
      dims.push(stop - start);
      text.push(`${start}:${stop}`);
    } else {
      const i = int(p, axis, 0);
      if (i >= n) {
        fail(`axis ${axis}: index ${i} is past its end (${n} entries)`);
      }
      selection.push(i);
      text.push(String(i));
    }
  });
  if (dims.length > 2) {
    fail(
      `${dims.length} axes are ranges; a heatmap shows two: give the others an index`,
    );
  }
  const cells = dims.reduce((a, b) => a * b, 1);
  if (cells > MAX_CELLS) {
    fail(
      `it holds ${
        cells.toLocaleString("en-US")
      } values, more than the preview's ${
        MAX_CELLS.toLocaleString("en-US")
      } (512×512): choose a smaller window`,
    );
  }
  return { selection, dims, text: text.join(",") };
}

/**
 * Reads the slice `sel` of the Zarr array at `path` (shape from the catalog)
 * and packs it for the browser.
 *
 * @example
 * ```ts ignore
 * const p = await readPreview("/v/specimens/a/strata/acts.zarr", [100, 512], "float32", "0:10,0:512");
 * console.log(p.shape); // [10, 512]
 * ```
 */
export async function readPreview(
  path: string,
  shape: number[],
  dtype: string,
  sel: string | undefined,
): Promise<TensorPreview> {
  const parsed = parseSelection(sel ?? defaultSelection(shape), shape);
  const slice = await readZarr(path, parsed.selection, {
    maxChunkBytes: PREVIEW_MAX_CHUNK_BYTES,
    maxBytes: MAX_CELLS * 8,
    concurrency: PREVIEW_CONCURRENCY,
  });
  const src = slice.data as ArrayLike<number | bigint | boolean>;
  const out = new Float32Array(src.length);
  let min = Infinity, max = -Infinity, sum = 0, count = 0;
  for (let i = 0; i < src.length; i++) {
    const v = Number(src[i]);
    out[i] = v;
    if (Number.isFinite(v)) {
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
      count++;
    }
  }
  const dims = parsed.dims;
  const shape2: [number, number] = dims.length === 2
    ? [dims[0], dims[1]]
    : [1, dims[0] ?? 1];
  return {
    sel: parsed.text,
    shape: shape2,
    dtype,
    min: count ? min : null,
    max: count ? max : null,
    mean: count ? sum / count : null,
    data: base64(new Uint8Array(out.buffer)),
  };
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

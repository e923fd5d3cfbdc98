/**
 * The header of a NumPy `.npy` file (format versions 1.0, 2.0 and 3.0):
 * parsed from bytes (`parseNpyHeader`) or read exactly from a source
 * (`readNpyHeader`).
 *
 * The format: the magic `\x93NUMPY`, a major and minor version byte, the
 * header length (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0), then
 * a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape':
 * (3, 4), }` (ASCII; UTF-8 in 3.0) padded so the data starts on a multiple of
 * 64 bytes, then the raw elements. Values quoted in errors are cut by
 * `_quote.ts`; the literal may nest 8 deep, the shape 64 dimensions.
 *
 * @module
 */
import { CorruptFileError, InvalidInputError } from "../../errors.ts";
import { MAX_TENSOR_DIMS } from "../zarr/types.ts";
import { type ByteSource, itemSize, type SourceDType } from "./_adopt.ts";
import { quote } from "./_quote.ts";

/**
 * The header of a `.npy` file.
 *
 * @example
 * ```ts
 * import type { NpyHeader } from "./npy_header.ts";
 * const h: NpyHeader = {
 *   version: "1.0", descr: "<f4", dtype: "float32", littleEndian: true,
 *   shape: [3, 4], fortranOrder: false, dataOffset: 128, dataBytes: 48,
 * };
 * ```
 */
export interface NpyHeader {
  /** Format version, `"1.0"`, `"2.0"` or `"3.0"`. */
  version: "1.0" | "2.0" | "3.0";
  /** NumPy's type string, e.g. `"<f4"`, `">i8"`, `"|b1"`. */
  descr: string;
  /** The element type. */
  dtype: SourceDType;
  /** Whether multi-byte elements are little-endian. */
  littleEndian: boolean;
  /** The array's dimensions (`[]` for a 0-d array). */
  shape: number[];
  /** Whether the data is in Fortran (column-major) order. */
  fortranOrder: boolean;
  /** The byte where the data starts. */
  dataOffset: number;
  /** The data's length in bytes. */
  dataBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** Headers longer than this are refused (numpy writes a few hundred bytes). */
export const MAX_NPY_HEADER_BYTES = 1024 * 1024;

const KINDS: Record<string, SourceDType> = {
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
};

/**
 * Parses a `.npy` header from the first bytes of a file.
 *
 * @param bytes The file's first bytes (at least the whole header).
 * @param name The file's name, for errors.
 * @returns The header, or `null` if `bytes` is too short to hold it.
 * @throws {CorruptFileError} If the bytes are not a valid `.npy` header.
 * @throws {InvalidInputError} If the element type is not supported.
 * @example
 * ```ts
 * import { parseNpyHeader } from "./npy_header.ts";
 * const dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";
 * const text = dict.padEnd(117, " ") + "\n";
 * const head = new Uint8Array([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0, text.length, 0]);
 * const bytes = new Uint8Array([...head, ...new TextEncoder().encode(text)]);
 * const h = parseNpyHeader(bytes, "a.npy")!;
 * console.assert(h.dtype === "int32" && h.shape[0] === 2 && h.dataOffset === 128);
 * ```
 */
export function parseNpyHeader(
  bytes: Uint8Array,
  name: string,
): NpyHeader | null {
  const bad = (why: string) =>
    new CorruptFileError(
      `Cannot read "${name}" as a .npy file: ${why}: write it with numpy.save`,
    );
  if (bytes.byteLength < 10) {
    if (MAGIC.some((b, i) => i < bytes.byteLength && bytes[i] !== b)) {
      throw bad("it does not start with the magic \\x93NUMPY");
    }
    return null;
  }
  if (MAGIC.some((b, i) => bytes[i] !== b)) {
    throw bad("it does not start with the magic \\x93NUMPY");
  }
  const major = bytes[6], minor = bytes[7];
  if (![1, 2, 3].includes(major) || minor !== 0) {
    throw bad(
      `format version ${major}.${minor} is not one of 1.0, 2.0, 3.0`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.byteLength < 8 + lenBytes) return null;
  const headerLen = major === 1
    ? view.getUint16(8, true)
    : view.getUint32(8, true);
  if (headerLen > MAX_NPY_HEADER_BYTES) {
    throw bad(
      `its header claims ${headerLen} bytes, over the ${MAX_NPY_HEADER_BYTES}-byte limit`,
    );
  }
  const start = 8 + lenBytes;
  if (bytes.byteLength < start + headerLen) return null;
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? "utf-8" : "latin1", { fatal: true })
      .decode(bytes.subarray(start, start + headerLen));
  } catch {
    throw bad("its header is not valid UTF-8");
  }
  if (major !== 3 && [...text].some((c) => c.charCodeAt(0) > 0x7f)) {
    throw bad(`its header is not ASCII (version ${major}.0)`);
  }
  let dict: unknown;
  try {
    dict = parsePyLiteral(text.trimEnd());
  } catch (e) {
    throw bad(`its header ${quote(text.trim())} ${(e as Error).message}`);
  }
  const fields = headerFields(dict, name, bad);
  const shape = fields.shape;
  const elements = shape.reduce((a, b) => a * b, 1);
  const dataBytes = elements * itemSize(fields.dtype);
  if (!Number.isSafeInteger(dataBytes)) {
    throw bad(`shape ${quote(shape)} is too large`);
  }
  return {
    version: `${major}.0` as NpyHeader["version"],
    ...fields,
    dataOffset: start + headerLen,
    dataBytes,
  };
}

/** Checks the header dict: its keys, shape, order and a supported dtype. */
function headerFields(
  dict: unknown,
  name: string,
  bad: (why: string) => Error,
): Pick<
  NpyHeader,
  "descr" | "dtype" | "littleEndian" | "shape" | "fortranOrder"
> {
  if (typeof dict !== "object" || dict === null || Array.isArray(dict)) {
    throw bad("its header is not a dict");
  }
  const d = dict as Record<string, unknown>;
  const keys = Object.keys(d).sort().join(",");
  if (keys !== "descr,fortran_order,shape") {
    throw bad(
      `its header has keys ${
        quote(Object.keys(d).sort())
      }, expected descr, fortran_order and shape`,
    );
  }
  if (typeof d.fortran_order !== "boolean") {
    throw bad("fortran_order is not True or False");
  }
  if (
    !Array.isArray(d.shape) ||
    !d.shape.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)
  ) {
    throw bad(
      `shape ${quote(d.shape)} is not a tuple of non-negative integers`,
    );
  }
  if (d.shape.length > MAX_TENSOR_DIMS) {
    throw new InvalidInputError(
      `Cannot adopt "${name}": its shape has ${d.shape.length} dimensions, more than the ${MAX_TENSOR_DIMS} the vault (and numpy) allow: reshape it first`,
    );
  }
  if (typeof d.descr !== "string") {
    throw new InvalidInputError(
      `Cannot adopt "${name}": structured dtype ${
        quote(d.descr)
      } is not supported: save each field as its own array`,
    );
  }
  const m = /^([<>|=])([a-zA-Z]\d+)$/.exec(d.descr);
  const dtype = m && Object.hasOwn(KINDS, m[2]) ? KINDS[m[2]] : undefined;
  if (!m || !dtype) {
    throw new InvalidInputError(
      `Cannot adopt "${name}": dtype ${
        quote(d.descr)
      } is not supported (bool, int8..int64, uint8..uint64, float16, float32, float64)${
        /^[<>|=]?O/.test(d.descr)
          ? ": it is an object array (pickled Python objects, never read here); save numbers, e.g. numpy.asarray(x, dtype=numpy.float32)"
          : ": convert it first, e.g. arr.astype(numpy.float32)"
      }`,
    );
  }
  return {
    descr: d.descr,
    dtype,
    littleEndian: m[1] !== ">",
    shape: d.shape as number[],
    fortranOrder: d.fortran_order,
  };
}

/** How deep a `.npy` header's literal may nest (numpy writes 2). */
const MAX_LITERAL_DEPTH = 8;

/** A tiny parser for the Python literals of a `.npy` header. */
function parsePyLiteral(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`is not a Python literal (${what} at character ${i})`);
  };
  let depth = 0;
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === "{" || c === "(" || c === "[") {
      const close = c === "{" ? "}" : c === "(" ? ")" : "]";
      // numpy writes a dict holding a tuple: depth 2.
      if (++depth > MAX_LITERAL_DEPTH) {
        fail(`nesting deeper than ${MAX_LITERAL_DEPTH}`);
      }
      i++;
      const items: unknown[] = [];
      const map: Record<string, unknown> = Object.create(null);
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          depth--;
          return c === "{" ? map : items;
        }
        const v = value();
        if (c === "{") {
          ws();
          if (text[i++] !== ":") fail("expected ':'");
          if (typeof v !== "string") fail("a key that is not a string");
          map[v as string] = value();
        } else items.push(v);
        ws();
        if (text[i] === ",") i++;
        else if (text[i] !== close) fail(`expected ',' or '${close}'`);
      }
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail("an unterminated string");
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const m = /^(True|False|None|-?\d+)/.exec(text.slice(i));
    if (!m) return fail("an unexpected token");
    i += m[0].length;
    if (m[0] === "True") return true;
    if (m[0] === "False") return false;
    if (m[0] === "None") return null;
    return Number(m[0]);
  };
  const v = value();
  ws();
  if (i !== text.length) fail("trailing text");
  return v;
}

/**
 * Reads a `.npy` header from the start of `src`, exactly: afterwards the
 * source stands at the first data byte (a stream that only seeks forward
 * works too).
 *
 * @param src The bytes (an open file, a zip member).
 * @param name The file's name, for errors.
 * @returns The header.
 * @throws {CorruptFileError} If the header is bad or cut short.
 * @throws {InvalidInputError} If the element type is not supported.
 * @example
 * ```ts
 * import { readNpyHeader } from "./npy_header.ts";
 * const dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";
 * const text = dict.padEnd(117, " ") + "\n";
 * const file = await Deno.makeTempFile();
 * await Deno.writeFile(file, new Uint8Array([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0, text.length, 0, ...new TextEncoder().encode(text), 1, 0, 0, 0, 2, 0, 0, 0]));
 * using f = await Deno.open(file);
 * console.assert((await readNpyHeader(f, file)).dataOffset === 128);
 * await Deno.remove(file);
 * ```
 */
export async function readNpyHeader(
  src: ByteSource,
  name: string,
): Promise<NpyHeader> {
  await src.seek(0, Deno.SeekMode.Start);
  const truncated = (filled: number) =>
    new CorruptFileError(
      `Cannot read "${name}" as a .npy file: it ends inside its header (${filled} bytes): the file is truncated; write it again`,
    );
  // Magic, version and the header length (2 or 4 bytes) first.
  let buf = new Uint8Array(12);
  let filled = await readUpTo(src, buf.subarray(0, 10));
  if (parseNpyHeader(buf.subarray(0, filled), name) === null && filled < 10) {
    throw truncated(filled);
  }
  const major = buf[6];
  if (major !== 1) {
    filled += await readUpTo(src, buf.subarray(10, 12));
    if (filled < 12) throw truncated(filled);
  }
  const view = new DataView(buf.buffer);
  const headerLen = major === 1
    ? view.getUint16(8, true)
    : view.getUint32(8, true);
  if (headerLen <= MAX_NPY_HEADER_BYTES) {
    const all = new Uint8Array(filled + headerLen);
    all.set(buf.subarray(0, filled));
    buf = all;
    filled += await readUpTo(src, buf.subarray(filled));
  }
  const header = parseNpyHeader(buf.subarray(0, filled), name);
  if (!header) throw truncated(filled);
  return header;
}

async function readUpTo(src: ByteSource, buf: Uint8Array): Promise<number> {
  let got = 0;
  while (got < buf.byteLength) {
    const n = await src.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}

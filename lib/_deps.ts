// deno-lint-ignore-file no-import-prefix -- a deps module: npm packages by full specifiers, so lib/ works imported by path from any script
/**
 * The one place where built-in modules are named. JSR is unreachable here, so
 * `node:` built-ins stand in for `@std/path`, `@std/cli` and `@std/fs`.
 *
 * @module
 */
import path from "node:path";
import { fileURLToPath } from "node:url";

export const {
  basename,
  dirname,
  extname,
  isAbsolute,
  join,
  relative,
  resolve,
} = path;
export const SEPARATOR: string = path.sep;
export { parseArgs } from "node:util";
export { createHash, randomBytes } from "node:crypto";
export { cpus, tmpdir, totalmem } from "node:os";
export { kill as killProcess } from "node:process";
export { setImmediate } from "node:timers";
export {
  closeSync as closeFdSync,
  constants as fsConstants,
  fstatSync,
  openSync as openFdSync,
  readSync as readFdSync,
} from "node:fs";
export {
  parentPort,
  Worker as NodeWorker,
  workerData,
} from "node:worker_threads";
export {
  brotliDecompressSync,
  constants as zlibConstants,
  gunzipSync,
  inflateSync,
  zstdCompress,
  zstdCompressSync,
  zstdDecompressSync,
} from "node:zlib";
export {
  decode as decodeMsgpack,
  encode as encodeMsgpack,
} from "npm:@msgpack/msgpack@3.1.3";

export { Readable as NodeReadable } from "node:stream";
export { parse as parseCsvStream } from "npm:csv-parse@7.0.3";
export { default as mime } from "npm:mime@4.1.2";

/** Converts a `file:` URL to a path; a path is returned as it is. */
export function fromFileUrl(url: string | URL): string {
  return url instanceof URL || url.startsWith("file:")
    ? fileURLToPath(url)
    : url;
}

import CRC32C from "npm:crc-32@1.2.2/crc32c.js";

/**
 * CRC-32C (Castagnoli) of `bytes`, as an unsigned 32-bit integer: the
 * `crc-32` package (node:zlib's crc32 is the IEEE polynomial).
 *
 * @example
 * ```ts
 * import { crc32c } from "./_deps.ts";
 * console.assert(crc32c(new TextEncoder().encode("123456789")) === 0xe3069283);
 * ```
 */
export function crc32c(bytes: Uint8Array): number {
  return CRC32C.buf(bytes, 0) >>> 0;
}

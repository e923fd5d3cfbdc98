/**
 * The `node:` built-ins, named once (JSR is unreachable here, so they stand
 * in for `@std/path`, `@std/cli` and `@std/fs`). Apart from `lib/_deps.ts`,
 * which re-exports all of this with the small npm packages: a module that
 * needs only built-ins imports this one, so that loading it (e.g. for
 * `deno task query`) loads no npm package.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

export {
  basename,
  dirname,
  extname,
  isAbsolute,
  join,
  relative,
  resolve,
  SEPARATOR,
} from "./path.ts";
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
  statfsSync,
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
export { Readable as NodeReadable } from "node:stream";

/** Converts a `file:` URL to a path; a path is returned as it is. */
export function fromFileUrl(url: string | URL): string {
  return url instanceof URL || url.startsWith("file:")
    ? fileURLToPath(url)
    : url;
}

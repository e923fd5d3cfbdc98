// deno-lint-ignore-file no-import-prefix -- a deps module: npm packages by full specifiers, so lib/ works imported by path from any script
/**
 * The one place where built-in modules and small npm packages are named: the
 * `node:` built-ins (from `_deps/node.ts`, which modules needing only them
 * import directly) and the npm packages below.
 *
 * @module
 */
export * from "./_deps/node.ts";

export {
  decode as decodeMsgpack,
  Decoder as MsgpackDecoder,
  encode as encodeMsgpack,
} from "npm:@msgpack/msgpack@3.1.3";

export { parse as parseCsvStream } from "npm:csv-parse@7.0.3";
export { default as mime } from "npm:mime@4.1.2";

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

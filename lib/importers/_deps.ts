/**
 * Private: the third-party and built-in modules the importers use, named once.
 *
 * @module
 */
import path from "node:path";

export const { basename, dirname, join, relative, resolve, sep } = path;
export { createHash } from "node:crypto";
export { BinaryReader } from "@bufbuild/protobuf/wire";
export { parse as parseCsv } from "csv-parse/sync";
export { parse as parseYaml } from "yaml";
import CRC32C from "crc-32/crc32c.js";

/** CRC-32C (Castagnoli) of `bytes`, as an unsigned 32-bit integer. */
export function crc32c(bytes: Uint8Array): number {
  return CRC32C.buf(bytes, 0) >>> 0;
}

/**
 * Private: the third-party and built-in modules the importers use, named once
 * (npm packages by full specifiers, as in lib/_deps.ts, so that lib/ works
 * imported by path from any script).
 *
 * @module
 */
export {
  basename,
  crc32c,
  createHash,
  dirname,
  join,
  relative,
  resolve,
  SEPARATOR as sep,
} from "../_deps.ts";
export { crc32 } from "node:zlib";
export { DatabaseSync } from "node:sqlite";
export { BinaryReader } from "npm:@bufbuild/protobuf@2.17.0/wire";
export { parse as parseCsv } from "npm:csv-parse@7.0.3/sync";
export {
  isPair,
  isScalar,
  parse as parseYaml,
  parseDocument,
  visit,
} from "npm:yaml@2.9.1";

/**
 * The npm package behind `hyparquet_compressors`, by its full `npm:` specifier (the version
 * pinned in deno.json), so that lib/ works imported by path or URL from any
 * Deno script with no deno.json. One module per package: a tool loads only
 * the packages it uses.
 *
 * @module
 */
export {
  decompressLz4,
  decompressLz4Raw,
} from "npm:hyparquet-compressors@1.1.2/src/lz4.js";

/**
 * The npm package behind `hyparquet_writer`, by its full `npm:` specifier (the version
 * pinned in deno.json), so that lib/ works imported by path or URL from any
 * Deno script with no deno.json. One module per package: a tool loads only
 * the packages it uses.
 *
 * @module
 */
export { ByteWriter } from "npm:hyparquet-writer@0.17.0";
export { writePageHeader } from "npm:hyparquet-writer@0.17.0/src/datapage.js";
export { writeRleBitPackedHybrid } from "npm:hyparquet-writer@0.17.0/src/encoding.js";
export { writeMetadata } from "npm:hyparquet-writer@0.17.0/src/metadata.js";
export { writePlain } from "npm:hyparquet-writer@0.17.0/src/plain.js";
export { snappyCompress } from "npm:hyparquet-writer@0.17.0/src/snappy.js";

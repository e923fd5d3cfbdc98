/**
 * The npm package behind `hyparquet`, by its full `npm:` specifier (the version
 * pinned in deno.json), so that lib/ works imported by path or URL from any
 * Deno script with no deno.json. One module per package: a tool loads only
 * the packages it uses.
 *
 * @module
 */
export {
  type ColumnData,
  type Compressors,
  type FileMetaData,
  parquetMetadata,
  parquetMetadataAsync,
  parquetRead,
  type SchemaElement,
} from "npm:hyparquet@1.33.0";
export { parquetHeader } from "npm:hyparquet@1.33.0/src/column.js";

/**
 * The npm package behind `duckdb_node_api`, by its full `npm:` specifier (the version
 * pinned in deno.json), so that lib/ works imported by path or URL from any
 * Deno script with no deno.json. One module per package: a tool loads only
 * the packages it uses.
 *
 * @module
 */
export {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBPreparedStatement,
  type DuckDBResult,
  type DuckDBResultReader,
  DuckDBTypeId,
  type DuckDBValue,
  type DuckDBValueConverter,
  type JS,
  JSDuckDBValueConverter,
  listValue,
  StatementType,
  timestampTZValue,
  version,
} from "npm:@duckdb/node-api@1.5.6-r.1";

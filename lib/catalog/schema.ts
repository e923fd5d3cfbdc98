/**
 * The catalog's tables: their SQL, and the version a reader checks.
 *
 * @module
 */
import { SCHEMA_VERSION } from "../duckdb/schema_version.ts";

/**
 * Version of the catalog's tables. The indexer rebuilds a catalog of another
 * version from scratch; readers refuse it (and say to run the index).
 *
 * @example
 * ```ts
 * import { CATALOG_SCHEMA_VERSION } from "./schema.ts";
 * console.assert(Number.isInteger(CATALOG_SCHEMA_VERSION));
 * ```
 */
export const CATALOG_SCHEMA_VERSION: number = SCHEMA_VERSION;

/** The tables of a new catalog (the metric union tables come later). */
export const SCHEMA_SQL = `
CREATE TABLE catalog (
  specimen_id VARCHAR NOT NULL,
  created TIMESTAMPTZ NOT NULL,
  domain VARCHAR,
  method VARCHAR,
  model VARCHAR,
  tags VARCHAR[],
  labels VARCHAR[],
  starred BOOLEAN,
  status VARCHAR,
  path VARCHAR,
  description VARCHAR,
  parent VARCHAR,
  dependencies MAP(VARCHAR, VARCHAR),
  artifacts JSON,
  provenance JSON,
  metrics_rows BIGINT,
  issues VARCHAR[],
  manifest JSON,
  fingerprint VARCHAR,
  indexed_at TIMESTAMPTZ,
  params JSON
);
CREATE TABLE params (
  specimen_id VARCHAR,
  key VARCHAR,
  value VARCHAR,
  num DOUBLE
);
CREATE TABLE metric_tables (
  specimen_id VARCHAR,
  name VARCHAR,
  path VARCHAR,
  rows BIGINT,
  columns STRUCT(name VARCHAR, type VARCHAR)[],
  relation VARCHAR,
  source VARCHAR,
  definition VARCHAR,
  issue VARCHAR
);
CREATE TABLE tensors (
  specimen_id VARCHAR,
  name VARCHAR,
  path VARCHAR,
  shape BIGINT[],
  dtype VARCHAR,
  chunks BIGINT[],
  codecs VARCHAR[],
  bytes BIGINT,
  zarr_format INTEGER
);
CREATE TABLE vault_info (key VARCHAR, value VARCHAR);
`;

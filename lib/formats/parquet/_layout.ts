/**
 * The Parquet layout the encoder writes: sizes, codecs, the JS kinds of
 * columns and their physical types, and a column prepared for writing.
 *
 * @module
 */
import type { writeMetadata } from "../../_deps/hyparquet_writer.ts";

/** Arrow's default row-group size: big groups, few footers to parse. */
export const ROW_GROUP_ROWS = 1 << 20;
/** 1 MiB of 8-byte values: the customary Parquet page size. */
export const PAGE_ROWS = 1 << 17;
/** Strings pages end after about this many bytes. */
export const PAGE_BYTES = 1 << 20;
/**
 * A compressed page that saves less than this share of its bytes is stored
 * uncompressed instead (a DATA_PAGE_V2 says so per page, `is_compressed`):
 * noisy float curves barely compress (zstd keeps 88–92 % of their bytes) but
 * decoding them then costs more than the rest of the read together.
 */
export const MIN_SAVING = 1 / 8;
export const CREATED_BY = "specimen-vault (hyparquet-writer)";

export type PhysicalType = "INT64" | "DOUBLE" | "BYTE_ARRAY" | "BOOLEAN";
export type Codec = "ZSTD" | "SNAPPY" | "UNCOMPRESSED";
export type Kind =
  | "number[]"
  | "bigint[]"
  | "string[]"
  | "boolean[]"
  | TypedKind;
export type TypedKind = keyof typeof TYPED;
export type AnyTypedArray = InstanceType<(typeof TYPED)[TypedKind]["ctor"]>;

/** The typed arrays a column may be, and the Parquet type each becomes. */
export const TYPED = {
  Float64Array: { ctor: Float64Array, type: "DOUBLE" },
  Float32Array: { ctor: Float32Array, type: "DOUBLE" },
  Int8Array: { ctor: Int8Array, type: "INT64" },
  Int16Array: { ctor: Int16Array, type: "INT64" },
  Int32Array: { ctor: Int32Array, type: "INT64" },
  Uint8Array: { ctor: Uint8Array, type: "INT64" },
  Uint16Array: { ctor: Uint16Array, type: "INT64" },
  Uint32Array: { ctor: Uint32Array, type: "INT64" },
  BigInt64Array: { ctor: BigInt64Array, type: "INT64" },
} as const;
export const TYPED_KINDS = Object.keys(TYPED) as TypedKind[];

export const CODECS: Record<string, Codec> = {
  zstd: "ZSTD",
  snappy: "SNAPPY",
  none: "UNCOMPRESSED",
};

export const INFO_TYPE = {
  INT64: "INT64",
  DOUBLE: "DOUBLE",
  BYTE_ARRAY: "STRING",
  BOOLEAN: "BOOLEAN",
} as const;

/** A column checked and laid out densely (non-null values only). */
export interface Prepared {
  name: string;
  kind: Kind;
  type: PhysicalType;
  /** 1 where a row has a value, 0 where it is null; absent without nulls. */
  defined?: Uint8Array;
  /** DOUBLE values. */
  f64?: Float64Array;
  /** INT64 values as (low, high) 32-bit word pairs, little-endian. */
  words?: Int32Array;
  /** BYTE_ARRAY (UTF-8 bytes) or BOOLEAN values. */
  items?: (Uint8Array | boolean)[];
  /** Index of the next dense value to write. */
  cursor: number;
}

export type Metadata = Parameters<typeof writeMetadata>[1];
/** hyparquet-writer's own (pinned) hyparquet types, for what it writes. */
export type WriteElement = Metadata["schema"][number];
export type RowGroup = Metadata["row_groups"][number];
export type ColumnChunk = RowGroup["columns"][number];
export type Statistics = NonNullable<ColumnChunk["meta_data"]>["statistics"];

/**
 * Part footers: read without reading the part, and their schemas merged
 * (shared by reading and compaction).
 *
 * @module
 */
import { type FileMetaData, parquetMetadataAsync } from "../_deps/hyparquet.ts";
import type { writeMetadata } from "../_deps/hyparquet_writer.ts";
import { dirname } from "../_deps.ts";
import { LEAF_TYPES, readParquetFooter } from "../formats/parquet/footer.ts";
import { CorruptFileError } from "../errors.ts";
import {
  KINDS_KEY,
  type ParquetColumnInfo,
  type ReadColumnInfo,
  type TypedMetricColumn,
} from "../formats/parquet/parquet.ts";
import { partFileName } from "./parts.ts";

export type Metadata = Parameters<typeof writeMetadata>[1];
export type RowGroup = Metadata["row_groups"][number];
export type ColumnChunk = RowGroup["columns"][number];

export interface PartFooter {
  path: string;
  where: number;
  rows: number;
  columns: ParquetColumnInfo[];
  kinds: Record<string, string>;
  metadata: FileMetaData;
}

/**
 * The specimen folder of a part file (`<specimen>/strata/<name>.parts/<part>`):
 * the folder its real path must stay inside, so that a `.parts` folder
 * linked elsewhere is refused.
 */
export function specimenOfPart(path: string): string {
  return dirname(dirname(dirname(path)));
}

/** Reads a part's footer only (the tail of the file). */
export async function readFooter(
  path: string,
  seq: number,
): Promise<PartFooter> {
  const metadata = await readParquetFooter(path, {
    root: specimenOfPart(path),
    what: "log part",
  });
  const columns: ParquetColumnInfo[] = [];
  for (const el of metadata.schema.slice(1)) {
    const type = el.type && LEAF_TYPES[el.type];
    if (!type || el.num_children) {
      throw new CorruptFileError(
        `Cannot read log part "${path}": column "${el.name}" is not a flat metrics column`,
      );
    }
    columns.push({ name: el.name, type });
  }
  let kinds: Record<string, string> = {};
  const kv = metadata.key_value_metadata?.find((e) => e.key === KINDS_KEY);
  try {
    kinds = kv?.value ? JSON.parse(kv.value) : {};
  } catch { /* not ours: default kinds */ }
  return {
    path,
    where: seq,
    rows: Number(metadata.num_rows),
    columns,
    kinds,
    metadata,
  };
}

/**
 * The union of the parts' columns by name, in order of first appearance;
 * INT64 and DOUBLE make DOUBLE, any other mix is a corrupt log.
 */
export function mergeSchemas<T extends ReadColumnInfo>(
  parts: { columns: T[]; where: number }[],
  dir: string,
): T[] {
  const merged = new Map<string, { column: T; where: number }>();
  for (const p of parts) {
    for (const c of p.columns) {
      const seen = merged.get(c.name);
      if (!seen) {
        merged.set(c.name, { column: { ...c }, where: p.where });
      } else if (seen.column.type !== c.type) {
        const numbers = new Set([seen.column.type, c.type]);
        if (
          numbers.has("INT64") && numbers.has("DOUBLE") && numbers.size === 2
        ) {
          seen.column.type = "DOUBLE";
        } else {
          throw new CorruptFileError(
            `Cannot read the log in "${dir}": column "${c.name}" is ${seen.column.type} in ${
              partFileName(seen.where)
            } but ${c.type} in ${partFileName(p.where)}`,
          );
        }
      }
    }
  }
  return [...merged.values()].map((m) => m.column);
}

export type PlainKind = NonNullable<TypedMetricColumn["kind"]>;

export function mergeKinds(
  schema: ParquetColumnInfo[],
  parts: PartFooter[],
): Record<string, PlainKind> {
  // Keyed by column names, which are the user's (`constructor`, `__proto__`).
  const kinds: Record<string, PlainKind> = Object.create(null);
  for (const { name, type } of schema) {
    kinds[name] = type === "STRING"
      ? "string[]"
      : type === "BOOLEAN"
      ? "boolean[]"
      : type === "INT64" &&
          parts.some((p) =>
            Object.hasOwn(p.kinds, name) && p.kinds[name] === "bigint[]"
          )
      ? "bigint[]"
      : "number[]";
  }
  return kinds;
}

export function typesMatch(
  f: PartFooter,
  schema: ParquetColumnInfo[],
): boolean {
  const types = new Map(schema.map((c) => [c.name, c.type]));
  return f.columns.every((c) => types.get(c.name) === c.type);
}

export async function metadataOf(bytes: Uint8Array): Promise<FileMetaData> {
  return await parquetMetadataAsync({
    byteLength: bytes.length,
    slice: (start: number, end?: number) =>
      bytes.slice(start, end ?? bytes.length).buffer,
  }, { geoparquet: false });
}

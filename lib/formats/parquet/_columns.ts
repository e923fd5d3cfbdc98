/**
 * The decoder's view of a file's schema (flat leaves only) and the turning
 * of decoded values into the column kinds they were written as.
 *
 * @module
 */
import type { SchemaElement } from "../../_deps/hyparquet.ts";
import { classifyLeaf, convertValues } from "./_types.ts";
import { TYPED, TYPED_KINDS } from "./_layout.ts";
import { KINDS_KEY } from "./types.ts";
import type { ReadColumn, ReadColumnInfo } from "./types.ts";

export interface Leaf {
  name: string;
  info: ReadColumnInfo;
}

/**
 * The file's columns, and the schema to hand hyparquet (annotations it would
 * convert lossily removed, see `_parquet_types.ts`).
 */
export function flatLeaves(
  schema: SchemaElement[],
  corrupt: (reason: string) => Error,
  unsupported: (reason: string) => Error,
): { leaves: Leaf[]; schema: SchemaElement[] } {
  const leaves: Leaf[] = [];
  const names = new Set<string>();
  const readSchema: SchemaElement[] = [schema[0]];
  for (const el of schema.slice(1)) {
    const classified = classifyLeaf(el);
    if (typeof classified === "string") {
      throw unsupported(
        `column "${el.name}" is ${classified}, which this reader does not support; metrics columns are flat numbers, strings, booleans, binary, timestamps, dates, times or decimals (cast it in the writer, e.g. to a string)`,
      );
    }
    if (names.has(el.name)) {
      throw corrupt(`two columns are named "${el.name}"`);
    }
    names.add(el.name);
    leaves.push({ name: el.name, info: { name: el.name, ...classified.leaf } });
    readSchema.push(classified.element);
  }
  return { leaves, schema: readSchema };
}

export function storedKinds(
  kv: { key: string; value?: string }[] | undefined,
): Record<string, string> | undefined {
  const entry = kv?.find((e) => e.key === KINDS_KEY);
  if (!entry?.value) return undefined;
  try {
    const parsed = JSON.parse(entry.value);
    return parsed && typeof parsed === "object" ? parsed : undefined;
  } catch {
    return undefined; // written by someone else: fall back to the defaults
  }
}

/** Joins decoded chunks into the column's kind. */
export function toReadColumn(
  parts: ArrayLike<unknown>[],
  rows: number,
  info: ReadColumnInfo,
  kind: string | undefined,
): ReadColumn {
  const type = info.type;
  const typed = TYPED_KINDS.find((k) => k === kind);
  if (
    typed && TYPED[typed].type === type &&
    !parts.some((p) => !ArrayBuffer.isView(p) && includesNull(p))
  ) {
    const Ctor = TYPED[typed].ctor;
    const out = new Ctor(rows);
    let at = 0;
    for (const p of parts) {
      if (p instanceof Ctor) {
        out.set(p as never, at);
        at += p.length;
      } else if (Ctor === BigInt64Array) {
        for (let i = 0; i < p.length; i++) out[at++] = BigInt(p[i] as bigint);
      } else {
        for (let i = 0; i < p.length; i++) out[at++] = Number(p[i]);
      }
    }
    return out;
  }
  const values = flatten(parts, rows);
  const converted = convertValues(values, info);
  if (converted) return converted as ReadColumn;
  if (type === "INT64" || type === "UINT64") {
    const asBigint = kind === "bigint[]" ||
      (kind !== "number[]" && !values.every(isSafe));
    return asBigint
      ? values.map((v) => v === null ? null : BigInt(v as number | bigint))
      : values.map((v) => v === null ? null : Number(v));
  }
  return values as ReadColumn;
}

function flatten(parts: ArrayLike<unknown>[], rows: number): unknown[] {
  if (parts.length === 1 && Array.isArray(parts[0])) return parts[0];
  const out = new Array(rows);
  let at = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) out[at++] = p[i] ?? null;
  }
  return out;
}

function includesNull(values: ArrayLike<unknown>): boolean {
  for (let i = 0; i < values.length; i++) {
    if (values[i] === null || values[i] === undefined) return true;
  }
  return false;
}

function isSafe(v: unknown): boolean {
  return v === null || typeof v === "number" ||
    (typeof v === "bigint" && v >= MIN_SAFE && v <= MAX_SAFE);
}
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Checks metric columns and lays each out for writing: values, definition
 * levels, physical type.
 *
 * @module
 */
import { InvalidInputError } from "../../errors.ts";
import {
  type AnyTypedArray,
  type Kind,
  type Prepared,
  TYPED,
  TYPED_KINDS,
} from "./_layout.ts";
import { show } from "./_util.ts";
import type { ColumnValues, TypedMetricColumn } from "./types.ts";

/** A typed column checked and laid out densely, for encodeTypedMetrics. */
export function prepareTypedColumn(
  c: TypedMetricColumn,
  rows: number,
): Prepared {
  const { name, type, values } = c;
  const bad = (why: string) =>
    new InvalidInputError(`Cannot encode metrics: column "${name}" ${why}`);
  if (!["INT64", "DOUBLE", "STRING", "BOOLEAN"].includes(type)) {
    throw bad(
      `has type ${
        JSON.stringify(type)
      }; use "INT64", "DOUBLE", "STRING" or "BOOLEAN"`,
    );
  }
  // A plain array may end early (a sparse array): the rest is null.
  if (!values || (!Array.isArray(values) && values.length < rows)) {
    throw bad(`has ${values?.length ?? 0} values for ${rows} rows`);
  }
  const mask = c.defined;
  if (mask && mask.length < rows) {
    throw bad(`has a mask of ${mask.length} entries for ${rows} rows`);
  }
  const base = { name, cursor: 0 };
  if (type === "STRING" || type === "BOOLEAN") {
    return prepareTypedItems(c, rows, bad);
  }
  const big = values instanceof BigInt64Array;
  if (!(values instanceof Float64Array) && !(big && type === "INT64")) {
    throw bad(
      `of type ${type} needs a Float64Array${
        type === "INT64" ? " or a BigInt64Array" : ""
      }`,
    );
  }
  let dense = rows;
  if (mask) {
    dense = 0;
    for (let i = 0; i < rows; i++) dense += mask[i] === 0 ? 0 : 1;
  }
  const defined = dense < rows
    ? Uint8Array.from(mask!.subarray(0, rows), (m) => m === 0 ? 0 : 1)
    : undefined;
  const kind = c.kind ?? (big ? "bigint[]" : "number[]");
  if (type === "DOUBLE") {
    let f64 = (values as Float64Array).subarray(0, rows);
    if (defined) {
      f64 = new Float64Array(dense);
      for (let i = 0, j = 0; i < rows; i++) {
        if (defined[i]) f64[j++] = values[i] as number;
      }
    }
    return { ...base, kind, type: "DOUBLE", defined, f64 };
  }
  if (big) {
    let b = (values as BigInt64Array).subarray(0, rows);
    if (defined) {
      b = new BigInt64Array(dense);
      for (let i = 0, j = 0; i < rows; i++) {
        if (defined[i]) b[j++] = values[i] as bigint;
      }
    }
    const words = new Int32Array(b.buffer, b.byteOffset, dense * 2);
    return { ...base, kind, type: "INT64", defined, words };
  }
  const words = new Int32Array(dense * 2);
  for (let i = 0, j = 0; i < rows; i++) {
    if (defined && !defined[i]) continue;
    const v = values[i] as number;
    if (!Number.isSafeInteger(v)) {
      throw bad(
        `of type INT64 holds ${show(v)} at row ${i}, not a safe integer`,
      );
    }
    words[j] = v; // ToInt32 keeps the low 32 bits
    words[j + 1] = Math.floor(v / 4294967296);
    j += 2;
  }
  return { ...base, kind, type: "INT64", defined, words };
}

/** A typed STRING or BOOLEAN column: its values as items. */
function prepareTypedItems(
  c: TypedMetricColumn,
  rows: number,
  bad: (why: string) => Error,
): Prepared {
  const { name, type, values } = c;
  const mask = c.defined;
  const base = { name, cursor: 0 };
  if (!Array.isArray(values)) throw bad(`needs a plain array of values`);
  const want = type === "STRING" ? "string" : "boolean";
  const defined = new Uint8Array(rows);
  const items: (Uint8Array | boolean)[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < rows; i++) {
    const v = values[i];
    if (v === null || v === undefined || (mask && mask[i] === 0)) continue;
    if (want === "string" ? typeof v !== "string" : typeof v !== "boolean") {
      throw bad(`of type ${type} holds ${show(v)} at row ${i}`);
    }
    defined[i] = 1;
    items.push(type === "STRING" ? encoder.encode(v as string) : v);
  }
  return {
    ...base,
    kind: c.kind ?? `${want}[]` as Kind,
    type: type === "STRING" ? "BYTE_ARRAY" : "BOOLEAN",
    defined: items.length < rows ? defined : undefined,
    items,
  };
}

export function checkNames(names: string[]): void {
  const seen = new Map<string, string>();
  for (const name of names) {
    if (name.trim() === "") {
      throw new InvalidInputError(
        `Cannot encode metrics: column name ${
          JSON.stringify(name)
        } is blank; give every column a name, e.g. "loss"`,
      );
    }
    // SQL (DuckDB) treats identifiers case-insensitively: "Loss" and "loss"
    // could not both be queried.
    const key = name.toLowerCase();
    const other = seen.get(key);
    if (other !== undefined) {
      throw new InvalidInputError(
        `Cannot encode metrics: column names "${other}" and "${name}" differ only in case, which SQL cannot tell apart; rename one`,
      );
    }
    seen.set(key, name);
  }
}

export function checkLengths(entries: [string, ColumnValues][]): number {
  for (const [name, values] of entries) {
    if (!Array.isArray(values) && !ArrayBuffer.isView(values)) {
      throw new InvalidInputError(
        `Cannot encode metrics: column "${name}" is ${
          show(values)
        }, not an array; pass an array or a typed array of values`,
      );
    }
  }
  const [firstName, firstValues] = entries[0];
  const rows = (firstValues as ArrayLike<unknown>).length;
  for (const [name, values] of entries) {
    const n = (values as ArrayLike<unknown>).length;
    if (n !== rows) {
      throw new InvalidInputError(
        `Cannot encode metrics: column "${name}" has ${n} rows but column "${firstName}" has ${rows}; give every column the same length`,
      );
    }
  }
  return rows;
}

export function prepare(name: string, values: ColumnValues): Prepared {
  if (ArrayBuffer.isView(values)) return prepareTyped(name, values);
  return preparePlain(name, values as readonly unknown[]);
}

function prepareTyped(name: string, values: ArrayBufferView): Prepared {
  const kind = TYPED_KINDS.find((k) => values instanceof TYPED[k].ctor);
  if (!kind) {
    throw new InvalidInputError(
      `Cannot encode metrics: column "${name}" is a ${values.constructor.name}, which is not supported; use one of ${
        TYPED_KINDS.join(", ")
      } or a plain array`,
    );
  }
  const col: Prepared = { name, kind, type: TYPED[kind].type, cursor: 0 };
  if (values instanceof Float64Array) {
    col.f64 = values;
  } else if (values instanceof Float32Array) {
    col.f64 = new Float64Array(values);
  } else if (values instanceof BigInt64Array) {
    col.words = new Int32Array(
      values.buffer,
      values.byteOffset,
      values.length * 2,
    );
  } else {
    const ints = values as Exclude<AnyTypedArray, Float64Array | Float32Array>;
    const words = new Int32Array(ints.length * 2);
    for (let i = 0; i < ints.length; i++) {
      const v = ints[i] as number;
      words[2 * i] = v;
      words[2 * i + 1] = v < 0 ? -1 : 0;
    }
    col.words = words;
  }
  return col;
}

function preparePlain(name: string, values: readonly unknown[]): Prepared {
  const n = values.length;
  const { kind, nulls, integers } = scanPlain(name, values);

  let defined: Uint8Array | undefined;
  if (nulls > 0) {
    defined = new Uint8Array(n);
    for (let i = 0; i < n; i++) defined[i] = values[i] === null ? 0 : 1;
  }
  const dense = n - nulls;
  const base = { name, defined, cursor: 0 };
  if (kind === undefined || kind === "number") {
    if (kind === undefined || !integers) {
      const f64 = new Float64Array(dense);
      for (let i = 0, j = 0; i < n; i++) {
        const v = values[i];
        if (v !== null) f64[j++] = v as number;
      }
      return { ...base, kind: "number[]", type: "DOUBLE", f64 };
    }
    const words = new Int32Array(dense * 2);
    for (let i = 0, j = 0; i < n; i++) {
      const v = values[i] as number | null;
      if (v === null) continue;
      words[j] = v; // ToInt32 keeps the low 32 bits
      words[j + 1] = Math.floor(v / 4294967296);
      j += 2;
    }
    return { ...base, kind: "number[]", type: "INT64", words };
  }
  if (kind === "bigint") {
    const big = new BigInt64Array(dense);
    for (let i = 0, j = 0; i < n; i++) {
      const v = values[i] as bigint | null;
      if (v === null) continue;
      if (v < INT64_MIN || v > INT64_MAX) {
        throw new InvalidInputError(
          `Cannot encode metrics: column "${name}" holds ${v}n at row ${i}, outside the 64-bit integer range; store it as a number or a string`,
        );
      }
      big[j++] = v;
    }
    const words = new Int32Array(big.buffer, 0, dense * 2);
    return { ...base, kind: "bigint[]", type: "INT64", words };
  }
  const items: (Uint8Array | boolean)[] = new Array(dense);
  if (kind === "string") {
    const encoder = new TextEncoder();
    for (let i = 0, j = 0; i < n; i++) {
      const v = values[i];
      if (v !== null) items[j++] = encoder.encode(v as string);
    }
    return { ...base, kind: "string[]", type: "BYTE_ARRAY", items };
  }
  for (let i = 0, j = 0; i < n; i++) {
    const v = values[i];
    if (v !== null) items[j++] = v as boolean;
  }
  return { ...base, kind: "boolean[]", type: "BOOLEAN", items };
}

/**
 * The one kind of value in a plain column, its nulls, and whether its numbers
 * are all safe integers.
 */
function scanPlain(
  name: string,
  values: readonly unknown[],
): { kind: string | undefined; nulls: number; integers: boolean } {
  const n = values.length;
  let kind: string | undefined;
  let firstRow = -1;
  let nulls = 0;
  let integers = true;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null) {
      nulls++;
      continue;
    }
    const t = typeof v;
    if (t !== kind) {
      if (
        t !== "number" && t !== "bigint" && t !== "string" && t !== "boolean"
      ) {
        throw new InvalidInputError(
          `Cannot encode metrics: column "${name}" holds ${
            show(v)
          } at row ${i}; a column holds numbers, bigints, strings or booleans, and null for a missing value`,
        );
      }
      if (kind !== undefined) {
        throw new InvalidInputError(
          `Cannot encode metrics: column "${name}" mixes a ${kind} (${
            show(values[firstRow])
          } at row ${firstRow}) with a ${t} (${
            show(v)
          } at row ${i}); keep one kind of value per column`,
        );
      }
      kind = t;
      firstRow = i;
    }
    if (
      t === "number" && integers &&
      (!Number.isSafeInteger(v) || Object.is(v, -0))
    ) {
      integers = false;
    }
  }
  return { kind, nulls, integers };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

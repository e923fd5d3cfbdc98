/**
 * Element types and the typed arrays that hold them, for the writer.
 *
 * @module
 */
import type { DType, TensorData } from "./types.ts";

export type TypedArrayCtor = {
  new (length: number): TensorData;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

export const CTORS: Record<DType, TypedArrayCtor> = {
  bool: Uint8Array,
  float16: Float16Array,
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
};
export const DTYPES = Object.keys(CTORS) as DType[];

export const LITTLE_ENDIAN =
  new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function isDType(value: unknown): value is DType {
  return typeof value === "string" && value in CTORS;
}

/** The dtype of a typed array (a Uint8Array is "uint8", never "bool"). */
export function dtypeOf(data: unknown): DType | undefined {
  return DTYPES.find((d) => d !== "bool" && data instanceof CTORS[d]);
}

/** Whether `data` may hold values of `dtype` (bool: a Uint8Array of 0/1). */
export function fits(data: TensorData, dtype: DType): boolean {
  const actual = dtypeOf(data);
  return actual === dtype || (dtype === "bool" && actual === "uint8");
}

/** The index of the first value of a bool tensor that is not 0 or 1. */
export function notBool(data: Uint8Array): number {
  for (let i = 0; i < data.length; i++) if (data[i] > 1) return i;
  return -1;
}

export function product(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function cStrides(shape: number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = step;
    step *= shape[i];
  }
  return strides;
}

export function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return (value as object).constructor?.name ?? "an object";
}

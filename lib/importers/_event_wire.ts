/**
 * Protobuf wire reading for TensorBoard event files, over decoding state
 * shared by the event decoders (one file at a time), so the scalar path
 * allocates nothing per event. Private to the TensorBoard importer.
 *
 * @module
 */
import { BinaryReader } from "./_deps.ts";

// Decoding state shared by the functions below (one file at a time), so the
// scalar path allocates nothing per event.
export let buf: Uint8Array = new Uint8Array(0);
export let reader: BinaryReader = new BinaryReader(buf);
/** End of the field last read by {@linkcode lengthDelimited}. */
export let subEnd = 0;
export const utf8: TextDecoder = new TextDecoder("utf-8", { fatal: false });

/** Starts decoding `bytes` (resets {@linkcode buf} and {@linkcode reader}). */
export function setInput(bytes: Uint8Array) {
  buf = bytes;
  reader = new BinaryReader(bytes);
}

export function fail(what: string): never {
  throw new RangeError(what);
}

/** Reads a length prefix; returns the start, sets `subEnd`; checks bounds. */
export function lengthDelimited(end: number): number {
  const len = reader.uint32();
  const start = reader.pos;
  subEnd = start + len;
  if (subEnd > end) fail(`a field of ${len} bytes runs past its message`);
  reader.pos = subEnd;
  return start;
}

export function skipField(wireType: number, end: number) {
  if (wireType === 2) {
    lengthDelimited(end);
    return;
  }
  if (wireType > 5 || wireType === 3 || wireType === 4) {
    fail(`wire type ${wireType} is not valid here`);
  }
  reader.skip(wireType);
  if (reader.pos > end) fail("a field runs past its message");
}

export function readInt64(): number {
  let n = 0;
  while (n < 10 && buf[reader.pos + n] & 0x80) n++;
  if (n < 4) return reader.uint32();
  return Number(reader.int64());
}

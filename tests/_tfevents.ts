/**
 * Test-only writer of TensorBoard event files: protobuf fields and TFRecord
 * framing, for generated inputs (many tags, a million events, a record that
 * does not decode). Fixtures written by the real tools live in
 * `tests/testdata/interop/trackers/`; this is never used in their place.
 *
 * @module
 */
import { maskedCrc32c } from "../lib/importers/tfrecord.ts";

const enc = new TextEncoder();

/** Protobuf bytes built field by field. */
export class Proto {
  #parts: number[] = [];
  #varint(v: number) {
    while (v >= 0x80) {
      this.#parts.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.#parts.push(v);
  }
  /** A varint field. */
  varint(field: number, v: number): this {
    this.#varint(field * 8);
    this.#varint(v);
    return this;
  }
  /** A double (fixed64) field. */
  double(field: number, v: number): this {
    this.#varint(field * 8 + 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.#parts.push(...b);
    return this;
  }
  /** A float (fixed32) field. */
  float(field: number, v: number): this {
    this.#varint(field * 8 + 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.#parts.push(...b);
    return this;
  }
  /** A length-delimited field (bytes, a string or a message). */
  bytes(field: number, v: Uint8Array | string | Proto): this {
    const b = typeof v === "string"
      ? enc.encode(v)
      : v instanceof Proto
      ? v.finish()
      : v;
    this.#varint(field * 8 + 2);
    this.#varint(b.length);
    for (const x of b) this.#parts.push(x);
    return this;
  }
  /** The bytes. */
  finish(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}

/** An Event with one simple_value scalar. */
export function scalarEvent(
  tag: string,
  step: number,
  value: number,
  wall = 1.7e9 + step,
): Uint8Array {
  return new Proto().double(1, wall).varint(2, step)
    .bytes(5, new Proto().bytes(1, new Proto().bytes(1, tag).float(2, value)))
    .finish();
}

/** The first event every writer puts in a file. */
export function fileVersionEvent(wall = 1.7e9): Uint8Array {
  return new Proto().double(1, wall).bytes(3, "brain.Event:2").finish();
}

/** Frames records as TFRecord (length, masked CRCs). */
export function frame(records: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const r of records) n += r.length + 16;
  const out = new Uint8Array(n);
  const view = new DataView(out.buffer);
  let o = 0;
  for (const r of records) {
    view.setUint32(o, r.length, true);
    view.setUint32(o + 4, 0, true);
    view.setUint32(o + 8, maskedCrc32c(out.subarray(o, o + 8)), true);
    out.set(r, o + 12);
    view.setUint32(o + 12 + r.length, maskedCrc32c(r), true);
    o += r.length + 16;
  }
  return out;
}

/**
 * An event file of `events` simple_value scalars over `tags` tags (tag k at
 * every step), written straight into one buffer (fast enough for 1M events).
 */
export function scalarEventFile(events: number, tags: number): Uint8Array {
  const names = Array.from({ length: tags }, (_, k) => enc.encode(`tag/${k}`));
  const head = frame([fileVersionEvent()]);
  let size = head.length;
  const varintLen = (v: number) =>
    v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : 4;
  for (let i = 0; i < events; i++) {
    const tag = names[i % tags];
    size += 16 + 9 + 1 + varintLen(Math.floor(i / tags)) + 4 + tag.length + 5 +
      2;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(head);
  let o = head.length;
  for (let i = 0; i < events; i++) {
    const tag = names[i % tags];
    const step = Math.floor(i / tags);
    const valueLen = 2 + tag.length + 5;
    const summaryLen = 2 + valueLen;
    const len = 9 + 1 + varintLen(step) + 2 + summaryLen;
    view.setUint32(o, len, true);
    view.setUint32(o + 4, 0, true);
    view.setUint32(o + 8, maskedCrc32c(out.subarray(o, o + 8)), true);
    let p = o + 12;
    const start = p;
    out[p++] = 0x09;
    view.setFloat64(p, 1.7e9 + step, true);
    p += 8;
    out[p++] = 0x10;
    let v = step;
    while (v >= 0x80) {
      out[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    out[p++] = v;
    out[p++] = 0x2a;
    out[p++] = summaryLen;
    out[p++] = 0x0a;
    out[p++] = valueLen;
    out[p++] = 0x0a;
    out[p++] = tag.length;
    out.set(tag, p);
    p += tag.length;
    out[p++] = 0x15;
    view.setFloat32(p, Math.sin(i), true);
    p += 4;
    view.setUint32(p, maskedCrc32c(out.subarray(start, p)), true);
    o = p + 4;
  }
  if (o !== size) throw new Error(`sized ${size}, wrote ${o}`);
  return out;
}

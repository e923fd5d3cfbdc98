/**
 * Decodes TensorBoard event files: TFRecord framing, then the `Event` /
 * `Summary` protobuf messages, decoded by field number with
 * `@bufbuild/protobuf`'s `BinaryReader` (no generated code, and no object per
 * event on the scalar path). Private to the TensorBoard importer.
 *
 * @module
 */
import { CorruptFileError } from "../errors.ts";
import {
  acc,
  addPoint,
  HistAccumulator,
  intern,
  setAccumulator,
  type SubrunAccumulator,
  type TagEntry,
} from "./_event_accumulator.ts";
import { decodeHParams } from "./_event_hparams.ts";
import { decodeTensorValue } from "./_event_tensor.ts";
import {
  buf,
  fail,
  lengthDelimited,
  reader,
  readInt64,
  setInput,
  skipField,
  subEnd,
  utf8,
} from "./_event_wire.ts";
import { readRecords } from "./tfrecord.ts";

/** Decodes one event file into `into`; returns its event count. */
export function decodeEventFile(
  bytes: Uint8Array,
  file: string,
  into: SubrunAccumulator,
  options: { skipCorrupt?: boolean },
  warnings: string[],
): number {
  setInput(bytes);
  setAccumulator(into);
  // The smallest scalar record is 39 bytes (framing 16, wall time 9, step 2,
  // summary and value headers 6, a 1-byte tag, the float 5): reserving
  // bytes/39 points up front spares the copies of growing (memory stays
  // below the file's size).
  const most = Math.ceil(bytes.length / 39);
  acc.pointTag.reserve(most);
  acc.pointStep.reserve(most);
  acc.pointValue.reserve(most);
  acc.pointWall.reserve(most);
  let events = 0;
  const result = readRecords(bytes, file, (start, end) => {
    try {
      decodeEvent(start, end);
      events++;
    } catch (e) {
      const msg = `the record at byte ${
        start - 12
      } does not decode as an Event protobuf (${(e as Error).message})`;
      if (!options.skipCorrupt) {
        throw new CorruptFileError(
          `Cannot read "${file}": ${msg}; pass --skip-corrupt to skip such records and import the rest`,
          { cause: e },
        );
      }
      warnings.push(`"${file}": ${msg}, skipped`);
    }
  }, { skipCorrupt: options.skipCorrupt });
  for (const s of result.skipped) warnings.push(s.message);
  if (result.truncated) warnings.push(result.truncated.message);
  return events;
}

function decodeEvent(start: number, end: number) {
  reader.pos = start;
  let wall = 0, step = 0, sStart = -1, sEnd = 0;
  let exact: bigint | null = null;
  while (reader.pos < end) {
    const t = reader.uint32();
    const f = t >>> 3, wt = t & 7;
    if (f === 1 && wt === 1) wall = reader.double();
    else if (f === 2 && wt === 0) {
      const at = reader.pos;
      step = readInt64();
      if (!Number.isSafeInteger(step)) {
        // Past 2^53 a double rounds it: keep the exact int64 beside it.
        reader.pos = at;
        exact = BigInt(reader.int64());
      }
    } else if (f === 5 && wt === 2) {
      sStart = lengthDelimited(end);
      sEnd = subEnd;
    } else if (f === 3 && wt === 2) {
      const s = lengthDelimited(end);
      acc.fileVersion = utf8.decode(buf.subarray(s, subEnd));
    } else if (f === 0) fail("field number 0");
    else skipField(wt, end);
  }
  if (reader.pos !== end) fail("the last field runs past the record");
  if (wall < acc.firstWall) acc.firstWall = wall;
  if (wall > acc.lastWall) acc.lastWall = wall;
  if (sStart < 0) return;
  acc.eventExactStep = exact;
  reader.pos = sStart;
  while (reader.pos < sEnd) {
    const t = reader.uint32();
    if (t === 10) {
      const vStart = lengthDelimited(sEnd);
      const vEnd = subEnd;
      decodeValue(vStart, vEnd, step, wall);
      reader.pos = vEnd;
    } else if (t >>> 3 === 0) fail("field number 0");
    else skipField(t & 7, sEnd);
  }
}

const SIMPLE = 1, HISTO = 2, TENSOR = 3, IMAGE = 4, AUDIO = 5;

function decodeValue(start: number, end: number, step: number, wall: number) {
  reader.pos = start;
  let tagStart = -1, tagEnd = 0, kind = 0, simple = 0;
  let dStart = 0, dEnd = 0, mStart = -1, mEnd = 0;
  while (reader.pos < end) {
    const t = reader.uint32();
    const f = t >>> 3, wt = t & 7;
    if (f === 1 && wt === 2) {
      tagStart = lengthDelimited(end);
      tagEnd = subEnd;
    } else if (f === 2 && wt === 5) {
      simple = reader.float();
      kind = SIMPLE;
    } else if ((f === 4 || f === 5 || f === 6 || f === 8) && wt === 2) {
      dStart = lengthDelimited(end);
      dEnd = subEnd;
      kind = f === 5 ? HISTO : f === 8 ? TENSOR : f === 4 ? IMAGE : AUDIO;
    } else if (f === 9 && wt === 2) {
      mStart = lengthDelimited(end);
      mEnd = subEnd;
    } else if (f === 0) fail("field number 0");
    else skipField(wt, end);
  }
  if (reader.pos !== end) fail("a summary value runs past its end");
  if (tagStart < 0) return;
  const entry = intern(tagStart, tagEnd);
  if (mStart >= 0) decodeMetadata(entry, mStart, mEnd);
  if (kind === SIMPLE) {
    addPoint(entry, step, simple, wall);
  } else if (kind === HISTO) {
    decodeHistogram(entry, dStart, dEnd, step, wall);
  } else if (kind === TENSOR) {
    decodeTensorValue(entry, dStart, dEnd, step, wall);
  } else if (kind === IMAGE) {
    decodeImage(entry, dStart, dEnd, step, wall);
  } else if (kind === AUDIO) entry.dropped++;
}

function decodeMetadata(entry: TagEntry, start: number, end: number) {
  reader.pos = start;
  let pStart = -1, pEnd = 0;
  while (reader.pos < end) {
    const t = reader.uint32();
    if (t === 10) {
      pStart = lengthDelimited(end);
      pEnd = subEnd;
    } else skipField(t & 7, end);
  }
  if (pStart < 0) return;
  reader.pos = pStart;
  let plugin = "", cStart = -1, cEnd = 0;
  while (reader.pos < pEnd) {
    const t = reader.uint32();
    if (t === 10) {
      const s = lengthDelimited(pEnd);
      plugin = utf8.decode(buf.subarray(s, subEnd));
    } else if (t === 18) {
      cStart = lengthDelimited(pEnd);
      cEnd = subEnd;
    } else skipField(t & 7, pEnd);
  }
  if (plugin) entry.plugin = plugin;
  if (plugin === "hparams" && cStart >= 0) decodeHParams(cStart, cEnd);
}

/** `Summary.Image`: the encoded image (field 4) is kept, a copy. */
function decodeImage(
  entry: TagEntry,
  start: number,
  end: number,
  step: number,
  wall: number,
) {
  reader.pos = start;
  while (reader.pos < end) {
    const t = reader.uint32();
    if (t === 34) {
      const s = lengthDelimited(end);
      (entry.images ??= []).push({
        step,
        wall,
        bytes: buf.slice(s, subEnd),
      });
      reader.pos = subEnd;
    } else if (t >>> 3 === 0) fail("field number 0");
    else skipField(t & 7, end);
  }
}

function decodeHistogram(
  entry: TagEntry,
  start: number,
  end: number,
  step: number,
  wall: number,
) {
  reader.pos = start;
  let min = 0, max = 0, num = 0, sum = 0, sumSquares = 0;
  const limits: number[] = [], counts: number[] = [];
  while (reader.pos < end) {
    const t = reader.uint32();
    const f = t >>> 3, wt = t & 7;
    if (f >= 1 && f <= 5 && wt === 1) {
      const v = reader.double();
      if (f === 1) min = v;
      else if (f === 2) max = v;
      else if (f === 3) num = v;
      else if (f === 4) sum = v;
      else sumSquares = v;
    } else if ((f === 6 || f === 7) && (wt === 1 || wt === 2)) {
      const out = f === 6 ? limits : counts;
      if (wt === 1) out.push(reader.double());
      else {
        const s = lengthDelimited(end);
        const e = subEnd;
        reader.pos = s;
        while (reader.pos < e) out.push(reader.double());
      }
    } else skipField(wt, end);
  }
  if (limits.length !== counts.length) {
    fail(
      `a histogram has ${limits.length} bucket limits but ${counts.length} counts`,
    );
  }
  const h = entry.hist ??= new HistAccumulator();
  h.steps.push(step);
  h.walls.push(wall);
  h.min.push(min);
  h.max.push(max);
  h.num.push(num);
  h.sum.push(sum);
  h.sumSquares.push(sumSquares);
  h.limits.push(Float64Array.from(limits));
  h.counts.push(Float64Array.from(counts));
}

/**
 * TensorProto values in TensorBoard summaries (the tensor form of scalars,
 * histograms and texts that `torch.utils.tensorboard` and TF 2 write).
 * Private to the TensorBoard importer.
 *
 * @module
 */
import {
  addPoint,
  HistAccumulator,
  type TagEntry,
} from "./_event_accumulator.ts";
import {
  buf,
  fail,
  lengthDelimited,
  reader,
  readInt64,
  skipField,
  subEnd,
  utf8,
} from "./_event_wire.ts";

// TensorProto dtypes (tensorboard/compat/proto/types.proto).
const DT_FLOAT = 1, DT_DOUBLE = 2, DT_INT32 = 3, DT_STRING = 7, DT_INT64 = 9;

interface Tensor {
  dtype: number;
  shape: number[];
  numbers: number[];
  strings: string[];
}

function decodeTensor(start: number, end: number): Tensor {
  const out: Tensor = { dtype: 0, shape: [], numbers: [], strings: [] };
  let cStart = -1, cEnd = 0;
  reader.pos = start;
  while (reader.pos < end) {
    const t = reader.uint32();
    const f = t >>> 3, wt = t & 7;
    if (f === 1 && wt === 0) out.dtype = reader.uint32();
    else if (f === 2 && wt === 2) {
      const s = lengthDelimited(end);
      const e = subEnd;
      reader.pos = s;
      while (reader.pos < e) {
        const dt = reader.uint32();
        if (dt === 18) {
          const ds = lengthDelimited(e);
          const de = subEnd;
          reader.pos = ds;
          let size = 0;
          while (reader.pos < de) {
            const tt = reader.uint32();
            if (tt === 8) size = readInt64();
            else skipField(tt & 7, de);
          }
          out.shape.push(size);
        } else skipField(dt & 7, e);
      }
      reader.pos = e;
    } else if (f === 4 && wt === 2) {
      cStart = lengthDelimited(end);
      cEnd = subEnd;
    } else if (f === 8 && wt === 2) {
      const s = lengthDelimited(end);
      out.strings.push(utf8.decode(buf.subarray(s, subEnd)));
    } else if ((f === 5 || f === 6 || f === 7 || f === 10) && wt !== 2) {
      out.numbers.push(readNumber(f, wt));
    } else if (f === 5 || f === 6 || f === 7 || f === 10) {
      const s = lengthDelimited(end);
      const e = subEnd;
      reader.pos = s;
      while (reader.pos < e) out.numbers.push(readNumber(f, f === 6 ? 1 : 5));
      reader.pos = e;
    } else skipField(wt, end);
  }
  if (cStart >= 0 && out.numbers.length === 0) {
    const view = new DataView(
      buf.buffer,
      buf.byteOffset + cStart,
      cEnd - cStart,
    );
    const size = out.dtype === DT_DOUBLE || out.dtype === DT_INT64 ? 8 : 4;
    for (let o = 0; o + size <= view.byteLength; o += size) {
      out.numbers.push(
        out.dtype === DT_DOUBLE
          ? view.getFloat64(o, true)
          : out.dtype === DT_INT64
          ? Number(view.getBigInt64(o, true))
          : out.dtype === DT_INT32
          ? view.getInt32(o, true)
          : view.getFloat32(o, true),
      );
    }
  }
  return out;
}

function readNumber(field: number, wt: number): number {
  if (field === 5) return reader.float();
  if (field === 6) return reader.double();
  if (field === 7) return reader.int32();
  if (wt === 0 || field === 10) return readInt64();
  return fail(`wire type ${wt} for field ${field}`);
}

export function decodeTensorValue(
  entry: TagEntry,
  start: number,
  end: number,
  step: number,
  wall: number,
) {
  const plugin = entry.plugin;
  if (plugin === "hparams") return;
  const t = decodeTensor(start, end);
  if (plugin === "text" || (plugin === null && t.dtype === DT_STRING)) {
    (entry.texts ??= []).push({ step, wallTime: wall, text: t.strings });
    return;
  }
  if (
    plugin === "histograms" && t.shape.length === 2 && t.shape[1] === 3
  ) {
    const k = t.shape[0];
    const h = entry.hist ??= new HistAccumulator();
    const limits = new Float64Array(k), counts = new Float64Array(k);
    let num = 0;
    for (let i = 0; i < k; i++) {
      limits[i] = t.numbers[3 * i + 1];
      counts[i] = t.numbers[3 * i + 2];
      num += counts[i];
    }
    h.steps.push(step);
    h.walls.push(wall);
    h.min.push(k ? t.numbers[0] : 0);
    h.max.push(k ? t.numbers[3 * k - 2] : 0);
    h.num.push(num);
    h.sum.push(NaN);
    h.sumSquares.push(NaN);
    h.limits.push(limits);
    h.counts.push(counts);
    return;
  }
  if (
    (plugin === "scalars" || plugin === null) && t.numbers.length === 1 &&
    t.shape.every((d) => d === 1) &&
    (t.dtype === DT_FLOAT || t.dtype === DT_DOUBLE || t.dtype === DT_INT32 ||
      t.dtype === DT_INT64)
  ) {
    addPoint(entry, step, t.numbers[0], wall);
    return;
  }
  entry.dropped++;
}

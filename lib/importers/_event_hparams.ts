/**
 * The hparams plugin's data in TensorBoard summaries
 * (tensorboard/plugins/hparams/plugin_data.proto): the experiment's metric
 * names and a session's hyperparameters. Private to the TensorBoard importer.
 *
 * @module
 */
import type { ParamValue } from "./model.ts";
import { acc } from "./_event_accumulator.ts";
import {
  buf,
  lengthDelimited,
  reader,
  skipField,
  subEnd,
  utf8,
} from "./_event_wire.ts";

export function decodeHParams(start: number, end: number) {
  const saved = reader.pos;
  reader.pos = start;
  while (reader.pos < end) {
    const t = reader.uint32();
    if (t === 18) { // experiment
      const s = lengthDelimited(end);
      decodeExperiment(s, subEnd);
    } else if (t === 26) { // session_start_info
      const s = lengthDelimited(end);
      decodeSessionStart(s, subEnd);
    } else skipField(t & 7, end);
  }
  reader.pos = saved;
}

function decodeExperiment(start: number, end: number) {
  const after = end;
  reader.pos = start;
  while (reader.pos < end) {
    const t = reader.uint32();
    if (t === 42) { // metric_infos
      const s = lengthDelimited(end);
      const e = subEnd;
      reader.pos = s;
      while (reader.pos < e) {
        const mt = reader.uint32();
        if (mt === 10) { // name: MetricName
          const ns = lengthDelimited(e);
          const ne = subEnd;
          reader.pos = ns;
          let group = "", tag = "";
          while (reader.pos < ne) {
            const nt = reader.uint32();
            if (nt === 10 || nt === 18) {
              const xs = lengthDelimited(ne);
              const v = utf8.decode(buf.subarray(xs, subEnd));
              if (nt === 10) group = v;
              else tag = v;
            } else skipField(nt & 7, ne);
          }
          acc.hparamMetrics.push(group ? `${group}/${tag}` : tag);
        } else skipField(mt & 7, e);
      }
      reader.pos = e;
    } else skipField(t & 7, end);
  }
  reader.pos = after;
}

/** SessionStartInfo: its `hparams` map (field 1) has the shape of a Struct. */
function decodeSessionStart(start: number, end: number) {
  acc.hparams = decodeStruct(start, end, acc.hparams ?? {});
}

/** google.protobuf.Value (struct.proto). */
function decodeStructValue(start: number, end: number): ParamValue {
  reader.pos = start;
  let value: ParamValue = null;
  while (reader.pos < end) {
    const t = reader.uint32();
    const f = t >>> 3;
    if (f === 1 && (t & 7) === 0) {
      reader.uint32();
      value = null;
    } else if (f === 2 && (t & 7) === 1) value = reader.double();
    else if (f === 3 && (t & 7) === 2) {
      const s = lengthDelimited(end);
      value = utf8.decode(buf.subarray(s, subEnd));
    } else if (f === 4 && (t & 7) === 0) value = reader.bool();
    else if ((f === 5 || f === 6) && (t & 7) === 2) {
      const s = lengthDelimited(end);
      const e = subEnd;
      value = f === 5 ? decodeStruct(s, e) : decodeList(s, e);
      reader.pos = e;
    } else skipField(t & 7, end);
  }
  return value;
}

/**
 * google.protobuf.Struct (its `fields` map, field 1), added to `out`; other
 * fields are skipped.
 */
function decodeStruct(
  start: number,
  end: number,
  out: Record<string, ParamValue> = {},
): Record<string, ParamValue> {
  reader.pos = start;
  while (reader.pos < end) {
    const t = reader.uint32();
    if (t !== 10) {
      skipField(t & 7, end);
      continue;
    }
    const s = lengthDelimited(end);
    const e = subEnd;
    reader.pos = s;
    let key = "";
    let value: ParamValue = null;
    while (reader.pos < e) {
      const et = reader.uint32();
      if (et === 10) {
        const ks = lengthDelimited(e);
        key = utf8.decode(buf.subarray(ks, subEnd));
      } else if (et === 18) {
        const vs = lengthDelimited(e);
        const ve = subEnd;
        value = decodeStructValue(vs, ve);
        reader.pos = ve;
      } else skipField(et & 7, e);
    }
    out[key] = value;
    reader.pos = e;
  }
  return out;
}

function decodeList(start: number, end: number): ParamValue {
  const out: ParamValue[] = [];
  reader.pos = start;
  while (reader.pos < end) {
    const t = reader.uint32();
    if (t === 10) {
      const s = lengthDelimited(end);
      const e = subEnd;
      out.push(decodeStructValue(s, e));
      reader.pos = e;
    } else skipField(t & 7, end);
  }
  return out;
}

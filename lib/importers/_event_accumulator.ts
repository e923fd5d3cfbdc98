/**
 * What the event decoders gather from one sub-run's event files: tags,
 * scalar points in flat columns, histograms, texts, hparams. Private to the
 * TensorBoard importer.
 *
 * @module
 */
import {
  F64Builder,
  type ImportedHistogram,
  type ImportedText,
  type ParamValue,
} from "./model.ts";
import { buf, utf8 } from "./_event_wire.ts";

export class HistAccumulator {
  steps = new F64Builder(8);
  walls = new F64Builder(8);
  min = new F64Builder(8);
  max = new F64Builder(8);
  num = new F64Builder(8);
  sum = new F64Builder(8);
  sumSquares = new F64Builder(8);
  limits: Float64Array[] = [];
  counts: Float64Array[] = [];
  build(table: string, tag: string): ImportedHistogram {
    return {
      table,
      tag,
      steps: this.steps.view(),
      wallTimes: this.walls.view(),
      min: this.min.view(),
      max: this.max.view(),
      num: this.num.view(),
      sum: this.sum.view(),
      sumSquares: this.sumSquares.view(),
      bucketLimits: this.limits,
      bucketCounts: this.counts,
    };
  }
}

export class TagEntry {
  /** Scalar points of this tag. */
  points = 0;
  hist: HistAccumulator | null = null;
  texts: ImportedText["entries"] | null = null;
  /** Encoded images (`Summary.Value.image`), kept as files. */
  images: { step: number; wall: number; bytes: Uint8Array }[] | null = null;
  /** Values of a kind not imported (audio, PR curves, other plugins). */
  dropped = 0;
  plugin: string | null = null;
  constructor(
    readonly name: string,
    readonly bytes: Uint8Array,
    readonly index: number,
  ) {}
}

const TAG_CACHE_SIZE = 4096;

/** Everything read from one sub-run's event files. */
export class SubrunAccumulator {
  entries: TagEntry[] = [];
  // Scalar points of every tag, in file order: four flat columns, so that
  // neither an event nor a tag allocates (10,000 tags are 4 arrays, not 30,000).
  pointTag = new F64Builder(1024);
  pointStep = new F64Builder(1024);
  pointValue = new F64Builder(1024);
  pointWall = new F64Builder(1024);
  byName = new Map<string, TagEntry>();
  /** Direct-mapped cache by hash of the tag's bytes (skips UTF-8 decoding). */
  byHash: (TagEntry | undefined)[] = new Array(TAG_CACHE_SIZE);
  byFullHash = new Map<number, TagEntry>();
  hparams: Record<string, ParamValue> | null = null;
  hparamMetrics: string[] = [];
  fileVersion: string | null = null;
  firstWall = Infinity;
  lastWall = -Infinity;
  /**
   * The exact step of each point whose step is past 2^53 (by point index):
   * `pointStep` holds doubles, which would round it.
   */
  exactSteps = new Map<number, bigint>();
  /** The exact step of the event being decoded, when past 2^53. */
  eventExactStep: bigint | null = null;
}

/** The accumulator the decoders write into (set per file). */
export let acc: SubrunAccumulator = new SubrunAccumulator();

/** Makes `into` the accumulator the decoders write into. */
export function setAccumulator(into: SubrunAccumulator) {
  acc = into;
}

export function addPoint(
  entry: TagEntry,
  step: number,
  value: number,
  wall: number,
) {
  entry.points++;
  if (acc.eventExactStep !== null) {
    acc.exactSteps.set(acc.pointTag.length, acc.eventExactStep);
  }
  acc.pointTag.push(entry.index);
  acc.pointStep.push(step);
  acc.pointValue.push(value);
  acc.pointWall.push(wall);
}

function sameBytes(entry: TagEntry, start: number, end: number): boolean {
  const b = entry.bytes;
  if (b.length !== end - start) return false;
  for (let i = 0; i < b.length; i++) if (b[i] !== buf[start + i]) return false;
  return true;
}

/**
 * The tag whose name is `buf[start, end)`, found by a hash of its bytes so
 * that a known tag costs no UTF-8 decoding: a direct-mapped cache first, then
 * a map by full hash, then (new tag or hash collision) by decoded name.
 */
export function intern(start: number, end: number): TagEntry {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  const slot = h & (TAG_CACHE_SIZE - 1);
  const hit = acc.byHash[slot];
  if (hit !== undefined && sameBytes(hit, start, end)) return hit;
  let entry = acc.byFullHash.get(h);
  if (entry === undefined || !sameBytes(entry, start, end)) {
    const name = utf8.decode(buf.subarray(start, end));
    entry = acc.byName.get(name);
    if (!entry) {
      entry = new TagEntry(name, buf.slice(start, end), acc.entries.length);
      acc.byName.set(name, entry);
      acc.entries.push(entry);
    }
    if (!acc.byFullHash.has(h)) acc.byFullHash.set(h, entry);
  }
  acc.byHash[slot] = entry;
  return entry;
}

/**
 * Private: the parts of wandb's `Record` protobuf (`wandb/proto/
 * wandb_internal.proto`) an import needs, read with `@bufbuild/protobuf`'s
 * wire reader. Field numbers are the proto's; every other field is skipped.
 *
 * @module
 */
import { BinaryReader } from "./_deps.ts";

/** One `key` / `nested_key` / `value_json` item (history, config, summary, stats). */
export interface WandbItem {
  /** The key, nested keys joined with `.` (W&B's own display). */
  key: string;
  /** The value as wandb wrote it: JSON text (Python's, so `NaN` may appear). */
  json: string;
}

/** The decoded records, by kind; `other` for kinds not imported. */
export type WandbRecord =
  | { kind: "history"; step: bigint | null; items: WandbItem[] }
  | { kind: "summary"; update: WandbItem[]; remove: string[] }
  | { kind: "config"; update: WandbItem[]; remove: string[] }
  | { kind: "stats"; time: number | null; items: WandbItem[] }
  | { kind: "run"; run: WandbRunInfo }
  | { kind: "exit"; exitCode: number; runtime: number }
  | { kind: "header"; producer: string; minConsumer: string }
  | { kind: "files"; paths: string[] }
  | { kind: "environment"; info: Record<string, string> }
  | { kind: "final" | "footer" | "other"; field: number };

/** What a `RunRecord` says of the run. */
export interface WandbRunInfo {
  runId: string;
  entity: string;
  project: string;
  displayName: string;
  group: string;
  jobType: string;
  notes: string;
  host: string;
  tags: string[];
  /** Seconds since 1970 (with fraction), or null. */
  startTime: number | null;
  startingStep: number;
  resumed: boolean;
  config: WandbItem[];
}

/**
 * Takes each history item as it is read (no list kept): the import's path,
 * where a list per record was a fifth of the time in garbage collection.
 */
export type HistorySink = (key: string, json: string) => void;

/**
 * Decodes one record's bytes. With `sink`, a history record's items go to
 * it and the record's `items` is empty.
 *
 * @throws {Error} Bytes that are not a protobuf message (the caller names the
 * file and offset).
 */
export function decodeRecord(
  bytes: Uint8Array,
  sink?: HistorySink,
): WandbRecord {
  const r = new BinaryReader(bytes);
  let out: WandbRecord = { kind: "other", field: 0 };
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    switch (no) {
      case 2:
        out = history(r, r.uint32() + r.pos, bytes, sink);
        break;
      case 3: {
        const u = updates(r.bytes());
        out = { kind: "summary", ...u };
        break;
      }
      case 5: {
        const u = updates(r.bytes());
        out = { kind: "config", ...u };
        break;
      }
      case 7:
        out = stats(r.bytes());
        break;
      case 17:
        out = { kind: "run", run: runInfo(r.bytes()) };
        break;
      case 18:
        out = exit(r.bytes());
        break;
      case 21:
        out = header(r.bytes());
        break;
      case 6:
        out = files(r.bytes());
        break;
      case 26:
        out = environment(r.bytes());
        break;
      case 20:
      case 22:
        r.skip(wt, no);
        out = { kind: no === 20 ? "final" : "footer", field: no };
        break;
      default: {
        r.skip(wt, no);
        if (no !== 1 && no !== 16 && no !== 19 && no !== 200) {
          out = { kind: "other", field: no };
        }
      }
    }
  }
  return out;
}

/**
 * History is the hot path (a million values a second is the goal): its items
 * are read with the record's own reader (a length, then fields up to its
 * end) rather than a reader per message, and tags come from `uint32()`
 * rather than `tag()` (no array per field). (Decoding a whole record's text
 * once and taking substrings was slower: the library's ASCII fast path per
 * string beats a TextDecoder call per record.)
 */
function history(
  r: BinaryReader,
  end: number,
  bytes: Uint8Array,
  sink?: HistorySink,
): WandbRecord {
  const items: WandbItem[] = [];
  const put = sink ??
    ((key: string, json: string) => items.push({ key, json }));
  let step: bigint | null = null;
  while (r.pos < end) {
    const t = r.uint32();
    const no = t >>> 3, wt = t & 7;
    if (no === 1 && wt === 2) {
      const itemEnd = r.uint32() + r.pos;
      let key = "", json = "";
      let nested: string[] | null = null;
      while (r.pos < itemEnd) {
        const ft = r.uint32();
        const f = ft >>> 3;
        if (f === 1 && (ft & 7) === 2) key = cachedKey(r, bytes);
        else if ((f === 2 || f === 16) && (ft & 7) === 2) {
          const s = r.string();
          if (f === 16) json = s;
          else (nested ??= []).push(s);
        } else r.skip(ft & 7, f);
      }
      put(nested ? nested.join(".") : key, json);
    } else if (no === 2 && wt === 2) {
      const stepEnd = r.uint32() + r.pos;
      step = 0n;
      while (r.pos < stepEnd) {
        const st = r.uint32();
        if (st === 8) step = BigInt(r.int64());
        else r.skip(st & 7, st >>> 3);
      }
    } else r.skip(wt, no);
  }
  if (r.pos > end) throw new RangeError("a history field runs past its record");
  return { kind: "history", step, items };
}

/**
 * History keys repeat on every row: a direct-mapped cache by a hash of the
 * key's bytes gives back the same string without decoding it again (as the
 * TensorBoard decoder does for tags).
 */
const KEY_CACHE_SIZE = 1024;
const keyCache: ({ bytes: Uint8Array; key: string } | undefined)[] = new Array(
  KEY_CACHE_SIZE,
);
const utf8 = new TextDecoder();

function cachedKey(r: BinaryReader, bytes: Uint8Array): string {
  const len = r.uint32();
  const start = r.pos, end = start + len;
  if (end > bytes.length) throw new RangeError("a key runs past its record");
  r.pos = end;
  let h = 0x811c9dc5 ^ len;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  const slot = (h >>> 0) & (KEY_CACHE_SIZE - 1);
  const hit = keyCache[slot];
  if (hit !== undefined && hit.bytes.length === len) {
    let same = true;
    for (let i = 0; i < len && same; i++) {
      same = hit.bytes[i] === bytes[start + i];
    }
    if (same) return hit.key;
  }
  const key = utf8.decode(bytes.subarray(start, end));
  keyCache[slot] = { bytes: bytes.slice(start, end), key };
  return key;
}

function updates(
  bytes: Uint8Array,
): { update: WandbItem[]; remove: string[] } {
  const r = new BinaryReader(bytes);
  const update: WandbItem[] = [], remove: string[] = [];
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1) update.push(item(r.bytes()));
    else if (no === 2) remove.push(item(r.bytes()).key);
    else r.skip(wt, no);
  }
  return { update, remove };
}

/** `key` = 1, `nested_key` = 2 (repeated), `value_json` = 16. */
function item(bytes: Uint8Array): WandbItem {
  return itemAt(new BinaryReader(bytes), bytes.length);
}

function itemAt(r: BinaryReader, end: number): WandbItem {
  let key = "", json = "";
  let nested: string[] | null = null;
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 1) key = r.string();
    else if (no === 2) (nested ??= []).push(r.string());
    else if (no === 16) json = r.string();
    else r.skip(wt, no);
  }
  return { key: nested ? nested.join(".") : key, json };
}

function stats(bytes: Uint8Array): WandbRecord {
  const r = new BinaryReader(bytes);
  const items: WandbItem[] = [];
  let time: number | null = null;
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 2) time = timestamp(r.bytes());
    else if (no === 3) items.push(item(r.bytes()));
    else r.skip(wt, no);
  }
  return { kind: "stats", time, items };
}

/** google.protobuf.Timestamp as seconds since 1970. */
function timestamp(bytes: Uint8Array): number {
  const r = new BinaryReader(bytes);
  let seconds = 0, nanos = 0;
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1) seconds = Number(r.int64());
    else if (no === 2) nanos = r.int32();
    else r.skip(wt, no);
  }
  return seconds + nanos / 1e9;
}

function runInfo(bytes: Uint8Array): WandbRunInfo {
  const r = new BinaryReader(bytes);
  const run: WandbRunInfo = {
    runId: "",
    entity: "",
    project: "",
    displayName: "",
    group: "",
    jobType: "",
    notes: "",
    host: "",
    tags: [],
    startTime: null,
    startingStep: 0,
    resumed: false,
    config: [],
  };
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    switch (no) {
      case 1:
        run.runId = r.string();
        break;
      case 2:
        run.entity = r.string();
        break;
      case 3:
        run.project = r.string();
        break;
      case 4:
        run.config = updates(r.bytes()).update;
        break;
      case 6:
        run.group = r.string();
        break;
      case 7:
        run.jobType = r.string();
        break;
      case 8:
        run.displayName = r.string();
        break;
      case 9:
        run.notes = r.string();
        break;
      case 10:
        run.tags.push(r.string());
        break;
      case 13:
        run.host = r.string();
        break;
      case 14:
        run.startingStep = Number(r.int64());
        break;
      case 17:
        run.startTime = timestamp(r.bytes());
        break;
      case 18:
        run.resumed = r.bool();
        break;
      default:
        r.skip(wt, no);
    }
  }
  return run;
}

function exit(bytes: Uint8Array): WandbRecord {
  const r = new BinaryReader(bytes);
  let exitCode = 0, runtime = 0;
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1) exitCode = r.int32();
    else if (no === 2) runtime = r.int32();
    else r.skip(wt, no);
  }
  return { kind: "exit", exitCode, runtime };
}

function header(bytes: Uint8Array): WandbRecord {
  const r = new BinaryReader(bytes);
  let producer = "", minConsumer = "";
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1) {
      const v = new BinaryReader(r.bytes());
      while (v.pos < v.len) {
        const [n, w] = v.tag();
        if (n === 1) producer = v.string();
        else if (n === 2) minConsumer = v.string();
        else v.skip(w, n);
      }
    } else r.skip(wt, no);
  }
  return { kind: "header", producer, minConsumer };
}

function files(bytes: Uint8Array): WandbRecord {
  const r = new BinaryReader(bytes);
  const paths: string[] = [];
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1) {
      const f = new BinaryReader(r.bytes());
      while (f.pos < f.len) {
        const [n, w] = f.tag();
        if (n === 1) paths.push(f.string());
        else f.skip(w, n);
      }
    } else r.skip(wt, no);
  }
  return { kind: "files", paths };
}

/** The string fields of `EnvironmentRecord` worth keeping. */
const ENV_FIELDS: Record<number, string> = {
  1: "os",
  2: "python",
  6: "program",
  7: "code_path",
  12: "host",
  14: "executable",
  18: "gpu",
  25: "cuda_version",
};

function environment(bytes: Uint8Array): WandbRecord {
  const r = new BinaryReader(bytes);
  const info: Record<string, string> = {};
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    const name = ENV_FIELDS[no];
    if (name !== undefined && wt === 2) info[name] = r.string();
    else r.skip(wt, no);
  }
  return { kind: "environment", info };
}

/**
 * Follows a JSON-lines file that another process appends to (the child's
 * `SPECIMEN_METRICS` file): reads it as it grows, in bounded chunks, and
 * yields the parsed objects with their line numbers.
 *
 * Rules (each problem is reported with its 1-based line number, never thrown,
 * until the bad-line limit):
 * - a line must be one JSON object; blank lines are skipped silently;
 * - `NaN`, `Infinity` and `-Infinity` are read as those numbers (Python's
 *   `json.dumps` writes them for a loss that diverged);
 * - a line that is not JSON, not an object, or not UTF-8 is skipped and
 *   reported; after `maxBadLines` of them the follower throws;
 * - a line longer than `maxLineBytes` (default 16 MiB) is skipped without
 *   being buffered whole, and reported;
 * - when following stops, a last line without its newline (the writer was
 *   killed mid-write) is reported as `torn` and not counted as bad.
 *
 * A `_table` field is kept in the object: routing rows is the caller's job.
 *
 * Permissions: `--allow-read`.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";
import { parsePythonJson } from "../formats/python_json.ts";

/** A parsed line. */
export interface JsonlRow {
  /** 1-based line number in the file. */
  line: number;
  /** The object on that line. */
  value: Record<string, unknown>;
}

/** A line that was skipped, and why. */
export interface JsonlProblem {
  /** 1-based line number in the file. */
  line: number;
  /** What was wrong. */
  kind: "not_json" | "not_object" | "not_utf8" | "too_long" | "torn";
  /** A sentence for people, naming the file and the line. */
  message: string;
}

/** What one read of the file produced. */
export interface JsonlBatch {
  rows: JsonlRow[];
  problems: JsonlProblem[];
}

/** Options of {@linkcode followJsonl}. */
export interface FollowOptions {
  /**
   * Stops following: the file is read to its end once more, a partial last
   * line is reported as `torn`, and the generator ends. Without it, the
   * generator ends at the first end of file (reads a finished file).
   */
  signal?: AbortSignal;
  /**
   * How long to wait before looking again at the end of the file.
   * @default 20
   */
  pollMs?: number;
  /**
   * The longest line accepted, in bytes.
   * @default 16 MiB
   */
  maxLineBytes?: number;
  /**
   * Bad lines (not JSON, not an object, not UTF-8, too long) tolerated;
   * one more throws an `InvalidInputError`.
   * @default 100
   */
  maxBadLines?: number;
  /**
   * Bytes read at a time.
   * @default 1 MiB
   */
  chunkBytes?: number;
  /**
   * Read this open file (from where it stands) instead of opening `path`,
   * which then only names it in messages; the generator closes it.
   */
  file?: Deno.FsFile;
}

/** Default longest line: 16 MiB. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** Default number of bad lines tolerated. */
export const MAX_BAD_LINES = 100;

const NEWLINE = 0x0a;

/**
 * Follows the JSON-lines file at `path`, yielding batches of parsed rows and
 * problems as the file grows. Waits for the file to appear. Memory stays
 * about `chunkBytes` plus one line of at most `maxLineBytes`.
 *
 * Needs `--allow-read`.
 *
 * @param path The file another process appends to.
 * @param options When to stop, and the limits.
 * @returns Batches of rows and problems, in file order.
 * @throws {InvalidInputError} After more than `maxBadLines` bad lines.
 * @example
 * ```ts
 * import { followJsonl } from "./jsonl_follow.ts";
 * const file = await Deno.makeTempFile();
 * await Deno.writeTextFile(file, '{"step": 1, "loss": 0.5}\n[1]\n{"step": 2');
 * const stop = new AbortController();
 * stop.abort(); // the writer is done: read what is there, then end
 * for await (const batch of followJsonl(file, { signal: stop.signal })) {
 *   for (const row of batch.rows) console.assert(row.value.step === 1);
 *   for (const p of batch.problems) console.log(p.line, p.kind); // 2 not_object, 3 torn
 * }
 * await Deno.remove(file);
 * ```
 */
export async function* followJsonl(
  path: string,
  options: FollowOptions = {},
): AsyncGenerator<JsonlBatch> {
  const {
    signal,
    pollMs = 20,
    maxLineBytes = MAX_LINE_BYTES,
    maxBadLines = MAX_BAD_LINES,
    chunkBytes = 1024 * 1024,
  } = options;
  const file = options.file ?? await openWhenExists(path, signal, pollMs);
  if (!file) return;
  try {
    const parser = new LineParser(path, maxLineBytes, maxBadLines);
    const buf = new Uint8Array(chunkBytes);
    for (;;) {
      // Read the stop flag before reading: everything written before the
      // stop is then read before the generator ends.
      const stopping = !signal || signal.aborted;
      const n = await file.read(buf);
      if (n === null) {
        if (stopping) {
          const last = parser.finish();
          if (last.problems.length) yield last;
          return;
        }
        await sleep(pollMs, signal);
        continue;
      }
      const batch = parser.push(buf.subarray(0, n));
      if (batch.rows.length || batch.problems.length) yield batch;
    }
  } finally {
    file.close();
  }
}

async function openWhenExists(
  path: string,
  signal: AbortSignal | undefined,
  pollMs: number,
): Promise<Deno.FsFile | null> {
  for (;;) {
    const stopping = !signal || signal.aborted;
    try {
      return await Deno.open(path, { read: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      if (stopping) return null;
    }
    await sleep(pollMs, signal);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Splits bytes into lines and parses them; holds at most one partial line. */
class LineParser {
  #path: string;
  #maxLine: number;
  #maxBad: number;
  #bad = 0;
  #line = 1;
  #carry = new Uint8Array(0);
  #carryLen = 0;
  /** Bytes of a too-long line being skipped, or -1. */
  #skipping = -1;
  #decoder = new TextDecoder("utf-8", { fatal: true });
  #batch: JsonlBatch = { rows: [], problems: [] };

  constructor(path: string, maxLine: number, maxBad: number) {
    this.#path = path;
    this.#maxLine = maxLine;
    this.#maxBad = maxBad;
  }

  push(bytes: Uint8Array): JsonlBatch {
    this.#batch = { rows: [], problems: [] };
    let pos = 0;
    const first = bytes.indexOf(NEWLINE);
    if (first < 0) {
      this.#keep(bytes);
      return this.#batch;
    }
    // The line begun in an earlier chunk.
    if (this.#skipping >= 0) {
      this.#tooLong(this.#skipping + first);
      this.#skipping = -1;
      pos = first + 1;
    } else if (this.#carryLen > 0) {
      if (this.#carryLen + first > this.#maxLine) {
        this.#tooLong(this.#carryLen + first);
      } else {
        const line = new Uint8Array(this.#carryLen + first);
        line.set(this.#carry.subarray(0, this.#carryLen));
        line.set(bytes.subarray(0, first), this.#carryLen);
        this.#lines(line);
      }
      this.#carryLen = 0;
      pos = first + 1;
    }
    const last = bytes.lastIndexOf(NEWLINE);
    if (last >= pos) this.#lines(bytes.subarray(pos, last));
    this.#keep(bytes.subarray(last + 1));
    return this.#batch;
  }

  finish(): JsonlBatch {
    this.#batch = { rows: [], problems: [] };
    const bytes = this.#skipping >= 0 ? this.#skipping : this.#carryLen;
    if (bytes > 0) {
      this.#batch.problems.push({
        line: this.#line,
        kind: "torn",
        message:
          `${this.#where()}: the last line (${bytes} bytes) has no newline: the writer stopped mid-line; it was ignored`,
      });
    }
    return this.#batch;
  }

  #where(line = this.#line): string {
    return `"${this.#path}" line ${line}`;
  }

  /** Keeps the start of a line that continues in the next chunk. */
  #keep(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    if (this.#skipping >= 0) {
      this.#skipping += bytes.byteLength;
      return;
    }
    const len = this.#carryLen + bytes.byteLength;
    if (len > this.#maxLine) {
      this.#skipping = len;
      this.#carryLen = 0;
      this.#carry = new Uint8Array(0);
      return;
    }
    if (len > this.#carry.byteLength) {
      const bigger = new Uint8Array(
        Math.min(
          this.#maxLine,
          Math.max(len, this.#carry.byteLength * 2, 4096),
        ),
      );
      bigger.set(this.#carry.subarray(0, this.#carryLen));
      this.#carry = bigger;
    }
    this.#carry.set(bytes, this.#carryLen);
    this.#carryLen = len;
  }

  /** Parses complete lines (`bytes` holds no final newline). */
  #lines(bytes: Uint8Array): void {
    let text: string;
    try {
      text = this.#decoder.decode(bytes);
    } catch {
      // Find the line(s) at fault, one by one.
      let start = 0;
      for (;;) {
        const end = bytes.indexOf(NEWLINE, start);
        const stop = end < 0 ? bytes.byteLength : end;
        const one = bytes.subarray(start, stop);
        if (one.byteLength > this.#maxLine) this.#tooLong(one.byteLength);
        else {
          let s: string | undefined;
          try {
            s = this.#decoder.decode(one);
          } catch {
            this.#problem(
              "not_utf8",
              `${this.#where()} is not valid UTF-8: write JSON text (json.dumps does)`,
            );
          }
          if (s !== undefined) this.#parse(s);
        }
        if (end < 0) return;
        start = end + 1;
      }
    }
    let start = 0;
    for (;;) {
      const end = text.indexOf("\n", start);
      const line = end < 0 ? text.slice(start) : text.slice(start, end);
      if (line.length > this.#maxLine) {
        // Only reachable within one chunk larger than the line limit.
        this.#tooLong(new TextEncoder().encode(line).byteLength);
      } else this.#parse(line);
      if (end < 0) return;
      start = end + 1;
    }
  }

  #parse(text: string): void {
    const line = this.#line;
    let value: unknown;
    try {
      value = parseLine(text);
    } catch (e) {
      if (text.trim() === "") {
        this.#line++;
        return;
      }
      const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
      this.#problem(
        "not_json",
        `${this.#where()} is not JSON (${(e as Error).message}): ${
          JSON.stringify(shown)
        }: write one JSON object per line`,
      );
      return;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.#problem(
        "not_object",
        `${this.#where()} is ${
          Array.isArray(value) ? "an array" : JSON.stringify(value)
        }, not a JSON object: write one object per line, e.g. {"step": 1, "loss": 0.5}`,
      );
      return;
    }
    this.#batch.rows.push({ line, value: value as Record<string, unknown> });
    this.#line++;
  }

  #tooLong(bytes: number): void {
    this.#problem(
      "too_long",
      `${this.#where()} has ${bytes} bytes, over the ${this.#maxLine}-byte limit: it was skipped; log scalars per line and write large values as files`,
    );
  }

  #problem(kind: JsonlProblem["kind"], message: string): void {
    this.#batch.problems.push({ line: this.#line, kind, message });
    this.#line++;
    if (++this.#bad > this.#maxBad) {
      throw new InvalidInputError(
        `Cannot follow "${this.#path}": ${this.#bad} bad lines, over the limit of ${this.#maxBad} (the last: ${message})`,
      );
    }
  }
}

/**
 * A line's JSON, Python's bare `NaN` / `±Infinity` included: the one reader
 * shared with `import jsonl`, `import hf-trainer` and W&B values. Integers
 * past 2^53 come back as exact bigints (the loggers keep them as INT64).
 */
function parseLine(text: string): unknown {
  return parsePythonJson(text);
}

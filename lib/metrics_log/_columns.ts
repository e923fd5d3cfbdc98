/**
 * The logger's column buffers and row intake: each column a ring of
 * shared-memory slots, one per part; `store()` puts a row's values in the
 * slot being filled, `take()` hands the filled slots over as a part.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";
import { type LogRow, type LogValue, MAX_COLUMNS } from "./options.ts";
import { show } from "../cli/show.ts";
import { FAILED, type WireColumn, WRITTEN } from "./_worker.ts";

/**
 * Slots of memory per column: the one being filled, and up to 4 parts
 * handed to the worker and not yet on disk before `log()` waits.
 */
export const SLOTS = 5;
/** How long an exit (or `close()`) waits for parts being written. */
export const EXIT_WAIT_MS = 30_000;
/**
 * Rows a new slot holds; it doubles as rows arrive, up to the rows per
 * part. A column costs memory for the rows it was given, not a part's
 * worth up front (before: 9 bytes × 32,768 rows, ~300 KB per column, even
 * for a table of one row).
 */
const FIRST_SLOT_ROWS = 16;

const NUMBER = 0;
const BIGINT = 1;
const STRING = 2;
const BOOLEAN = 3;
export const KIND_NAMES = ["number", "bigint", "string", "boolean"] as const;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * One column's memory, shared with the worker: a ring of slots, one per
 * part. The slot being filled is the logger's; a slot handed over is the
 * worker's until its part is on disk.
 */
interface Slot {
  values: SharedArrayBuffer | null;
  defined: SharedArrayBuffer;
  /** The last part that used it. */
  usedBy: number;
}

/** One column: views of the slot being filled since the last flush. */
export interface Column {
  name: string;
  kind: number;
  slots: Slot[];
  slot: number;
  f64: Float64Array | null;
  big: BigInt64Array | null;
  items: (string | boolean | undefined)[] | null;
  /** 1 for a row that has a value. */
  defined: Uint8Array;
  /** Values in the buffer. */
  count: number;
  /** Values ever logged (a column only exists once it had one). */
  total: number;
  /**
   * Every number logged so far was a whole number (not -0): such a column
   * takes a bigint later (it becomes a bigint column, INT64 throughout).
   */
  whole: boolean;
}

/** The columns of the rows logged since the last part, and their slots. */
export class ColumnBuffers {
  /** Rows in the buffers (since the last part). */
  rows = 0;
  /** Rows ever stored. */
  logged = 0;
  readonly #name: string;
  readonly #capacity: number;
  readonly #state: Int32Array;
  #columns = new Map<string, Column>();
  #folded = new Map<string, string>();

  /**
   * `name` is the table's (for messages), `capacity` the rows per part and
   * `state` the worker's progress (`WRITTEN`, `FAILED`).
   */
  constructor(name: string, capacity: number, state: Int32Array) {
    this.#name = name;
    this.#capacity = capacity;
    this.#state = state;
  }

  /**
   * Stores one row's values; returns its index in the buffers. Throws
   * {@linkcode InvalidInputError} (and stores nothing of the row) for a
   * row it refuses.
   */
  store(row: LogRow): number {
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      throw this.#badRow(row);
    }
    const r = this.rows;
    const columns = this.#columns;
    let stored = 0;
    for (const key in row) {
      const v = row[key];
      let col = columns.get(key);
      if (col === undefined) {
        if (v === null || v === undefined) continue;
        col = this.#addColumn(key, v, row);
      }
      if (r >= col.defined.length && v !== null && v !== undefined) {
        this.#grow(col, r + 1);
      }
      if (typeof v === "number" && col.kind === NUMBER) {
        col.f64![r] = v;
        if (col.whole && !isWhole(v)) col.whole = false;
      } else if (v === null || v === undefined) {
        continue;
      } else {
        this.#storeOther(col, v, row, r);
      }
      col.defined[r] = 1;
      col.count++;
      col.total++;
      stored++;
    }
    if (stored === 0) throw this.#badRow(row);
    this.rows = r + 1;
    this.logged++;
    return r;
  }

  /**
   * The buffered rows as part `seq`'s columns; the slots they use are the
   * worker's from now on. Call {@linkcode ColumnBuffers.advance} with
   * `flushed` once the part is posted.
   */
  take(seq: number): { columns: WireColumn[]; flushed: Column[] } {
    const rows = this.rows;
    const columns: WireColumn[] = [];
    const flushed: Column[] = [];
    for (const col of this.#columns.values()) {
      if (col.count === 0) continue; // readers fill the part's rows with null
      // The worker reads `rows` entries of each buffer.
      if (col.defined.length < rows) this.#grow(col, rows);
      const slot = col.slots[col.slot];
      slot.usedBy = seq;
      columns.push({
        name: col.name,
        kind: KIND_NAMES[col.kind],
        values: slot.values ?? col.items!,
        defined: col.count === rows ? null : slot.defined,
      });
      flushed.push(col);
    }
    this.rows = 0;
    return { columns, flushed };
  }

  /** Moves the columns handed over to their next slot (waiting for it if needed). */
  advance(flushed: Column[]): void {
    for (const col of flushed) {
      col.count = 0;
      this.#useSlot(col, (col.slot + 1) % SLOTS);
    }
  }

  #addColumn(key: string, v: LogValue, row: LogRow): Column {
    const t = typeof v;
    const kind = t === "number"
      ? NUMBER
      : t === "bigint"
      ? BIGINT
      : t === "string"
      ? STRING
      : t === "boolean"
      ? BOOLEAN
      : -1;
    if (kind < 0) throw this.#badValue(key, v, row);
    if (key.trim() === "") {
      this.#rollback(row);
      throw new InvalidInputError(
        `Cannot log ${JSON.stringify(key)}${
          this.#at(row)
        }: a metric name must not be blank; give it a name, e.g. "loss"`,
      );
    }
    // SQL (DuckDB) treats names case-insensitively: both could not be queried.
    const folded = key.toLowerCase();
    if (this.#columns.size >= MAX_COLUMNS) {
      this.#rollback(row);
      const keys = Object.keys(row).length;
      throw new InvalidInputError(
        `Cannot log a row of ${keys} keys${
          this.#at(row)
        } to "${this.#name}": a table holds at most ${MAX_COLUMNS} columns, and this row would add more (at "${
          key.length > 40 ? `${key.slice(0, 40)}…` : key
        }", column ${
          MAX_COLUMNS + 1
        }); log per-item values as a tensor (writeTensor) or spread them over tables`,
      );
    }
    const other = this.#folded.get(folded);
    if (other !== undefined) {
      this.#rollback(row);
      throw new InvalidInputError(
        `Cannot log "${key}"${
          this.#at(row)
        }: it differs from "${other}" only in case, which SQL cannot tell apart; use one spelling`,
      );
    }
    const col = this.#newColumn(key, kind);
    this.#columns.set(key, col);
    this.#folded.set(folded, key);
    return col;
  }

  #newColumn(name: string, kind: number): Column {
    const col: Column = {
      name,
      kind,
      slots: [],
      slot: 0,
      f64: null,
      big: null,
      items: null,
      defined: new Uint8Array(0),
      count: 0,
      total: 0,
      whole: true,
    };
    this.#useSlot(col, 0);
    return col;
  }

  /**
   * Points the column at slot `j`, allocated on first use. A slot handed
   * over before is reused once its part is on disk: this wait is what
   * bounds memory when rows come faster than the worker writes them.
   */
  #useSlot(col: Column, j: number): void {
    const n = Math.min(this.#capacity, FIRST_SLOT_ROWS);
    let slot = col.slots[j];
    if (!slot) {
      const numeric = col.kind === NUMBER || col.kind === BIGINT;
      slot = {
        values: numeric ? new SharedArrayBuffer(n * 8) : null,
        defined: new SharedArrayBuffer(n),
        usedBy: 0,
      };
      col.slots[j] = slot;
    } else if (slot.usedBy > Atomics.load(this.#state, WRITTEN)) {
      waitWritten(this.#state, slot.usedBy, EXIT_WAIT_MS);
    }
    col.slot = j;
    col.f64 = col.kind === NUMBER ? new Float64Array(slot.values!) : null;
    col.big = col.kind === BIGINT ? new BigInt64Array(slot.values!) : null;
    col.items = col.kind === STRING || col.kind === BOOLEAN ? [] : null;
    col.defined = new Uint8Array(slot.defined);
    if (slot.usedBy) col.defined.fill(0);
  }

  /**
   * Grows the slot being filled to hold at least `rows` rows (doubling, at
   * most the rows per part), keeping what it holds. That slot is the
   * logger's alone: it is not handed to the worker before `take()`.
   */
  #grow(col: Column, rows: number): void {
    let n = Math.max(col.defined.length, 1);
    while (n < rows) n *= 2;
    n = Math.min(n, this.#capacity);
    const slot = col.slots[col.slot];
    const defined = new SharedArrayBuffer(n);
    new Uint8Array(defined).set(col.defined);
    slot.defined = defined;
    col.defined = new Uint8Array(defined);
    if (slot.values) {
      const values = new SharedArrayBuffer(n * 8);
      new Uint8Array(values).set(new Uint8Array(slot.values));
      slot.values = values;
      col.f64 = col.kind === NUMBER ? new Float64Array(values) : null;
      col.big = col.kind === BIGINT ? new BigInt64Array(values) : null;
    }
  }

  /** Stores a bigint, string or boolean, or throws for a type conflict. */
  #storeOther(col: Column, v: LogValue, row: LogRow, r: number): void {
    const t = typeof v;
    // Whole numbers and bigints are one kind (INT64): a Python child writes
    // 7 and 2**60 alike, and JSON readers give a number or a bigint by size.
    if (t === "bigint" && col.kind === NUMBER && col.whole) {
      this.#toBigint(col);
    } else if (t === "number" && col.kind === BIGINT && isWhole(v as number)) {
      col.big![r] = BigInt(v as number);
      return;
    }
    if (t === "bigint" && col.kind === BIGINT) {
      const b = v as bigint;
      if (b < INT64_MIN || b > INT64_MAX) {
        this.#rollback(row);
        throw new InvalidInputError(
          `Cannot log "${col.name}"${
            this.#at(row)
          }: ${b}n is outside the 64-bit integer range; log it as a number or a string`,
        );
      }
      col.big![r] = b;
    } else if (
      (t === "string" && col.kind === STRING) ||
      (t === "boolean" && col.kind === BOOLEAN)
    ) {
      col.items![r] = v as string | boolean;
    } else if (
      t === "number" || t === "bigint" || t === "string" || t === "boolean"
    ) {
      this.#rollback(row);
      const kind = KIND_NAMES[col.kind];
      if (
        (t === "bigint" && col.kind === NUMBER) ||
        (t === "number" && col.kind === BIGINT)
      ) {
        throw new InvalidInputError(
          `Cannot log "${col.name}"${this.#at(row)}: ${
            show(v)
          } would mix exact integers past 2^53 with fractions in one column (a double cannot hold both exactly); log the integers under another key, or as strings`,
        );
      }
      throw new InvalidInputError(
        `Cannot log "${col.name}"${this.#at(row)}: ${
          show(v)
        } is a ${t}, but "${col.name}" holds ${kind}s (since its first value); log one type per key${
          kind === "number" && t === "string" ? " (e.g. Number(x))" : ""
        }, or use another key for the ${t}s`,
      );
    } else {
      throw this.#badValue(col.name, v, row);
    }
  }

  /**
   * Turns a column of whole numbers into a bigint column, in place: the
   * slot being filled is rewritten value by value (same 8 bytes a row);
   * parts already handed over stay numbers, written as INT64 too.
   */
  #toBigint(col: Column): void {
    const f64 = col.f64!;
    const big = new BigInt64Array(f64.buffer, f64.byteOffset, f64.length);
    const n = Math.min(this.rows, f64.length);
    for (let i = 0; i < n; i++) {
      if (col.defined[i] === 1) big[i] = BigInt(f64[i]);
    }
    col.kind = BIGINT;
    col.f64 = null;
    col.big = big;
  }

  /** Undoes the values of the row being logged (it is refused whole). */
  #rollback(row: LogRow): void {
    const r = this.rows;
    for (const key in row) {
      const col = this.#columns.get(key);
      if (!col) continue;
      if (col.defined[r] === 1) {
        col.defined[r] = 0;
        col.count--;
        col.total--;
      }
      if (col.total === 0) {
        this.#columns.delete(key);
        this.#folded.delete(key.toLowerCase());
      }
    }
  }

  /** " at step 12 (row 12)": where a refused row was. */
  #at(row: LogRow): string {
    const step = Object.hasOwn(row, "step") ? row.step : undefined;
    const n = this.logged;
    return step === undefined || step === null
      ? ` in row ${n}`
      : ` at step ${show(step)} (row ${n})`;
  }

  #badValue(key: string, v: unknown, row: LogRow): InvalidInputError {
    this.#rollback(row);
    return new InvalidInputError(
      `Cannot log "${key}"${this.#at(row)}: ${
        show(v)
      } is not a number, bigint, string, boolean or null; log scalars (e.g. loss.item(), or a tensor's mean) and write arrays with writeTensor()`,
    );
  }

  #badRow(row: unknown): InvalidInputError {
    return new InvalidInputError(
      `Cannot log ${
        show(row)
      } to "${this.#name}": a row is an object of metric values with at least one value, e.g. { step: 1, loss: 0.5 }`,
    );
  }
}

/** A safe integer, not -0 (Parquet's INT64 would bring it back as 0). */
function isWhole(v: number): boolean {
  return Number.isSafeInteger(v) && !(v === 0 && 1 / v < 0);
}

/** Blocks the thread until part `seq` is on disk (or a write failed). */
export function waitWritten(
  state: Int32Array,
  seq: number,
  timeoutMs: number,
): boolean {
  const end = performance.now() + timeoutMs;
  while (true) {
    const written = Atomics.load(state, WRITTEN);
    if (written >= seq) return true;
    if (Atomics.load(state, FAILED)) return false;
    const left = end - performance.now();
    if (left <= 0) return false;
    Atomics.wait(state, WRITTEN, written, left);
  }
}

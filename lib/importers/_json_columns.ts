/**
 * Private: a table built row by row from JSON value texts (W&B history and
 * system stats), keeping each value as the tool wrote it: a column whose
 * every value is an integer is INT64 (exact past 2^53), a column of numbers
 * with a fraction DOUBLE (NaN and ±Infinity included), a column of JSON
 * strings text, and anything else (objects, lists, booleans, a mix) the JSON
 * text of each cell, with a warning naming a mixed column.
 *
 * @module
 */
import { parsePythonJson, parsePythonNumber } from "../formats/python_json.ts";
import {
  F64Builder,
  type ImportedColumn,
  type ImportedTable,
} from "./model.ts";

/** Kinds of value a column has seen (bit flags). */
const INT = 1, FLOAT = 2, STRING = 4, OTHER = 8, BIG = 16;

/**
 * One column's cells: row indices and numbers in typed builders (a number
 * per cell boxed in a plain array made a fifth of the import's time garbage
 * collection), anything else (a bigint, JSON text, null) by cell index.
 */
class Cells {
  rows = new F64Builder(64);
  nums = new F64Builder(64);
  /** Integers past 2^53 by cell index (an array: a whole column may be). */
  bigs: bigint[] | null = null;
  others = new Map<number, string | null>();
  seen = 0;
}

/** Rows of `key → JSON text` cells; a row's step given as it starts. */
export class JsonTableBuilder {
  #cols = new Map<string, Cells>();
  #step = new F64Builder(64);
  /** Rows so far. */
  rows = 0;

  /** Starts a row at `step`. */
  row(step: number): void {
    this.#step.push(step);
    this.rows++;
  }

  /** Sets the current row's step (when it is known only after its cells). */
  setStep(step: number): void {
    this.#step.view()[this.rows - 1] = step;
  }

  /** Sets `key` of the current row from its JSON text. */
  cell(key: string, json: string): void {
    let c = this.#cols.get(key);
    if (c === undefined) this.#cols.set(key, c = new Cells());
    const row = this.rows - 1;
    if (c.rows.length && c.rows.at(c.rows.length - 1) === row) {
      // The same key twice in one row: the later value, as W&B shows it.
      c.rows.length--;
      c.nums.length--;
      c.others.delete(c.rows.length);
      if (c.bigs && c.bigs.length > c.rows.length) {
        c.bigs.length = c.rows.length;
      }
    }
    const i = c.rows.length;
    c.rows.push(row);
    const n = parsePythonNumber(json);
    if (typeof n === "number") {
      c.nums.push(n);
      c.seen |= Number.isInteger(n) && !/[.eEIN]/.test(json) ? INT : FLOAT;
      return;
    }
    c.nums.push(0);
    if (typeof n === "bigint") {
      (c.bigs ??= [])[i] = n;
      c.seen |= INT | BIG;
    } else if (json === "null") c.others.set(i, null);
    else {
      c.others.set(i, json);
      c.seen |= json.charCodeAt(0) === 0x22 ? STRING : OTHER;
    }
  }

  /**
   * The table. `warn` hears of every column whose values are of more than
   * one kind, with the kind it was given.
   */
  build(name: string, warn: (message: string) => void): ImportedTable {
    const rows = this.rows;
    const columns = new Map<string, ImportedColumn>();
    for (const [key, c] of this.#cols) {
      columns.set(key, this.#column(name, key, c, rows, warn));
    }
    return { name, rows, step: this.#step.view().slice(), columns };
  }

  #column(
    table: string,
    key: string,
    c: Cells,
    rows: number,
    warn: (message: string) => void,
  ): ImportedColumn {
    const s = c.seen;
    const at = c.rows.view(), nums = c.nums.view();
    const bigs = c.bigs;
    const value = (i: number): number | bigint | string | null =>
      bigs !== null && bigs[i] !== undefined
        ? bigs[i]
        : c.others.has(i)
        ? c.others.get(i)!
        : nums[i];
    if ((s & (STRING | OTHER)) === 0) {
      if ((s & FLOAT) === 0) {
        const values: (bigint | null)[] = new Array(rows).fill(null);
        for (let i = 0; i < at.length; i++) {
          const v = value(i);
          if (v !== null) values[at[i]] = BigInt(v);
        }
        return { kind: "int64", values };
      }
      if (s & BIG) {
        warn(
          `column "${key}" of ${table} mixes integers beyond 2^53 with fractions: written as DOUBLE, so those integers are rounded`,
        );
      }
      const values = new Float64Array(rows);
      const present = new Uint8Array(rows);
      for (let i = 0; i < at.length; i++) {
        const v = c.others.size || bigs ? value(i) : nums[i];
        if (v === null) continue;
        values[at[i]] = Number(v);
        present[at[i]] = 1;
      }
      return {
        kind: "number",
        values,
        present: present.every((p) => p === 1) ? null : present,
      };
    }
    const values: (string | null)[] = new Array(rows).fill(null);
    if (s === STRING) {
      for (let i = 0; i < at.length; i++) {
        const v = value(i);
        if (v !== null) values[at[i]] = parsePythonJson(v as string) as string;
      }
      return { kind: "string", values };
    }
    if (s & (INT | FLOAT | STRING)) {
      warn(
        `column "${key}" of ${table} mixes ${
          kinds(s)
        }: kept as text, each cell its JSON`,
      );
    }
    for (let i = 0; i < at.length; i++) {
      const v = value(i);
      if (v !== null) values[at[i]] = typeof v === "string" ? v : jsonNumber(v);
    }
    return { kind: "string", values };
  }
}

/** A number's JSON as Python writes it (NaN and ±Infinity bare). */
function jsonNumber(v: number | bigint): string {
  if (typeof v === "bigint") return v.toString();
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
  return JSON.stringify(v);
}

function kinds(s: number): string {
  const k: string[] = [];
  if (s & (INT | FLOAT)) k.push("numbers");
  if (s & STRING) k.push("strings");
  if (s & OTHER) k.push("objects, lists or booleans");
  return k.join(" and ");
}

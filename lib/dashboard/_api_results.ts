/**
 * The catalog's result columns: `result=COLUMN` (with `result_table=NAME`,
 * default `metrics`) adds the final, min and max of a metric column to each
 * row (`result: { final, min, max }`, null where the specimen has none);
 * `sort=result:final|min|max` sorts by one (specimens without it last);
 * `result_min=N` / `result_max=N` keep the rows whose `result_stat`
 * (default `final`) lies in the range. Also the field-notes filter: `notes=`
 * keeps the specimens whose `field_notes.md` holds every word.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";
import { metricSql, type Stat } from "./_metric_stat.ts";
import type { ApiContext } from "./_context.ts";
import type { NotesSearch } from "./_notes_search.ts";

const STATS: readonly Stat[] = ["final", "min", "max"];

/** What a catalog query needs of the result columns. */
export interface ResultColumns {
  /** The metric and table, or null: no result columns. */
  column: string | null;
  table: string;
  /** Wraps the FROM relation `from` (aliased `catalog`) with `r_<stat>`. */
  from(from: string): string;
  /** The extra SELECT list. */
  select: string;
  /** The ORDER BY for `sort=result:STAT`, or null for another sort. */
  order: ((order: string) => string) | null;
  /** Folds `r_<stat>` into `result`. */
  shape(row: Record<string, unknown>): Record<string, unknown>;
}

function bound(url: URL, name: string): number | null {
  const raw = url.searchParams.get(name);
  if (raw === null || raw.trim() === "") return null;
  const n = Number(raw);
  if (!Number.isFinite(n)) {
    throw new InvalidInputError(
      `Invalid ${name}=${
        JSON.stringify(raw)
      }: a range bound is a number, e.g. ${name}=0.5`,
    );
  }
  return n;
}

function statOf(raw: string, name: string): Stat {
  if (!(STATS as readonly string[]).includes(raw)) {
    throw new InvalidInputError(
      `Invalid ${name} ${JSON.stringify(raw)}: use final, min or max`,
    );
  }
  return raw as Stat;
}

/**
 * Parses the result part of a catalog query, pushing its filters onto
 * `where`/`params`. Throws {@linkcode InvalidInputError} naming the column
 * or table when the catalog has no such numeric column.
 */
export async function resultColumns(
  ctx: ApiContext,
  url: URL,
  sort: string,
  where: string[],
  params: Record<string, unknown>,
): Promise<ResultColumns> {
  const column = url.searchParams.get("result") || null;
  const table = url.searchParams.get("result_table") || "metrics";
  const sortStat = sort.startsWith("result:")
    ? statOf(sort.slice("result:".length), "sort")
    : null;
  const lo = bound(url, "result_min"), hi = bound(url, "result_max");
  if (column === null) {
    if (sortStat || lo !== null || hi !== null) {
      throw new InvalidInputError(
        "Sorting or filtering by a result needs the metric: pass result=COLUMN (e.g. result=loss)",
      );
    }
    return {
      column,
      table,
      from: (f) => f,
      select: "",
      order: null,
      shape: (row) => row,
    };
  }
  const filterStat = statOf(
    url.searchParams.get("result_stat") || "final",
    "result_stat",
  );
  // min validates the column; final needs a step column too.
  const min = await metricSql(ctx, table, column, "min");
  const max = await metricSql(ctx, table, column, "max");
  const final = await metricSql(ctx, table, column, "final").catch(() => null);
  if (
    !final && (sortStat === "final" || filterStat === "final") &&
    (sortStat === "final" || lo !== null || hi !== null)
  ) {
    throw new InvalidInputError(
      `${
        JSON.stringify(table)
      } has no "step" column, so a final ${column} has no meaning: use min or max`,
    );
  }
  if (lo !== null) {
    where.push(`r_${filterStat} >= $result_lo`);
    params.result_lo = lo;
  }
  if (hi !== null) {
    where.push(`r_${filterStat} <= $result_hi`);
    params.result_hi = hi;
  }
  const r = `SELECT specimen_id, ${final?.y ?? "NULL::DOUBLE"} AS r_final,
      ${min.y} AS r_min, ${max.y} AS r_max FROM ${min.table} GROUP BY specimen_id`;
  return {
    column,
    table,
    from: (f) =>
      `(SELECT c.*, r.r_final, r.r_min, r.r_max FROM ${f} c LEFT JOIN (${r}) r ON r.specimen_id = c.specimen_id) catalog`,
    select: ", r_final, r_min, r_max",
    order: sortStat
      ? (order) => `r_${sortStat} ${order === "asc" ? "ASC" : "DESC"}`
      : null,
    shape: (row) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(row)) {
        if (!/^r_(final|min|max)$/.test(k)) out[k] = v;
      }
      out.result = { final: row.r_final, min: row.r_min, max: row.r_max };
      return out;
    },
  };
}

/**
 * The field-notes filter `notes=WORDS`: pushes onto `where` a test that
 * keeps the specimens whose notes hold every word (case-insensitive);
 * returns a short excerpt per matching specimen, or null without `notes=`.
 */
export async function notesFilter(
  notes: NotesSearch,
  url: URL,
  where: string[],
  params: Record<string, unknown>,
): Promise<Map<string, string> | null> {
  const terms = (url.searchParams.get("notes") ?? "").toLowerCase().split(/\s+/)
    .filter(Boolean).slice(0, 10);
  if (!terms.length) return null;
  const found = await notes.search(terms);
  if (found.size === 0) where.push("FALSE");
  else {
    where.push("list_contains($note_ids::VARCHAR[], specimen_id)");
    params.note_ids = [...found.keys()];
  }
  return found;
}

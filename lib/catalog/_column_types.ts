/**
 * Column types across specimens: which types mix in a union table, and the
 * narrowest type that holds every specimen's values exactly.
 *
 * @module
 */

/** Integer types: their range, for the exact union of several. */
const INTEGER_RANGE: Record<string, [bigint, bigint]> = {
  TINYINT: [-(2n ** 7n), 2n ** 7n - 1n],
  SMALLINT: [-(2n ** 15n), 2n ** 15n - 1n],
  INTEGER: [-(2n ** 31n), 2n ** 31n - 1n],
  BIGINT: [-(2n ** 63n), 2n ** 63n - 1n],
  HUGEINT: [-(2n ** 127n), 2n ** 127n - 1n],
  UTINYINT: [0n, 2n ** 8n - 1n],
  USMALLINT: [0n, 2n ** 16n - 1n],
  UINTEGER: [0n, 2n ** 32n - 1n],
  UBIGINT: [0n, 2n ** 64n - 1n],
  UHUGEINT: [0n, 2n ** 128n - 1n],
};
/** The integer types a union column may get, narrowest first. */
const UNION_INTEGERS = ["BIGINT", "UBIGINT", "HUGEINT", "UHUGEINT"];
export const FLOAT_TYPES = new Set(["FLOAT", "DOUBLE"]);
/** Integers a DOUBLE holds exactly: any value of these types. */
const EXACT_IN_DOUBLE = new Set([
  "TINYINT",
  "SMALLINT",
  "INTEGER",
  "UTINYINT",
  "USMALLINT",
  "UINTEGER",
  "FLOAT",
  "DOUBLE",
]);
const DECIMAL = /^DECIMAL\((\d+),\s*(\d+)\)$/;

function isNumeric(type: string): boolean {
  return type in INTEGER_RANGE || FLOAT_TYPES.has(type) ||
    DECIMAL.test(type);
}

/** What must agree across specimens: numbers mix freely, the rest exactly. */
export function kindOf(type: string): string {
  return isNumeric(type) ? "number" : type;
}

/** Digits before and after the point a numeric type needs, if exact. */
function digitsOf(type: string): [number, number] | undefined {
  const range = INTEGER_RANGE[type];
  if (range) {
    const big = -range[0] > range[1] ? -range[0] : range[1];
    return [big.toString().length, 0];
  }
  const m = DECIMAL.exec(type);
  return m ? [Number(m[1]) - Number(m[2]), Number(m[2])] : undefined;
}

/**
 * The type a column gets in a union table, given the types it comes in:
 * the narrowest type that holds every value of each exactly (BIGINT for
 * integers that fit, then UBIGINT, HUGEINT, UHUGEINT; a DECIMAL wide enough
 * for decimals, or decimals with integers, up to 38 digits), else DOUBLE
 * (FLOAT only when every file has FLOAT). A union to DOUBLE may change
 * values: {@linkcode lossyColumns} finds where it does.
 */
export function unionType(types: Iterable<string>): string {
  const all = [...new Set(types)];
  if (all.length === 0) return "VARCHAR";
  if (!isNumeric(all[0])) return all[0];
  if (all.every((t) => t === "FLOAT")) return "FLOAT";
  if (all.some((t) => FLOAT_TYPES.has(t))) return "DOUBLE";
  if (all.every((t) => t in INTEGER_RANGE)) {
    const lo = all.reduce((m, t) => {
      const v = INTEGER_RANGE[t][0];
      return v < m ? v : m;
    }, 0n);
    const hi = all.reduce((m, t) => {
      const v = INTEGER_RANGE[t][1];
      return v > m ? v : m;
    }, 0n);
    const fit = UNION_INTEGERS.find((t) =>
      INTEGER_RANGE[t][0] <= lo && hi <= INTEGER_RANGE[t][1]
    );
    if (fit) return fit;
  }
  let whole = 0;
  let scale = 0;
  for (const t of all) {
    const [w, s] = digitsOf(t)!;
    whole = Math.max(whole, w);
    scale = Math.max(scale, s);
  }
  return whole + scale <= 38 ? `DECIMAL(${whole + scale},${scale})` : "DOUBLE";
}

/** Whether every value of numeric type `from` is exact in type `to`. */
export function holdsExactly(from: string, to: string): boolean {
  if (from === to || !isNumeric(from)) return true;
  if (to === "DOUBLE") return EXACT_IN_DOUBLE.has(from);
  if (to === "FLOAT") return from === "FLOAT";
  return unionType([from, to]) === to;
}

export function isolatedTableName(id: string, name: string): string {
  return `_isolated__${id}__${name}`;
}

/**
 * The widest file the catalog loads: a table of 4,000 one-row columns
 * already exhausts the new catalog's 128 MB (DuckDB holds a buffer per
 * column); 2,000 load in about 0.25 s.
 */
export const MAX_CATALOG_COLUMNS = 2048;
/**
 * The widest file a union table takes in; a wider one gets a table of its
 * own (one CREATE, linear in its columns), as a clashing one does.
 */
export const MAX_UNION_FILE_COLUMNS = 128;
/**
 * The widest a union table grows: adding a column costs its width, and an
 * INSERT holds a buffer per column (at 1,024, inserts of 100-column files
 * ran out of the new catalog's 128 MB now and then during a full index).
 */
export const MAX_UNION_COLUMNS = 512;

/**
 * The SQL behind `VaultQuery`'s typed helpers (`specimens()`,
 * `metricAcross()`): filters checked and turned into parameters, never
 * into SQL text; names quoted with `ident()`.
 *
 * @module
 */
import { ident } from "../duckdb/duckdb.ts";
import { InvalidInputError } from "../errors.ts";
import { canonicalJson, type ParamValue } from "../specimen/params.ts";
import type { MetricAcrossOptions, SpecimenFilter } from "./types.ts";

/** A statement and its named parameters. */
export interface Query {
  sql: string;
  params: Record<string, unknown>;
}

/** The SQL and parameters of `VaultQuery.specimens()`. */
export function specimensQuery(filter: SpecimenFilter): Query {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  for (const key of ["domain", "method", "model", "status"] as const) {
    if (filter[key] !== undefined) {
      where.push(`${key} = $${key}`);
      params[key] = filter[key];
    }
  }
  const tags = [...(filter.tags ?? [])];
  if (filter.tag !== undefined) tags.push(filter.tag);
  if (tags.length) {
    where.push(`list_has_all(tags, $tags::VARCHAR[])`);
    params.tags = tags;
  }
  for (const [key, op] of [["since", ">="], ["until", "<"]] as const) {
    const v = filter[key];
    if (v === undefined) continue;
    const date = v instanceof Date ? v : new Date(v);
    if (Number.isNaN(date.getTime())) {
      throw new InvalidInputError(
        `Invalid "${key}" ${
          JSON.stringify(v)
        }: pass a Date or an ISO-8601 string, e.g. 2024-01-01T00:00:00Z`,
      );
    }
    where.push(`created ${op} $${key}`);
    params[key] = date;
  }
  if (filter.params !== undefined) {
    paramConditions(filter.params).forEach((c, i) => {
      const cmp = c.num !== null
        ? `p.num = $pv${i}::DOUBLE`
        : `p.value = $pv${i} AND p.num IS NULL`;
      where.push(
        `EXISTS (SELECT 1 FROM params p WHERE p.specimen_id = catalog.specimen_id AND p.key = $pk${i} AND ${cmp})`,
      );
      params[`pk${i}`] = c.key;
      params[`pv${i}`] = c.num ?? c.value;
    });
  }
  let limit = "";
  if (filter.limit !== undefined) {
    if (!Number.isInteger(filter.limit) || filter.limit < 0) {
      throw new InvalidInputError(
        `Invalid "limit" ${
          JSON.stringify(filter.limit)
        }: pass a whole number ≥ 0`,
      );
    }
    limit = ` LIMIT ${filter.limit}`;
  }
  return {
    sql: `SELECT * EXCLUDE (manifest, fingerprint) FROM catalog${
      where.length ? ` WHERE ${where.join(" AND ")}` : ""
    } ORDER BY created DESC, specimen_id${limit}`,
    params,
  };
}

/** One leaf condition of a params filter. */
interface ParamCondition {
  key: string;
  value: string;
  num: number | null;
}

const PARAM_KEY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * The leaf conditions of a `params` filter: nested records and dotted keys
 * both name dotted paths; every other value is a leaf, kept as the catalog's
 * `params` table keeps it (strings as they are, else JSON text; `num` for
 * numbers).
 */
export function paramConditions(
  filter: Record<string, unknown>,
): ParamCondition[] {
  if (filter === null || typeof filter !== "object" || Array.isArray(filter)) {
    throw new InvalidInputError(
      `Invalid "params" filter ${
        JSON.stringify(filter)
      }: pass a record of key → value, e.g. { lr: 3e-4, "optimizer.name": "adam" }`,
    );
  }
  const out: ParamCondition[] = [];
  const walk = (record: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(record)) {
      const key = prefix + k;
      if (!PARAM_KEY.test(key)) {
        throw new InvalidInputError(
          `Invalid param key ${
            JSON.stringify(key)
          } in the "params" filter: use dotted names of [A-Za-z0-9_-], e.g. "optimizer.name"`,
        );
      }
      if (
        v !== null && typeof v === "object" && !Array.isArray(v) &&
        Object.keys(v).length > 0
      ) {
        walk(v as Record<string, unknown>, `${key}.`);
        continue;
      }
      if (typeof v === "number") {
        if (!Number.isFinite(v)) {
          throw new InvalidInputError(
            `Invalid value ${v} for param "${key}" in the "params" filter: params hold finite numbers only`,
          );
        }
        out.push({ key, value: String(v), num: v });
      } else if (typeof v === "string") {
        out.push({ key, value: v, num: null });
      } else if (
        typeof v === "boolean" || v === null || typeof v === "object"
      ) {
        out.push({ key, value: canonicalJson(v as ParamValue), num: null });
      } else {
        throw new InvalidInputError(
          `Invalid value for param "${key}" in the "params" filter (a ${typeof v}): pass a number, string, boolean, null or list`,
        );
      }
    }
  };
  walk(filter, "");
  return out;
}

/**
 * The SQL and parameters of `VaultQuery.metricAcross()`, for
 * `column` of union table `table` whose columns are `columns`.
 */
export function metricAcrossQuery(
  table: string,
  column: string,
  columns: string[],
  options: MetricAcrossOptions,
): Query {
  const at = options.at ?? "last";
  const col = `m.${ident(column)}`;
  const needsStep = at === "last" || at === "first" ||
    typeof at === "number";
  if (needsStep && !columns.includes("step")) {
    throw new InvalidInputError(
      `"${table}" has no "step" column, so at: ${
        JSON.stringify(at)
      } has no meaning: use "min", "max" or "mean"`,
    );
  }
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  let select: string;
  switch (at) {
    case "last":
      select = `arg_max(${col}, m.step) AS value, max(m.step) AS step`;
      break;
    case "first":
      select = `arg_min(${col}, m.step) AS value, min(m.step) AS step`;
      break;
    case "min":
    case "max":
      select = `${at}(${col}) AS value`;
      break;
    case "mean":
      select = `avg(${col}) AS value`;
      break;
    default:
      if (typeof at !== "number" || !Number.isFinite(at)) {
        throw new InvalidInputError(
          `Invalid "at" ${
            JSON.stringify(at)
          }: use "last", "first", "min", "max", "mean" or a step number`,
        );
      }
      select = `any_value(${col}) AS value, any_value(m.step) AS step`;
      where.push("m.step = $step");
      params.step = at;
  }
  for (const key of ["domain", "method"] as const) {
    if (options[key] !== undefined) {
      where.push(`c.${key} = $${key}`);
      params[key] = options[key];
    }
  }
  if (options.tag !== undefined) {
    where.push("array_contains(c.tags, $tag)");
    params.tag = options.tag;
  }
  return {
    sql: `SELECT m.specimen_id, c.domain, c.method, ${select}
     FROM ${ident(table)} m JOIN catalog c USING (specimen_id)
     ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     GROUP BY m.specimen_id, c.domain, c.method ORDER BY m.specimen_id`,
    params,
  };
}

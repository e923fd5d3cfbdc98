/**
 * What every API handler needs, and the parsing of query parameters.
 *
 * @module
 */
import type { LiveCatalog, QueryLimits } from "./_db.ts";
import type { VaultIdentity } from "../query/query_server.ts";
import type { OutputCache } from "./_output_cache.ts";
import type { NotesSearch } from "./_notes_search.ts";
import type { AutoIndexState } from "./_auto_index.ts";
import { InvalidInputError } from "../errors.ts";

/** The token and the folder of a dashboard that answers `deno task query`. */
export interface QueryServerAuth {
  token: string;
  vault: VaultIdentity;
  /** Outputs of earlier queries (see `OutputCache`). */
  cache: OutputCache;
}

/** What every handler needs. */
export interface ApiContext {
  catalog: LiveCatalog;
  /** Limits of the dashboard's own queries. */
  limits: QueryLimits;
  /** Limits of the SQL console (rows shown). */
  sqlLimits: QueryLimits;
  /** Rows in a CSV download at most. */
  csvMaxRows: number;
  /** The field notes' search (`GET /api/catalog?notes=`). */
  notes: NotesSearch;
  /** The automatic index's state, when it is on. */
  autoIndex?: AutoIndexState;
  /**
   * The token and folder of `POST /api/cli/query` (`deno task query`'s
   * server); unset: that route does not exist.
   */
  queryServer?: QueryServerAuth;
}

/** Tags sent per specimen (with `tag_count`, the total): the page shows no more. */
export const MAX_TAGS = 50;

export function intParam(
  url: URL,
  name: string,
  dflt: number,
  min: number,
  max: number,
): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new InvalidInputError(
      `Invalid ${name} ${
        JSON.stringify(raw)
      }: pass a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

export function numberParam(url: URL, name: string): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) {
    throw new InvalidInputError(
      `Invalid ${name} ${JSON.stringify(raw)}: pass a number, e.g. ${name}=100`,
    );
  }
  return n;
}

export function listParam(url: URL, name: string): string[] {
  return url.searchParams.getAll(name).flatMap((v) => v.split(","))
    .map((v) => v.trim()).filter(Boolean);
}

export function dateParam(
  url: URL,
  name: string,
  endOfDay: boolean,
): Date | null {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return null;
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(raw);
  const d = new Date(dateOnly ? `${raw}T00:00:00Z` : raw);
  if (Number.isNaN(d.getTime())) {
    throw new InvalidInputError(
      `Invalid ${name} ${
        JSON.stringify(raw)
      }: pass a date (2024-12-19) or an ISO-8601 instant (2024-12-19T10:00:00Z)`,
    );
  }
  if (dateOnly && endOfDay) d.setUTCDate(d.getUTCDate() + 1);
  return d;
}

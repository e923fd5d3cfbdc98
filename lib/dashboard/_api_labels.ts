/**
 * The dashboard's curating routes, under `/api/curate/`:
 *
 * - `GET /api/curate/specimens/:id`: the specimen's labels (with when each
 *   was set) and star, read from its `labels.json` (fresh, not the catalog);
 * - `GET /api/curate/labels`: every label in the catalog with its count, and
 *   how many specimens are starred (for the catalog's filter); with
 *   `ids=a,b`, the catalog's labels and star of those specimens;
 * - `POST /api/curate/labels` `{ids, add?, remove?, star?}`: change labels;
 * - `POST /api/curate/discard` `{ids, reason?, confirm: true}`: discard
 *   (the page asks first; without `confirm` nothing is moved).
 *
 * A POST takes a JSON body from this dashboard's own origin only (another
 * origin, or a form post, is refused), and is followed by an incremental
 * index so that the catalog shows the change.
 *
 * @module
 */
import { indexVault } from "../catalog/index_vault.ts";
import { changeLabels, readLabelsFile } from "../curate/labels.ts";
import { discardSpecimens } from "../curate/discard.ts";
import {
  InvalidInputError,
  NotFoundError,
  SpecimenBusyError,
  SpecimenExistsError,
  type VaultError,
} from "../errors.ts";
import { validateReadableSpecimenId } from "../specimen/id.ts";
import { join } from "../_deps.ts";
import { type ApiContext, listParam } from "./_context.ts";
import { json, limitedBody, notFound, tooLarge } from "./_http.ts";

/** The most specimens one request may change. */
export const MAX_CURATE_IDS = 1000;

/** Answers a request under `/api/curate/`. */
export async function curateRoute(
  ctx: ApiContext,
  req: Request,
  url: URL,
): Promise<Response> {
  const path = url.pathname;
  if (req.method === "GET" || req.method === "HEAD") {
    if (path === "/api/curate/labels") {
      const ids = listParam(url, "ids");
      return json(
        ids.length ? await labelsOfIds(ctx, ids) : await labelFacets(ctx),
      );
    }
    const m = /^\/api\/curate\/specimens\/([^/]+)$/.exec(path);
    if (m) return json(await specimenLabels(ctx, decodeURIComponent(m[1])));
    return notFound(path);
  }
  if (req.method !== "POST") {
    await req.body?.cancel().catch(() => {});
    return json({
      error: `Method ${req.method} is not allowed here`,
      kind: "method",
    }, 405);
  }
  const refused = checkPost(req, url);
  if (refused) {
    await req.body?.cancel().catch(() => {});
    return refused;
  }
  const raw = await limitedBody(req);
  if (raw === null) return tooLarge();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    throw new InvalidInputError("The body is not JSON");
  }
  if (path === "/api/curate/labels") return json(await postLabels(ctx, body));
  if (path === "/api/curate/discard") return json(await postDiscard(ctx, body));
  return notFound(path);
}

/** A same-origin JSON POST, or the response refusing it. */
function checkPost(req: Request, url: URL): Response | null {
  const type = req.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/json")) {
    return json({
      error:
        `A curating request takes a JSON body: send Content-Type: application/json (got ${
          JSON.stringify(type)
        })`,
      kind: "invalid",
    }, 400);
  }
  const origin = req.headers.get("origin");
  if (origin !== null && origin !== `${url.protocol}//${url.host}`) {
    return json({
      error: `Cross-origin request from ${origin} refused`,
      kind: "refused",
    }, 403);
  }
  return null;
}

function stringList(v: unknown, name: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    throw new InvalidInputError(`"${name}" must be a list of strings`);
  }
  return v as string[];
}

function idList(body: Record<string, unknown>): string[] {
  const ids = stringList(body.ids, "ids");
  if (ids.length === 0) {
    throw new InvalidInputError("No specimen given: pass ids");
  }
  if (ids.length > MAX_CURATE_IDS) {
    throw new InvalidInputError(
      `Too many specimens: ${ids.length}; the limit is ${MAX_CURATE_IDS} per request`,
    );
  }
  for (const id of ids) validateReadableSpecimenId(id);
  return ids;
}

/** Brings the catalog up to date after a change (incremental). */
async function reindex(ctx: ApiContext): Promise<string | null> {
  try {
    await indexVault({ vault: ctx.catalog.paths.root });
    return null;
  } catch (e) {
    return `the change is made, but the catalog could not be updated (${
      (e as Error).message
    }): run \`deno task index\``;
  }
}

async function postLabels(
  ctx: ApiContext,
  body: Record<string, unknown>,
): Promise<unknown> {
  const ids = idList(body);
  const star = body.star;
  if (star !== undefined && typeof star !== "boolean") {
    throw new InvalidInputError(`"star" must be true or false`);
  }
  const results = await changeLabels({
    vault: ctx.catalog.paths.root,
    ids,
    change: {
      add: stringList(body.add, "add"),
      remove: stringList(body.remove, "remove"),
      star: star as boolean | undefined,
    },
  });
  const warning = results.some((r) => r.changed) ? await reindex(ctx) : null;
  return { specimens: results, warning };
}

function kindOf(e: VaultError): string {
  if (e instanceof SpecimenBusyError) return "busy";
  if (e instanceof SpecimenExistsError) return "conflict";
  return e.exitCode === 4 ? "not_found" : "refused";
}

async function postDiscard(
  ctx: ApiContext,
  body: Record<string, unknown>,
): Promise<unknown> {
  const ids = idList(body);
  if (body.confirm !== true) {
    throw new InvalidInputError(
      'Discarding needs "confirm": true (the page asks first); nothing was moved',
    );
  }
  const reason = body.reason;
  if (reason !== undefined && reason !== null && typeof reason !== "string") {
    throw new InvalidInputError(`"reason" must be text`);
  }
  const outcomes = await discardSpecimens({
    vault: ctx.catalog.paths.root,
    ids,
    reason: (reason as string | undefined)?.trim() || null,
  });
  const done = outcomes.filter((o) => !o.error).map((o) => o.id);
  const warning = done.length ? await reindex(ctx) : null;
  return {
    discarded: done,
    refused: outcomes.filter((o) => o.error).map((o) => ({
      id: o.id,
      error: o.error!.message,
      kind: kindOf(o.error!),
    })),
    warning,
  };
}

async function specimenLabels(ctx: ApiContext, id: string): Promise<unknown> {
  validateReadableSpecimenId(id);
  const dir = join(ctx.catalog.paths.specimens, id);
  if (!(await Deno.lstat(dir).then((s) => s.isDirectory, () => false))) {
    throw new NotFoundError(`No specimen "${id}" in this vault`);
  }
  const file = await readLabelsFile(dir);
  return {
    id,
    labels: Object.entries(file.labels).sort(([a], [b]) => a < b ? -1 : 1)
      .map(([name, set_at]) => ({ name, set_at })),
    starred: file.starred?.value ?? false,
  };
}

/** The catalog's labels and star of specimens `ids`, by id. */
async function labelsOfIds(ctx: ApiContext, ids: string[]): Promise<unknown> {
  if (ids.length > MAX_CURATE_IDS) {
    throw new InvalidInputError(
      `Too many specimens: ${ids.length}; the limit is ${MAX_CURATE_IDS}`,
    );
  }
  for (const id of ids) validateReadableSpecimenId(id);
  const r = await ctx.catalog.query(
    `SELECT specimen_id, labels, starred FROM catalog
     WHERE specimen_id IN (SELECT unnest($ids::VARCHAR[]))`,
    { ids },
    { ...ctx.limits, maxRows: MAX_CURATE_IDS },
  );
  const out: Record<string, { labels: string[]; starred: boolean }> = {};
  for (const row of r.rows) {
    out[String(row.specimen_id)] = {
      labels: (row.labels as string[] | null) ?? [],
      starred: row.starred === true,
    };
  }
  return { specimens: out };
}

async function labelFacets(ctx: ApiContext): Promise<unknown> {
  const [labels, starred] = await Promise.all([
    ctx.catalog.query(
      `SELECT l AS v, count(*)::DOUBLE AS n FROM (SELECT unnest(labels) AS l FROM catalog) GROUP BY 1 ORDER BY 2 DESC, 1`,
      undefined,
      { ...ctx.limits, maxRows: 1000 },
    ),
    ctx.catalog.query(
      `SELECT count(*)::DOUBLE AS n FROM catalog WHERE starred`,
      undefined,
      { ...ctx.limits, maxRows: 1 },
    ),
  ]);
  return {
    labels: labels.rows.map((r) => [String(r.v), Number(r.n)]),
    starred: Number(starred.rows[0].n),
  };
}

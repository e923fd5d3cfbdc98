/**
 * Kept files (artifacts of format `"file"`, under `strata/files/`): the list
 * the specimen page shows, and `GET /api/specimens/:id/files/:name`, which
 * serves one so that nothing in it can run in the dashboard's origin:
 *
 * - `Content-Security-Policy: sandbox; default-src 'none'; …`: opened as a
 *   page (an SVG's URL typed into the address bar), the file gets an opaque
 *   origin and no script runs; embedded with `<img>`, an SVG never runs
 *   script anyway;
 * - `X-Content-Type-Options: nosniff` and the recorded media type;
 * - `Content-Disposition: attachment` for everything but the image types the
 *   page embeds (PNG, JPEG, GIF, WebP, SVG).
 *
 * The file is opened only through `openVaultFile` (a regular file inside
 * the specimen folder: no link leading out, no FIFO).
 *
 * @module
 */
import { basename, join } from "../_deps.ts";
import { openVaultFile } from "../_fs.ts";
import { NotFoundError } from "../errors.ts";
import { validateReadableSpecimenId } from "../specimen/id.ts";
import { validateArtifactName } from "../specimen/artifact_name.ts";
import type { ApiContext } from "./_context.ts";

/** Media types the specimen page shows with `<img>`. */
export const IMAGE_TYPES: ReadonlySet<string> = new Set([
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "image/svg+xml",
]);

/** The CSP of a served file: no script, no fetch, no frame, own origin. */
export const FILE_CSP =
  "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'";

const FILE_PATH = /^strata\/files\/[A-Za-z0-9_]{1,64}(\.[A-Za-z0-9]{1,16})?$/;
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;

/** A kept file as the specimen page lists it. */
export interface KeptFile {
  name: string;
  path: string;
  bytes: number | null;
  media_type: string;
  sha256: string | null;
  source: string | null;
  /** Whether the page embeds it as an image. */
  image: boolean;
  url: string;
}

function record(value: unknown): Record<string, unknown> {
  if (typeof value === "string") {
    try {
      return record(JSON.parse(value));
    } catch {
      return {};
    }
  }
  return value && typeof value === "object" && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

function mediaTypeOf(a: Record<string, unknown>): string {
  const t = typeof a.media_type === "string" ? a.media_type.toLowerCase() : "";
  return MEDIA_TYPE.test(t) ? t : "application/octet-stream";
}

/** The kept files among a manifest's `artifacts`, sorted by name. */
export function keptFiles(artifacts: unknown, id: string): KeptFile[] {
  const out: KeptFile[] = [];
  for (const [name, raw] of Object.entries(record(artifacts))) {
    const a = record(raw);
    if (a.format !== "file" || typeof a.path !== "string") continue;
    if (!FILE_PATH.test(a.path)) continue;
    const media = mediaTypeOf(a);
    out.push({
      name,
      path: a.path,
      bytes: typeof a.bytes === "number" ? a.bytes : null,
      media_type: media,
      sha256: typeof a.sha256 === "string" ? a.sha256 : null,
      source: typeof a.source === "string" ? a.source : null,
      image: IMAGE_TYPES.has(media),
      url: `/api/specimens/${encodeURIComponent(id)}/files/${
        encodeURIComponent(name)
      }`,
    });
  }
  return out.sort((x, y) => x.name < y.name ? -1 : 1);
}

/** `GET /api/specimens/:id/files/:name`: one kept file, sandboxed. */
export async function specimenFile(
  ctx: ApiContext,
  id: string,
  name: string,
): Promise<Response> {
  validateReadableSpecimenId(id);
  validateArtifactName(name, { reading: true });
  const r = await ctx.catalog.query(
    `SELECT artifacts FROM catalog WHERE specimen_id = $1`,
    [id],
    { ...ctx.limits, maxRows: 1 },
  );
  if (r.rows.length === 0) {
    throw new NotFoundError(
      `No specimen "${id}" in the catalog: check the id, or run \`deno task index\` if it is new`,
    );
  }
  const file = keptFiles(r.rows[0].artifacts, id).find((f) => f.name === name);
  if (!file) {
    throw new NotFoundError(
      `Specimen "${id}" has no kept file "${name}": see its page for the files it has`,
    );
  }
  const dir = join(ctx.catalog.paths.root, "specimens", id);
  let opened: Deno.FsFile;
  try {
    opened = await openVaultFile(join(dir, file.path), { root: dir });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `File "${name}" of "${id}" is in the catalog but not on disk (${file.path}): run \`deno task index\``,
      );
    }
    throw e;
  }
  const size = (await opened.stat()).size;
  const headers = new Headers({
    "content-type": file.media_type,
    "content-length": String(size),
    "content-security-policy": FILE_CSP,
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
  });
  const filename = basename(file.path);
  headers.set(
    "content-disposition",
    `${file.image ? "inline" : "attachment"}; filename="${filename}"`,
  );
  return new Response(opened.readable, { headers });
}

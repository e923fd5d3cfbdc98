/**
 * `GET /api/specimens/:id` (with its field notes, read safely inside the
 * vault) and `GET /api/specimens/:id/tensors/:name`.
 *
 * @module
 */
import { join, SEPARATOR } from "../_deps.ts";
import { escapeHtml, renderMarkdown } from "./_markdown.ts";
import { openVaultFile } from "../_fs.ts";
import { readPreview } from "./_tensor.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { validateReadableSpecimenId } from "../specimen/id.ts";
import { validateArtifactName } from "../specimen/artifact_name.ts";
import { STRATA_DIR } from "../vault.ts";
import { type ApiContext, MAX_TAGS } from "./_context.ts";
import { keptFiles } from "./_api_files.ts";
import { runOutcome } from "./_api_run.ts";
import { readOrigin } from "../specimen/origin.ts";

const NOTES_FILE = "field_notes.md";
const MAX_NOTES_BYTES = 1 << 20;

/** Resolves `rel` inside the vault, refusing a symlink that leads out. */
async function insideVault(
  ctx: ApiContext,
  ...parts: string[]
): Promise<string | undefined> {
  const path = join(ctx.catalog.paths.root, ...parts);
  let real: string, root: string;
  try {
    [real, root] = await Promise.all([
      Deno.realPath(path),
      Deno.realPath(ctx.catalog.paths.root),
    ]);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  if (!real.startsWith(root + SEPARATOR)) {
    throw new InvalidInputError(
      `Refusing to read ${
        parts.join("/")
      }: it leads outside the vault (${real})`,
    );
  }
  return real;
}

/**
 * The field notes of specimen `id` as safe HTML (at most
 * `MAX_NOTES_BYTES` read), or why they are left out: a notes file that is
 * not a regular file inside the specimen folder (a FIFO, a link leading out)
 * or cannot be read costs the page its notes, never the page itself, and is
 * never waited on.
 */
async function readNotes(
  ctx: ApiContext,
  id: string,
): Promise<{ html: string | null; issue: string | null }> {
  const dir = join(ctx.catalog.paths.root, "specimens", id);
  const path = join(dir, NOTES_FILE);
  let bytes: Uint8Array;
  let size: number;
  try {
    using file = await openVaultFile(path, { root: dir });
    size = (await file.stat()).size;
    bytes = new Uint8Array(Math.min(size, MAX_NOTES_BYTES));
    let off = 0;
    while (off < bytes.length) {
      const n = await file.read(bytes.subarray(off));
      if (n === null) break;
      off += n;
    }
    bytes = bytes.subarray(0, off);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { html: null, issue: null };
    const why = (e as Error).message.replace(`${ctx.catalog.paths.root}/`, "");
    const issue = `${NOTES_FILE} is left out: ${why}`;
    return {
      html: `<p class="notes-issue"><em>${escapeHtml(issue)}</em></p>`,
      issue,
    };
  }
  const html = renderMarkdown(new TextDecoder().decode(bytes)) +
    (size > MAX_NOTES_BYTES
      ? `<p><em>(cut at ${MAX_NOTES_BYTES} bytes)</em></p>`
      : "");
  return { html, issue: null };
}

async function specimenRow(
  ctx: ApiContext,
  id: string,
): Promise<Record<string, unknown>> {
  const r = await ctx.catalog.query(
    // A manifest may hold a million tags: ship the first MAX_TAGS (the
    // page shows no more) and the count.
    `SELECT * EXCLUDE (fingerprint, tags, manifest),
       tags[1:${MAX_TAGS}] AS tags, len(tags) AS tag_count,
       CASE WHEN len(tags) > ${MAX_TAGS}
         THEN json_merge_patch(manifest, json_object('tags', to_json(tags[1:${MAX_TAGS}])))
         ELSE manifest END AS manifest
     FROM catalog WHERE specimen_id = $1`,
    [id],
    { ...ctx.limits, maxRows: 1 },
  );
  if (r.rows.length === 0) {
    throw new NotFoundError(
      `No specimen "${id}" in the catalog: check the id, or run \`deno task index\` if it is new`,
    );
  }
  return r.rows[0];
}

/**
 * `GET /api/specimens/:id`: the catalog row (manifest, provenance, ...),
 * its metric tables, tensors and kept files, its field notes as safe
 * HTML, and its last run's outcome (see `runOutcome`).
 */
export async function specimen(ctx: ApiContext, id: string): Promise<unknown> {
  validateReadableSpecimenId(id);
  const row = await specimenRow(ctx, id);
  const [tables, tensors] = await Promise.all([
    ctx.catalog.query(
      `SELECT name, rows, columns, issue FROM metric_tables WHERE specimen_id = $1 ORDER BY name <> 'metrics', name`,
      [id],
      { ...ctx.limits, maxRows: 1000 },
    ),
    ctx.catalog.query(
      `SELECT name, shape, dtype, chunks, codecs, bytes, zarr_format FROM tensors WHERE specimen_id = $1 ORDER BY name`,
      [id],
      { ...ctx.limits, maxRows: 1000 },
    ),
  ]);
  const [{ html: notes, issue: notesIssue }, outcome] = await Promise.all([
    readNotes(ctx, id),
    runOutcome(
      join(ctx.catalog.paths.root, "specimens", id),
      row.manifest,
      row.provenance,
    ),
  ]);
  return {
    specimen: row,
    metric_tables: tables.rows,
    tensors: tensors.rows,
    files: keptFiles(row.artifacts, id),
    notes_html: notes,
    notes_issue: notesIssue,
    outcome,
    origin: await readOrigin(join(ctx.catalog.paths.root, "specimens", id)),
  };
}

/** `GET /api/specimens/:id/tensors/:name?sel=`: a heatmap slice. */
export async function tensor(
  ctx: ApiContext,
  id: string,
  name: string,
  url: URL,
): Promise<unknown> {
  validateReadableSpecimenId(id);
  validateArtifactName(name, { reading: true });
  const r = await ctx.catalog.query(
    `SELECT shape, dtype FROM tensors WHERE specimen_id = $1 AND name = $2`,
    [id, name],
    { ...ctx.limits, maxRows: 1 },
  );
  if (r.rows.length === 0) {
    throw new NotFoundError(
      `No tensor "${name}" for specimen "${id}" in the catalog: see its page for the tensors it has`,
    );
  }
  const shape = (r.rows[0].shape as number[] | null) ?? [];
  const path = await insideVault(
    ctx,
    "specimens",
    id,
    STRATA_DIR,
    `${name}.zarr`,
  );
  if (!path) {
    throw new NotFoundError(
      `Tensor "${name}" of "${id}" is in the catalog but not on disk: run \`deno task index\``,
    );
  }
  return await readPreview(
    path,
    shape,
    String(r.rows[0].dtype),
    url.searchParams.get("sel") ?? undefined,
  );
}

/**
 * Scaffolding a specimen: `specimens/<id>/` with its manifest, protocol,
 * field notes and an empty `strata/`, created atomically.
 *
 * @module
 */
import { join, resolve } from "./_deps.ts";
import { exists, placeDir, tempPathFor } from "./_fs.ts";
import { InvalidInputError, SpecimenExistsError } from "./errors.ts";
import { encodeManifest, type Manifest, MANIFEST_FILE } from "./manifest.ts";
import { validateSpecimenId } from "./specimen_id.ts";
import { validateTaxonomy } from "./taxonomy.ts";
import { vaultPaths } from "./vault.ts";
import denoConfig from "../deno.json" with { type: "json" };

/** The templates copied into every new specimen. */
export const TEMPLATES_DIR: string = resolve(
  import.meta.dirname!,
  "..",
  "templates",
);

/** Most tags a specimen may carry. */
export const MAX_TAGS = 256;
/** Longest tag accepted. */
export const MAX_TAG_LENGTH = 128;

/** Options for {@linkcode createSpecimen}. */
export interface CreateSpecimenOptions {
  /** The vault root (the folder holding `specimens/`). */
  vault: string;
  /** The new id: `^[a-z0-9_]+$`, at most 128 characters. */
  id: string;
  /** A taxonomy domain, e.g. `"interpretability"`. */
  domain: string;
  /** A method valid for `domain`, e.g. `"sae_analysis"`. */
  method: string;
  /** Tags, as a list or a comma-separated string; trimmed and deduplicated. */
  tags?: string[] | string;
  /** The model studied, e.g. `"gpt2"`. @default null */
  model?: string | null;
  /** One line on what the experiment is. @default null */
  description?: string | null;
  /** Extra keys to record in the manifest (e.g. `parent`). */
  extra?: Record<string, unknown>;
}

/** What {@linkcode createSpecimen} made. */
export interface CreatedSpecimen {
  /** The specimen id. */
  id: string;
  /** Absolute path of `specimens/<id>`. */
  dir: string;
  /** The manifest as written. */
  manifest: Manifest;
}

/**
 * Normalizes tags: split on commas (for a string), trimmed, deduplicated in
 * order. Throws {@linkcode InvalidInputError} for an empty item, a tag over
 * 128 characters or with control characters, or more than 256 tags.
 *
 * @example
 * ```ts
 * import { normalizeTags } from "./create.ts";
 * console.assert(normalizeTags(" gpt2, layer_12,gpt2").join() === "gpt2,layer_12");
 * ```
 */
export function normalizeTags(tags: string[] | string | undefined): string[] {
  if (tags === undefined) return [];
  const items = typeof tags === "string"
    ? (tags.trim() === "" ? [] : tags.split(","))
    : tags;
  const out: string[] = [];
  items.forEach((raw, i) => {
    if (typeof raw !== "string") {
      throw new InvalidInputError(
        `Tag ${i + 1} is not a string: ${JSON.stringify(raw)}`,
      );
    }
    const tag = raw.trim();
    if (tag === "") {
      throw new InvalidInputError(
        `Tag ${i + 1} of ${
          JSON.stringify(tags)
        } is empty: give comma-separated, non-empty tags, e.g. --tags gpt2,layer_12`,
      );
    }
    if (tag.length > MAX_TAG_LENGTH) {
      throw new InvalidInputError(
        `Tag ${
          JSON.stringify(tag.slice(0, 40) + "...")
        } is ${tag.length} characters long: at most ${MAX_TAG_LENGTH} are allowed`,
      );
    }
    // deno-lint-ignore no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(tag)) {
      throw new InvalidInputError(
        `Tag ${
          JSON.stringify(tag)
        } contains a control character: use printable text`,
      );
    }
    if (!out.includes(tag)) out.push(tag);
  });
  if (out.length > MAX_TAGS) {
    throw new InvalidInputError(
      `Too many tags (${out.length}): at most ${MAX_TAGS} are allowed; put long lists in the description or field notes`,
    );
  }
  return out;
}

/**
 * The package versions a new specimen depends on: Deno and every npm package
 * pinned in deno.json.
 *
 * @example
 * ```ts
 * import { libraryDependencies } from "./create.ts";
 * console.assert("deno" in libraryDependencies());
 * ```
 */
export function libraryDependencies(): Record<string, string> {
  const deps: Record<string, string> = { deno: Deno.version.deno };
  for (const spec of Object.values(denoConfig.imports)) {
    const m = /^npm:(@?[^@]+)@(.+)$/.exec(spec);
    if (m) deps[m[1]] = m[2];
  }
  return deps;
}

/**
 * Creates `specimens/<id>/` in `vault` with `manifest.msgpack`, `protocol.ts`
 * and `field_notes.md` from `templates/`, and an empty `strata/`.
 *
 * Validates the id, the taxonomy pair and the tags first
 * ({@linkcode InvalidInputError}). The folder is built under a hidden temp
 * name inside `specimens/` and renamed into place, so a failed create leaves
 * nothing and concurrent creates of one id end with exactly one specimen
 * (the others get {@linkcode SpecimenExistsError}).
 *
 * Needs `--allow-read` and `--allow-write` on the vault.
 *
 * @example
 * ```ts
 * import { createSpecimen } from "./create.ts";
 * const vault = await Deno.makeTempDir();
 * const { dir } = await createSpecimen({
 *   vault, id: "doc_example", domain: "training", method: "fine_tuning",
 *   tags: "gpt2,demo",
 * });
 * console.assert(dir.endsWith("doc_example"));
 * await Deno.remove(vault, { recursive: true });
 * ```
 */
export async function createSpecimen(
  options: CreateSpecimenOptions,
): Promise<CreatedSpecimen> {
  const { id, domain, method } = options;
  validateSpecimenId(id);
  validateTaxonomy(domain, method);
  const tags = normalizeTags(options.tags);
  const model = optionalText("model", options.model);
  const description = optionalText("description", options.description);

  const paths = vaultPaths(options.vault);
  const dir = join(paths.specimens, id);
  const existsError = () =>
    new SpecimenExistsError(
      `Specimen "${id}" already exists at ${dir}: specimens are immutable; choose a new id for a variation (e.g. ${id}_v2)`,
    );
  if (await exists(dir)) throw existsError();

  const manifest: Manifest = {
    specimen_id: id,
    created: new Date().toISOString(),
    taxonomy: { domain, method },
    status: "active",
    artifacts: {},
    tags,
    model,
    description,
    dependencies: libraryDependencies(),
    ...options.extra,
  };
  const values: Record<string, string> = {
    id,
    domain,
    method,
    model: model ?? "(none)",
    tags: tags.length ? tags.join(", ") : "(none)",
    created: manifest.created,
    description: description ?? "",
  };

  await Deno.mkdir(paths.specimens, { recursive: true });
  const tmp = tempPathFor(dir);
  try {
    await Deno.mkdir(tmp);
    await Deno.mkdir(join(tmp, "strata"));
    await Deno.writeFile(join(tmp, MANIFEST_FILE), encodeManifest(manifest));
    for (const file of ["protocol.ts", "field_notes.md"]) {
      const text = await Deno.readTextFile(join(TEMPLATES_DIR, file));
      await Deno.writeTextFile(join(tmp, file), fill(text, values));
    }
    await placeDir(tmp, dir);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (e instanceof Deno.errors.AlreadyExists) throw existsError();
    throw e;
  }
  return { id, dir, manifest };
}

function optionalText(
  key: string,
  value: string | null | undefined,
): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") {
    throw new InvalidInputError(
      `"${key}" must be text, got ${JSON.stringify(value)}`,
    );
  }
  const text = value.trim();
  if (key === "model" && text.length > 256) {
    throw new InvalidInputError(
      `Model name is ${text.length} characters long: at most 256`,
    );
  }
  return text === "" ? null : text;
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (m, key) => values[key] ?? m);
}

/**
 * Scaffolding a specimen: `specimens/<id>/` with its manifest, protocol,
 * field notes and an empty `strata/`, created atomically.
 *
 * @module
 */
import { join } from "../_deps.ts";
import {
  exists,
  placeDir,
  removeStaleTemps,
  tempPathFor,
  withWriteContext,
} from "../_fs.ts";
import { InvalidInputError, SpecimenExistsError } from "../errors.ts";
import { encodeManifest, type Manifest, MANIFEST_FILE } from "./manifest.ts";
import { validateSpecimenId } from "./id.ts";
import {
  readVaultTaxonomy,
  type Taxonomy,
  validateTaxonomy,
} from "./taxonomy.ts";
import { leafMap, mergeParams, type Params, validateParams } from "./params.ts";
import {
  changedKeys,
  checkAgainstParent,
  OWN_FILES,
  readParent,
  withoutParams,
} from "./_parent.ts";
import { checkParams } from "./param_check.ts";
import { vaultPaths } from "../vault.ts";
import denoConfig from "../../deno.json" with { type: "json" };
import { fill, readTemplate, TEMPLATES_DIR } from "./_templates.ts";

export { TEMPLATES_DIR };

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
  /**
   * The taxonomy `domain` and `method` are checked against.
   * @default the vault's: the seed extended by its vault.config.json
   */
  taxonomy?: Taxonomy;
  /** Extra keys to record in the manifest. */
  extra?: Record<string, unknown>;
  /**
   * The id of the specimen this one derives from: recorded as the
   * manifest's top-level `parent` and in the field notes.
   */
  parent?: string;
  /**
   * A template folder under `templates/` (e.g. `"python"`): its
   * `protocol.ts` and other files (filled in as the default template is)
   * instead of the empty protocol. Ignored when `protocol` is given.
   */
  template?: string;
  /** The text of `protocol.ts`, instead of the template (e.g. the parent's). */
  protocol?: string;
  /**
   * Other files to place beside `protocol.ts`, by name (e.g. the parent's
   * `train.py`); `manifest.msgpack`, `field_notes.md` and `protocol.ts`
   * are not taken from here.
   */
  files?: Record<string, Uint8Array>;
  /** The configuration to record as the manifest's `params` (validated). */
  params?: Params;
  /**
   * Params the protocol does not declare, set on purpose
   * (`--new-param`): merged over `params` and their keys recorded as the
   * manifest's `params_new`, so that the run does not refuse them.
   */
  newParams?: Params;
  /**
   * Record every key of `params` as meant (`--allow-new-params`): the run
   * checks their types against the protocol's declared params, not their
   * names.
   * @default false
   */
  allowNewParams?: boolean;
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
 * 128 characters, with control characters or (in a list) a comma, or more
 * than 256 tags.
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
    if (tag.includes(",")) {
      // Only a list can get here: tags are written comma-separated (the
      // command line, the field notes), so a tag holding one could not be.
      throw new InvalidInputError(
        `Tag ${
          JSON.stringify(tag)
        } contains a comma: tags are written comma-separated, so give them as separate tags, e.g. ${
          JSON.stringify(tag.split(",").map((t) => t.trim()).filter(Boolean))
        }`,
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
  validateTaxonomy(
    domain,
    method,
    options.taxonomy ?? await readVaultTaxonomy(options.vault),
  );
  const tags = normalizeTags(options.tags);
  if (options.parent !== undefined) validateSpecimenId(options.parent);
  const model = optionalText("model", options.model);
  const description = optionalText("description", options.description);
  const given = options.newParams === undefined
    ? options.params
    : mergeParams(options.params ?? {}, options.newParams).params;
  const params = given === undefined
    ? undefined
    : validateParams(given, { label: "params" });
  const newKeys = [
    ...leafMap(
      options.allowNewParams ? params ?? {} : options.newParams ?? {},
    ).keys(),
  ];
  const templateFiles = options.protocol === undefined &&
      options.template !== undefined
    ? await readTemplate(options.template)
    : {};
  if (templateFiles["params.json"] !== undefined && params !== undefined) {
    // The template declares its params: check the given ones now.
    checkParams(JSON.parse(templateFiles["params.json"]), params, {
      known: `the template "${options.template}"'s params.json`,
      allowNew: newKeys,
      fix:
        "Fix the key, or give a key the template does not have on purpose with --new-param KEY=VALUE (and add it to params.json)",
    });
  }

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
    ...(newKeys.length ? { params_new: newKeys } : {}),
    ...(options.parent === undefined ? {} : { parent: options.parent }),
    ...(params === undefined ? {} : { params }),
  };
  const values: Record<string, string> = {
    id,
    domain,
    method,
    model: model ?? "(none)",
    tags: tags.length ? tags.join(", ") : "(none)",
    created: manifest.created,
    description: description ?? "",
    parent: options.parent ?? "",
  };

  await Deno.mkdir(paths.specimens, { recursive: true });
  // A create of this id that was killed midway left a hidden temp folder.
  await removeStaleTemps(paths.specimens, `.tmp-${id}-`);
  const tmp = tempPathFor(dir);
  try {
    await Deno.mkdir(tmp);
    await Deno.mkdir(join(tmp, "strata"));
    await Deno.writeFile(join(tmp, MANIFEST_FILE), encodeManifest(manifest));
    for (const file of ["protocol.ts", "field_notes.md"]) {
      if (file === "protocol.ts" && options.protocol !== undefined) {
        await Deno.writeTextFile(join(tmp, file), options.protocol);
        continue;
      }
      let text = templateFiles[file] ??
        await Deno.readTextFile(join(TEMPLATES_DIR, file));
      if (file === "field_notes.md" && options.parent !== undefined) {
        text = text.replace(
          /^(- \*\*Created:\*\*.*)$/m,
          "$1\n- **Derived from:** {{parent}}",
        );
      }
      await Deno.writeTextFile(join(tmp, file), fill(text, values));
    }
    for (const [name, text] of Object.entries(templateFiles)) {
      if (OWN_FILES.includes(name)) continue;
      await Deno.writeTextFile(join(tmp, name), fill(text, values));
    }
    for (const [name, bytes] of Object.entries(options.files ?? {})) {
      if (OWN_FILES.includes(name) || !/^[^/\\]+$/.test(name)) continue;
      await Deno.writeFile(join(tmp, name), bytes, { createNew: true });
    }
    await placeDir(tmp, dir);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (e instanceof Deno.errors.AlreadyExists) throw existsError();
    throw withWriteContext(e, `Cannot create specimen "${id}" at ${dir}`);
  }
  return { id, dir, manifest };
}

/** Options for {@linkcode deriveSpecimen}. */
export interface DeriveSpecimenOptions {
  /** The vault root (the folder holding `specimens/`). */
  vault: string;
  /** The id of the specimen to derive from. */
  from: string;
  /** The new id. */
  id: string;
  /** A taxonomy domain. @default the parent's domain */
  domain?: string;
  /** A method valid for the domain. @default the parent's method */
  method?: string;
  /** Tags, as a list or a comma-separated string. @default the parent's tags */
  tags?: string[] | string;
  /** The model studied. @default the parent's model */
  model?: string | null;
  /** One line on what this variation changes. @default null */
  description?: string | null;
  /**
   * Changes to the parent's params, merged with `mergeParams`; the changed
   * dotted keys are recorded as the manifest's `params_changed`. Each key
   * must be one of the parent's params (when it has any) and keep its type.
   */
  params?: Params;
  /**
   * Keys the parent does not have, set on purpose (`--new-param`): merged
   * like `params` but not checked, and recorded as `params_new`.
   */
  newParams?: Params;
  /**
   * Let keys of `params` the parent does not have through
   * (`--allow-new-params`); recorded as `params_new`.
   * @default false
   */
  allowNewParams?: boolean;
  /**
   * Dotted keys of the parent's params the child leaves out
   * (`--drop-param`), listed in `params_changed`.
   * @default []
   */
  dropParams?: string[];
}

/**
 * Creates `specimens/<id>/` as a variation of the specimen `from`: copies
 * its `protocol.ts` as it is, and the other files beside it (the code it
 * runs, e.g. a `train.py`; not its folders `strata/` and `runs/`, nor a
 * symbolic link), writes fresh field notes from the template,
 * and records `parent: from` in the manifest. Domain, method, tags and model
 * default to the parent's. The parent may be in any state (sealed, failed,
 * not run); it is only read.
 *
 * The child keeps the parent's `params`; with `params`, those changes are
 * merged in and the changed keys recorded as `params_changed`. When the
 * parent has params, a key of `params` it lacks is refused with the nearest
 * one it has ("did you mean lr?"), and a value of another type with both
 * types ({@linkcode InvalidInputError}); `newParams` are exempt.
 *
 * Throws {@linkcode NotFoundError} when `from` does not exist, and
 * otherwise as {@linkcode createSpecimen}.
 *
 * Needs `--allow-read` and `--allow-write` on the vault.
 *
 * @example
 * ```ts
 * import { createSpecimen, deriveSpecimen } from "./create.ts";
 * const vault = await Deno.makeTempDir();
 * await createSpecimen({ vault, id: "base", domain: "training", method: "fine_tuning" });
 * const { manifest } = await deriveSpecimen({ vault, from: "base", id: "base_v2" });
 * console.assert(manifest.parent === "base");
 * await Deno.remove(vault, { recursive: true });
 * ```
 */
export async function deriveSpecimen(
  options: DeriveSpecimenOptions,
): Promise<CreatedSpecimen> {
  const read = await readParent(options.vault, options.from);
  const { protocol, files } = read;
  const drop = options.dropParams ?? [];
  const parent = withoutParams(options.from, read.parent, drop);
  const newKeys = [...leafMap(options.newParams ?? {}).keys()];
  newKeys.push(
    ...checkAgainstParent(options.from, parent, options.params, [
      ...newKeys,
      ...drop,
    ], {
      allowNew: options.allowNewParams === true,
    }),
  );
  const changes = options.newParams === undefined
    ? options.params
    : mergeParams(options.params ?? {}, options.newParams).params;
  const derived = derivedParams(parent.params, changes);
  if (drop.length) {
    derived.extra = {
      params_changed: changedKeys(
        read.parent.params ?? {},
        derived.params ?? {},
      ),
    };
  }
  const paramsNew = [...new Set([...(parent.params_new ?? []), ...newKeys])];
  return await createSpecimen({
    vault: options.vault,
    id: options.id,
    domain: options.domain ?? parent.taxonomy.domain,
    method: options.method ?? parent.taxonomy.method,
    tags: options.tags ?? parent.tags,
    model: options.model === undefined ? parent.model : options.model,
    description: options.description ?? null,
    parent: options.from,
    protocol,
    files,
    params: derived.params,
    extra: {
      ...derived.extra,
      ...(paramsNew.length ? { params_new: paramsNew } : {}),
    },
  });
}

/**
 * The params of a child: the parent's with `changes` merged in, and the
 * changed keys as `extra.params_changed` (only when changes are given).
 */
function derivedParams(
  parent: Params | undefined,
  changes: Params | undefined,
): { params?: Params; extra?: Record<string, unknown> } {
  if (changes === undefined) {
    return parent === undefined ? {} : { params: parent };
  }
  const { params, changed } = mergeParams(parent ?? {}, changes);
  return { params, extra: { params_changed: changed } };
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

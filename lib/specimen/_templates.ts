/**
 * The templates of new specimens: `templates/` (the files every specimen
 * starts from, and one folder per named template), read, and filled in
 * with a specimen's values (`{{id}}`, `{{domain}}`, …).
 *
 * @module
 */
import { join, resolve } from "../_deps.ts";
import { InvalidInputError } from "../errors.ts";

/** The templates copied into every new specimen. */
export const TEMPLATES_DIR: string = resolve(
  import.meta.dirname!,
  "..",
  "..",
  "templates",
);

/**
 * The files of `templates/<name>/`, by name; an unknown name is an
 * {@linkcode InvalidInputError} listing the templates there are.
 */
export async function readTemplate(
  name: string,
): Promise<Record<string, string>> {
  const names: string[] = [];
  for await (const e of Deno.readDir(TEMPLATES_DIR)) {
    if (e.isDirectory) names.push(e.name);
  }
  if (!names.includes(name)) {
    throw new InvalidInputError(
      `Unknown template ${JSON.stringify(name)}: the templates are ${
        names.sort().join(", ") || "(none)"
      } (folders of ${TEMPLATES_DIR}); leave --template out for the empty protocol`,
    );
  }
  const files: Record<string, string> = {};
  for await (const e of Deno.readDir(join(TEMPLATES_DIR, name))) {
    if (e.isFile) {
      files[e.name] = await Deno.readTextFile(
        join(TEMPLATES_DIR, name, e.name),
      );
    }
  }
  return files;
}

/** `template` with each `{{key}}` of `values` filled in (others left as they are). */
export function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (m, key) => values[key] ?? m);
}

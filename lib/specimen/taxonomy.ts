/**
 * The taxonomy: which research methods belong to which domain. The seed
 * taxonomy below is every vault's; a vault extends it with the `taxonomy`
 * key of its `vault.config.json`.
 *
 * @module
 */
import { join } from "../_deps/path.ts";
import { InvalidInputError } from "../errors.ts";

/** A taxonomy: each domain with its methods. */
export type Taxonomy = Readonly<Record<string, readonly string[]>>;

/**
 * The vault's config file, at its root. Its top-level `taxonomy` key extends
 * the taxonomy; other top-level keys (e.g. `remotes`) belong to other parts
 * of the tool and are left alone here.
 */
export const VAULT_CONFIG_FILE = "vault.config.json";

/** What a domain or method added by a vault's config may look like. */
const NAME_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * Every valid domain with its valid methods.
 *
 * @example
 * ```ts
 * import { TAXONOMY } from "./taxonomy.ts";
 * console.assert(TAXONOMY.training.includes("fine_tuning"));
 * ```
 */
export const TAXONOMY: Taxonomy = Object
  .freeze({
    interpretability: ["sae_analysis", "probe_training", "ablation_study"],
    training: ["fine_tuning", "ablation_study"],
    benchmarking: ["ablation_study"],
    alignment: ["fine_tuning", "probe_training", "ablation_study"],
  });

/**
 * Throws an {@linkcode InvalidInputError} unless `method` is valid for
 * `domain` in `taxonomy`; the message lists what is valid.
 *
 * @param domain A research domain, e.g. `"interpretability"`.
 * @param method A method, e.g. `"sae_analysis"`.
 * @param taxonomy The taxonomy, e.g. from {@linkcode readVaultTaxonomy}.
 *   @default TAXONOMY
 * @example
 * ```ts
 * import { validateTaxonomy } from "./taxonomy.ts";
 * validateTaxonomy("training", "fine_tuning"); // ok
 * try {
 *   validateTaxonomy("benchmarking", "fine_tuning");
 * } catch (e) {
 *   console.assert(String(e).includes("ablation_study"));
 * }
 * ```
 */
export function validateTaxonomy(
  domain: string,
  method: string,
  taxonomy: Taxonomy = TAXONOMY,
): void {
  const domains = Object.keys(taxonomy);
  const extend =
    `; a vault adds its own in ${VAULT_CONFIG_FILE}: {"taxonomy": {"${domain}": ["${method}"]}}`;
  if (!Object.hasOwn(taxonomy, domain)) {
    throw new InvalidInputError(
      `Unknown domain ${JSON.stringify(domain)}: valid domains are ${
        domains.join(", ")
      }${extend}`,
    );
  }
  const methods = taxonomy[domain];
  if (!methods.includes(method)) {
    throw new InvalidInputError(
      `Invalid method ${
        JSON.stringify(method)
      } for domain "${domain}": valid methods for ${domain} are ${
        methods.join(", ")
      }${extend}`,
    );
  }
}

/**
 * The taxonomy of the vault at `root`: the seed {@linkcode TAXONOMY}
 * extended by the `taxonomy` key of `root/vault.config.json`, a map of
 * domains to lists of methods (`{"taxonomy": {"training":
 * ["from_scratch"], "robotics": ["imitation_learning"]}}`): new domains
 * are added, new methods join a domain's. Nothing is removed. Without the
 * file or the key, the seed. Other top-level keys are ignored.
 *
 * Needs `--allow-read` on the file.
 *
 * @param root The vault root.
 * @returns The taxonomy.
 * @throws {InvalidInputError} When the file is not JSON, or its `taxonomy`
 *   is not a map of lists of names matching `^[a-z][a-z0-9_]{0,63}$`;
 *   the message names the file and the value.
 *
 * @example
 * ```ts
 * import { readVaultTaxonomy } from "./taxonomy.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/vault.config.json`, '{"taxonomy": {"training": ["from_scratch"]}}');
 * const t = await readVaultTaxonomy(root);
 * console.assert(t.training.includes("from_scratch") && t.training.includes("fine_tuning"));
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function readVaultTaxonomy(root: string): Promise<Taxonomy> {
  const path = join(root, VAULT_CONFIG_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return TAXONOMY;
    throw e;
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new InvalidInputError(
      `${path} is not valid JSON (${
        (e as Error).message
      }): fix it, e.g. {"taxonomy": {"training": ["from_scratch"]}}`,
    );
  }
  const bad = (why: string) =>
    new InvalidInputError(
      `The "taxonomy" of ${path} ${why}: give a map of domains to lists of methods, e.g. {"taxonomy": {"training": ["from_scratch"], "robotics": ["imitation_learning"]}}`,
    );
  if (!isMap(config)) throw bad("is inside something that is not an object");
  const extra = config.taxonomy;
  if (extra === undefined) return TAXONOMY;
  if (!isMap(extra)) throw bad(`is ${JSON.stringify(extra)}`);
  const out: Record<string, string[]> = {};
  for (const [d, m] of Object.entries(TAXONOMY)) out[d] = [...m];
  for (const [domain, methods] of Object.entries(extra)) {
    if (!NAME_PATTERN.test(domain)) {
      throw bad(`has the domain ${JSON.stringify(domain)}, not a name a-z0-9_`);
    }
    if (!Array.isArray(methods)) {
      throw bad(`gives ${domain} ${JSON.stringify(methods)}, not a list`);
    }
    const list = Object.hasOwn(out, domain) ? out[domain] : (out[domain] = []);
    for (const method of methods) {
      if (typeof method !== "string" || !NAME_PATTERN.test(method)) {
        throw bad(
          `gives ${domain} the method ${
            JSON.stringify(method)
          }, not a name a-z0-9_`,
        );
      }
      if (!list.includes(method)) list.push(method);
    }
    if (list.length === 0) throw bad(`gives ${domain} no method`);
  }
  return Object.freeze(out);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

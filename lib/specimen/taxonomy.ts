/**
 * The taxonomy: which research methods belong to which domain.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";

/**
 * Every valid domain with its valid methods.
 *
 * @example
 * ```ts
 * import { TAXONOMY } from "./taxonomy.ts";
 * console.assert(TAXONOMY.training.includes("fine_tuning"));
 * ```
 */
export const TAXONOMY: Readonly<Record<string, readonly string[]>> = Object
  .freeze({
    interpretability: ["sae_analysis", "probe_training", "ablation_study"],
    training: ["fine_tuning", "ablation_study"],
    benchmarking: ["ablation_study"],
    alignment: ["fine_tuning", "probe_training", "ablation_study"],
  });

/**
 * Throws an {@linkcode InvalidInputError} unless `method` is valid for
 * `domain`; the message lists what is valid.
 *
 * @param domain A research domain, e.g. `"interpretability"`.
 * @param method A method, e.g. `"sae_analysis"`.
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
export function validateTaxonomy(domain: string, method: string): void {
  const domains = Object.keys(TAXONOMY);
  if (!Object.hasOwn(TAXONOMY, domain)) {
    throw new InvalidInputError(
      `Unknown domain ${JSON.stringify(domain)}: valid domains are ${
        domains.join(", ")
      }`,
    );
  }
  const methods = TAXONOMY[domain];
  if (!methods.includes(method)) {
    throw new InvalidInputError(
      `Invalid method ${
        JSON.stringify(method)
      } for domain "${domain}": valid methods for ${domain} are ${
        methods.join(", ")
      }`,
    );
  }
}

/**
 * The artifact-name rule: artifact names become file names
 * (`strata/<name>.parquet`) and parts of SQL view names, so one rule holds
 * them everywhere (the writers, the catalog, the dashboard).
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";

/** Artifact names: they become file names and parts of SQL view names. */
export const ARTIFACT_NAME_PATTERN: RegExp = /^[a-z0-9_]{1,64}$/;

/**
 * Artifact names that may be read: also capitals (a `strata/Acts.zarr` the
 * original Python vault wrote). Names written keep
 * {@linkcode ARTIFACT_NAME_PATTERN}.
 *
 * @example
 * ```ts
 * import { READABLE_ARTIFACT_NAME_PATTERN } from "./artifact_name.ts";
 * console.assert(READABLE_ARTIFACT_NAME_PATTERN.test("Acts"));
 * ```
 */
export const READABLE_ARTIFACT_NAME_PATTERN: RegExp = /^[A-Za-z0-9_]{1,64}$/;

/**
 * Throws {@linkcode InvalidInputError} unless `name` is a valid artifact name
 * (`^[a-z0-9_]{1,64}$`; with `reading`, a name that may be read:
 * {@linkcode READABLE_ARTIFACT_NAME_PATTERN}).
 *
 * @example
 * ```ts
 * import { validateArtifactName } from "./artifact_name.ts";
 * validateArtifactName("eval_metrics");
 * ```
 */
export function validateArtifactName(
  name: unknown,
  options: { reading?: boolean } = {},
): asserts name is string {
  const rule = options.reading
    ? READABLE_ARTIFACT_NAME_PATTERN
    : ARTIFACT_NAME_PATTERN;
  if (typeof name === "string" && rule.test(name)) return;
  throw new InvalidInputError(
    `Invalid artifact name ${
      JSON.stringify(name)
    }: names become file and view names, so they must be 1 to 64 of ${
      options.reading ? "^[A-Za-z0-9_]+$" : "^[a-z0-9_]+$"
    } (e.g. "eval_metrics")`,
  );
}

/**
 * The artifact-name rule: artifact names become file names under `strata/`
 * and parts of SQL view names, so they are short, lowercase and plain.
 * Written names keep {@linkcode ARTIFACT_NAME_PATTERN}; names read may also
 * hold capitals ({@linkcode READABLE_ARTIFACT_NAME_PATTERN}).
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";

/**
 * Names an artifact may not take: every name `Object.prototype` holds
 * (`__proto__`, `constructor`, `hasOwnProperty`, `toString`, …) and
 * `prototype`. Artifact names are keys of the manifest's maps: as a key,
 * `__proto__` replaces a plain object's prototype instead of adding an
 * entry (and msgpack readers refuse it), and `constructor` reads as a
 * function where no entry exists.
 *
 * @example
 * ```ts
 * import { RESERVED_ARTIFACT_NAMES } from "./artifact_name.ts";
 * console.assert(RESERVED_ARTIFACT_NAMES.includes("__proto__"));
 * ```
 */
export const RESERVED_ARTIFACT_NAMES: readonly string[] = Object.freeze([
  ...Object.getOwnPropertyNames(Object.prototype),
  "prototype",
].sort());

const NOT_RESERVED = `(?!(?:${RESERVED_ARTIFACT_NAMES.join("|")})$)`;

/**
 * Artifact names: they become file names and parts of SQL view names.
 * `^[a-z0-9_]{1,64}$`, and none of {@linkcode RESERVED_ARTIFACT_NAMES}.
 */
export const ARTIFACT_NAME_PATTERN: RegExp = new RegExp(
  `^${NOT_RESERVED}[a-z0-9_]{1,64}$`,
);

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
export const READABLE_ARTIFACT_NAME_PATTERN: RegExp = new RegExp(
  `^${NOT_RESERVED}[A-Za-z0-9_]{1,64}$`,
);

/**
 * Throws {@linkcode InvalidInputError} unless `name` is a valid artifact name
 * (`^[a-z0-9_]{1,64}$` and not one of {@linkcode RESERVED_ARTIFACT_NAMES};
 * with `reading`, a name that may be read:
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
  if (typeof name === "string" && RESERVED_ARTIFACT_NAMES.includes(name)) {
    throw new InvalidInputError(
      `Invalid artifact name ${
        JSON.stringify(name)
      }: it is a name every JavaScript object already has (${RESERVED_ARTIFACT_NAMES.length} are reserved: __proto__, constructor, prototype, toString, …), so as a key of the manifest it would not be kept as given; choose another, e.g. "${
        name.replace(/^_+|_+$/g, "").toLowerCase()
      }_table"`,
    );
  }
  throw new InvalidInputError(
    `Invalid artifact name ${
      JSON.stringify(name)
    }: names become file and view names, so they must be 1 to 64 of ${
      options.reading ? "^[A-Za-z0-9_]+$" : "^[a-z0-9_]+$"
    } (e.g. "eval_metrics")`,
  );
}

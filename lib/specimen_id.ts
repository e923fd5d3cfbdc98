/**
 * The specimen id rule. An id becomes a folder name and part of a SQL view
 * name (`exp_<id>`), so only lowercase ASCII letters, digits and underscores
 * pass, 1 to 128 of them.
 *
 * @module
 */
import { InvalidInputError } from "./errors.ts";

/** The longest id accepted. */
export const MAX_SPECIMEN_ID_LENGTH = 128;

/**
 * What a valid id looks like.
 *
 * @example
 * ```ts
 * import { SPECIMEN_ID_PATTERN } from "./specimen_id.ts";
 * console.assert(SPECIMEN_ID_PATTERN.test("2026_11_26_my_run"));
 * console.assert(!SPECIMEN_ID_PATTERN.test("../x"));
 * ```
 */
export const SPECIMEN_ID_PATTERN: RegExp = /^[a-z0-9_]+$/;

/**
 * Returns whether `id` is a valid specimen id.
 *
 * @example
 * ```ts
 * import { isSpecimenId } from "./specimen_id.ts";
 * console.assert(isSpecimenId("run_1") && !isSpecimenId("Run 1"));
 * ```
 */
export function isSpecimenId(id: unknown): id is string {
  return typeof id === "string" && id.length <= MAX_SPECIMEN_ID_LENGTH &&
    SPECIMEN_ID_PATTERN.test(id);
}

/**
 * Throws an {@linkcode InvalidInputError} naming the id, the rule and the fix
 * unless `id` is valid.
 *
 * @example
 * ```ts
 * import { validateSpecimenId } from "./specimen_id.ts";
 * validateSpecimenId("2026_11_26_my_run");
 * try {
 *   validateSpecimenId("a/b");
 * } catch (e) {
 *   console.assert(String(e).includes('"a/b"'));
 * }
 * ```
 */
export function validateSpecimenId(id: unknown): asserts id is string {
  if (isSpecimenId(id)) return;
  const shown = JSON.stringify(id);
  const rule =
    `an id must be 1 to ${MAX_SPECIMEN_ID_LENGTH} characters of ^[a-z0-9_]+$ (lowercase letters, digits, underscores)`;
  let why = "";
  if (typeof id !== "string") why = "it is not a string";
  else if (id.length === 0) why = "it is empty";
  else if (id.length > MAX_SPECIMEN_ID_LENGTH) {
    why = `it is ${id.length} characters long`;
  } else {
    const bad = [...id].find((c) => !/[a-z0-9_]/.test(c))!;
    why = `it contains ${JSON.stringify(bad)}`;
  }
  const suggestion = typeof id === "string" && id.length > 0
    ? id.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "")
      .slice(0, MAX_SPECIMEN_ID_LENGTH)
    : "";
  throw new InvalidInputError(
    `Invalid specimen id ${
      shown.length > 80 ? shown.slice(0, 77) + '..."' : shown
    }: ${why}; ${rule}${
      suggestion && isSpecimenId(suggestion)
        ? `, e.g. "${suggestion}"`
        : ", e.g. 2026_11_26_my_run"
    }`,
  );
}

/**
 * The specimen id rules. An id becomes a folder name and part of a SQL view
 * name (`exp_<id>`), so a new id is only lowercase ASCII letters, digits and
 * underscores, 1 to 128 of them. Existing ids read by the index, queries,
 * verify and the dashboard may also have capitals (the original Python
 * vault made such ids): {@linkcode READABLE_SPECIMEN_ID_PATTERN}.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";

/** The longest id accepted. */
export const MAX_SPECIMEN_ID_LENGTH = 128;

/**
 * What a valid id looks like.
 *
 * @example
 * ```ts
 * import { SPECIMEN_ID_PATTERN } from "./id.ts";
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
 * import { isSpecimenId } from "./id.ts";
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
 * import { validateSpecimenId } from "./id.ts";
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

/**
 * What an existing id may look like when it is read (indexed, queried,
 * verified, shown): also capitals, `[A-Za-z0-9_]`, 1 to 128 of them, as the
 * original Python vault's `create_specimen.py` accepted. New ids are made
 * by {@linkcode SPECIMEN_ID_PATTERN} only. SQL names ignore case, so two ids
 * that differ only in case share one `exp_` name: the index gives it to one
 * of them and reports the other (see `indexVault`).
 *
 * @example
 * ```ts
 * import { READABLE_SPECIMEN_ID_PATTERN } from "./id.ts";
 * console.assert(READABLE_SPECIMEN_ID_PATTERN.test("2024_01_03_Sweep_LR"));
 * console.assert(!READABLE_SPECIMEN_ID_PATTERN.test("a-b"));
 * ```
 */
export const READABLE_SPECIMEN_ID_PATTERN: RegExp = /^[A-Za-z0-9_]+$/;

/**
 * Returns whether `id` is an id that may be read: one that
 * {@linkcode isSpecimenId} accepts, or one with capitals from the original
 * vault (see {@linkcode READABLE_SPECIMEN_ID_PATTERN}).
 *
 * @example
 * ```ts
 * import { isReadableSpecimenId } from "./id.ts";
 * console.assert(isReadableSpecimenId("2024_01_03_Sweep_LR"));
 * console.assert(!isReadableSpecimenId("../x"));
 * ```
 */
export function isReadableSpecimenId(id: unknown): id is string {
  return typeof id === "string" && id.length <= MAX_SPECIMEN_ID_LENGTH &&
    READABLE_SPECIMEN_ID_PATTERN.test(id);
}

/**
 * Throws an {@linkcode InvalidInputError} naming the id and the rule unless
 * `id` may be read ({@linkcode isReadableSpecimenId}).
 *
 * @example
 * ```ts
 * import { validateReadableSpecimenId } from "./id.ts";
 * validateReadableSpecimenId("2024_01_03_Sweep_LR");
 * ```
 */
export function validateReadableSpecimenId(
  id: unknown,
): asserts id is string {
  if (isReadableSpecimenId(id)) return;
  const shown = JSON.stringify(id) ?? String(id);
  throw new InvalidInputError(
    `Invalid specimen id ${
      shown.length > 80 ? shown.slice(0, 77) + '..."' : shown
    }: an id must be 1 to ${MAX_SPECIMEN_ID_LENGTH} characters of ^[A-Za-z0-9_]+$ (letters, digits, underscores), e.g. 2026_11_26_my_run`,
  );
}

/**
 * Curating runs after the fact: labels and a star outside the seal
 * (`labels.ts`), discarding whole specimens into the vault's trash and
 * restoring them (`discard.ts`), emptying the trash for good (`trash.ts`),
 * and choosing specimens by a SQL predicate on the catalog (`where.ts`).
 *
 * @example
 * ```ts
 * import { parseDuration, TRASH_DIR } from "./mod.ts";
 * console.assert(TRASH_DIR === "trash" && parseDuration("1h") === 3_600_000);
 * ```
 *
 * @module
 */
export {
  applyLabelChange,
  changeLabels,
  type ChangeLabelsOptions,
  type LabelChange,
  type LabelResult,
  readLabelsFile,
} from "./labels.ts";
export {
  type CurateOutcome,
  type DiscardOptions,
  discardSpecimens,
  MAX_REASON_LENGTH,
  type RestoreOptions,
  restoreSpecimens,
} from "./discard.ts";
export {
  emptyTrash,
  type EmptyTrashOptions,
  type EmptyTrashReport,
  listTrash,
  parseDuration,
  type TrashEntry,
} from "./trash.ts";
export { idsWhere, MAX_PREDICATE_LENGTH, whereSql } from "./where.ts";
export { RECORD_SUFFIX, TRASH_DIR } from "./_folders.ts";
export { PAUSE_ENV } from "./_hook.ts";

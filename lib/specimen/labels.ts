/**
 * A specimen's labels: the `labels.json` file beside its manifest, outside
 * the seal (as `field_notes.md` is), so that sorting runs after the fact
 * (`+best`, `-buggy`, a star) never touches a sealed result. This module
 * owns the file's name, format and rules; writing it is `lib/curate/`'s.
 *
 * The format (version 1), one JSON object:
 *
 * ```json
 * {
 *   "version": 1,
 *   "labels": { "best": "2026-12-07T03:00:00.000Z" },
 *   "removed": { "buggy": "2026-12-07T03:01:00.000Z" },
 *   "starred": { "value": true, "at": "2026-12-07T03:02:00.000Z" }
 * }
 * ```
 *
 * `labels` maps each label set to when it was set; `removed` keeps when a
 * label was taken off (a tombstone, so that merging two copies can tell
 * "removed later" from "never seen"); `starred` is the star and when it was
 * last changed (absent: never starred).
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";

/** The labels file inside a specimen folder (never sealed). */
export const LABELS_FILE = "labels.json";

/** The version of the labels file this code writes. */
export const LABELS_VERSION = 1;

/** Most labels one specimen may carry. */
export const MAX_LABELS = 256;

/** The largest labels file read (bytes). */
export const MAX_LABELS_BYTES = 1 << 20;

/**
 * What a label may be: a letter or digit, then up to 63 letters, digits,
 * `_`, `.`, `:` or `-` (a leading `+` or `-` on the command line says add or
 * remove, so a label cannot start with one).
 *
 * @example
 * ```ts
 * import { LABEL_PATTERN } from "./labels.ts";
 * console.assert(LABEL_PATTERN.test("best") && !LABEL_PATTERN.test("-x"));
 * ```
 */
export const LABEL_PATTERN: RegExp = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** The stored labels of one specimen (see the module doc). */
export interface LabelsFile {
  /** The format version. */
  version: number;
  /** Each label set, with when it was set (ISO 8601). */
  labels: Record<string, string>;
  /** Each label removed, with when (ISO 8601). */
  removed: Record<string, string>;
  /** The star and when it last changed; absent: never starred. */
  starred?: { value: boolean; at: string };
}

/**
 * An empty labels file.
 *
 * @example
 * ```ts
 * import { emptyLabels } from "./labels.ts";
 * console.assert(Object.keys(emptyLabels().labels).length === 0);
 * ```
 */
export function emptyLabels(): LabelsFile {
  return { version: LABELS_VERSION, labels: {}, removed: {} };
}

/**
 * Throws an {@linkcode InvalidInputError} naming `label` and the rule unless
 * it matches {@linkcode LABEL_PATTERN}.
 *
 * @example
 * ```ts
 * import { validateLabel } from "./labels.ts";
 * validateLabel("baseline");
 * ```
 */
export function validateLabel(label: string): void {
  if (LABEL_PATTERN.test(label)) return;
  const shown = JSON.stringify(label);
  throw new InvalidInputError(
    `Invalid label ${
      shown.length > 80 ? shown.slice(0, 77) + '..."' : shown
    }: a label is 1 to 64 characters, a letter or digit first, then letters, digits, "_", ".", ":" or "-" (e.g. best, lr-sweep, v2.1)`,
  );
}

/**
 * Parses the bytes of a labels file; `source` names it in errors. Throws a
 * `SyntaxError` for bytes that are not a labels file.
 *
 * @example
 * ```ts
 * import { parseLabels } from "./labels.ts";
 * const text = '{"version":1,"labels":{"best":"2026-01-01T00:00:00.000Z"},"removed":{}}';
 * console.assert(parseLabels(new TextEncoder().encode(text)).labels.best !== undefined);
 * ```
 */
export function parseLabels(
  bytes: Uint8Array,
  source = LABELS_FILE,
): LabelsFile {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new SyntaxError(`${source} is not JSON (${(e as Error).message})`);
  }
  const bad = (why: string) =>
    new SyntaxError(`${source} is not a labels file: ${why}`);
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw bad("not a JSON object");
  }
  const o = v as Record<string, unknown>;
  if (typeof o.version !== "number" || o.version > LABELS_VERSION) {
    throw bad(`"version" is ${JSON.stringify(o.version)}, not 1`);
  }
  const out = emptyLabels();
  for (const key of ["labels", "removed"] as const) {
    const m = o[key] ?? {};
    if (typeof m !== "object" || m === null || Array.isArray(m)) {
      throw bad(`"${key}" is not an object`);
    }
    for (const [label, at] of Object.entries(m)) {
      if (!LABEL_PATTERN.test(label) || typeof at !== "string") {
        throw bad(`"${key}" holds ${JSON.stringify(label)}: ${at}`);
      }
      out[key][label] = at;
    }
  }
  const s = o.starred as { value?: unknown; at?: unknown } | undefined | null;
  if (s !== undefined && s !== null) {
    if (typeof s.value !== "boolean" || typeof s.at !== "string") {
      throw bad(`"starred" is not {"value": boolean, "at": string}`);
    }
    out.starred = { value: s.value, at: s.at };
  }
  return out;
}

/**
 * The labels set in `file`, sorted.
 *
 * @example
 * ```ts
 * import { emptyLabels, labelNames } from "./labels.ts";
 * const f = emptyLabels();
 * f.labels.b = f.labels.a = "2026-01-01T00:00:00.000Z";
 * console.assert(labelNames(f).join() === "a,b");
 * ```
 */
export function labelNames(file: LabelsFile): string[] {
  return Object.keys(file.labels).sort();
}

/**
 * The specimen manifest: `specimens/<id>/manifest.msgpack`, a msgpack map
 * compatible with the original Python vault (`specimen_id`, `created`,
 * `taxonomy`, `status`, `artifacts`, `tags`, `model`, `description`,
 * `dependencies`). Extra keys are kept as they are.
 *
 * @module
 */
import { recordChange } from "../vault_changes.ts";
import { encodeMsgpack, join } from "../_deps.ts";
import { decodeMsgpackKeepingKeys } from "./_msgpack_read.ts";
import { atomicWriteFile, readVaultFile } from "../_fs.ts";
import {
  CorruptFileError,
  InvalidInputError,
  NotFoundError,
} from "../errors.ts";
import { isReadableSpecimenId } from "./id.ts";
import type { Manifest } from "./manifest_types.ts";
import { validateParams } from "./params.ts";

export type { ArtifactRecord, Manifest } from "./manifest_types.ts";

/** The manifest's file name inside a specimen folder. */
export const MANIFEST_FILE = "manifest.msgpack";

// ISO-8601 date-time with an explicit offset or Z (a bare local time would not
// name an instant).
const ISO_INSTANT =
  /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * Checks that `value` is a manifest and returns it typed; throws a
 * `TypeError` naming the first key that is missing or of the wrong type.
 *
 * @param value A decoded msgpack value.
 * @param expectedId When given, the id the manifest must carry (its folder).
 * @example
 * ```ts
 * import { validateManifest } from "./manifest.ts";
 * const m = validateManifest({
 *   specimen_id: "a", created: "2026-01-01T00:00:00Z",
 *   taxonomy: { domain: "training", method: "fine_tuning" }, status: "active",
 *   artifacts: {}, tags: [], model: null, description: null, dependencies: {},
 * });
 * console.assert(m.specimen_id === "a");
 * ```
 */
export function validateManifest(
  value: unknown,
  expectedId?: string,
): Manifest {
  if (!isRecord(value)) {
    throw new TypeError(
      `expected a map at the top level, found ${kind(value)}`,
    );
  }
  const m = value;
  if (!("specimen_id" in m)) throw new TypeError(`missing key "specimen_id"`);
  if (!isReadableSpecimenId(m.specimen_id)) {
    throw new TypeError(
      `"specimen_id" must match ^[A-Za-z0-9_]+$ (at most 128), found ${
        JSON.stringify(m.specimen_id)?.slice(0, 140)
      }`,
    );
  }
  if (expectedId !== undefined && m.specimen_id !== expectedId) {
    throw new TypeError(
      `"specimen_id" is "${m.specimen_id}" but the folder is "${expectedId}"`,
    );
  }
  if (typeof m.created !== "string") {
    throw new TypeError(
      `"created" must be an ISO-8601 string, found ${kind(m.created)}`,
    );
  }
  if (!ISO_INSTANT.test(m.created) || Number.isNaN(Date.parse(m.created))) {
    throw new TypeError(
      `"created" is not an ISO-8601 instant with an offset: ${
        JSON.stringify(m.created)
      }`,
    );
  }
  if (
    !isRecord(m.taxonomy) || typeof m.taxonomy.domain !== "string" ||
    typeof m.taxonomy.method !== "string"
  ) {
    throw new TypeError(
      `"taxonomy" must be a map {domain, method} of strings, found ${
        kind(m.taxonomy)
      }`,
    );
  }
  if (m.status === undefined) m.status = "active";
  if (typeof m.status !== "string") {
    throw new TypeError(`"status" must be a string, found ${kind(m.status)}`);
  }
  if (m.artifacts === undefined || m.artifacts === null) m.artifacts = {};
  if (!isRecord(m.artifacts)) {
    throw new TypeError(
      `"artifacts" must be a map, found ${kind(m.artifacts)}`,
    );
  }
  if (m.tags === undefined || m.tags === null) m.tags = [];
  if (!Array.isArray(m.tags) || !m.tags.every((t) => typeof t === "string")) {
    throw new TypeError(
      `"tags" must be a list of strings, found ${kind(m.tags)}`,
    );
  }
  for (const key of ["model", "description"] as const) {
    if (m[key] === undefined) m[key] = null;
    if (m[key] !== null && typeof m[key] !== "string") {
      throw new TypeError(
        `"${key}" must be a string or nil, found ${kind(m[key])}`,
      );
    }
  }
  if (m.dependencies === undefined || m.dependencies === null) {
    m.dependencies = {};
  }
  if (
    !isRecord(m.dependencies) ||
    !Object.values(m.dependencies).every((v) => typeof v === "string")
  ) {
    throw new TypeError(
      `"dependencies" must be a map of strings, found ${kind(m.dependencies)}`,
    );
  }
  if (m.params !== undefined) {
    try {
      validateParams(m.params, { label: '"params"' });
    } catch (e) {
      throw new TypeError((e as Error).message, { cause: e });
    }
  }
  return m as Manifest;
}

/**
 * Decodes and validates manifest bytes; throws a {@linkcode CorruptFileError}
 * naming `source` and the reason.
 *
 * @example
 * ```ts
 * import { decodeManifest, encodeManifest } from "./manifest.ts";
 * const bytes = encodeManifest({
 *   specimen_id: "a", created: "2026-01-01T00:00:00Z",
 *   taxonomy: { domain: "training", method: "fine_tuning" }, status: "active",
 *   artifacts: {}, tags: ["x"], model: null, description: null, dependencies: {},
 * });
 * console.assert(decodeManifest(bytes).tags[0] === "x");
 * ```
 */
export function decodeManifest(
  bytes: Uint8Array,
  source = "manifest",
  expectedId?: string,
): Manifest {
  let value: unknown;
  try {
    value = decodeMsgpackKeepingKeys(bytes);
  } catch (e) {
    throw new CorruptFileError(
      `Cannot read ${source}: not valid msgpack (${(e as Error).message})`,
      { cause: e },
    );
  }
  const depth = nestingDepth(value, MAX_MANIFEST_DEPTH);
  if (depth > MAX_MANIFEST_DEPTH) {
    throw new CorruptFileError(
      `Invalid manifest ${source}: arrays and maps nested more than ${MAX_MANIFEST_DEPTH} deep; a manifest holds flat records, so this one is damaged or hostile: restore it from a copy`,
    );
  }
  try {
    return validateManifest(value, expectedId);
  } catch (e) {
    throw new CorruptFileError(
      `Invalid manifest ${source}: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/**
 * How deep arrays and maps may nest in a manifest. Real ones nest a few
 * levels (artifacts, runs, provenance); the limit keeps every recursive step
 * after decoding (validation, JSON for the catalog, the dashboard) far from
 * the stack's end.
 */
export const MAX_MANIFEST_DEPTH = 64;

/**
 * The largest manifest file read (256 MiB): far above any real one (a
 * million tags is about 10 MB), and a bound on what one file can cost.
 */
export const MAX_MANIFEST_BYTES: number = 256 * 1024 * 1024;

/**
 * How deep arrays and objects nest in `value`, counted without recursion
 * (so a hostile value cannot overflow the stack here), stopping as soon as
 * it exceeds `limit` (then returns `limit + 1`).
 *
 * @example
 * ```ts
 * import { nestingDepth } from "./manifest.ts";
 * console.assert(nestingDepth({ a: [[1]] }) === 3);
 * console.assert(nestingDepth(7) === 0);
 * ```
 */
export function nestingDepth(value: unknown, limit = Infinity): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object" || ArrayBuffer.isView(v)) continue;
    if (d + 1 > max) {
      max = d + 1;
      if (max > limit) return max;
    }
    const items = Array.isArray(v)
      ? v
      : v instanceof Map
      ? [...v.keys(), ...v.values()]
      : Object.values(v);
    for (const x of items) {
      if (x !== null && typeof x === "object") stack.push([x, d + 1]);
    }
  }
  return max;
}

/**
 * Encodes a manifest as msgpack.
 *
 * @example
 * ```ts
 * import { encodeManifest } from "./manifest.ts";
 * const bytes = encodeManifest({
 *   specimen_id: "a", created: "2026-01-01T00:00:00Z",
 *   taxonomy: { domain: "training", method: "fine_tuning" }, status: "active",
 *   artifacts: {}, tags: [], model: null, description: null, dependencies: {},
 * });
 * console.assert(bytes.length > 0);
 * ```
 */
export function encodeManifest(manifest: Manifest): Uint8Array {
  return encodeMsgpack(manifest, { ignoreUndefined: true });
}

/**
 * Reads and validates `<dir>/manifest.msgpack`; the id must match the folder
 * name. Throws {@linkcode NotFoundError} or {@linkcode CorruptFileError};
 * `UnsafeFileError` when the manifest is not a regular file inside
 * the folder (a FIFO, a device, a link leading out: never waited on);
 * {@linkcode InvalidInputError} when the folder is a symbolic link (a
 * specimen is a real folder inside its vault: a link could change its
 * results from outside, and would not move with the vault).
 *
 * Needs `--allow-read` on `dir`.
 *
 * @example
 * ```ts ignore
 * import { readManifest } from "./manifest.ts";
 * const m = await readManifest("specimens/example_2024_12_19_synthetic_demo");
 * console.log(m.taxonomy.domain);
 * ```
 */
export async function readManifest(dir: string): Promise<Manifest> {
  await refuseLinkedFolder(dir);
  const path = join(dir, MANIFEST_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await readVaultFile(path, {
      root: dir,
      maxBytes: MAX_MANIFEST_BYTES,
    });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `No manifest at ${path}: is ${dir} a specimen folder? Create one with \`deno task create\``,
        { cause: e },
      );
    }
    throw e;
  }
  const folder = dir.replace(/[\\/]+$/, "").split(/[\\/]/).pop();
  return decodeManifest(bytes, path, folder);
}

/** Throws {@linkcode InvalidInputError} when the folder `dir` is a symbolic link. */
async function refuseLinkedFolder(dir: string): Promise<void> {
  const folder = dir.replace(/[\\/]+$/, "") || dir;
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(folder);
  } catch {
    return; // missing or unreadable: reading the manifest says which
  }
  if (!info.isSymlink) return;
  let target = "";
  try {
    target = ` (to ${await Deno.readLink(folder)})`;
  } catch { /* the target is only for the message */ }
  throw new InvalidInputError(
    `Specimen folder ${folder} is a symbolic link${target}: a specimen must be a real folder inside the vault, so that nothing outside it can change its results; move the folder into specimens/ instead of linking it`,
  );
}

/**
 * Writes `<dir>/manifest.msgpack` atomically (temp file + rename).
 *
 * Needs `--allow-write` on `dir`.
 *
 * @example
 * ```ts ignore
 * import { readManifest, writeManifest } from "./manifest.ts";
 * const dir = "specimens/my_run";
 * await writeManifest(dir, await readManifest(dir));
 * ```
 */
export async function writeManifest(
  dir: string,
  manifest: Manifest,
): Promise<void> {
  await atomicWriteFile(join(dir, MANIFEST_FILE), encodeManifest(manifest));
  recordChange(dir);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) &&
    !(v instanceof Uint8Array);
}

function kind(v: unknown): string {
  if (v === null) return "nil";
  if (Array.isArray(v)) return "a list";
  if (v instanceof Uint8Array) return "binary";
  if (isRecord(v)) return "a map";
  return `${typeof v} ${JSON.stringify(v)?.slice(0, 60)}`;
}

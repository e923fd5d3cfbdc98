/**
 * Sealing: after a successful run, the manifest records the SHA-256 and size
 * of every file of the specimen that makes up its result — `protocol.ts`,
 * everything under `strata/`, the run logs under `runs/` — and its status
 * becomes `sealed`. A sealed specimen refuses writes and further runs;
 * `deno task verify` recomputes the hashes to prove nothing changed.
 *
 * Only `manifest.msgpack` (which holds the seal), `field_notes.md` (your
 * notes stay editable), `labels.json` (labels set after the run) and the
 * `.lock` file are left out.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { FileHasher, listFiles, sha256Hex } from "../_hash.ts";
import { LOCK_FILE, updateManifest } from "./_lock.ts";
import {
  CorruptFileError,
  ImmutableArtifactError,
  VaultError,
} from "../errors.ts";
import { MANIFEST_FILE } from "./manifest.ts";
import { LABELS_FILE } from "./labels.ts";
import { ORIGIN_FILE } from "./origin.ts";
import type {
  Manifest,
  Seal,
  SealedFile,
  SealListingRule,
} from "./manifest_types.ts";

export type { Seal, SealedFile, SealListingRule } from "./manifest_types.ts";

/** Status of a specimen created and not yet run. */
export const STATUS_ACTIVE = "active";
/** Status while a run is in progress. */
export const STATUS_RUNNING = "running";
/** Status after a successful run: the results are hashed and final. */
export const STATUS_SEALED = "sealed";
/**
 * Status after a failed run: kept as it was, with its logs, until it runs
 * again (its partial results move to `runs/<run>/strata/`) or is sealed as
 * it is (`deno task seal`).
 */
export const STATUS_FAILED = "failed";
/**
 * Status after a run stopped by the user (SIGINT, SIGTERM, SIGHUP) or whose
 * runner died: as {@linkcode STATUS_FAILED}, it may run again or be sealed
 * as it is.
 */
export const STATUS_INTERRUPTED = "interrupted";

/** Files of a specimen folder that are never sealed. */
export const UNSEALED_FILES: readonly string[] = [
  MANIFEST_FILE,
  "field_notes.md",
  LABELS_FILE,
  LOCK_FILE,
  // Where a pulled specimen came from: not a result.
  ORIGIN_FILE,
];

/** The listing rule of new seals. */
export const SEAL_LISTING: SealListingRule = "json";

/**
 * The digest of a seal's `files` by listing rule `listing` (the rule a
 * seal records in `listing`; `"sha256sum"` when it records none).
 *
 * @example
 * ```ts
 * import { sealDigest } from "./seal.ts";
 * const a = sealDigest({ "x\n": { sha256: "ab".repeat(32), bytes: 1 } });
 * const b = sealDigest({ "x": { sha256: "ab".repeat(32), bytes: 1 } });
 * console.assert(a !== b && a.length === 64);
 * ```
 */
export function sealDigest(
  files: Record<string, SealedFile>,
  listing: SealListingRule = SEAL_LISTING,
): string {
  if (listing === "sha256sum") return sha256Hex(sealListing(files));
  const pairs = Object.keys(files).sort().map((p) => [p, files[p].sha256]);
  return sha256Hex(JSON.stringify(pairs));
}

/** Options for {@linkcode computeSeal} and {@linkcode sealSpecimen}. */
export interface SealOptions {
  /** The run being sealed, recorded as `seal.run`. @default null */
  run?: string | null;
  /** Called with the bytes hashed after each block (for progress). */
  onBytes?: (n: number) => void;
}

/**
 * The files of the specimen at `dir` that a seal covers, sorted, with their
 * sizes: everything except {@linkcode UNSEALED_FILES}.
 *
 * @example
 * ```ts ignore
 * import { sealableFiles } from "./seal.ts";
 * for (const f of await sealableFiles("specimens/my_run")) console.log(f.path);
 * ```
 */
export async function sealableFiles(
  dir: string,
): Promise<{ path: string; bytes: number; kind: string }[]> {
  return (await listFiles(dir, "")).filter((f) =>
    !UNSEALED_FILES.includes(f.path)
  )
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The `sha256sum`-format listing of sealed files (`<hex>  <path>` lines,
 * sorted by path): `sha256sum -c` checks a specimen against it from the
 * specimen folder. Not unambiguous for names holding a newline: new seals'
 * digests use the `"json"` rule of {@linkcode sealDigest}.
 *
 * @example
 * ```ts
 * import { sealListing } from "./seal.ts";
 * const text = sealListing({ "protocol.ts": { sha256: "ab".repeat(32), bytes: 3 } });
 * console.assert(text === `${"ab".repeat(32)}  protocol.ts\n`);
 * ```
 */
export function sealListing(files: Record<string, SealedFile>): string {
  return Object.keys(files).sort().map((p) => `${files[p].sha256}  ${p}\n`)
    .join("");
}

/**
 * Hashes the specimen at `dir` and returns its seal, without writing
 * anything. Throws {@linkcode VaultError} when a file cannot be sealed (a
 * symbolic link or special file: a link could point outside the specimen).
 *
 * Needs `--allow-read` on `dir`.
 *
 * @example
 * ```ts ignore
 * import { computeSeal } from "./seal.ts";
 * const seal = await computeSeal("specimens/my_run");
 * console.log(seal.file_count, seal.digest);
 * ```
 */
export async function computeSeal(
  dir: string,
  options: SealOptions = {},
): Promise<Seal> {
  const hasher = new FileHasher();
  const files: Record<string, SealedFile> = {};
  let bytes = 0;
  for (const f of await sealableFiles(dir)) {
    if (f.kind === "undecodable") {
      throw new VaultError(
        `Cannot seal ${
          JSON.stringify(join(dir, f.path))
        }: its name is not valid UTF-8 (shown with U+FFFD where bytes do not decode), so the seal could not name it exactly nor verify it. Rename it to a UTF-8 name, then run again`,
      );
    }
    if (f.kind !== "file") {
      throw new VaultError(
        `Cannot seal ${join(dir, f.path)}: it is a ${
          f.kind === "symlink" ? "symbolic link" : "special file"
        }, not a regular file. Write results as regular files under strata/ (copy the target instead of linking it)`,
      );
    }
    const digest = await hasher.hash(
      join(dir, f.path),
      options.onBytes,
      dir,
    );
    files[f.path] = digest;
    bytes += digest.bytes;
  }
  return {
    sealed: new Date().toISOString(),
    algorithm: "sha256",
    run: options.run ?? null,
    files,
    file_count: Object.keys(files).length,
    bytes,
    digest: sealDigest(files, SEAL_LISTING),
    listing: SEAL_LISTING,
  };
}

/**
 * Seals the specimen at `dir`: hashes its files and records the seal in the
 * manifest with `status: "sealed"`, atomically and under the specimen's
 * lock. Refuses a specimen that is already sealed
 * ({@linkcode ImmutableArtifactError}).
 *
 * Needs `--allow-read` and `--allow-write` on `dir`.
 *
 * @example
 * ```ts ignore
 * import { sealSpecimen } from "./seal.ts";
 * const manifest = await sealSpecimen("specimens/my_run");
 * console.assert(manifest.status === "sealed");
 * ```
 */
export async function sealSpecimen(
  dir: string,
  options: SealOptions = {},
): Promise<Manifest> {
  const { manifest } = await updateManifest(dir, async (m) => {
    if (m.seal !== undefined || m.status === STATUS_SEALED) {
      throw sealedError(m);
    }
    m.seal = await computeSeal(dir, options);
    m.status = STATUS_SEALED;
  });
  return manifest;
}

/**
 * Throws {@linkcode ImmutableArtifactError} when the manifest's specimen may
 * not be written to: it is sealed, or its run failed (a failed run is kept
 * as evidence, exactly as it stopped).
 *
 * @example
 * ```ts
 * import { assertWritable } from "./seal.ts";
 * assertWritable({
 *   specimen_id: "a", created: "2026-01-01T00:00:00Z",
 *   taxonomy: { domain: "training", method: "fine_tuning" }, status: "active",
 *   artifacts: {}, tags: [], model: null, description: null, dependencies: {},
 * });
 * ```
 */
export function assertWritable(manifest: Manifest): void {
  if (manifest.seal !== undefined || manifest.status === STATUS_SEALED) {
    throw sealedError(manifest);
  }
  if (
    manifest.status === STATUS_FAILED || manifest.status === STATUS_INTERRUPTED
  ) {
    const id = manifest.specimen_id;
    throw new ImmutableArtifactError(
      `Specimen "${id}" is marked ${manifest.status}: its results are kept as the run left them, so nothing more may be written. Run it again (deno task run ${id}: the partial results move to runs/<run>/strata/), or seal it as it is (deno task seal ${id})`,
    );
  }
}

/**
 * The seal of `manifest`, checked for shape, or null when it is not sealed.
 * Throws {@linkcode CorruptFileError} for a malformed seal.
 *
 * @example
 * ```ts
 * import { readSeal } from "./seal.ts";
 * console.assert(readSeal({
 *   specimen_id: "a", created: "2026-01-01T00:00:00Z",
 *   taxonomy: { domain: "training", method: "fine_tuning" }, status: "active",
 *   artifacts: {}, tags: [], model: null, description: null, dependencies: {},
 * }) === null);
 * ```
 */
export function readSeal(manifest: Manifest): Seal | null {
  const seal = manifest.seal as unknown;
  if (seal === undefined || seal === null) return null;
  const bad = (why: string) =>
    new CorruptFileError(
      `The seal in the manifest of "${manifest.specimen_id}" is malformed: ${why}`,
    );
  if (typeof seal !== "object" || Array.isArray(seal)) {
    throw bad("expected a map");
  }
  const s = seal as Record<string, unknown>;
  if (s.algorithm !== "sha256") {
    throw bad(`unknown algorithm ${JSON.stringify(s.algorithm)}`);
  }
  if (
    s.listing !== undefined && s.listing !== "json" &&
    s.listing !== "sha256sum"
  ) {
    throw bad(
      `unknown listing rule ${
        JSON.stringify(s.listing)
      } (known: "json", "sha256sum"); a newer version may have written it`,
    );
  }
  if (typeof s.files !== "object" || s.files === null) {
    throw bad(`"files" must be a map`);
  }
  for (const [path, f] of Object.entries(s.files)) {
    const file = f as Record<string, unknown> | null;
    if (
      typeof file !== "object" || file === null ||
      typeof file.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(file.sha256) ||
      typeof file.bytes !== "number"
    ) {
      throw bad(`entry ${JSON.stringify(path)} needs {sha256, bytes}`);
    }
    if (path.startsWith("/") || path.split("/").includes("..")) {
      throw bad(`path ${JSON.stringify(path)} leaves the specimen folder`);
    }
  }
  return seal as Seal;
}

function sealedError(m: Manifest): ImmutableArtifactError {
  const id = m.specimen_id;
  const when = (m.seal as Seal | undefined)?.sealed;
  return new ImmutableArtifactError(
    `Specimen "${id}" is sealed${
      when ? ` (since ${when})` : ""
    }: its results are final and cannot be changed. For a variation: deno task create --id ${id}_v2 --from ${id}`,
  );
}

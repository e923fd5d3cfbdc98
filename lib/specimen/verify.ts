/**
 * Verification: recomputes the SHA-256 of every sealed file of a specimen
 * and compares it with the seal in its manifest, reporting files that were
 * modified, are missing, or were added. Files are streamed in large blocks,
 * so a 4 GB tensor verifies in a few MB of memory.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { FileHasher } from "../_hash.ts";
import { NotFoundError } from "../errors.ts";
import { readManifest } from "./manifest.ts";
import { readSeal, type Seal, sealableFiles, sealDigest } from "./seal.ts";
import { isReadableSpecimenId } from "./id.ts";
import { vaultPaths } from "../vault.ts";

/**
 * The verdict on one specimen: `ok` (every sealed file matches, nothing
 * added), `mismatch` (something was modified, removed or added), `unsealed`
 * (no seal to check: not run yet, running, or failed), or `error` (the
 * manifest or seal cannot be read, or a file cannot be read).
 */
export type VerifyState = "ok" | "mismatch" | "unsealed" | "error";

/** What {@linkcode verifySpecimen} found. */
export interface SpecimenVerification {
  /** The specimen id (its folder name). */
  id: string;
  /** The verdict. */
  state: VerifyState;
  /** The manifest's status (`sealed`, `active`, `failed`…), null if unreadable. */
  status: string | null;
  /** Sealed files whose size or SHA-256 differs, by path. */
  modified: string[];
  /** Sealed files that are gone. */
  missing: string[];
  /** Files present but not in the seal (field_notes.md and the manifest excepted). */
  extra: string[];
  /** Files hashed. */
  files: number;
  /** Bytes hashed. */
  bytes: number;
  /** The seal's digest, when sealed. */
  digest: string | null;
  /** Why the state is `error`. */
  error: string | null;
}

/** Progress of a verification, reported after each hashed block. */
export interface VerifyProgress {
  /** The specimen being verified. */
  specimen: string;
  /** Specimens finished. */
  specimensDone: number;
  /** Specimens to verify. */
  specimensTotal: number;
  /** Bytes hashed so far. */
  bytesDone: number;
  /** Bytes to hash in all (sealed files whose size still matches). */
  bytesTotal: number;
}

/** Options for {@linkcode verifyVault}. */
export interface VerifyVaultOptions {
  /** The vault root. */
  vault: string;
  /** Specimen ids to verify. @default every specimen in the vault */
  ids?: string[];
  /** Called with progress, at most every block of a few MB. */
  onProgress?: (p: VerifyProgress) => void;
}

interface Plan {
  id: string;
  dir: string;
  seal: Seal | null;
  status: string | null;
  onDisk: { path: string; bytes: number; kind: string }[];
  error: string | null;
  bytes: number;
}

/**
 * Verifies one specimen folder against its seal.
 *
 * Needs `--allow-read` on `dir`.
 *
 * @example
 * ```ts ignore
 * import { verifySpecimen } from "./verify.ts";
 * const r = await verifySpecimen("specimens/my_run");
 * if (r.state !== "ok") console.log(r.modified, r.missing, r.extra);
 * ```
 */
export async function verifySpecimen(
  dir: string,
  options: { onBytes?: (n: number) => void } = {},
): Promise<SpecimenVerification> {
  const id = dir.replace(/[\\/]+$/, "").split(/[\\/]/).pop()!;
  return await check(await plan(id, dir), new FileHasher(), options.onBytes);
}

/**
 * Verifies the given specimens of a vault, or all of them, in order. Throws
 * {@linkcode NotFoundError} (before hashing anything) when a given id has no
 * folder.
 *
 * Needs `--allow-read` on the vault.
 *
 * @example
 * ```ts ignore
 * import { verifyVault } from "./verify.ts";
 * const results = await verifyVault({ vault: "." });
 * const bad = results.filter((r) => r.state === "mismatch");
 * ```
 */
export async function verifyVault(
  options: VerifyVaultOptions,
): Promise<SpecimenVerification[]> {
  const paths = vaultPaths(options.vault);
  const ids = options.ids ?? await allSpecimens(paths.specimens);
  const missing: string[] = [];
  for (const id of ids) {
    let isDir = false;
    try {
      isDir = isReadableSpecimenId(id) &&
        (await Deno.stat(join(paths.specimens, id))).isDirectory;
    } catch (e) {
      // One that cannot even be looked at is not missing: plan() says why.
      isDir = isReadableSpecimenId(id) && !(e instanceof Deno.errors.NotFound);
    }
    if (!isDir) missing.push(id);
  }
  if (missing.length > 0) {
    throw new NotFoundError(
      `No specimen ${
        missing.map((m) => JSON.stringify(m)).join(", ")
      } in ${paths.specimens}: check the id${
        missing.length > 1 ? "s" : ""
      } (ls ${paths.specimens}) or pass --vault DIR`,
    );
  }
  // Plan first (manifests and listings), so progress knows the total bytes.
  const plans: Plan[] = [];
  for (const id of ids) plans.push(await plan(id, join(paths.specimens, id)));
  const bytesTotal = plans.reduce((n, p) => n + p.bytes, 0);
  const hasher = new FileHasher();
  const results: SpecimenVerification[] = [];
  let bytesDone = 0;
  for (const [i, p] of plans.entries()) {
    const report = () =>
      options.onProgress?.({
        specimen: p.id,
        specimensDone: i,
        specimensTotal: plans.length,
        bytesDone,
        bytesTotal,
      });
    report();
    results.push(
      await check(p, hasher, (n) => {
        bytesDone += n;
        report();
      }),
    );
  }
  return results;
}

/** The ids of every specimen folder in `specimens` (temp folders skipped). */
async function allSpecimens(specimens: string): Promise<string[]> {
  const ids: string[] = [];
  try {
    for await (const e of Deno.readDir(specimens)) {
      // A linked folder is listed so that verify reports it (refused).
      if ((e.isDirectory || e.isSymlink) && !e.name.startsWith(".")) {
        ids.push(e.name);
      }
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `No specimens folder at ${specimens}: pass --vault DIR (a folder holding specimens/)`,
      );
    }
    throw e;
  }
  return ids.sort();
}

async function plan(id: string, dir: string): Promise<Plan> {
  const p: Plan = {
    id,
    dir,
    seal: null,
    status: null,
    onDisk: [],
    error: null,
    bytes: 0,
  };
  try {
    const manifest = await readManifest(dir);
    p.status = manifest.status;
    p.seal = readSeal(manifest);
    if (p.seal === null) {
      if (manifest.status === "sealed") {
        p.error =
          `Status is "sealed" but the manifest holds no seal: nothing proves its files`;
      }
      return p;
    }
    // The digest is checked too: it names the result, so a seal whose
    // file list was edited must not pass. Read by the rule the seal names.
    const rule = p.seal.listing ?? "sha256sum";
    if (sealDigest(p.seal.files, rule) !== p.seal.digest) {
      p.error =
        `The seal's digest ${p.seal.digest} does not match its list of files (listing rule "${rule}"): the seal was edited, so its hashes prove nothing. Restore manifest.msgpack from a backup`;
      return p;
    }
    p.onDisk = await sealableFiles(dir);
    // Only files whose size matches are hashed; others are modified already.
    for (const f of p.onDisk) {
      if (p.seal.files[f.path]?.bytes === f.bytes) p.bytes += f.bytes;
    }
  } catch (e) {
    p.error = (e as Error).message;
  }
  return p;
}

async function check(
  p: Plan,
  hasher: FileHasher,
  onBytes?: (n: number) => void,
): Promise<SpecimenVerification> {
  const result: SpecimenVerification = {
    id: p.id,
    state: "ok",
    status: p.status,
    modified: [],
    missing: [],
    extra: [],
    files: 0,
    bytes: 0,
    digest: p.seal?.digest ?? null,
    error: p.error,
  };
  if (p.error !== null) return { ...result, state: "error" };
  if (p.seal === null) return { ...result, state: "unsealed" };
  const sealed = p.seal.files;
  const seen = new Set<string>();
  const unreadable: string[] = [];
  for (const f of p.onDisk) {
    seen.add(f.path);
    const want = Object.hasOwn(sealed, f.path) ? sealed[f.path] : undefined;
    if (want === undefined) {
      result.extra.push(f.path);
      continue;
    }
    if (f.kind !== "file" || f.bytes !== want.bytes) {
      result.modified.push(f.path);
      continue;
    }
    try {
      const got = await hasher.hash(join(p.dir, f.path), onBytes, p.dir);
      result.files++;
      result.bytes += got.bytes;
      if (got.sha256 !== want.sha256 || got.bytes !== want.bytes) {
        result.modified.push(f.path);
      }
    } catch (e) {
      unreadable.push(`${f.path} (${(e as Error).message})`);
    }
  }
  for (const path of Object.keys(sealed).sort()) {
    if (!seen.has(path)) result.missing.push(path);
  }
  if (unreadable.length > 0) {
    result.state = "error";
    result.error = `Cannot read ${unreadable.join(", ")}`;
  } else if (
    result.modified.length || result.missing.length || result.extra.length
  ) {
    result.state = "mismatch";
  }
  return result;
}

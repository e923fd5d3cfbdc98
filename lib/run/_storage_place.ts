/**
 * Where `SpecimenStorage` (storage.ts) puts and finds artifacts: claiming a
 * name and its path in `strata/` (valid, free, the specimen writable),
 * placing an artifact a writer creates there, finding one to read, and the
 * errors that name the specimen and the artifact.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { STRATA_DIR } from "../vault.ts";
import { exists, withWriteContext } from "../_fs.ts";
import {
  ImmutableArtifactError,
  InvalidInputError,
  NotFoundError,
} from "../errors.ts";
import { type ArtifactRecord, readManifest } from "../specimen/manifest.ts";
import { PARTS_SUFFIX } from "../metrics_log/table.ts";
import { assertWritable } from "../specimen/seal.ts";
import { validateArtifactName } from "../specimen/artifact_name.ts";
import { type ArtifactPlacement, FILES_DIR } from "./adopt_outputs.ts";

/** What claiming and finding artifacts need to know of a specimen. */
export interface ArtifactSite {
  /** The specimen id. */
  readonly id: string;
  /** Absolute path of the specimen folder. */
  readonly dir: string;
  /** Absolute path of its `strata/` folder. */
  readonly strata: string;
  /** The artifacts recorded so far (the storage's cached manifest's). */
  artifacts(): Record<string, ArtifactRecord>;
}

/**
 * Claims artifact `name` (see `SpecimenStorage.placeArtifact`), lets `write`
 * create it at the path `placement` gives, and records it with `record`.
 */
export async function placeArtifactAt(
  site: ArtifactSite,
  name: string,
  placement: ArtifactPlacement,
  write: (path: string) => Promise<Partial<ArtifactRecord>>,
  record: (record: ArtifactRecord) => Promise<ArtifactRecord>,
): Promise<ArtifactRecord> {
  let path: string, rel: string;
  if (placement.format === "file") {
    path = await claimFilePath(site, name, placement.file);
    rel = `${STRATA_DIR}/${FILES_DIR}/${placement.file}`;
  } else {
    path = await claimPath(site, name, placement.format);
    rel = `${STRATA_DIR}/${name}.${placement.format}`;
  }
  const what = `artifact "${name}"`;
  let fields: Partial<ArtifactRecord>;
  try {
    fields = await write(path);
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw immutableError(site.id, name);
    }
    throw writeError(site.id, e, what);
  }
  return await record({
    ...fields,
    path: rel,
    format: placement.format,
  }).catch((e) => {
    throw writeError(site.id, e, what);
  });
}

/** As `claimPath`, for a kept file `strata/files/<file>`. */
async function claimFilePath(
  site: ArtifactSite,
  name: string,
  file: string,
): Promise<string> {
  if (!/^[a-z0-9_]{1,64}(\.[a-z0-9]{1,16})?$/.test(file)) {
    throw new InvalidInputError(
      `Invalid file name ${
        JSON.stringify(file)
      } for artifact "${name}": kept files are named <artifact name>[.<ext>], e.g. "plot.png"`,
    );
  }
  // The name must be free of tables and arrays too.
  await claimPath(site, name, "zarr");
  const dir = join(site.strata, FILES_DIR);
  await Deno.mkdir(dir, { recursive: true });
  if (await exists(join(dir, file))) throw immutableError(site.id, name);
  return join(dir, file);
}

/** Checks the name and that nothing is there yet; returns the target path. */
export async function claimPath(
  site: ArtifactSite,
  name: string,
  ext: string,
): Promise<string> {
  validateArtifactName(name);
  // From disk, not the cached copy: another process may have sealed it.
  assertWritable(await readManifest(site.dir));
  const path = join(site.strata, `${name}.${ext}`);
  const other = ext === "zarr" ? "parquet" : "zarr";
  if (
    Object.hasOwn(site.artifacts(), name) || await exists(path) ||
    await exists(join(site.strata, `${name}.${other}`)) ||
    // A metrics log of that name (open, or interrupted) is its table.
    await exists(join(site.strata, `${name}${PARTS_SUFFIX}`))
  ) {
    throw immutableError(site.id, name);
  }
  return path;
}

/** The path of tensor `name`, which must exist. */
export async function existingPath(
  site: ArtifactSite,
  name: string,
  ext: string,
): Promise<string> {
  validateArtifactName(name, { reading: true });
  const path = join(site.strata, `${name}.${ext}`);
  if (!(await exists(path))) {
    throw new NotFoundError(
      `Specimen "${site.id}" has no tensor "${name}" (${path})${
        listing(site, "zarr")
      }`,
    );
  }
  return path;
}

/** `; it has: a, b` — the recorded artifacts of `format`, for an error. */
export function listing(site: ArtifactSite, format: string): string {
  const names = Object.entries(site.artifacts())
    .filter(([, a]) => a.format === format).map(([n]) => n);
  return names.length ? `; it has: ${names.join(", ")}` : "";
}

/** A full disk or a read-only vault, said with the artifact's name. */
export function writeError(id: string, e: unknown, what: string): unknown {
  return withWriteContext(
    e,
    `Cannot write ${what} of specimen "${id}"`,
  );
}

/** The error for an artifact that exists already. */
export function immutableError(
  id: string,
  name: string,
): ImmutableArtifactError {
  return new ImmutableArtifactError(
    `Artifact "${name}" of specimen "${id}" already exists: specimens are immutable: create a new specimen for a variation (deno task create --id ${id}_v2 ...)`,
  );
}

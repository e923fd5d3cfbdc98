/**
 * Specimens: the id and taxonomy rules, the artifact-name rule, the
 * manifest (and every type stored in it), creating and deriving a specimen,
 * sealing and verifying. Everything here works on one specimen folder; the
 * run records, storage and provenance that fill a manifest live in
 * `lib/run/`.
 *
 * @example
 * ```ts
 * import { createSpecimen, readManifest } from "./mod.ts";
 * const vault = await Deno.makeTempDir();
 * const { dir } = await createSpecimen({
 *   vault,
 *   id: "specimen_mod_example",
 *   domain: "training",
 *   method: "fine_tuning",
 * });
 * console.assert((await readManifest(dir)).status === "active");
 * await Deno.remove(vault, { recursive: true });
 * ```
 *
 * @module
 */
export {
  readVaultTaxonomy,
  TAXONOMY,
  type Taxonomy,
  validateTaxonomy,
  VAULT_CONFIG_FILE,
} from "./taxonomy.ts";
export {
  isReadableSpecimenId,
  isSpecimenId,
  MAX_SPECIMEN_ID_LENGTH,
  READABLE_SPECIMEN_ID_PATTERN,
  SPECIMEN_ID_PATTERN,
  validateReadableSpecimenId,
  validateSpecimenId,
} from "./id.ts";
export {
  ARTIFACT_NAME_PATTERN,
  READABLE_ARTIFACT_NAME_PATTERN,
  validateArtifactName,
} from "./artifact_name.ts";
export type {
  ArtifactRecord,
  GitState,
  Manifest,
  Provenance,
  RunRecord,
  RunStatus,
  Seal,
  SealedFile,
  SealListingRule,
} from "./manifest_types.ts";
export {
  decodeManifest,
  encodeManifest,
  MANIFEST_FILE,
  readManifest,
  validateManifest,
} from "./manifest.ts";
export {
  type CreatedSpecimen,
  createSpecimen,
  type CreateSpecimenOptions,
  deriveSpecimen,
  type DeriveSpecimenOptions,
  normalizeTags,
} from "./create.ts";
export { createSweep, type CreateSweepOptions } from "./create_sweep.ts";
export {
  checkParams,
  type CheckParamsOptions,
  nearestKey,
  type ParamProblem,
  paramProblems,
  paramType,
} from "./param_check.ts";
export {
  assertWritable,
  computeSeal,
  readSeal,
  SEAL_LISTING,
  sealableFiles,
  sealDigest,
  sealListing,
  type SealOptions,
  sealSpecimen,
  STATUS_ACTIVE,
  STATUS_FAILED,
  STATUS_INTERRUPTED,
  STATUS_RUNNING,
  STATUS_SEALED,
  UNSEALED_FILES,
} from "./seal.ts";
export {
  type SpecimenVerification,
  type VerifyProgress,
  verifySpecimen,
  type VerifyState,
  verifyVault,
  type VerifyVaultOptions,
} from "./verify.ts";
export { type Origin, ORIGIN_FILE, readOrigin } from "./origin.ts";

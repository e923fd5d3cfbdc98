/**
 * The vault's error vocabulary. Every error the library throws on purpose is a
 * {@linkcode VaultError}; each subclass names one situation a caller may want
 * to handle, and carries the exit code the command-line tasks use for it.
 *
 * @module
 */

/**
 * Base class of the vault's own errors.
 *
 * @example
 * ```ts
 * import { VaultError } from "./errors.ts";
 * const err = new VaultError("Something went wrong");
 * console.assert(err.exitCode === 1);
 * ```
 */
export class VaultError extends Error {
  /** The process exit code a task uses when this error ends it. */
  exitCode = 1;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "VaultError";
  }
}

/**
 * The caller gave a value that breaks a rule (a bad id, an unknown taxonomy
 * pair, unequal column lengths). Tasks exit with code 2.
 *
 * @example
 * ```ts
 * import { InvalidInputError } from "./errors.ts";
 * console.assert(new InvalidInputError("bad").exitCode === 2);
 * ```
 */
export class InvalidInputError extends VaultError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidInputError";
    this.exitCode = 2;
  }
}

/**
 * A specimen with that id already exists. Tasks exit with code 3.
 *
 * @example
 * ```ts
 * import { SpecimenExistsError } from "./errors.ts";
 * console.assert(new SpecimenExistsError("x").exitCode === 3);
 * ```
 */
export class SpecimenExistsError extends VaultError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SpecimenExistsError";
    this.exitCode = 3;
  }
}

/**
 * An artifact was about to be replaced: specimens are write-once. Tasks exit
 * with code 3.
 *
 * @example
 * ```ts
 * import { ImmutableArtifactError } from "./errors.ts";
 * console.assert(new ImmutableArtifactError("x").exitCode === 3);
 * ```
 */
export class ImmutableArtifactError extends VaultError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ImmutableArtifactError";
    this.exitCode = 3;
  }
}

/**
 * Something asked for does not exist (a specimen, an artifact, the catalog).
 * Tasks exit with code 4.
 *
 * @example
 * ```ts
 * import { NotFoundError } from "./errors.ts";
 * console.assert(new NotFoundError("x").exitCode === 4);
 * ```
 */
export class NotFoundError extends VaultError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotFoundError";
    this.exitCode = 4;
  }
}

/**
 * A file exists but cannot be read as what it claims to be (bad msgpack,
 * truncated Parquet, a Zarr chunk that does not decode). Tasks exit with
 * code 5.
 *
 * @example
 * ```ts
 * import { CorruptFileError } from "./errors.ts";
 * console.assert(new CorruptFileError("x").exitCode === 5);
 * ```
 */
export class CorruptFileError extends VaultError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CorruptFileError";
    this.exitCode = 5;
  }
}

/**
 * A file is valid but uses a feature this vault does not read (a Parquet
 * column type or codec, a Zarr data type or codec). The message names the
 * column or array and the feature. Tasks exit with code 6.
 *
 * @example
 * ```ts
 * import { UnsupportedFormatError } from "./errors.ts";
 * console.assert(new UnsupportedFormatError("x").exitCode === 6);
 * ```
 */
export class UnsupportedFormatError extends VaultError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnsupportedFormatError";
    this.exitCode = 6;
  }
}

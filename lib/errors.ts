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
 * A path in the vault is not a regular file inside it: a FIFO, a device, a
 * socket, a folder where a file belongs, or a symbolic link leading outside
 * the vault. Nothing is read from it. Tasks exit with code 2, like a
 * symlinked specimen folder.
 *
 * @example
 * ```ts
 * import { UnsafeFileError } from "./errors.ts";
 * console.assert(new UnsafeFileError("x").exitCode === 2);
 * ```
 */
export class UnsafeFileError extends VaultError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnsafeFileError";
    this.exitCode = 2;
  }
}

/**
 * A valid file in a format, data type or codec the vault does not read
 * (e.g. a `complex64` Zarr array, a `bz2` compressor, a nested Parquet
 * column, LZO Parquet pages). Not damage: the
 * message names what is unsupported. Tasks exit with code 6.
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

/**
 * The SQL was refused: it would write, or read a file. The dashboard
 * answers HTTP 403.
 *
 * @example
 * ```ts
 * import { QueryRefusedError, InvalidInputError } from "./errors.ts";
 * console.assert(new QueryRefusedError("x") instanceof InvalidInputError);
 * ```
 */
export class QueryRefusedError extends InvalidInputError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "QueryRefusedError";
  }
}

/**
 * DuckDB could not run the SQL (syntax, unknown column, ...). The dashboard
 * answers HTTP 400.
 *
 * @example
 * ```ts
 * import { SqlError } from "./errors.ts";
 * console.assert(new SqlError("x").name === "SqlError");
 * ```
 */
export class SqlError extends InvalidInputError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SqlError";
  }
}

/**
 * A query's result passed its size limit. The dashboard answers HTTP 413.
 *
 * @example
 * ```ts
 * import { ResultTooLargeError, InvalidInputError } from "./errors.ts";
 * console.assert(new ResultTooLargeError("x") instanceof InvalidInputError);
 * ```
 */
export class ResultTooLargeError extends InvalidInputError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ResultTooLargeError";
  }
}

/**
 * A query ran past its time limit and was interrupted. The dashboard
 * answers HTTP 503; tasks exit with code 1.
 *
 * @example
 * ```ts
 * import { QueryTimeoutError } from "./errors.ts";
 * console.assert(new QueryTimeoutError("x").exitCode === 1);
 * ```
 */
export class QueryTimeoutError extends VaultError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "QueryTimeoutError";
  }
}

/**
 * A child process run by `storage.exec` failed: it exited with a non-zero
 * code or was ended by a signal. The run is recorded as failed and not
 * sealed. Tasks exit with code 7.
 *
 * @example
 * ```ts
 * import { ChildProcessError } from "./errors.ts";
 * const e = new ChildProcessError("train.py failed", {
 *   command: ["python3", "train.py"], code: 3, signal: null,
 * });
 * console.assert(e.exitCode === 7 && e.code === 3);
 * ```
 */
export class ChildProcessError extends VaultError {
  /** The command as run, executable first. */
  readonly command: string[];
  /** The child's exit code, or null when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, e.g. `"SIGKILL"`, or null. */
  readonly signal: string | null;
  constructor(
    message: string,
    details: {
      command: string[];
      code: number | null;
      signal: string | null;
    },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ChildProcessError";
    this.exitCode = 7;
    this.command = details.command;
    this.code = details.code;
    this.signal = details.signal;
  }
}

/**
 * The specimen is busy: it is being run right now, a metrics logger is
 * writing it, or another process is changing it (a discard, a restore).
 * Nothing was changed; try again once it is done. Tasks exit with code 8.
 *
 * @example
 * ```ts
 * import { SpecimenBusyError } from "./errors.ts";
 * console.assert(new SpecimenBusyError("x").exitCode === 8);
 * ```
 */
export class SpecimenBusyError extends VaultError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SpecimenBusyError";
    this.exitCode = 8;
  }
}

/**
 * The message of `e` for an error text: an `Error`'s `message` (with
 * `stack`, its stack trace when it has one), anything else as a string.
 *
 * @param e What was thrown.
 * @param options `stack`: the stack trace instead of the message, where there is one.
 * @example
 * ```ts
 * import { errorMessage } from "./errors.ts";
 * console.assert(errorMessage(new RangeError("too big")) === "too big");
 * console.assert(errorMessage("plain") === "plain");
 * console.assert(errorMessage(new Error("x"), { stack: true }).startsWith("Error: x"));
 * ```
 */
export function errorMessage(
  e: unknown,
  options: { stack?: boolean } = {},
): string {
  if (!(e instanceof Error)) return String(e);
  return options.stack ? e.stack ?? e.message : e.message;
}

/**
 * The errors of remotes: a server that cannot be reached or answers with a
 * failure, and one that refuses the credentials. Both name the endpoint and
 * the fix; `runMain` maps them to their exit codes.
 *
 * @module
 */
import { VaultError } from "../errors.ts";

/**
 * A remote could not be reached, or answered with an error that retries did
 * not cure. Tasks exit with code 9.
 *
 * @example
 * ```ts
 * import { RemoteError } from "./errors.ts";
 * console.assert(new RemoteError("down").exitCode === 9);
 * ```
 */
export class RemoteError extends VaultError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RemoteError";
    this.exitCode = 9;
  }
}

/**
 * A remote refused the credentials (wrong key, wrong secret, no permission on
 * the bucket). Tasks exit with code 10.
 *
 * @example
 * ```ts
 * import { RemoteAccessError } from "./errors.ts";
 * console.assert(new RemoteAccessError("denied").exitCode === 10);
 * ```
 */
export class RemoteAccessError extends RemoteError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RemoteAccessError";
    this.exitCode = 10;
  }
}

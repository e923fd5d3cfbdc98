/**
 * What push, pull and status need of a remote, satisfied by an S3 bucket
 * (`_s3_store.ts`) and a folder (`_file_store.ts`): the same code path
 * drives both. Keys are relative to the remote's root and use `/`.
 *
 * @module
 */

/** One listed object. */
export interface RemoteObject {
  /** Its key, relative to the remote's root. */
  key: string;
  /** Its size in bytes. */
  size: number;
}

/** The answer of a conditional write. */
export type PutIfAbsent = "created" | "exists" | "unsupported";

/** A remote's storage. Errors are `RemoteError`s naming the endpoint. */
export interface RemoteStore {
  /** How to name the remote in messages (URL, and endpoint when not AWS). */
  readonly where: string;
  /** Checks that the remote exists and answers (bucket, credentials, folder). */
  check(): Promise<void>;
  /** Every object under `prefix`, sorted by key, after `startAfter`. */
  list(prefix: string, startAfter?: string): Promise<RemoteObject[]>;
  /** The object's bytes, or null when it does not exist. */
  get(key: string): Promise<Uint8Array | null>;
  /**
   * Streams the object into a new file at `dest`, returning its SHA-256
   * (hex) and size. Throws `Deno.errors.NotFound` when the object is gone.
   */
  download(
    key: string,
    dest: string,
  ): Promise<{ sha256: string; bytes: number }>;
  /** Uploads file `path` as `key`, recording `sha256` as object metadata. */
  upload(
    key: string,
    path: string,
    meta: { sha256: string; bytes: number },
  ): Promise<void>;
  /** Writes `bytes` as `key` (replacing it). */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Writes `bytes` as `key` only if `key` does not exist, where supported. */
  putIfAbsent(key: string, bytes: Uint8Array): Promise<PutIfAbsent>;
  /** Removes `key` (no error when absent). */
  remove(key: string): Promise<void>;
  /** Releases connections. */
  close(): void;
}

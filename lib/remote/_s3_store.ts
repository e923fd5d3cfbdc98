/**
 * A remote in an S3 bucket (AWS S3, R2, GCS's S3 interface, MinIO, Ceph,
 * Swift's s3api) through the AWS SDK v3. Credentials come from the SDK's
 * standard chain (environment, shared files, `profile`); transient failures
 * are retried by the SDK with exponential backoff (`AWS_MAX_ATTEMPTS`,
 * default 5); what retries do not cure becomes one `RemoteError` naming the
 * endpoint.
 *
 * @module
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  Upload,
} from "../_deps/aws_s3.ts";
import { createHash, NodeReadable } from "../_deps/node.ts";
import { NotFoundError } from "../errors.ts";
import { RemoteAccessError, RemoteError } from "./errors.ts";
import type { PutIfAbsent, RemoteObject, RemoteStore } from "./store.ts";

/** Files above this size go up in parts. */
export const MULTIPART_BYTES = 16 * 1024 * 1024;
const PART_BYTES = 8 * 1024 * 1024;

/** Where and how to reach a bucket. */
export interface S3StoreOptions {
  /** The remote's URL, for messages. */
  url: string;
  bucket: string;
  /** Key prefix without a trailing slash ("" for the bucket's root). */
  prefix: string;
  endpoint?: string;
  region?: string;
  profile?: string;
}

/** A {@linkcode RemoteStore} on an S3 bucket. */
export class S3Store implements RemoteStore {
  readonly where: string;
  #client: S3Client;
  #bucket: string;
  #root: string;
  #endpoint: string;

  constructor(o: S3StoreOptions) {
    this.#bucket = o.bucket;
    this.#root = o.prefix ? `${o.prefix}/` : "";
    const region = o.region ?? Deno.env.get("AWS_REGION") ??
      Deno.env.get("AWS_DEFAULT_REGION") ??
      (o.endpoint ? "us-east-1" : undefined);
    this.#endpoint = o.endpoint ??
      `AWS S3 (${region ?? "region from the AWS chain"})`;
    this.where = o.endpoint ? `${o.url} at ${o.endpoint}` : o.url;
    const attempts = Number(Deno.env.get("AWS_MAX_ATTEMPTS") ?? "5");
    const config: S3ClientConfig = {
      region,
      endpoint: o.endpoint,
      forcePathStyle: o.endpoint !== undefined,
      profile: o.profile,
      // Checksums only where an operation requires one: s3api-style servers
      // refuse aws-chunked uploads (501); our own SHA-256 is the check.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: Number.isFinite(attempts) && attempts > 0 ? attempts : 5,
      requestHandler: { connectionTimeout: 5000, requestTimeout: 120_000 },
    };
    this.#client = new S3Client(config);
  }

  check(): Promise<void> {
    // No request of its own: the first listing names a missing bucket, bad
    // credentials or an unreachable endpoint just as well, one round trip
    // sooner (a push with nothing new is that one listing).
    return Promise.resolve();
  }

  async list(prefix: string, startAfter?: string): Promise<RemoteObject[]> {
    const out: RemoteObject[] = [];
    let token: string | undefined;
    try {
      do {
        const r = await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: this.#root + prefix,
            StartAfter: token || !startAfter
              ? undefined
              : this.#root + startAfter,
            ContinuationToken: token,
          }),
        );
        for (const o of r.Contents ?? []) {
          out.push({ key: o.Key!.slice(this.#root.length), size: o.Size ?? 0 });
        }
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
    } catch (e) {
      throw this.#fail(e, "list", prefix);
    }
    return out;
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const r = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#root + key }),
      );
      return await r.Body!.transformToByteArray();
    } catch (e) {
      if (isNoSuchKey(e)) return null;
      throw this.#fail(e, "read", key);
    }
  }

  async download(key: string, dest: string) {
    const hash = createHash("sha256");
    let bytes = 0;
    try {
      const r = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#root + key }),
      );
      using out = await Deno.open(dest, { write: true, createNew: true });
      const reader = r.Body!.transformToWebStream().getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        hash.update(value);
        bytes += value.length;
        let w = 0;
        while (w < value.length) w += await out.write(value.subarray(w));
      }
    } catch (e) {
      if (isNoSuchKey(e)) throw new Deno.errors.NotFound(`${key} is missing`);
      if (e instanceof Deno.errors.AlreadyExists) throw e;
      throw this.#fail(e, "download", key);
    }
    return { sha256: hash.digest("hex") as string, bytes };
  }

  async upload(
    key: string,
    path: string,
    meta: { sha256: string; bytes: number },
  ): Promise<void> {
    const Metadata = { sha256: meta.sha256 };
    try {
      if (meta.bytes <= MULTIPART_BYTES) {
        const Body = await Deno.readFile(path);
        await this.#client.send(
          new PutObjectCommand({
            Bucket: this.#bucket,
            Key: this.#root + key,
            Body,
            ContentLength: Body.length,
            Metadata,
          }),
        );
        return;
      }
      const file = await Deno.open(path);
      try {
        await new Upload({
          client: this.#client,
          params: {
            Bucket: this.#bucket,
            Key: this.#root + key,
            Body: NodeReadable.fromWeb(file.readable as never),
            Metadata,
          },
          partSize: PART_BYTES,
          queueSize: 4,
          leavePartsOnError: false,
        }).done();
      } finally {
        try {
          file.close();
        } catch { /* closed by the stream */ }
      }
    } catch (e) {
      throw this.#fail(e, "upload", key);
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: this.#root + key,
          Body: bytes,
          ContentLength: bytes.length,
        }),
      );
    } catch (e) {
      throw this.#fail(e, "write", key);
    }
  }

  async putIfAbsent(key: string, bytes: Uint8Array): Promise<PutIfAbsent> {
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: this.#root + key,
          Body: bytes,
          ContentLength: bytes.length,
          IfNoneMatch: "*",
        }),
      );
      return "created";
    } catch (e) {
      const status = statusOf(e);
      if (status === 412 || status === 409) return "exists";
      if (status === 501 || (e as Error).name === "NotImplemented") {
        return "unsupported";
      }
      throw this.#fail(e, "write", key);
    }
  }

  async remove(key: string): Promise<void> {
    try {
      await this.#client.send(
        new DeleteObjectCommand({
          Bucket: this.#bucket,
          Key: this.#root + key,
        }),
      );
    } catch (e) {
      if (!isNoSuchKey(e)) throw this.#fail(e, "delete", key);
    }
  }

  close(): void {
    this.#client.destroy();
  }

  /** One clear error for `e`, naming the endpoint and the fix. */
  #fail(e: unknown, action: string, key: string): Error {
    if (e instanceof RemoteError || e instanceof NotFoundError) return e;
    const err = e as Error & { code?: string; Code?: string };
    const name = err.name ?? "";
    const status = statusOf(e);
    const what = key ? ` ${JSON.stringify(this.#root + key)}` : "";
    const at = `${this.#endpoint}, bucket "${this.#bucket}"`;
    if (
      name === "NoSuchBucket"
    ) {
      return new NotFoundError(
        `Bucket "${this.#bucket}" does not exist at ${this.#endpoint}: create it (aws s3 mb s3://${this.#bucket}) or fix the remote's URL and --endpoint (deno task remote list)`,
        { cause: e },
      );
    }
    if (
      status === 401 || status === 403 ||
      /InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|Forbidden|CredentialsProviderError|ExpiredToken/
        .test(name) ||
      /Could not load credentials/.test(err.message ?? "")
    ) {
      return new RemoteAccessError(
        `Access denied by ${at} (${
          name || status
        }) to ${action}${what}: check the credentials the AWS chain finds (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the remote's --profile, ~/.aws/credentials) and the bucket's permissions`,
        { cause: e },
      );
    }
    if (/Region is missing/i.test(err.message ?? "")) {
      return new RemoteError(
        `No region for ${this.where}: set AWS_REGION, or deno task remote add NAME URL --region R`,
        { cause: e },
      );
    }
    const code = err.code ?? (err.cause as { code?: string } | undefined)?.code;
    if (
      status === undefined &&
      (code ||
        /ECONN|ENOTFOUND|EAI_AGAIN|socket|timeout|TimeoutError|network/i.test(
          `${name} ${err.message}`,
        ))
    ) {
      return new RemoteError(
        `Cannot reach ${this.#endpoint} to ${action}${what} (${
          code ?? name
        }: ${err.message}), after retries with backoff: check that the server is up and the remote's endpoint is right (deno task remote list); rerun to resume`,
        { cause: e },
      );
    }
    return new RemoteError(
      `${at} answered ${
        status ?? ""
      } ${name} to ${action}${what}: ${err.message}. Rerun to resume; if it persists, check the server`,
      { cause: e },
    );
  }
}

function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata
    ?.httpStatusCode;
}

function isNoSuchKey(e: unknown): boolean {
  const name = (e as Error)?.name;
  return name === "NoSuchKey" || name === "NotFound" && statusOf(e) === 404;
}

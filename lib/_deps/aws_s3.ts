/**
 * The AWS SDK for JavaScript v3 S3 client and its multipart upload helper,
 * named once (pinned; see deno.lock). Credentials come from the SDK's
 * standard chain: environment, shared config and credentials files,
 * profiles, SSO, instance metadata.
 *
 * @module
 */
export {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "npm:@aws-sdk/client-s3@3.1178.0";
export type { S3ClientConfig } from "npm:@aws-sdk/client-s3@3.1178.0";
export { Upload } from "npm:@aws-sdk/lib-storage@3.1178.0";

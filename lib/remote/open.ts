/**
 * Opening a remote's store from its config: the one place that picks the
 * S3 or folder implementation.
 *
 * @module
 */
import { parseRemoteUrl, type RemoteConfig } from "./config.ts";
import type { RemoteStore } from "./store.ts";
import { FileStore } from "./_file_store.ts";

/**
 * The store of `remote`. The S3 client is loaded only for `s3://` remotes.
 *
 * @example
 * ```ts
 * import { openStore } from "./open.ts";
 * const dir = await Deno.makeTempDir();
 * const store = await openStore({ url: `file://${dir}` });
 * await store.put("log/x.json", new TextEncoder().encode("{}"));
 * console.assert((await store.list("log/")).length === 1);
 * store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openStore(remote: RemoteConfig): Promise<RemoteStore> {
  const loc = parseRemoteUrl(remote.url);
  if (loc.kind === "file") return new FileStore(loc.path, remote.url);
  const { S3Store } = await import("./_s3_store.ts");
  return new S3Store({
    url: remote.url,
    bucket: loc.bucket,
    prefix: loc.prefix,
    endpoint: remote.endpoint,
    region: remote.region,
    profile: remote.profile,
  });
}

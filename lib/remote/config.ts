/**
 * The vault's remotes, kept under the `remotes` key of `vault.config.json`
 * at the vault root (other keys of that file are kept as they are). A
 * remote is a name, a URL (`s3://bucket/prefix` or `file:///path`) and, for
 * S3, an optional endpoint, region and AWS profile. Never credentials: those
 * come from the AWS SDK's standard chain.
 *
 * @module
 */
import { fromFileUrl, join } from "../_deps/node.ts";
import { atomicWriteFile } from "../_fs.ts";
import {
  CorruptFileError,
  InvalidInputError,
  NotFoundError,
} from "../errors.ts";

/** The vault's config file, at its root. */
export const CONFIG_FILE = "vault.config.json";

/** One remote as stored. */
export interface RemoteConfig {
  /** `s3://bucket/prefix` or `file:///path`. */
  url: string;
  /** An S3-compatible endpoint (`https://…`); absent for AWS S3. */
  endpoint?: string;
  /** The region; absent: the AWS chain's (`AWS_REGION`, the profile's). */
  region?: string;
  /** The AWS profile to take credentials and settings from. */
  profile?: string;
}

/** A remote with its name. */
export interface NamedRemote extends RemoteConfig {
  /** The remote's name. */
  name: string;
}

/** Where a remote URL points. */
export type RemoteLocation =
  | { kind: "s3"; bucket: string; prefix: string }
  | { kind: "file"; path: string };

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * Parses a remote URL. Throws {@linkcode InvalidInputError} for anything but
 * `s3://bucket[/prefix]` and `file:///absolute/path`.
 *
 * @example
 * ```ts
 * import { parseRemoteUrl } from "./config.ts";
 * const loc = parseRemoteUrl("s3://lab-results/vault/");
 * console.assert(loc.kind === "s3" && loc.bucket === "lab-results" && loc.prefix === "vault");
 * ```
 */
export function parseRemoteUrl(url: string): RemoteLocation {
  const s3 = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (s3) {
    const bucket = s3[1];
    if (!/^[a-z0-9][a-z0-9.\-_]{1,253}[a-z0-9]$/.test(bucket)) {
      throw new InvalidInputError(
        `Invalid remote URL ${JSON.stringify(url)}: bucket ${
          JSON.stringify(bucket)
        } is not a valid bucket name (3-255 of a-z, 0-9, ".", "-", "_")`,
      );
    }
    const prefix = (s3[2] ?? "").replace(/^\/+|\/+$/g, "");
    if (prefix.split("/").some((p) => p === ".." || p === ".")) {
      throw new InvalidInputError(
        `Invalid remote URL ${
          JSON.stringify(url)
        }: "." and ".." are not allowed in the prefix`,
      );
    }
    return { kind: "s3", bucket, prefix };
  }
  if (url.startsWith("file://")) {
    let path: string;
    try {
      path = fromFileUrl(url);
    } catch (e) {
      throw new InvalidInputError(
        `Invalid remote URL ${JSON.stringify(url)}: ${
          (e as Error).message
        }; write file:///absolute/path`,
      );
    }
    return { kind: "file", path: path.replace(/\/+$/, "") || "/" };
  }
  throw new InvalidInputError(
    `Invalid remote URL ${
      JSON.stringify(url)
    }: use s3://bucket/prefix (object storage) or file:///absolute/path (a shared file system)`,
  );
}

/** Throws {@linkcode InvalidInputError} unless `name` is a valid remote name. */
export function validateRemoteName(name: string): void {
  if (!NAME.test(name)) {
    throw new InvalidInputError(
      `Invalid remote name ${
        JSON.stringify(name)
      }: use 1-63 of a-z, 0-9, "_" and "-", starting with a letter or digit (e.g. origin)`,
    );
  }
}

/** Reads `vault.config.json` whole (`{}` when there is none). */
async function readConfigFile(root: string): Promise<Record<string, unknown>> {
  const path = join(root, CONFIG_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    throw e;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new CorruptFileError(
      `${path} is not valid JSON (${(e as Error).message}): fix it by hand`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CorruptFileError(
      `${path} must hold a JSON object: fix it by hand`,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * The remotes of the vault at `root`, by name, in the file's order.
 *
 * Needs `--allow-read` on the vault root.
 *
 * @example
 * ```ts
 * import { readRemotes } from "./config.ts";
 * const dir = await Deno.makeTempDir();
 * console.assert((await readRemotes(dir)).length === 0);
 * await Deno.remove(dir);
 * ```
 */
export async function readRemotes(root: string): Promise<NamedRemote[]> {
  const remotes = (await readConfigFile(root)).remotes ?? {};
  if (
    typeof remotes !== "object" || remotes === null || Array.isArray(remotes)
  ) {
    throw new CorruptFileError(
      `"remotes" in ${
        join(root, CONFIG_FILE)
      } must be an object of name → {url, …}: fix it by hand`,
    );
  }
  return Object.entries(remotes as Record<string, RemoteConfig>).map((
    [name, r],
  ) => {
    if (typeof r?.url !== "string") {
      throw new CorruptFileError(
        `Remote ${JSON.stringify(name)} in ${
          join(root, CONFIG_FILE)
        } has no "url": fix it, or deno task remote remove ${name}`,
      );
    }
    return { name, ...r };
  });
}

/**
 * The remote `name` of the vault at `root`, or its only remote when `name`
 * is undefined. Throws {@linkcode NotFoundError} naming the remotes there are.
 */
export async function findRemote(
  root: string,
  name?: string,
): Promise<NamedRemote> {
  const all = await readRemotes(root);
  if (name === undefined) {
    const origin = all.find((r) => r.name === "origin");
    if (all.length === 1 || origin) return origin ?? all[0];
    throw new NotFoundError(
      all.length === 0
        ? `This vault has no remote: add one with deno task remote add origin s3://bucket/prefix [--endpoint URL]`
        : `This vault has ${all.length} remotes (${
          all.map((r) => r.name).join(", ")
        }) and none is called origin: name one`,
    );
  }
  const found = all.find((r) => r.name === name);
  if (!found) {
    throw new NotFoundError(
      `No remote ${JSON.stringify(name)} in ${join(root, CONFIG_FILE)}${
        all.length ? ` (there are: ${all.map((r) => r.name).join(", ")})` : ""
      }: add it with deno task remote add ${name} URL`,
    );
  }
  return found;
}

/**
 * Adds (or with `replace`, replaces) remote `remote.name` in the vault at
 * `root`, keeping every other key of `vault.config.json`. Validates the
 * name, the URL and the endpoint.
 *
 * Needs `--allow-read` and `--allow-write` on the vault root.
 *
 * @example
 * ```ts
 * import { addRemote, readRemotes } from "./config.ts";
 * const dir = await Deno.makeTempDir();
 * await addRemote(dir, { name: "origin", url: "file:///srv/team-vault" });
 * console.assert((await readRemotes(dir))[0].url === "file:///srv/team-vault");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function addRemote(
  root: string,
  remote: NamedRemote,
  options: { replace?: boolean } = {},
): Promise<void> {
  validateRemoteName(remote.name);
  const loc = parseRemoteUrl(remote.url);
  if (
    loc.kind === "file" && (remote.endpoint || remote.region || remote.profile)
  ) {
    throw new InvalidInputError(
      `Remote ${
        JSON.stringify(remote.url)
      } is a folder: --endpoint, --region and --profile are for s3:// remotes only`,
    );
  }
  if (remote.endpoint !== undefined) {
    let u: URL | null = null;
    try {
      u = new URL(remote.endpoint);
    } catch { /* below */ }
    if (!u || !/^https?:$/.test(u.protocol)) {
      throw new InvalidInputError(
        `Invalid --endpoint ${
          JSON.stringify(remote.endpoint)
        }: expected an http(s) URL such as https://s3.example.org or http://127.0.0.1:9000`,
      );
    }
  }
  const config = await readConfigFile(root);
  const remotes = { ...(config.remotes as Record<string, RemoteConfig> ?? {}) };
  if (remotes[remote.name] && !options.replace) {
    throw new InvalidInputError(
      `Remote ${JSON.stringify(remote.name)} exists (${
        remotes[remote.name].url
      }): remove it first (deno task remote remove ${remote.name}) or pick another name`,
    );
  }
  const { name, ...stored } = remote;
  for (const k of ["endpoint", "region", "profile"] as const) {
    if (stored[k] === undefined) delete stored[k];
  }
  remotes[name] = stored;
  config.remotes = remotes;
  await atomicWriteFile(
    join(root, CONFIG_FILE),
    new TextEncoder().encode(JSON.stringify(config, null, 2) + "\n"),
  );
}

/**
 * Removes remote `name` from the vault at `root` (and its local cache of
 * the remote's log). Throws {@linkcode NotFoundError} when there is none.
 */
export async function removeRemote(root: string, name: string): Promise<void> {
  const config = await readConfigFile(root);
  const remotes = { ...(config.remotes as Record<string, RemoteConfig> ?? {}) };
  if (!remotes[name]) await findRemote(root, name);
  delete remotes[name];
  config.remotes = remotes;
  await atomicWriteFile(
    join(root, CONFIG_FILE),
    new TextEncoder().encode(JSON.stringify(config, null, 2) + "\n"),
  );
}

/**
 * `pullSpecimens`: specimens down from a remote. Each is downloaded into a
 * hidden temp folder in `specimens/`, every file checked against the seal
 * as it arrives (and the manifest and notes against the push log), then
 * renamed into place and named in the change journal, so the next
 * `deno task index` reads only what arrived. A specimen whose files do not
 * match is refused with the file named; the others continue. A local
 * specimen of that id with other content is a conflict: the local one is
 * kept. Where it came from goes to `specimens/<id>/origin.json`, outside the
 * seal.
 *
 * @module
 */
import { dirname, join, randomBytes } from "../_deps/node.ts";
import { removeStaleTemps } from "../_fs.ts";
import { InvalidInputError } from "../errors.ts";
import { decodeManifest, MANIFEST_FILE } from "../specimen/manifest.ts";
import { readSeal, sealDigest } from "../specimen/seal.ts";
import { isReadableSpecimenId } from "../specimen/id.ts";
import { recordChange } from "../vault_changes.ts";
import { vaultPaths } from "../vault.ts";
import type { NamedRemote } from "./config.ts";
import { contentKey } from "./layout.ts";
import { openStore } from "./open.ts";
import type { RemoteStore } from "./store.ts";
import type { TransferProgress } from "./push.ts";
import { claimedDigest } from "./_claims.ts";
import { limiter } from "./_limit.ts";
import { localIds, readLocal } from "./_local.ts";
import {
  loadState,
  type RemoteEntry,
  saveState,
  STATE_DIR,
  syncLog,
} from "./_state.ts";
import { type Origin, ORIGIN_FILE } from "../specimen/origin.ts";

/** Options for {@linkcode pullSpecimens}. */
export interface PullOptions {
  /** The vault root. */
  vault: string;
  /** The remote to pull from. */
  remote: NamedRemote;
  /** Ids to pull. */
  ids?: string[];
  /** Pull every specimen the remote holds (after `prefix` and `tag`). */
  all?: boolean;
  /** Only ids starting with this. */
  prefix?: string;
  /** Only specimens with this tag. */
  tag?: string;
  /** Downloads at once. @default 16 */
  concurrency?: number;
  /** Called after each file. */
  onProgress?: (p: TransferProgress) => void;
}

/** What happened to one specimen. */
export interface PulledSpecimen {
  /** The specimen id. */
  id: string;
  /** `pulled`, `present` (same content here), `conflict` (other content here, kept), `refused` (failed its check), `missing` (not on the remote), `failed`. */
  state: "pulled" | "present" | "conflict" | "refused" | "missing" | "failed";
  /** The remote's seal digest for this id. */
  digest?: string;
  /** The local seal digest, on a conflict (absent: not sealed here). */
  localDigest?: string;
  /** Sealed files pulled. */
  files?: number;
  /** Sealed bytes pulled. */
  bytes?: number;
  /** The offending file, when refused. */
  file?: string;
  /** Why refused, in conflict, missing or failed. */
  reason?: string;
  /** Other contents the remote's log names for this id (a push race). */
  remoteConflict?: string[];
}

/**
 * Pulls specimens from `remote` into the vault. Needs one of `ids`, `all`,
 * `prefix` or `tag` ({@linkcode InvalidInputError} otherwise).
 *
 * Needs `--allow-read` and `--allow-write` on the vault, `--allow-net` to the
 * endpoint and `--allow-env` for the AWS chain.
 *
 * @example
 * ```ts ignore
 * import { pullSpecimens } from "./pull.ts";
 * const r = await pullSpecimens({ vault: ".", remote: { name: "origin", url: "file:///srv/vault" }, all: true });
 * console.log(r.filter((s) => s.state === "refused"));
 * ```
 */
export async function pullSpecimens(
  options: PullOptions,
): Promise<PulledSpecimen[]> {
  const { remote } = options;
  if (!options.ids?.length && !options.all && !options.prefix && !options.tag) {
    throw new InvalidInputError(
      "Nothing to pull: name specimen ids, or pass --all, --prefix P or --tag T",
    );
  }
  for (const id of options.ids ?? []) {
    if (!isReadableSpecimenId(id)) {
      throw new InvalidInputError(`Invalid specimen id ${JSON.stringify(id)}`);
    }
  }
  const paths = vaultPaths(options.vault);
  await Deno.mkdir(paths.specimens, { recursive: true });
  const store = await openStore(remote);
  try {
    await store.check();
    const state = await loadState(paths.root, remote.name, remote.url);
    await syncLog(store, state);
    const results: PulledSpecimen[] = [];
    const wanted = options.ids?.length
      ? options.ids
      : Object.keys(state.remote).sort();
    const local = new Set(await localIds(paths.specimens));
    const todo: RemoteEntry[] = [];
    for (const id of wanted) {
      const entry = state.remote[id];
      if (!entry) {
        results.push({ id, state: "missing", reason: `not on ${store.where}` });
        continue;
      }
      if (options.prefix && !id.startsWith(options.prefix)) continue;
      if (options.tag && !entry.tags?.includes(options.tag)) continue;
      if (!local.has(id)) {
        todo.push(entry);
        continue;
      }
      if (state.synced[id] === entry.digest && !entry.others) {
        results.push({ id, state: "present", digest: entry.digest });
        continue;
      }
      const mine = await readLocal(paths.specimens, id);
      const localDigest = mine.sealed ? mine.seal.digest : undefined;
      if (localDigest === entry.digest) {
        state.synced[id] = entry.digest;
        results.push({ id, state: "present", digest: entry.digest });
      } else {
        results.push({
          id,
          state: "conflict",
          digest: entry.digest,
          localDigest,
          reason: `a local "${id}" holds other content (${
            localDigest
              ? `seal ${localDigest}`
              : mine.sealed
              ? ""
              : `not sealed: ${mine.reason}`
          }) than the remote's (seal ${entry.digest}): kept the local one; pull into another vault (deno task clone) to compare`,
        });
      }
    }
    if (todo.length) {
      // One pull at a time per vault: then every pull temp but ours is
      // stale (a pull killed midway), with no need to ask /proc.
      await Deno.mkdir(join(paths.root, STATE_DIR), { recursive: true });
      using lock = await Deno.open(join(paths.root, STATE_DIR, "pull.lock"), {
        write: true,
        create: true,
      });
      await lock.lock(true);
      await removeStaleTemps(paths.specimens, PULL_TEMP, { exclusive: true });
      const requests = limiter(options.concurrency ?? 16);
      const specimens = limiter(Math.max(4, options.concurrency ?? 16));
      const progress = {
        specimensDone: 0,
        specimensTotal: todo.length,
        files: 0,
        bytes: 0,
      };
      const pulled = await Promise.all(
        todo.map((entry) =>
          specimens(async () => {
            const r = await pullOne(store, entry, {
              specimens: paths.specimens,
              remote,
              requests,
              onFile: (bytes) => {
                progress.files++;
                progress.bytes += bytes;
                options.onProgress?.(progress);
              },
            }).catch((e): PulledSpecimen => {
              const name = (e as Error)?.name;
              if (name === "RemoteError" || name === "RemoteAccessError") {
                throw e;
              }
              return {
                id: entry.id,
                state: "failed",
                reason: (e as Error).message,
              };
            });
            if (r.state === "pulled") state.synced[r.id] = r.digest!;
            progress.specimensDone++;
            options.onProgress?.(progress);
            return r;
          })
        ),
      );
      results.push(...pulled);
    }
    await saveState(paths.root, remote.name, state);
    return results.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  } finally {
    store.close();
  }
}

/** The prefix of a pull's temp folders in `specimens/`. */
const PULL_TEMP = ".tmp-pull-";

class Refused extends Error {
  constructor(readonly file: string, message: string) {
    super(message);
  }
}

async function pullOne(
  store: RemoteStore,
  logged: RemoteEntry,
  o: {
    specimens: string;
    remote: NamedRemote;
    requests: <T>(t: () => Promise<T>) => Promise<T>;
    onFile: (bytes: number) => void;
  },
): Promise<PulledSpecimen> {
  let entry: RemoteEntry = logged;
  let remoteConflict: string[] | undefined;
  if (logged.others) {
    // Two contents logged for one id: the claims decide.
    const c = await o.requests(() => claimedDigest(store, logged.id));
    if (c) entry = { ...c.winner, others: undefined };
    remoteConflict = [
      ...new Set([logged.digest, ...logged.others, ...(c?.digests ?? [])]),
    ]
      .filter((d) => d !== entry.digest);
  }
  const { id, digest } = entry;
  const dest = join(o.specimens, id);
  const tmp = join(
    o.specimens,
    `${PULL_TEMP}${id}-${Deno.pid}-${randomBytes(4).toString("hex")}`,
  );
  await Deno.mkdir(tmp);
  try {
    const fetch1 = async (path: string, sha256: string, bytes?: number) => {
      const target = join(tmp, path);
      await Deno.mkdir(dirname(target), { recursive: true });
      let got;
      try {
        got = await o.requests(() =>
          store.download(contentKey(id, digest, path), target)
        );
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) {
          throw new Refused(path, `${path} is missing on the remote`);
        }
        throw e;
      }
      if (
        got.sha256 !== sha256 || (bytes !== undefined && got.bytes !== bytes)
      ) {
        throw new Refused(
          path,
          `${path} does not match its seal (sha256 ${
            got.sha256.slice(0, 12)
          }…, ${got.bytes} bytes; sealed ${sha256.slice(0, 12)}…${
            bytes !== undefined ? `, ${bytes} bytes` : ""
          }): the remote copy is corrupt or was tampered with`,
        );
      }
      o.onFile(got.bytes);
    };
    await fetch1(MANIFEST_FILE, entry.manifest_sha256);
    const manifest = decodeManifest(
      await Deno.readFile(join(tmp, MANIFEST_FILE)),
      `${MANIFEST_FILE} of "${id}" on the remote`,
      id,
    );
    const seal = readSeal(manifest);
    if (
      !seal || sealDigest(seal.files, seal.listing ?? "sha256sum") !== digest
    ) {
      throw new Refused(
        MANIFEST_FILE,
        `${MANIFEST_FILE}'s seal does not have digest ${digest.slice(0, 12)}…`,
      );
    }
    await Promise.all(
      Object.entries(seal.files).map(([p, f]) => fetch1(p, f.sha256, f.bytes)),
    );
    if (entry.notes_sha256) await fetch1("field_notes.md", entry.notes_sha256);
    const origin: Origin = {
      remote: o.remote.name,
      url: o.remote.url,
      ...(o.remote.endpoint ? { endpoint: o.remote.endpoint } : {}),
      digest,
      pushed_at: entry.pushed_at,
      pulled_at: new Date().toISOString(),
    };
    await Deno.writeTextFile(
      join(tmp, ORIGIN_FILE),
      JSON.stringify(origin, null, 2) + "\n",
    );
    try {
      await Deno.rename(tmp, dest);
    } catch (e) {
      if (
        e instanceof Deno.errors.AlreadyExists ||
        /not empty|ENOTEMPTY|EEXIST/i.test(String(e))
      ) {
        await Deno.remove(tmp, { recursive: true });
        return {
          id,
          state: "conflict",
          digest,
          reason: `a local "${id}" appeared while pulling: kept the local one`,
        };
      }
      throw e;
    }
    recordChange(dest);
    return {
      id,
      state: "pulled",
      digest,
      files: seal.file_count,
      bytes: seal.bytes,
      ...(remoteConflict?.length ? { remoteConflict } : {}),
    };
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (e instanceof Refused) {
      return { id, state: "refused", digest, file: e.file, reason: e.message };
    }
    if ((e as Error)?.name === "CorruptFileError") {
      return {
        id,
        state: "refused",
        digest,
        file: MANIFEST_FILE,
        reason: (e as Error).message,
      };
    }
    throw e;
  }
}

/**
 * `pushSpecimens`: sealed specimens up to a remote. Every file goes up under
 * `specimens/<id>/<seal digest>/` with its SHA-256 from the seal as object
 * metadata, the manifest last, then the claim that makes the specimen
 * visible, then one log entry for the whole push. Idempotent (what the
 * remote holds is skipped by the log cache, without listing it) and
 * resumable (a push killed midway lists only its unfinished specimens'
 * folders and sends what is missing).
 *
 * @module
 */
import { createHash, join } from "../_deps/node.ts";
import { NotFoundError } from "../errors.ts";
import { contentKey, logKey } from "./layout.ts";
import type { NamedRemote } from "./config.ts";
import { openStore } from "./open.ts";
import type { RemoteStore } from "./store.ts";
import { claim } from "./_claims.ts";
import { limiter } from "./_limit.ts";
import { localIds, type LocalSpecimen, readLocal } from "./_local.ts";
import {
  loadState,
  type LoggedSpecimen,
  mergeEntry,
  noteRead,
  type RemoteState,
  saveState,
  syncLog,
} from "./_state.ts";
import { MANIFEST_FILE } from "../specimen/manifest.ts";
import { vaultPaths } from "../vault.ts";

/** Options for {@linkcode pushSpecimens}. */
export interface PushOptions {
  /** The vault root. */
  vault: string;
  /** The remote to push to. */
  remote: NamedRemote;
  /** Specimen ids to push. @default every specimen of the vault */
  ids?: string[];
  /** Uploads at once. @default 16 */
  concurrency?: number;
  /** Called after each file with running totals. */
  onProgress?: (p: TransferProgress) => void;
}

/** Running totals of a push or pull. */
export interface TransferProgress {
  /** Specimens finished (whatever the outcome). */
  specimensDone: number;
  /** Specimens to transfer. */
  specimensTotal: number;
  /** Files transferred so far. */
  files: number;
  /** Bytes transferred so far. */
  bytes: number;
}

/** What happened to one specimen. */
export interface PushedSpecimen {
  /** The specimen id. */
  id: string;
  /** `pushed`, `present` (the remote had it), `skipped` (not sealed), `conflict`, `failed`. */
  state: "pushed" | "present" | "skipped" | "conflict" | "failed";
  /** The local seal digest. */
  digest?: string;
  /** The digest the remote holds for this id, on a conflict. */
  remoteDigest?: string;
  /** Sealed files pushed. */
  files?: number;
  /** Sealed bytes pushed. */
  bytes?: number;
  /** Why skipped or failed. */
  reason?: string;
}

/**
 * Pushes the vault's sealed specimens (or `ids`) to `remote`. Specimens that
 * are not sealed are reported `skipped` with the reason; an id the remote
 * holds with other content is a `conflict` naming both digests; a failure
 * of one specimen does not stop the others. Remote errors that concern the
 * whole remote (unreachable, denied, no bucket) are thrown.
 *
 * Needs `--allow-read` and `--allow-write` on the vault, `--allow-net` to the
 * endpoint and `--allow-env` (and read of `~/.aws`) for the AWS chain.
 *
 * @example
 * ```ts ignore
 * import { pushSpecimens } from "./push.ts";
 * const r = await pushSpecimens({ vault: ".", remote: { name: "origin", url: "file:///srv/vault" } });
 * console.log(r.filter((s) => s.state === "pushed").length);
 * ```
 */
export async function pushSpecimens(
  options: PushOptions,
): Promise<PushedSpecimen[]> {
  const paths = vaultPaths(options.vault);
  const { remote } = options;
  const all = await localIds(paths.specimens);
  const ids = options.ids ?? all;
  const here = new Set(all);
  const unknown = ids.filter((id) => !here.has(id));
  if (unknown.length) {
    throw new NotFoundError(
      `No specimen ${
        unknown.map((u) => JSON.stringify(u)).join(", ")
      } in ${paths.specimens}: check the id (ls ${paths.specimens})`,
    );
  }
  const store = await openStore(remote);
  try {
    await store.check();
    const state = await loadState(paths.root, remote.name, remote.url);
    await syncLog(store, state);
    const results: PushedSpecimen[] = [];
    const todo: Extract<LocalSpecimen, { sealed: true }>[] = [];
    for (const id of ids) {
      const known = state.remote[id];
      if (known && state.synced[id] === known.digest && !known.others) {
        results.push({ id, state: "present", digest: known.digest });
        continue;
      }
      const local = await readLocal(paths.specimens, id);
      if (!local.sealed) {
        results.push({ id, state: "skipped", reason: local.reason });
      } else if (known && known.digest !== local.seal.digest) {
        results.push(conflict(id, local.seal.digest, known.digest));
      } else if (known) {
        state.synced[id] = known.digest;
        results.push({ id, state: "present", digest: known.digest });
      } else {
        todo.push(local);
      }
    }
    if (todo.length === 0) {
      await saveState(paths.root, remote.name, state);
      return results;
    }
    const resume = new Set(state.inflight);
    state.inflight = [
      ...resume,
      ...todo.map((l) => `${l.id}/${l.seal.digest}`),
    ];
    await saveState(paths.root, remote.name, state);
    const requests = limiter(options.concurrency ?? 16);
    const specimens = limiter(Math.max(4, options.concurrency ?? 16));
    const progress = {
      specimensDone: 0,
      specimensTotal: todo.length,
      files: 0,
      bytes: 0,
    };
    const logged: LoggedSpecimen[] = [];
    const pushed = await Promise.all(todo.map((local) =>
      specimens(async () => {
        const r = await pushOne(store, local, state, {
          requests,
          resume: resume.has(`${local.id}/${local.seal.digest}`),
          onFile: (bytes) => {
            progress.files++;
            progress.bytes += bytes;
            options.onProgress?.(progress);
          },
        }).catch((e): Outcome => {
          if (isWholeRemote(e)) throw e;
          const reason = (e as Error).message;
          return { result: { id: local.id, state: "failed", reason } };
        });
        progress.specimensDone++;
        options.onProgress?.(progress);
        if (r.logged) logged.push(r.logged);
        return r.result;
      })
    ));
    results.push(...pushed);
    if (logged.length) {
      const now = new Date();
      const key = logKey(now);
      const entry = {
        pushed_at: now.toISOString(),
        host: hostname(),
        specimens: logged,
      };
      await store.put(key, new TextEncoder().encode(JSON.stringify(entry)));
      for (const s of logged) {
        mergeEntry(state, s, entry.pushed_at);
        state.synced[s.id] = s.digest;
      }
      noteRead(state, [key]);
    }
    const done = new Set(
      pushed.filter((p) => p.state !== "failed").map((p) =>
        `${p.id}/${p.digest}`
      ),
    );
    state.inflight = state.inflight.filter((k) => !done.has(k));
    await saveState(paths.root, remote.name, state);
    return results.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  } finally {
    store.close();
  }
}

function conflict(
  id: string,
  digest: string,
  remoteDigest: string,
): PushedSpecimen {
  return {
    id,
    state: "conflict",
    digest,
    remoteDigest,
    reason:
      `the remote holds "${id}" with other content (remote seal ${remoteDigest}, yours ${digest}): specimens are immutable, so push yours under a new id (deno task create --id ${id}_v2 --from ${id}, or rename the folder) or pull theirs elsewhere`,
  };
}

/** Errors about the remote as a whole stop the push; others stop one specimen. */
function isWholeRemote(e: unknown): boolean {
  const name = (e as Error)?.name;
  return name === "RemoteError" || name === "RemoteAccessError" ||
    name === "NotFoundError";
}

/** One specimen's result, and its log line when it went up. */
interface Outcome {
  result: PushedSpecimen;
  logged?: LoggedSpecimen;
}

async function pushOne(
  store: RemoteStore,
  local: Extract<LocalSpecimen, { sealed: true }>,
  state: RemoteState,
  o: {
    requests: <T>(t: () => Promise<T>) => Promise<T>;
    resume: boolean;
    onFile: (bytes: number) => void;
  },
): Promise<Outcome> {
  const { id, dir, seal } = local;
  const digest = seal.digest;
  const present = new Map<string, number>();
  if (o.resume) {
    for (
      const obj of await o.requests(() => store.list(contentKey(id, digest)))
    ) {
      present.set(obj.key, obj.size);
    }
  }
  const send = async (path: string, sha256: string | null, bytes: number) => {
    const key = contentKey(id, digest, path);
    if (present.get(key) === bytes) return sha256;
    const file = join(dir, path);
    const sum = sha256 ?? await sha256Of(file);
    if (sha256 !== null && bytes <= 64 * 1024 * 1024) {
      // The seal's hash goes up as metadata: prove the file still has it.
      const now = await sha256Of(file);
      if (now !== sha256) {
        throw new Error(
          `${file} no longer matches its seal (sha256 ${
            now.slice(0, 12)
          }…, sealed ${
            sha256.slice(0, 12)
          }…): run deno task verify ${id}; a changed sealed specimen is not pushed`,
        );
      }
    }
    await o.requests(() => store.upload(key, file, { sha256: sum, bytes }));
    o.onFile(bytes);
    return sum;
  };
  const paths = Object.keys(seal.files).sort();
  await Promise.all(
    paths.map((p) => send(p, seal.files[p].sha256, seal.files[p].bytes)),
  );
  let notes: string | null = null;
  try {
    const size = (await Deno.stat(join(dir, "field_notes.md"))).size;
    notes = await send("field_notes.md", null, size);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const manifestSize = (await Deno.stat(join(dir, MANIFEST_FILE))).size;
  const manifestSha = await send(MANIFEST_FILE, null, manifestSize);
  const logged: LoggedSpecimen = {
    id,
    digest,
    manifest_sha256: manifestSha!,
    notes_sha256: notes,
    tags: local.manifest.tags ?? [],
    files: paths.length,
    bytes: seal.bytes,
  };
  const now = new Date();
  const decided = await o.requests(() =>
    claim(
      store,
      { ...logged, pushed_at: now.toISOString(), host: hostname() },
      state.conditional,
      now,
    )
  );
  state.conditional = decided.conditional;
  if (decided.winner !== digest) {
    return { result: conflict(id, digest, decided.winner) };
  }
  return {
    result: {
      id,
      state: "pushed",
      digest,
      files: paths.length,
      bytes: seal.bytes,
    },
    logged,
  };
}

/** This machine's name, for the log (empty without `--allow-sys`). */
export function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "";
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  const f = await Deno.open(path);
  for await (const chunk of f.readable) hash.update(chunk); // closes f
  return hash.digest("hex") as string;
}

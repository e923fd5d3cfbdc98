/**
 * `remoteStatus`: how a vault and a remote differ, from the remote's log
 * (read incrementally through the local cache) and the local seals.
 *
 * @module
 */
import { vaultPaths } from "../vault.ts";
import type { NamedRemote } from "./config.ts";
import { openStore } from "./open.ts";
import { localIds, readLocal } from "./_local.ts";
import { loadState, saveState, syncLog } from "./_state.ts";

/** What {@linkcode remoteStatus} counts. */
export interface RemoteStatus {
  /** The remote's name. */
  remote: string;
  /** Its URL. */
  url: string;
  /** Sealed here, not on the remote. */
  toPush: string[];
  /** On the remote, not here. */
  toPull: string[];
  /** Here and there with other content (or logged twice with other content there). */
  conflicts: string[];
  /** Here and there, the same. */
  same: number;
  /** Here, not sealed (never pushed). */
  unsealed: number;
  /** Specimens the remote holds. */
  remoteCount: number;
}

/**
 * Compares the vault with `remote`.
 *
 * @example
 * ```ts ignore
 * import { remoteStatus } from "./status.ts";
 * const s = await remoteStatus({ vault: ".", remote: { name: "origin", url: "file:///srv/vault" } });
 * console.log(s.toPush.length, s.toPull.length, s.conflicts.length);
 * ```
 */
export async function remoteStatus(
  options: { vault: string; remote: NamedRemote },
): Promise<RemoteStatus> {
  const paths = vaultPaths(options.vault);
  const { remote } = options;
  const store = await openStore(remote);
  try {
    await store.check();
    const state = await loadState(paths.root, remote.name, remote.url);
    await syncLog(store, state);
    const out: RemoteStatus = {
      remote: remote.name,
      url: remote.url,
      toPush: [],
      toPull: [],
      conflicts: [],
      same: 0,
      unsealed: 0,
      remoteCount: Object.keys(state.remote).length,
    };
    const local = await localIds(paths.specimens);
    const here = new Set(local);
    for (const id of local) {
      const r = state.remote[id];
      if (r && state.synced[id] === r.digest && !r.others) {
        out.same++;
        continue;
      }
      const l = await readLocal(paths.specimens, id);
      if (!l.sealed) {
        if (r) out.conflicts.push(id);
        else out.unsealed++;
      } else if (!r) out.toPush.push(id);
      else if (r.digest !== l.seal.digest || r.others) out.conflicts.push(id);
      else {
        state.synced[id] = r.digest;
        out.same++;
      }
    }
    for (const id of Object.keys(state.remote).sort()) {
      if (!here.has(id)) out.toPull.push(id);
    }
    await saveState(paths.root, remote.name, state);
    return out;
  } finally {
    store.close();
  }
}

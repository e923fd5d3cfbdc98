/**
 * Claims: the object that makes a specimen visible on a remote and decides
 * which content its id names. Where the server honours `If-None-Match: *`
 * (AWS S3, R2, MinIO; a folder through a hard link) the first
 * `claims/<id>/lock.json` wins outright. Where it answers 501 (stock Swift
 * s3api) each pusher writes a time-stamped claim and then lists them: the
 * earliest wins, and a pusher that sees an earlier claim of other content
 * removes its own and is told. Two pushers on machines whose clocks differ
 * by more than the time between their writes can both believe they won:
 * both then log the id, and pull reports the conflict and takes the
 * earliest claim.
 *
 * @module
 */
import { claimDigest, claimKey, claimsPrefix, lockKey } from "./layout.ts";
import type { RemoteStore } from "./store.ts";
import type { LoggedSpecimen } from "./_state.ts";

/** A claim's body. */
export interface Claim extends LoggedSpecimen {
  pushed_at: string;
  host: string;
}

/** Which content a remote's claims give `id`, or null when none. */
export async function claimedDigest(
  store: RemoteStore,
  id: string,
): Promise<{ winner: Claim; digests: string[] } | null> {
  const keys = (await store.list(claimsPrefix(id))).map((o) => o.key);
  if (keys.includes(lockKey(id))) {
    const winner = parseClaim(await store.get(lockKey(id)));
    if (winner) return { winner, digests: [winner.digest] };
  }
  const timed = keys.filter((k) => claimDigest(k) !== null).sort();
  if (timed.length === 0) return null;
  const winner = parseClaim(await store.get(timed[0]));
  if (!winner) return null;
  return {
    winner,
    digests: [...new Set(timed.map((k) => claimDigest(k)!))],
  };
}

/**
 * Claims `id` for `claim.digest`. `conditional` says what the server was
 * last seen to do with `If-None-Match` (undefined: not known yet). Returns
 * the digest that won and what the server answered.
 */
export async function claim(
  store: RemoteStore,
  claim: Claim,
  conditional: boolean | undefined,
  now: Date,
): Promise<{ winner: string; conditional: boolean }> {
  const body = new TextEncoder().encode(JSON.stringify(claim));
  if (conditional !== false) {
    const r = await store.putIfAbsent(lockKey(claim.id), body);
    if (r === "created") return { winner: claim.digest, conditional: true };
    if (r === "exists") {
      const held = parseClaim(await store.get(lockKey(claim.id)));
      return { winner: held?.digest ?? "", conditional: true };
    }
  }
  const key = claimKey(claim.id, claim.digest, now);
  await store.put(key, body);
  const keys = (await store.list(claimsPrefix(claim.id))).map((o) => o.key)
    .filter((k) => claimDigest(k) !== null).sort();
  const winner = claimDigest(keys[0] ?? key)!;
  if (winner !== claim.digest) await store.remove(key);
  return { winner, conditional: false };
}

function parseClaim(bytes: Uint8Array | null): Claim | null {
  if (!bytes) return null;
  try {
    const c = JSON.parse(new TextDecoder().decode(bytes));
    return typeof c?.digest === "string" ? c : null;
  } catch {
    return null;
  }
}

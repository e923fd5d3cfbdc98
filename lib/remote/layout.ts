/**
 * The remote layout: every key a remote holds, relative to its root
 * (`s3://bucket/prefix/` or `file:///path/`). Open by design: each
 * specimen's files keep their names and formats, so DuckDB, pyarrow or
 * Spark read the Parquet straight from the bucket (docs/TEAM.md).
 *
 * ```
 * specimens/<id>/<seal digest>/manifest.msgpack   written last of the files
 * specimens/<id>/<seal digest>/protocol.ts, field_notes.md, strata/…, runs/…
 * claims/<id>/lock.json                           where If-None-Match works
 * claims/<id>/<time>-<seal digest>.json           where it does not
 * log/<time>-<random>.json                        one per push, never rewritten
 * ```
 *
 * Content lives under its seal digest, so two pushes of one id with other
 * content never mix files; the claim (written after every file) makes a
 * specimen visible and decides which content the id names.
 *
 * @module
 */

/** The key of file `path` of specimen `id` whose seal digest is `digest`. */
export function contentKey(id: string, digest: string, path = ""): string {
  return `specimens/${id}/${digest}/${path}`;
}

/** The prefix of every claim of `id`. */
export function claimsPrefix(id: string): string {
  return `claims/${id}/`;
}

/** The claim a conditional write (If-None-Match: *) makes. */
export function lockKey(id: string): string {
  return `claims/${id}/lock.json`;
}

/** A time-stamped claim, for servers without conditional writes. */
export function claimKey(id: string, digest: string, now: Date): string {
  return `claims/${id}/${stamp(now)}-${digest}.json`;
}

/** The digest a time-stamped claim key names, or null for another key. */
export function claimDigest(key: string): string | null {
  return /\/\d{8}T\d{9}Z-([0-9a-f]{64})\.json$/.exec(key)?.[1] ?? null;
}

/** The prefix of the push log. */
export const LOG_PREFIX = "log/";

/** A new log key: time-ordered, unique. */
export function logKey(now: Date): string {
  const rand = crypto.getRandomValues(new Uint8Array(6));
  return `${LOG_PREFIX}${stamp(now)}-${
    Array.from(rand, (b) => b.toString(16).padStart(2, "0")).join("")
  }.json`;
}

/**
 * The log key to list after, to read entries newer than `key` written by a
 * clock up to `skewMs` behind ours.
 */
export function logStartAfter(key: string, skewMs: number): string {
  const m = /^log\/(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(\d{3})Z/.exec(key);
  if (!m) return LOG_PREFIX;
  const t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]);
  return `${LOG_PREFIX}${stamp(new Date(t - skewMs))}`;
}

/** `20261207T031500123Z`: sortable as text. */
export function stamp(d: Date): string {
  return d.toISOString().replace(/[-:.]/g, "");
}

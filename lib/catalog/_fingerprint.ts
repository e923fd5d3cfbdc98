/**
 * Comparing the fingerprints a scan makes of each specimen folder (no
 * imports: the index's fast path uses it too).
 *
 * @module
 */

/**
 * Whether two fingerprints record the same files. The `d:` mark (strata/'s
 * mtime once settled, else `d:-`) only lets a scan skip listing strata/: a
 * folder whose mtime settled since the last index holds the same files, so
 * it is not read again (freshly written folders were read twice before).
 */
export function sameFiles(a: string, b: string): boolean {
  return a === b || withoutListingMark(a) === withoutListingMark(b);
}

function withoutListingMark(fingerprint: string): string {
  return fingerprint.replace(/^([^|]*)\|d:[^|]*/, "$1");
}

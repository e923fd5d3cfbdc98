/**
 * Private: the disk space a sweep needs, checked before it builds all its
 * specimens (`createSweep`): the first specimen is built, measured in
 * blocks on disk, and multiplied by the number of combinations.
 *
 * @module
 */
import { join, statfsSync } from "../_deps.ts";
import { VaultError } from "../errors.ts";

/** Room kept free beyond the estimate: other writers share the disk. */
const MARGIN_BYTES = 64 * 1024 * 1024;

/**
 * Bytes the tree at `dir` takes on disk: each file's and folder's
 * allocated blocks (at least its size rounded up to 4 KiB where the
 * platform does not say).
 */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    total += allocated(await Deno.lstat(d));
    for await (const e of Deno.readDir(d)) {
      const path = join(d, e.name);
      if (e.isDirectory) stack.push(path);
      else total += allocated(await Deno.lstat(path));
    }
  }
  return total;
}

function allocated(info: Deno.FileInfo): number {
  if (info.blocks !== null && info.blocks !== undefined) {
    return info.blocks * 512;
  }
  return Math.ceil(Math.max(info.size, 1) / 4096) * 4096;
}

/**
 * Free bytes for this user on the file system holding `path`, or null
 * where it cannot be told (`Deno.statfs` does not exist; node:fs
 * `statfsSync` needs only read access).
 */
export function freeBytes(path: string): number | null {
  try {
    const s = statfsSync(path);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}

/**
 * Throws {@linkcode VaultError} when `count` specimens of `each` bytes (and
 * a margin) do not fit in `free` bytes (`null`: unknown, not checked).
 */
export function checkSweepSpace(
  options: { count: number; each: number; free: number | null; where: string },
): void {
  const { count, each, free, where } = options;
  if (free === null) return;
  const need = count * each;
  if (need + MARGIN_BYTES <= free) return;
  throw new VaultError(
    `Cannot create the sweep: its ${count} specimens need about ${
      showBytes(need)
    } (${showBytes(each)} each, measured on the first), and ${where} has ${
      showBytes(free)
    } free (keeping ${
      showBytes(MARGIN_BYTES)
    } spare). Nothing was created; free some space, or sweep fewer values`,
  );
}

/** Bytes for people: 1.5 GB, 12 MB, 4.0 kB. */
export function showBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/**
 * Private: how adoption opens an output file and keeps one as it is. Each
 * file is opened once, by its name, without following a link and without
 * waiting on a FIFO (`openVaultFile` with `noFollow`); the open handle is
 * checked (a regular file, inside the outputs folder, the same file the walk
 * saw) and everything adoption reads of it is read through that handle. A
 * name swapped for a link, a FIFO or another file at any moment is refused
 * or read as the file the walk saw, never followed elsewhere.
 *
 * Large files: a file over `maxFileBytes` is refused unread; a copy that
 * would leave the disk nearly full is refused before it starts; a long copy
 * reports progress.
 *
 * @module
 */
import { createHash, join, mime, NodeBuffer, statfsSync } from "../_deps.ts";
import { openVaultFile, placeFile, tempPathFor, writeAll } from "../_fs.ts";
import { formatBytes, ProgressLine } from "../cli/progress.ts";
import { InvalidInputError, UnsafeFileError } from "../errors.ts";
import { STRATA_DIR } from "../vault.ts";
import type { ArtifactRecord } from "../specimen/manifest_types.ts";
import { cleanExt } from "./_adopt_names.ts";
import { type Ctx, type Found, place } from "./_adopt_context.ts";

/** The largest output file adopted by default: 256 GiB. */
export const DEFAULT_MAX_FILE_BYTES = 256 * 2 ** 30;
/** The largest `.safetensors`/`.npz` split into arrays by default: 4 GiB. */
export const DEFAULT_SPLIT_MAX_BYTES = 4 * 2 ** 30;
/** Free space a copy must leave on the disk: 256 MiB. */
const DISK_MARGIN = 256 * 2 ** 20;
/** Files at least this large report progress while copied. */
const PROGRESS_FROM = 64 * 2 ** 20;
/** Files at least this large are named in a log (stderr not a terminal). */
const LOG_FROM = 2 ** 30;

/** An output file open for adoption, and its size. */
export interface Opened extends Disposable {
  file: Deno.FsFile;
  size: number;
}

/**
 * Opens output `f` once (no link followed, no FIFO waited on), checks it is
 * the file the walk saw and within the size limit.
 */
export async function openOutput(ctx: Ctx, f: Found): Promise<Opened> {
  const file = await openVaultFile(f.abs, { root: ctx.root, noFollow: true });
  try {
    const st = await file.stat();
    if (!st.isFile) {
      throw new UnsafeFileError(
        `it is not a regular file; it is not read: write a regular file instead`,
      );
    }
    if (f.id && (st.dev !== f.id.dev || st.ino !== f.id.ino)) {
      throw new UnsafeFileError(
        `it was replaced by another file while being adopted (does a process the run started still write to SPECIMEN_OUTPUTS?); nothing of it was read: let every process finish before the run ends`,
      );
    }
    f.id ??= { dev: st.dev, ino: st.ino ?? 0 };
    const max = ctx.options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    if (st.size > max) {
      throw new InvalidInputError(
        `it holds ${st.size} bytes (${formatBytes(st.size)}), over the ${
          formatBytes(max)
        } limit for one output file; it is not read: write it smaller (or in parts), or raise adoptOutputs' maxFileBytes`,
      );
    }
    return { file, size: st.size, [Symbol.dispose]: () => file.close() };
  } catch (e) {
    file.close();
    throw e;
  }
}

/** The identity the walk saw, from lstat (a link or FIFO is refused later). */
export async function identify(f: Found): Promise<void> {
  const st = await Deno.lstat(f.abs);
  if (st.dev !== null && st.ino !== null) {
    f.id = { dev: st.dev, ino: st.ino };
  }
}

/** Refuses a copy of `bytes` that would leave less than the margin free. */
export function ensureDisk(ctx: Ctx, bytes: number): void {
  let free: number;
  try {
    const s = statfsSync(join(ctx.target.dir, STRATA_DIR));
    free = Number(s.bavail) * Number(s.bsize);
  } catch {
    return; // No statfs here: the copy itself says when the disk is full.
  }
  if (bytes + DISK_MARGIN > free) {
    throw new InvalidInputError(
      `keeping it needs ${
        formatBytes(bytes)
      } but the disk of the specimen has ${formatBytes(free)} free (and ${
        formatBytes(DISK_MARGIN)
      } must stay free); it is not copied: free disk space and run again`,
    );
  }
}

/**
 * Keeps output `f` as it is under `strata/files/<name>.<ext>`, copied and
 * hashed through its open handle (from its start); returns the record.
 */
export async function keepOpened(
  ctx: Ctx,
  f: Found,
  name: string,
  opened: Opened,
  fields: Partial<ArtifactRecord> = {},
): Promise<ArtifactRecord> {
  const ext = cleanExt(f.ext);
  const file = ext ? `${name}.${ext}` : name;
  ensureDisk(ctx, opened.size);
  return await place(
    ctx,
    f.rel,
    name,
    { format: "file", file },
    async (path) => {
      const hash = createHash("sha256");
      const bytes = await copyOpened(
        ctx,
        f,
        opened,
        path,
        (c) => hash.update(c),
      );
      return {
        bytes,
        sha256: hash.digest("hex"),
        media_type: mediaType(f.rel),
        source: f.rel,
        ...fields,
      };
    },
  );
}

/**
 * Copies the open output to `dest` (write-once), 1 MiB at a time from its
 * start; `onChunk` sees every byte. Returns the size.
 */
export async function copyOpened(
  ctx: Ctx,
  f: Found,
  opened: Opened,
  dest: string,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<number> {
  const tmp = tempPathFor(dest);
  const report = progress(ctx, f.rel, opened.size);
  let bytes = 0;
  try {
    {
      using out = await Deno.open(tmp, { write: true, createNew: true });
      await opened.file.seek(0, Deno.SeekMode.Start);
      const buf = new Uint8Array(1 << 20);
      for (;;) {
        const n = await opened.file.read(buf);
        if (n === null) break;
        const chunk = buf.subarray(0, n);
        onChunk?.(chunk);
        // A run of zeros is skipped, not written: a sparse file's copy stays
        // sparse (a 10 GB `truncate -s` file takes no disk) and reads the same.
        if (allZero(chunk)) await out.seek(n, Deno.SeekMode.Current);
        else await writeAll(out, chunk);
        bytes += n;
        report?.(bytes);
      }
      await out.truncate(bytes);
    }
    await placeFile(tmp, dest, true);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  } finally {
    report?.(-1);
  }
  return bytes;
}

const ZEROS = new Uint8Array(1 << 20);

/** Whether every byte of `chunk` (at most 1 MiB) is 0: a native compare. */
function allZero(chunk: Uint8Array): boolean {
  return NodeBuffer.compare(chunk, ZEROS.subarray(0, chunk.byteLength)) === 0;
}

/** A progress reporter for a large file (-1: done), or undefined. */
function progress(
  ctx: Ctx,
  file: string,
  total: number,
): ((done: number) => void) | undefined {
  if (total < PROGRESS_FROM) return undefined;
  const { onProgress } = ctx.options;
  if (onProgress) {
    let last = -Infinity;
    return (done) => {
      const now = performance.now();
      if (done >= 0 && done < total && now - last < 100) return;
      last = now;
      onProgress({ file, done: done < 0 ? total : done, total });
    };
  }
  const line = new ProgressLine();
  if (!Deno.stderr.isTerminal() && total >= LOG_FROM) {
    // No progress line in a log: one line saying what takes the time.
    console.error(
      `adopting ${file} (${formatBytes(total)}): copying and hashing it`,
    );
  }
  const start = performance.now();
  return (done) => {
    if (done < 0) return line.clear();
    line.update(() => {
      const s = (performance.now() - start) / 1000;
      return `adopting ${file}: ${formatBytes(done)} of ${
        formatBytes(total)
      } (${formatBytes(done / Math.max(s, 1e-3))}/s)`;
    });
  };
}

/**
 * The media type of a file name, from its extension (the `mime` package's
 * table); `application/octet-stream` when unknown.
 *
 * @example
 * ```ts
 * import { mediaType } from "./_adopt_open.ts";
 * console.assert(mediaType("plots/loss.PNG") === "image/png");
 * console.assert(mediaType("model.ckpt") === "application/octet-stream");
 * ```
 */
export function mediaType(name: string): string {
  return mime.getType(name.toLowerCase()) ?? "application/octet-stream";
}

/**
 * NumPy `.npz` files (`numpy.savez`, `numpy.savez_compressed`): a zip of
 * `.npy` members. Each array member is adopted as its own Zarr v3 array,
 * streamed through the `.npy` reader with bounded memory, never unzipped
 * whole: a stored member is read in place, a deflated one is inflated as it
 * is read (the web `DecompressionStream`), and each member's CRC-32 is
 * checked against the zip's.
 *
 * The zip's central directory (zip64 too, which numpy writes) is read by the
 * `unzipit` package through the open file. Members that are not `.npy`
 * files are listed (`others`), not adopted. Refused: encrypted members,
 * compression other than stored or deflate, duplicate member names, and any
 * array member the `.npy` reader refuses (an object array, a structured or
 * complex dtype), all before anything is written.
 *
 * Permissions: `--allow-read` (and `--allow-write` to adopt).
 *
 * @module
 */
import { unzipRaw } from "../../_deps/unzipit.ts";
import { zlibCrc32 } from "../../_deps/node.ts";
import { CorruptFileError, InvalidInputError } from "../../errors.ts";
import type { AdoptedTensor, AdoptOptions, ByteSource } from "./_adopt.ts";
import { adoptNpySource, type NpyHeader, readNpyHeader } from "./npy.ts";
import { quote } from "./_quote.ts";
import { readAt } from "./_adopt_bytes.ts";

/**
 * One member of a `.npz` file.
 *
 * @example
 * ```ts
 * import type { NpzMember } from "./npz.ts";
 * const m: NpzMember = {
 *   name: "w.npy", array: "w", method: 0, size: 208, compressedSize: 208,
 *   crc32: 0, dataStart: 36,
 * };
 * ```
 */
export interface NpzMember {
  /** The member's name in the zip, e.g. `"w.npy"`. */
  name: string;
  /** The array's name (the name without `.npy`), as `numpy.load` gives it. */
  array: string;
  /** 0 stored, 8 deflated. */
  method: 0 | 8;
  /** Bytes once inflated (the `.npy` file). */
  size: number;
  /** Bytes in the zip. */
  compressedSize: number;
  /** The CRC-32 the zip records for the member. */
  crc32: number;
  /** Where the member's bytes start in the zip. */
  dataStart: number;
}

/** The most members a `.npz` may have. */
export const MAX_NPZ_MEMBERS = 100_000;

/** Byte ranges of the open file, for unzipit. */
function rangeReader(file: Deno.FsFile, size: number) {
  return {
    getLength: () => Promise.resolve(size),
    async read(
      offset: number,
      length: number,
    ): Promise<Uint8Array<ArrayBuffer>> {
      const buf = new Uint8Array(length);
      await readAt(file, offset, buf);
      return buf;
    },
  };
}

/**
 * Lists the members of a `.npz` file: its `.npy` members (arrays) and the
 * names of any others.
 *
 * @param file The open `.npz` file.
 * @param path Its name, for errors.
 * @returns The array members in the zip's order, and the other names.
 * @throws {CorruptFileError} If it is not a readable zip.
 * @throws {InvalidInputError} If a member is encrypted or compressed other
 *   than stored or deflate.
 * @example
 * ```ts ignore
 * using file = await Deno.open("run.npz");
 * const { arrays } = await readNpzMembers(file, "run.npz");
 * ```
 */
export async function readNpzMembers(
  file: Deno.FsFile,
  path: string,
): Promise<{ arrays: NpzMember[]; others: string[] }> {
  const bad = (why: string, cause?: unknown) =>
    new CorruptFileError(
      `Cannot read "${path}" as a .npz file: ${why}: write it again with numpy.savez`,
      { cause },
    );
  const { size } = await file.stat();
  let entries;
  try {
    ({ entries } = await unzipRaw(rangeReader(file, size)));
  } catch (e) {
    throw bad(`it is not a readable zip (${(e as Error).message})`, e);
  }
  if (entries.length > MAX_NPZ_MEMBERS) {
    throw bad(`it has ${entries.length} members, over ${MAX_NPZ_MEMBERS}`);
  }
  const arrays: NpzMember[] = [];
  const others: string[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name)) {
      throw bad(`the member ${quote(e.name)} appears twice`);
    }
    seen.add(e.name);
    if (e.isDirectory) continue;
    if (!e.name.endsWith(".npy")) {
      others.push(e.name);
      continue;
    }
    if (e.encrypted) {
      throw new InvalidInputError(
        `Cannot adopt "${path}": member ${
          quote(e.name)
        } is encrypted; save it without a password`,
      );
    }
    if (e.compressionMethod !== 0 && e.compressionMethod !== 8) {
      throw new InvalidInputError(
        `Cannot adopt "${path}": member ${
          quote(e.name)
        } uses zip compression method ${e.compressionMethod}; only stored (numpy.savez) and deflate (numpy.savez_compressed) are read`,
      );
    }
    // unzipit keeps the local header's offset and the CRC in its raw entry.
    const raw = (e as unknown as { _rawEntry: RawEntry })._rawEntry;
    const local = new Uint8Array(30);
    try {
      await readAt(file, raw.relativeOffsetOfLocalHeader, local);
    } catch (cause) {
      throw bad(`member ${quote(e.name)} starts past the end`, cause);
    }
    const view = new DataView(local.buffer);
    if (view.getUint32(0, true) !== 0x04034b50) {
      throw bad(`member ${quote(e.name)} has no local header`);
    }
    const dataStart = raw.relativeOffsetOfLocalHeader + 30 +
      view.getUint16(26, true) + view.getUint16(28, true);
    if (dataStart + e.compressedSize > size) {
      throw bad(
        `member ${
          quote(e.name)
        } ends past the end of the file: it is truncated`,
      );
    }
    arrays.push({
      name: e.name,
      array: e.name.slice(0, -4),
      method: e.compressionMethod as 0 | 8,
      size: e.size,
      compressedSize: e.compressedSize,
      crc32: raw.crc32 >>> 0,
      dataStart,
    });
  }
  return { arrays, others };
}

interface RawEntry {
  relativeOffsetOfLocalHeader: number;
  crc32: number;
}

/**
 * A member's `.npy` bytes as a {@linkcode ByteSource} that seeks forward
 * only: read in place (stored) or inflated as read (deflate), its CRC-32
 * computed on the way.
 */
class MemberSource implements ByteSource {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #left: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #crc = 0;
  #label: string;
  /**
   * The file read in flight, if any. Reads are a seek then a read on the
   * one shared handle, and the inflater pulls ahead: `close()` waits for
   * this, so that no read of a closed member interleaves with the next
   * reader's (that gave "corrupt deflate stream" now and then).
   */
  #inflight: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(file: Deno.FsFile, readonly member: NpzMember, label: string) {
    this.#label = label;
    let at = 0;
    const raw = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        if (this.#closed || at >= member.compressedSize) {
          controller.close();
          return;
        }
        const buf = new Uint8Array(
          Math.min(1 << 20, member.compressedSize - at),
        );
        const read = readAt(file, member.dataStart + at, buf).then(() => {
          at += buf.byteLength;
          controller.enqueue(buf);
        });
        this.#inflight = read.catch(() => {});
        return read;
      },
    }, { highWaterMark: 0 });
    const stream: ReadableStream<Uint8Array> = member.method === 8
      ? raw.pipeThrough(
        new DecompressionStream("deflate-raw") as unknown as TransformStream<
          Uint8Array,
          Uint8Array
        >,
      )
      : raw;
    this.#reader = stream.getReader();
  }

  async seek(offset: number): Promise<number> {
    if (offset < this.#pos) {
      throw new RangeError(
        `${this.#label}: cannot seek back from ${this.#pos} to ${offset}`,
      );
    }
    const skip = new Uint8Array(Math.min(1 << 16, offset - this.#pos || 1));
    while (this.#pos < offset) {
      const n = await this.read(
        skip.subarray(0, Math.min(skip.byteLength, offset - this.#pos)),
      );
      if (n === null) break;
    }
    return this.#pos;
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (this.#left.byteLength === 0) {
      if (this.#pos >= this.member.size) return null;
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await this.#reader.read();
      } catch (e) {
        throw new CorruptFileError(
          `Cannot read ${this.#label}: its deflated data is corrupt (${
            (e as Error).message
          }): write the file again`,
          { cause: e },
        );
      }
      if (r.done) return null;
      this.#left = r.value;
    }
    const n = Math.min(
      p.byteLength,
      this.#left.byteLength,
      this.member.size - this.#pos,
    );
    p.set(this.#left.subarray(0, n));
    this.#crc = zlibCrc32(p.subarray(0, n), this.#crc);
    this.#left = this.#left.subarray(n);
    this.#pos += n;
    return n;
  }

  /** Checks that the whole member was read and its CRC-32 matches. */
  finish(): void {
    if (this.#pos !== this.member.size) {
      throw new CorruptFileError(
        `Cannot read ${this.#label}: it ended after ${this.#pos} of its ${this.member.size} bytes: the file is truncated; write it again`,
      );
    }
    if ((this.#crc >>> 0) !== this.member.crc32) {
      throw new CorruptFileError(
        `Cannot read ${this.#label}: its CRC-32 is ${
          (this.#crc >>> 0).toString(16)
        }, the zip says ${
          this.member.crc32.toString(16)
        }: the file is corrupt; write it again`,
      );
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#reader.cancel().catch(() => {});
    await this.#inflight;
  }
}

/** What {@linkcode adoptNpz} wrote for one member. */
export type AdoptedMember = AdoptedTensor & {
  member: NpzMember;
  header: NpyHeader;
};

/**
 * Adopts every `.npy` member of a `.npz` file as its own Zarr v3 array.
 * Every member's header is read and checked first (an unsupported dtype,
 * e.g. an object array, refuses the whole file before anything is
 * written); then each member is streamed in turn and its CRC-32 checked.
 *
 * Needs `--allow-read --allow-write`.
 *
 * @param path The `.npz` file.
 * @param target The array folder for a member's array name; its parent
 *   must exist.
 * @param options Compression, level, read size, attributes, and `file`
 *   (read through this open file, not closed, instead of opening `path`).
 * @returns One result per array member in zip order, and the names of the
 *   members that are not `.npy` files. Each array's Zarr attributes hold
 *   `source_member` (its name in the zip).
 * @throws {CorruptFileError} If the zip or a member is bad.
 * @throws {InvalidInputError} If a member's dtype is not supported.
 * @example
 * ```ts ignore
 * const { arrays } = await adoptNpz("run.npz", (a) => `strata/run__${a}.zarr`);
 * ```
 */
export async function adoptNpz(
  path: string,
  target: (array: string) => string,
  options: AdoptOptions & { file?: Deno.FsFile } = {},
): Promise<{ arrays: AdoptedMember[]; others: string[] }> {
  using owned = options.file
    ? undefined
    : await Deno.open(path, { read: true });
  const file = options.file ?? owned!;
  const { arrays, others } = await readNpzMembers(file, path);
  const label = (m: NpzMember) => `"${path}" member ${quote(m.name)}`;
  // Every header first: refuse before writing anything.
  for (const m of arrays) {
    const src = new MemberSource(file, m, label(m));
    try {
      await readNpyHeader(src, `${path}/${m.name}`);
    } finally {
      await src.close();
    }
  }
  const out: AdoptedMember[] = [];
  for (const m of arrays) {
    const src = new MemberSource(file, m, label(m));
    try {
      const adopted = await adoptNpySource(
        src,
        m.size,
        `${path}/${m.name}`,
        target(m.array),
        {
          ...options,
          attributes: { ...options.attributes, source_member: m.name },
        },
      );
      src.finish();
      out.push({ ...adopted, member: m });
    } finally {
      await src.close();
    }
  }
  return { arrays: out, others };
}

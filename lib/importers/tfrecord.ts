/**
 * TFRecord framing, as TensorBoard event files use it: each record is a
 * little-endian uint64 length, the masked CRC-32C of those 8 bytes, the data,
 * and the masked CRC-32C of the data.
 *
 * @module
 */
import { CorruptFileError } from "../errors.ts";
import { crc32c } from "./_deps.ts";

const MASK_DELTA = 0xa282ead8;
const lengthBytes = new Uint8Array(8);

/**
 * TFRecord's masked CRC-32C: the CRC rotated right by 15 bits plus a constant.
 *
 * @example
 * ```ts
 * import { maskedCrc32c } from "./tfrecord.ts";
 * console.assert(maskedCrc32c(new Uint8Array(0)) === 0xa282ead8);
 * ```
 */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/** Options of {@linkcode readRecords}. */
export interface ReadRecordsOptions {
  /**
   * Skip a record whose data CRC does not match (reported in `skipped`)
   * instead of throwing.
   * @default false
   */
  skipCorrupt?: boolean;
  /**
   * Check CRCs at all (off only to measure the framing alone).
   * @default true
   */
  verifyCrc?: boolean;
}

/** What {@linkcode readRecords} found besides the records. */
export interface ReadRecordsResult {
  /** Records handed to the callback. */
  records: number;
  /** The incomplete last record, as a crash mid-write leaves it. */
  truncated: { offset: number; message: string } | null;
  /** Records skipped for a bad data CRC (only with `skipCorrupt`). */
  skipped: { offset: number; message: string }[];
}

/**
 * Walks the records of a TFRecord file held in memory, calling
 * `onRecord(start, end)` with each record's data range in `bytes` (no copy).
 * A truncated last record is reported, and everything before it kept.
 *
 * @param bytes The whole file.
 * @param file Name used in messages.
 * @param onRecord Called once per record with its data range.
 * @param options See {@linkcode ReadRecordsOptions}.
 * @returns Counts and what was read past.
 * @throws {CorruptFileError} The first record's length does not check out
 * (not a TFRecord file), or a record's data CRC does not match (unless
 * `skipCorrupt`), or a length CRC does not match.
 * @example
 * ```ts
 * import { readRecords } from "./tfrecord.ts";
 * const r = readRecords(new Uint8Array(0), "empty", () => {});
 * console.assert(r.records === 0 && r.truncated === null);
 * ```
 */
export function readRecords(
  bytes: Uint8Array,
  file: string,
  onRecord: (start: number, end: number) => void,
  options: ReadRecordsOptions = {},
): ReadRecordsResult {
  const verify = options.verifyCrc ?? true;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  const skipped: ReadRecordsResult["skipped"] = [];
  let pos = 0;
  let records = 0;
  while (pos < n) {
    const at = pos;
    if (n - pos < 12) {
      if (records === 0 && skipped.length === 0) throw notTfRecord(file, n);
      return {
        records,
        truncated: truncation(file, at, `${n - pos} byte(s) of a header`),
        skipped,
      };
    }
    const lo = view.getUint32(pos, true), hi = view.getUint32(pos + 4, true);
    if (verify) {
      const lenCrc = view.getUint32(pos + 8, true);
      // The 8 length bytes go through one scratch array: no view per record.
      for (let i = 0; i < 8; i++) lengthBytes[i] = bytes[pos + i];
      if (maskedCrc32c(lengthBytes) !== lenCrc) {
        if (records === 0 && skipped.length === 0) throw notTfRecord(file, n);
        throw new CorruptFileError(
          `Cannot read "${file}": the length of the record at byte ${at} fails its CRC-32C check (the file is damaged from there on); import the records before it by cutting the file at byte ${at}`,
        );
      }
    }
    const len = hi * 0x100000000 + lo;
    const start = pos + 12;
    const end = start + len;
    if (end + 4 > n) {
      return {
        records,
        truncated: truncation(
          file,
          at,
          `${n - start} of ${len + 4} data and CRC byte(s)`,
        ),
        skipped,
      };
    }
    pos = end + 4;
    if (verify) {
      const dataCrc = view.getUint32(end, true);
      if (maskedCrc32c(bytes.subarray(start, end)) !== dataCrc) {
        const message =
          `the record at byte ${at} (${len} bytes) fails its CRC-32C check`;
        if (!options.skipCorrupt) {
          throw new CorruptFileError(
            `Cannot read "${file}": ${message}; pass --skip-corrupt to skip such records and import the rest`,
          );
        }
        skipped.push({ offset: at, message: `"${file}": ${message}, skipped` });
        continue;
      }
    }
    onRecord(start, end);
    records++;
  }
  return { records, truncated: null, skipped };
}

function truncation(file: string, offset: number, what: string) {
  return {
    offset,
    message:
      `"${file}": the last record (at byte ${offset}) is incomplete (${what}), as a crash mid-write leaves it; it was dropped and everything before it kept`,
  };
}

function notTfRecord(file: string, size: number): CorruptFileError {
  return new CorruptFileError(
    `Cannot read "${file}": it is not a TensorBoard event file (its ${size} byte(s) do not start with a TFRecord header whose CRC-32C checks out); remove it or point the import at the run folder`,
  );
}

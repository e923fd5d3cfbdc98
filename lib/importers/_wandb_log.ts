/**
 * Private: the framing of a W&B run file (`run-<id>.wandb`), as wandb's
 * `datastore.py` writes it: a 7-byte header (`:W&B`, magic 0xBEE1
 * little-endian, version 0), then LevelDB-log framing in 32 KiB blocks
 * counted from the start of the file. Each chunk has a 7-byte header (CRC,
 * little-endian uint16 length, type FULL/FIRST/MIDDLE/LAST) and its data; a
 * block's last bytes too few for a header are zero padding.
 *
 * The checksum is the plain CRC-32 (IEEE, zlib's) of the type byte and the
 * data. wandb's Go reader can also check LevelDB's masked CRC-32C, but the
 * files wandb 0.30 writes carry plain CRC-32 (checked on the real file in
 * tests/testdata/interop/trackers2/wandb: the first chunk's stored CRC
 * equals zlib.crc32 of type + data).
 *
 * @module
 */
import { concatBytes } from "../_bytes.ts";
import { CorruptFileError, UnsupportedFormatError } from "../errors.ts";
import { crc32 } from "./_deps.ts";

const BLOCK = 32 * 1024;
const HEADER = 7;
const FULL = 1, FIRST = 2, MIDDLE = 3, LAST = 4;
/** CRC-32 of the one type byte, the seed each chunk's CRC continues from. */
const TYPE_SEED = [0, 1, 2, 3, 4].map((t) => crc32(new Uint8Array([t])));

/** What {@linkcode readWandbLog} found besides the records. */
export interface WandbLogResult {
  /** Complete records handed to the callback. */
  records: number;
  /**
   * Where reading stopped before the end of the file and why: a chunk cut
   * short, or a record begun and never finished, as a killed process leaves
   * it. Everything before it was read.
   */
  truncated: { offset: number; message: string } | null;
  /** Chunks skipped for a bad CRC or layout (only with `skipCorrupt`). */
  skipped: { offset: number; message: string }[];
}

/** Options of {@linkcode readWandbLog}. */
export interface ReadWandbLogOptions {
  /** Check each chunk's CRC. @default true */
  verifyCrc?: boolean;
  /**
   * On a bad chunk, skip to the next 32 KiB block (as wandb's own reader
   * does), dropping the record it was part of, and report it in `skipped`,
   * instead of throwing.
   * @default false
   */
  skipCorrupt?: boolean;
}

/**
 * Walks the records of a W&B run file held in memory, calling `onRecord`
 * with each record's protobuf bytes (a view into `bytes` when the record is
 * one chunk, else a joined copy).
 *
 * @param bytes The whole file.
 * @param file Name used in messages.
 * @throws {UnsupportedFormatError} Not a W&B run file, or another version.
 * @throws {CorruptFileError} A chunk fails its CRC or the chunk types are out
 * of order (offset named).
 */
export function readWandbLog(
  bytes: Uint8Array,
  file: string,
  onRecord: (record: Uint8Array, offset: number) => void,
  options: ReadWandbLogOptions = {},
): WandbLogResult {
  checkHeader(bytes, file);
  const verify = options.verifyCrc ?? true;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = HEADER;
  let records = 0;
  let parts: Uint8Array[] = [];
  let recordStart = -1;
  const end = bytes.length;
  const skipped: WandbLogResult["skipped"] = [];
  /**
   * Throws, or with `skipCorrupt` notes the fault at byte `at` and returns
   * the start of the block after the chunk being read.
   */
  const corrupt = (at: number, message: string): number => {
    if (!options.skipCorrupt) throw new CorruptFileError(message);
    skipped.push({ offset: at, message });
    recordStart = -1;
    parts = [];
    return pos + BLOCK - (pos % BLOCK);
  };
  while (pos < end) {
    const left = BLOCK - (pos % BLOCK);
    if (left < HEADER) {
      pos += left;
      continue;
    }
    if (pos + HEADER > end) {
      return truncated(
        records,
        pos,
        recordStart,
        "a chunk header cut short",
        skipped,
      );
    }
    const crc = view.getUint32(pos, true);
    const len = view.getUint16(pos + 4, true);
    const type = bytes[pos + 6];
    if (crc === 0 && len === 0 && type === 0) {
      // Zero padding (a block's unused tail): nothing more in this block.
      pos += left;
      continue;
    }
    const dataStart = pos + HEADER;
    if (dataStart + len > end) {
      return truncated(
        records,
        pos,
        recordStart,
        `a chunk of ${len} bytes with ${end - dataStart} left in the file`,
        skipped,
      );
    }
    if (len > left - HEADER || type < FULL || type > LAST) {
      pos = corrupt(
        pos,
        `"${file}" is corrupt at byte ${pos}: chunk type ${type} of ${len} bytes does not fit a W&B log block; pass --skip-corrupt to skip to the next block and import the rest`,
      );
      continue;
    }
    const data = bytes.subarray(dataStart, dataStart + len);
    if (verify && (crc32(data, TYPE_SEED[type]) >>> 0) !== crc) {
      pos = corrupt(
        pos,
        `"${file}" is corrupt at byte ${pos}: the chunk's CRC-32 does not match its data (damaged after it was written); pass --skip-corrupt to skip to the next block and import the rest`,
      );
      continue;
    }
    pos = dataStart + len;
    if (type === FULL) {
      if (recordStart >= 0) {
        pos = corrupt(recordStart, orderMessage(file, recordStart, "FULL"));
        continue;
      }
      onRecord(data, dataStart - HEADER);
      records++;
    } else if (type === FIRST) {
      if (recordStart >= 0) {
        pos = corrupt(recordStart, orderMessage(file, recordStart, "FIRST"));
        continue;
      }
      recordStart = dataStart - HEADER;
      parts = [data];
    } else {
      if (recordStart < 0) {
        const at = dataStart - HEADER;
        pos = corrupt(
          at,
          orderMessage(file, at, type === MIDDLE ? "MIDDLE" : "LAST"),
        );
        continue;
      }
      parts.push(data);
      if (type === LAST) {
        onRecord(concatBytes(parts), recordStart);
        records++;
        recordStart = -1;
        parts = [];
      }
    }
  }
  if (recordStart >= 0) {
    return truncated(
      records,
      recordStart,
      recordStart,
      "a record never finished",
      skipped,
    );
  }
  return { records, truncated: null, skipped };
}

function checkHeader(bytes: Uint8Array, file: string): void {
  const ident = bytes.length >= 4 &&
    bytes[0] === 0x3a && bytes[1] === 0x57 && bytes[2] === 0x26 &&
    bytes[3] === 0x42;
  if (!ident || bytes.length < HEADER) {
    throw new UnsupportedFormatError(
      `"${file}" is not a W&B run file: it does not start with ":W&B" and its 7-byte header (import a wandb/offline-run-*/run-*.wandb file or its folder)`,
    );
  }
  const magic = bytes[4] | (bytes[5] << 8);
  if (magic !== 0xbee1 || bytes[6] !== 0) {
    throw new UnsupportedFormatError(
      `"${file}" is a W&B run file of an unknown kind (magic 0x${
        magic.toString(16)
      }, version ${
        bytes[6]
      }); this importer reads version 0 (magic 0xbee1), written by wandb up to 0.30`,
    );
  }
}

function truncated(
  records: number,
  offset: number,
  recordStart: number,
  what: string,
  skipped: WandbLogResult["skipped"],
): WandbLogResult {
  const at = recordStart >= 0 ? recordStart : offset;
  return {
    records,
    skipped,
    truncated: {
      offset: at,
      message:
        `the file ends inside a record at byte ${at} (${what}), as a process killed mid-write leaves it`,
    },
  };
}

function orderMessage(file: string, offset: number, type: string): string {
  return `"${file}" is corrupt at byte ${offset}: a ${type} chunk out of order (records are FULL, or FIRST MIDDLE… LAST); pass --skip-corrupt to skip to the next block and import the rest`;
}

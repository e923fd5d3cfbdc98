/**
 * Bench data only: a large W&B run file made of the real offline run's own
 * records (tests/testdata/interop/trackers2/wandb, written by wandb 0.30),
 * its history records repeated, framed as wandb's `datastore.py` frames
 * them (32 KiB blocks, FULL/FIRST/MIDDLE/LAST chunks, CRC-32 of type and
 * data). Not used by tests: importers are tested on the real file alone.
 *
 * @module
 */
import { join } from "../../../lib/_deps.ts";
import { crc32 } from "../../../lib/importers/_deps.ts";
import { readWandbLog } from "../../../lib/importers/_wandb_log.ts";
import { decodeRecord } from "../../../lib/importers/_wandb_records.ts";
import { INTEROP } from "../../utils.ts";

/** The real run file the bench file is made of. */
export const REAL_WANDB_FILE = join(
  INTEROP,
  "trackers2",
  "wandb",
  "offline-run-20261207_012032-ptmezw5t",
  "run-ptmezw5t.wandb",
);

const BLOCK = 32 * 1024;

/**
 * The real file's records with its history records repeated `times` times
 * (the other records once, in their places), framed anew.
 *
 * @returns The file's bytes and how many history values it holds.
 */
export async function repeatedWandbFile(
  times: number,
): Promise<{ bytes: Uint8Array; historyValues: number }> {
  const real = await Deno.readFile(REAL_WANDB_FILE);
  const before: Uint8Array[] = [],
    history: Uint8Array[] = [],
    after: Uint8Array[] = [];
  let values = 0;
  readWandbLog(real, REAL_WANDB_FILE, (rec) => {
    const r = decodeRecord(rec);
    if (r.kind === "history") {
      history.push(rec.slice());
      values += r.items.length;
    } else (history.length ? after : before).push(rec.slice());
  });
  const records = [...before];
  for (let i = 0; i < times; i++) records.push(...history);
  records.push(...after);
  return { bytes: frame(records), historyValues: values * times };
}

/** LevelDB-log framing after the 7-byte W&B header. */
function frame(records: Uint8Array[]): Uint8Array {
  let size = 7;
  for (const r of records) size += r.length + 7 * (2 + r.length / BLOCK);
  const out = new Uint8Array(size + records.length * 7 + BLOCK);
  const view = new DataView(out.buffer);
  out.set([0x3a, 0x57, 0x26, 0x42, 0xe1, 0xbe, 0x00]);
  let pos = 7;
  for (const rec of records) {
    let at = 0;
    let first = true;
    do {
      let left = BLOCK - (pos % BLOCK);
      if (left < 7) {
        pos += left; // zero padding
        left = BLOCK;
      }
      const n = Math.min(rec.length - at, left - 7);
      const last = at + n === rec.length;
      const type = first ? (last ? 1 : 2) : (last ? 4 : 3);
      const data = rec.subarray(at, at + n);
      view.setUint32(pos, crc32(data, crc32(new Uint8Array([type]))), true);
      view.setUint16(pos + 4, n, true);
      out[pos + 6] = type;
      out.set(data, pos + 7);
      pos += 7 + n;
      at += n;
      first = false;
    } while (at < rec.length);
  }
  return out.subarray(0, pos);
}

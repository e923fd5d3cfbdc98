/**
 * Compaction: a log's part files become `strata/<name>.parquet`, large
 * parts copied as they are, small ones merged.
 *
 * @module
 */
import { recordChange } from "../vault_changes.ts";
import { join } from "../_deps.ts";
import {
  openVaultFile,
  placeFile,
  readVaultFile,
  tempPathFor,
} from "../_fs.ts";
import { CorruptFileError } from "../errors.ts";
import {
  decodeMetrics,
  encodeTypedMetrics,
  type ParquetColumnInfo,
  type TypedMetricColumn,
} from "../formats/parquet/parquet.ts";
import { STRATA_DIR } from "../vault.ts";
import { listParts, partFileName, partsDir } from "./parts.ts";
import {
  mergeKinds,
  mergeSchemas,
  metadataOf,
  type PartFooter,
  type PlainKind,
  readFooter,
  specimenOfPart,
  typesMatch,
} from "./_footer.ts";
import { ConcatWriter, fileSource, memorySource } from "./_concat_writer.ts";

/** Parts at least this long are copied as they are, as one row group. */
const COPY_MIN_ROWS = 32_768;
/** Smaller parts are merged into row groups of about this many rows. */
const MERGE_ROWS = 65_536;
const MAGIC = new TextEncoder().encode("PAR1");

/**
 * What {@linkcode compactLog} wrote.
 *
 * @example
 * ```ts
 * import type { CompactedLog } from "./table.ts";
 * const done: CompactedLog = {
 *   rows: 2, columns: [{ name: "step", type: "INT64" }], bytes: 300,
 *   parts: 1, rowGroups: 1,
 * };
 * ```
 */
export interface CompactedLog {
  /** Rows in the table. */
  rows: number;
  /** Each column's name and type, in order of first appearance. */
  columns: ParquetColumnInfo[];
  /** Size of `strata/<name>.parquet` in bytes. */
  bytes: number;
  /** Number of parts compacted. */
  parts: number;
  /** Row groups in the file. */
  rowGroups: number;
}

/**
 * Options for {@linkcode compactLog}.
 *
 * @example
 * ```ts
 * import type { CompactLogOptions } from "./table.ts";
 * const options: CompactLogOptions = { sync: true };
 * ```
 */
export interface CompactLogOptions {
  /**
   * Flush the file to disk before placing it (survives power loss).
   * @default false
   */
  sync?: boolean;
}

/**
 * Compacts the parts of log `name` into `strata/<name>.parquet` (placed
 * atomically; refuses to replace an existing file with
 * `Deno.errors.AlreadyExists`). It neither records the artifact nor removes
 * the parts: {@linkcode repairLogs} and `MetricsLogger.close()` do, in that
 * order, so a crash at any point leaves a readable table. The caller must
 * hold the log's lock. Returns `null` when there is no part.
 *
 * Memory stays bounded whatever the log's length: a part of 32,768 rows or
 * more is copied into the file as its own row group, page bytes untouched;
 * smaller parts (from time-based flushes) are decoded and merged into row
 * groups of about 65,536 rows. A column promoted from INT64 to DOUBLE, or
 * missing from a part, is re-encoded or filled with nulls.
 *
 * Needs `--allow-read` and `--allow-write` on the specimen folder.
 *
 * @example
 * ```ts ignore
 * import { compactLog } from "./table.ts";
 * const done = await compactLog("specimens/my_run", "train");
 * console.log(done?.rows, done?.rowGroups);
 * ```
 */
export async function compactLog(
  specimenDir: string,
  name: string,
  options: CompactLogOptions = {},
): Promise<CompactedLog | null> {
  const dir = partsDir(specimenDir, name);
  const target = join(specimenDir, STRATA_DIR, `${name}.parquet`);
  const parts = await listParts(dir);
  if (parts.length === 0) return null;

  const footers: PartFooter[] = [];
  for (const p of parts) {
    footers.push(await readFooter(join(dir, partFileName(p.seq)), p.seq));
  }
  const schema = mergeSchemas(footers, dir);
  const kinds = mergeKinds(schema, footers);

  // The temp file lives in the parts folder: a crash leaves nothing beside
  // the tables, and repair removes the folder with it.
  const tmp = tempPathFor(join(dir, `${name}.parquet`));
  const out = new ConcatWriter(
    await Deno.open(tmp, {
      write: true,
      createNew: true,
    }),
  );
  // One buffer for every chunk copied: the parts are never read whole.
  const scratch = { buffer: new Uint8Array(1 << 20) };
  try {
    await out.write(MAGIC);
    let batch: PartFooter[] = [];
    let batchRows = 0;
    const flushBatch = async () => {
      if (batch.length === 0) return;
      const encoded = await mergeParts(dir, batch, batchRows, schema, kinds);
      await out.append(
        memorySource(encoded),
        await metadataOf(encoded),
        schema,
      );
      batch = [];
      batchRows = 0;
    };
    for (const f of footers) {
      if (f.rows >= COPY_MIN_ROWS && typesMatch(f, schema)) {
        await flushBatch();
        using file = await openVaultFile(f.path, {
          root: specimenOfPart(f.path),
        });
        await out.append(fileSource(file, scratch), f.metadata, schema);
        continue;
      }
      batch.push(f);
      batchRows += f.rows;
      if (batchRows >= MERGE_ROWS) await flushBatch();
    }
    await flushBatch();
    await out.finish(schema, kinds);
    if (options.sync) await out.file.syncData();
    out.file.close();
    await placeFile(tmp, target, true);
    recordChange(specimenDir);
  } catch (e) {
    try {
      out.file.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  return {
    rows: out.rows,
    columns: schema,
    bytes: out.offset,
    parts: parts.length,
    rowGroups: out.rowGroups.length,
  };
}

/** Decodes consecutive parts and encodes them as one file of one row group. */
async function mergeParts(
  dir: string,
  parts: PartFooter[],
  rows: number,
  schema: ParquetColumnInfo[],
  kinds: Record<string, PlainKind>,
): Promise<Uint8Array> {
  const columns: TypedMetricColumn[] = schema.map(({ name, type }) => {
    const kind = kinds[name];
    const values =
      type === "DOUBLE" || (type === "INT64" && kind === "number[]")
        ? new Float64Array(rows)
        : type === "INT64"
        ? new BigInt64Array(rows)
        : new Array<string | boolean | null>(rows).fill(null);
    return { name, type, kind, values, defined: new Uint8Array(rows) };
  });
  let at = 0;
  for (const p of parts) {
    const { columns: read, rows: n } = await decodeMetrics(
      await readVaultFile(p.path, { root: specimenOfPart(p.path) }),
      p.path,
    );
    for (const c of columns) {
      if (!Object.hasOwn(read, c.name)) continue;
      const src = read[c.name] as ArrayLike<unknown>;
      const dst = c.values;
      const mask = c.defined!;
      for (let i = 0; i < n; i++) {
        const v = src[i];
        if (v === null || v === undefined) continue;
        mask[at + i] = 1;
        if (dst instanceof Float64Array) dst[at + i] = Number(v);
        else if (dst instanceof BigInt64Array) {
          dst[at + i] = BigInt(v as number | bigint);
        } else (dst as unknown[])[at + i] = v;
      }
    }
    at += n;
  }
  if (at !== rows) {
    throw new CorruptFileError(
      `Cannot compact the log in "${dir}": parts hold ${at} rows, their footers say ${rows}`,
    );
  }
  return (await encodeTypedMetrics(columns, rows)).bytes;
}

/**
 * Benchmark: metrics → Parquet. Times `encodeMetrics()` + `Deno.writeFile` of
 * 1M rows × 4 columns (an integer step and three float metrics), given as
 * typed arrays and as plain `number[]`, against DuckDB writing the same rows
 * to zstd Parquet natively in this process (`COPY t TO … (FORMAT parquet,
 * COMPRESSION zstd)`; only the COPY is timed — the rows are already in a
 * DuckDB table, put there once by an appender). For comparison it also times
 * hyparquet-writer's `parquetWriteBuffer` on the same typed arrays, and reads
 * files back with `readMetricTable()` (our files, polars-like and
 * pyarrow-like ones) against DuckDB loading each into a table.
 *
 * Run: `deno run -A tests/_tools/bench/metrics_bench.ts`
 *
 * @module
 */
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { parquetMetadata } from "hyparquet";
import { parquetHeader } from "hyparquet/src/column.js";
import { decompressLz4Raw } from "hyparquet-compressors/src/lz4.js";
import { parquetWriteBuffer } from "hyparquet-writer";
import { join, zstdCompressSync } from "../../../lib/_deps.ts";
import {
  decodeMetrics,
  encodeMetrics,
} from "../../../lib/formats/parquet/parquet.ts";
import { decodeParquet } from "../../../lib/formats/parquet/_decode.ts";
import { readMetricTable } from "../../../lib/metrics_log/table.ts";
import { benchDir, medianMs, report } from "./_bench.ts";

const ROWS = 1_000_000;
const VALUES = ROWS * 4;
/** The figure: 1M×4 values in about 330 ms. */
const GOAL = 12_000_000;
const RUNS = { runs: 7, warmup: 1 };

/** Prints the metrics write (and read) figures with DuckDB as reference. */
export async function benchMetrics(): Promise<void> {
  await using dir = await benchDir("sv_bench_metrics_");
  const typed = trainingCurves(ROWS);
  const plain = {
    step: Array.from(typed.step),
    loss: Array.from(typed.loss),
    accuracy: Array.from(typed.accuracy),
    lr: Array.from(typed.lr),
  };
  const ours = join(dir.path, "metrics.parquet");
  const theirs = join(dir.path, "duckdb.parquet");
  const perSecond = (ms: number) => VALUES / (ms / 1000);

  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    await con.run(
      "CREATE TABLE t (step BIGINT, loss DOUBLE, accuracy DOUBLE, lr DOUBLE)",
    );
    const appender = await con.createAppender("t");
    for (let i = 0; i < ROWS; i++) {
      appender.appendBigInt(BigInt(typed.step[i]));
      appender.appendDouble(typed.loss[i]);
      appender.appendDouble(typed.accuracy[i]);
      appender.appendDouble(typed.lr[i]);
      appender.endRow();
    }
    appender.closeSync();

    const duckWrite = perSecond(
      await medianMs(
        () =>
          con.run(
            `COPY t TO '${theirs}' (FORMAT parquet, COMPRESSION zstd)`,
          ),
        RUNS,
      ),
    );
    const reference = { name: "DuckDB COPY zstd", value: duckWrite };

    const writeTyped = perSecond(
      await medianMs(async () => {
        const { bytes } = await encodeMetrics(typed);
        await Deno.writeFile(ours, bytes);
      }, RUNS),
    );
    report({
      name: "metrics: writeMetrics 1M×4 values/s (typed arrays)",
      value: writeTyped,
      unit: "values/s",
      higherIsBetter: true,
      goal: GOAL,
      reference,
    });

    const writePlain = perSecond(
      await medianMs(async () => {
        const { bytes } = await encodeMetrics(plain);
        await Deno.writeFile(ours, bytes);
      }, RUNS),
    );
    report({
      name: "metrics: writeMetrics 1M×4 values/s (number[])",
      value: writePlain,
      unit: "values/s",
      higherIsBetter: true,
      goal: GOAL,
      reference,
    });

    // hyparquet-writer's own path, tuned (PLAIN, one row group, zstd), for
    // comparison: why encodeMetrics lays out its pages itself.
    const bigStep = BigInt64Array.from(typed.step, (v) => BigInt(v));
    const library = perSecond(
      await medianMs(async () => {
        const buffer = parquetWriteBuffer({
          codec: "ZSTD",
          compressors: { ZSTD: (b: Uint8Array) => zstdCompressSync(b) },
          rowGroupSize: ROWS,
          columnData: [
            { name: "step", data: bigStep, type: "INT64", encoding: "PLAIN" },
            ...(["loss", "accuracy", "lr"] as const).map((name) => ({
              name,
              data: typed[name],
              type: "DOUBLE" as const,
              encoding: "PLAIN" as const,
            })),
          ],
        });
        await Deno.writeFile(
          join(dir.path, "library.parquet"),
          new Uint8Array(buffer),
        );
      }, { runs: 5, warmup: 1 }),
    );
    report({
      name: "metrics: hyparquet-writer parquetWriteBuffer 1M×4",
      value: library,
      unit: "values/s",
      higherIsBetter: true,
      reference,
    });

    await Deno.writeFile(ours, (await encodeMetrics(typed)).bytes);
    await benchReads(con, dir.path, typed, plain);

    // LZ4_RAW, what DuckDB, pyarrow and polars write for "lz4".
    const lz4 = join(dir.path, "lz4.parquet");
    await con.run(`COPY t TO '${lz4}' (FORMAT parquet, COMPRESSION lz4)`);
    const lz4Bytes = await Deno.readFile(lz4);
    const readLz4 = perSecond(
      await medianMs(() => decodeMetrics(lz4Bytes, lz4), {
        runs: 5,
        warmup: 1,
      }),
    );
    report({
      name: "metrics: readMetrics 1M×4 values/s (DuckDB's LZ4_RAW file)",
      value: readLz4,
      unit: "values/s",
      higherIsBetter: true,
      reference: {
        name: "DuckDB read_parquet into a table",
        value: perSecond(await duckReadMs(con, lz4)),
      },
    });
    const pages = lz4Pages(lz4Bytes);
    const raw = pages.reduce((n, p) => n + p.size, 0);
    const lz4Ms = await medianMs(() => {
      for (const p of pages) decompressLz4Raw(p.data, p.size);
    }, RUNS);
    report({
      name: "metrics: LZ4_RAW page decode MB/s (hyparquet-compressors)",
      value: raw / 1e6 / (lz4Ms / 1000),
      unit: "MB/s",
      higherIsBetter: true,
    });
    const size = async (p: string) => (await Deno.stat(p)).size / 1e6;
    console.log(
      `  (1M×4 file: ours ${(await size(ours)).toFixed(1)} MB, DuckDB's ${
        (await size(theirs)).toFixed(1)
      } MB)`,
    );
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** Runs `a` and `b` in turn (11 times, after 2 warm-ups): their median ms. */
async function alternateMs(
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
): Promise<[number, number]> {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < 13; i++) {
    let t0 = performance.now();
    await a();
    const da = performance.now() - t0;
    t0 = performance.now();
    await b();
    const db = performance.now() - t0;
    if (i >= 2) {
      ta.push(da);
      tb.push(db);
    }
  }
  const median = (t: number[]) => t.sort((x, y) => x - y)[t.length >> 1];
  return [median(ta), median(tb)];
}

/** DuckDB loading a Parquet file into a table, in this process: median ms. */
function duckReadMs(con: DuckDBConnection, path: string): Promise<number> {
  return medianMs(
    () =>
      con.run(
        `CREATE OR REPLACE TABLE r AS SELECT * FROM read_parquet('${path}')`,
      ),
    { runs: 7, warmup: 2 },
  );
}

/**
 * readMetrics (`readMetricTable`, what `SpecimenStorage.readMetrics` calls)
 * of 1M×4 beside DuckDB reading the same file into a table, each timed
 * alternately in this process after a warm-up: our files (typed arrays and
 * number[] kinds), and files laid out as polars writes (zstd, v1 pages,
 * PLAIN doubles, a dictionary INT64 step when it repeats) and as pyarrow
 * writes (snappy, v1 pages), written here by DuckDB since neither is
 * installed. "before" is the general reader (hyparquet) on the same file.
 */
async function benchReads(
  con: DuckDBConnection,
  dir: string,
  typed: ReturnType<typeof trainingCurves>,
  plain: Record<string, number[]>,
): Promise<void> {
  const files: [string, string][] = [];
  const specimen = async (name: string, bytes?: Uint8Array) => {
    const path = join(dir, name, "strata", "metrics.parquet");
    await Deno.mkdir(join(dir, name, "strata"), { recursive: true });
    if (bytes) await Deno.writeFile(path, bytes);
    files.push([name, path]);
    return path;
  };
  await specimen("ours, typed arrays", (await encodeMetrics(typed)).bytes);
  await specimen("ours, number[]", (await encodeMetrics(plain)).bytes);
  await con.run(
    `COPY (SELECT step::BIGINT AS step, loss, accuracy, lr FROM read_parquet('${
      files[0][1]
    }')) TO '${await specimen(
      "polars-like zstd",
    )}' (FORMAT parquet, COMPRESSION zstd)`,
  );
  await con.run(
    `COPY (SELECT step::BIGINT AS step, loss, accuracy, lr FROM read_parquet('${
      files[0][1]
    }')) TO '${await specimen(
      "pyarrow-like snappy",
    )}' (FORMAT parquet, COMPRESSION snappy)`,
  );
  for (const [name, path] of files) {
    const specimenDir = join(path, "..", "..");
    // Alternated run by run, so a load change on the shared machine hits
    // both alike.
    const [duckMs, afterMs] = await alternateMs(
      () =>
        con.run(
          `CREATE OR REPLACE TABLE r AS SELECT * FROM read_parquet('${path}')`,
        ),
      () => readMetricTable(specimenDir, "metrics"),
    );
    const duck = VALUES / (duckMs / 1000);
    const after = VALUES / (afterMs / 1000);
    const before = VALUES / (await medianMs(
      async () =>
        decodeParquet(await Deno.readFile(path), path, { fast: false }),
      { runs: 3, warmup: 1 },
    ) / 1000);
    const reference = { name: "DuckDB read_parquet into a table", value: duck };
    report({
      name: `metrics: readMetrics 1M×4 values/s (${name})`,
      value: after,
      unit: "values/s",
      higherIsBetter: true,
      goal: duck,
      reference,
    });
    report({
      name: `metrics:   before (hyparquet only), ${name}`,
      value: before,
      unit: "values/s",
      higherIsBetter: true,
      reference,
    });
  }
}

/** The compressed data pages of a Parquet file (no dictionary pages: DuckDB's DOUBLE and BIGINT pages here are PLAIN). */
function lz4Pages(bytes: Uint8Array): { data: Uint8Array; size: number }[] {
  const buffer = bytes.slice().buffer;
  const view = new DataView(buffer);
  const pages: { data: Uint8Array; size: number }[] = [];
  for (const group of parquetMetadata(buffer).row_groups) {
    for (const c of group.columns) {
      const meta = c.meta_data!;
      const reader = {
        view,
        offset: Number(meta.dictionary_page_offset ?? meta.data_page_offset),
      };
      const end = reader.offset + Number(meta.total_compressed_size);
      while (reader.offset < end) {
        const header = parquetHeader(reader);
        const start = reader.offset;
        reader.offset += header.compressed_page_size;
        if (header.type !== "DATA_PAGE") continue;
        pages.push({
          data: bytes.subarray(start, reader.offset),
          size: header.uncompressed_page_size,
        });
      }
    }
  }
  return pages;
}

/** A plausible training run: integer steps, decaying loss, rising accuracy, cosine lr. */
function trainingCurves(rows: number) {
  const step = new Int32Array(rows);
  const loss = new Float64Array(rows);
  const accuracy = new Float64Array(rows);
  const lr = new Float64Array(rows);
  let seed = 42;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  };
  for (let i = 0; i < rows; i++) {
    const t = i / rows;
    step[i] = i;
    loss[i] = 2 * Math.exp(-5 * t) + 0.05 * noise();
    accuracy[i] = 1 - 0.9 * Math.exp(-4 * t) + 0.01 * noise();
    lr[i] = 1e-3 * 0.5 * (1 + Math.cos(Math.PI * t));
  }
  return { step, loss, accuracy, lr };
}

if (import.meta.main) await benchMetrics();

/**
 * The reader's fast path for flat number columns (`_fast.ts`) against the
 * general reader (hyparquet): the same columns, kinds and values on our
 * writer's files, DuckDB's and polars' files, and the same verdict on
 * damaged ones.
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { join } from "../lib/_deps.ts";
import { decodeParquet } from "../lib/formats/parquet/_decode.ts";
import { decompressPage } from "../lib/formats/parquet/_codecs.ts";
import { bytesSource, readFastColumns } from "../lib/formats/parquet/_fast.ts";
import { flatLeaves, storedKinds } from "../lib/formats/parquet/_columns.ts";
import { parquetMetadata } from "hyparquet";
import { snappyCompress } from "../lib/_deps/hyparquet_writer.ts";
import {
  type DecodedMetrics,
  decodeMetricsFile,
  encodeMetrics,
  type MetricColumns,
} from "../lib/formats/parquet/parquet.ts";
import { zstdCompressSync } from "../lib/_deps.ts";
import { CorruptFileError } from "../lib/errors.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
  INTEROP,
  tempDir,
} from "./utils.ts";

type Outcome = DecodedMetrics | { error: string };

async function outcome(bytes: Uint8Array, fast: boolean): Promise<Outcome> {
  try {
    return await decodeParquet(bytes, "x.parquet", { fast });
  } catch (e) {
    return { error: (e as Error).name };
  }
}

/** The columns of a file the fast path decodes (the rest go to hyparquet). */
function fastColumns(bytes: Uint8Array): string[] {
  const metadata = parquetMetadata(bytes.slice().buffer);
  const { leaves } = flatLeaves(
    metadata.schema,
    (m) => new Error(m),
    (m) => new Error(m),
  );
  const kinds = storedKinds(metadata.key_value_metadata);
  return [
    ...readFastColumns(bytesSource(bytes), metadata, leaves, kinds).keys(),
  ];
}

/** Both paths give the same result (or both the same error class). */
async function assertSame(bytes: Uint8Array, what: string): Promise<Outcome> {
  const general = await outcome(bytes, false);
  const fast = await outcome(bytes, true);
  try {
    assertEquals(fast, general);
  } catch (e) {
    throw new Error(`${what}: the fast path differs: ${(e as Error).message}`);
  }
  return fast;
}

/** A seeded generator, so a failing variant can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function withNulls<T>(values: T[], every: number): (T | null)[] {
  return values.map((v, i) => i % every === 3 ? null : v);
}

Deno.test("the fast path reads our writer's files exactly as the general reader does: every kind, nulls, pages, codecs", async (t) => {
  const n = 140_000; // two pages of 131,072 rows
  const r = random(7);
  const f64 = Float64Array.from({ length: n }, () => r() * 2 - 1);
  f64[5] = -0;
  f64[6] = NaN;
  f64[7] = Infinity;
  const ints = Array.from({ length: n }, (_, i) => i * 3 - 1000);
  const big = Array.from(
    { length: n },
    (_, i) => BigInt(i) * 30000000000007n - 5n,
  );
  const variants: Record<string, MetricColumns> = {
    "typed arrays of every kind": {
      f64,
      f32: Float32Array.from(f64.subarray(0, n)),
      i8: Int8Array.from(ints),
      i16: Int16Array.from(ints),
      i32: Int32Array.from(ints),
      u8: Uint8Array.from(ints),
      u16: Uint16Array.from(ints),
      u32: Uint32Array.from(ints),
      i64: BigInt64Array.from(big),
    },
    "number[] and bigint[]": {
      step: ints,
      loss: Array.from(f64),
      big,
      safe: big.map((v) => v % 1000n),
    },
    "nulls in every page": {
      step: withNulls(ints, 7),
      loss: withNulls(Array.from(f64), 5),
      big: withNulls(big, 11),
    },
    "nulls in the last page only, and a column all null": {
      late: ints.map((v, i) => i > 135_000 && i % 2 ? null : v),
      none: ints.map(() => null),
    },
    "numbers beside strings and booleans": {
      step: Int32Array.from(ints),
      phase: ints.map((v) => v % 3 ? `p${v % 7}` : null),
      ok: ints.map((v) => v % 5 === 0),
      loss: f64,
    },
    "one row": { step: [1], loss: [NaN] },
  };
  for (const [name, columns] of Object.entries(variants)) {
    for (const compression of ["zstd", "snappy", "none"] as const) {
      await t.step(`${name}, ${compression}`, async () => {
        const { bytes } = await encodeMetrics(columns, { compression });
        const out = await assertSame(bytes, name);
        if ("error" in out) throw new Error(`${name}: ${out.error}`);
        const numeric = out.schema.filter((c) =>
          c.type === "INT64" || c.type === "DOUBLE"
        ).map((c) => c.name);
        assertEquals(fastColumns(bytes), numeric);
      });
    }
  }
  await t.step(
    "a typed array beats the 1M-row group size (two row groups)",
    async () => {
      const rows = (1 << 20) + 1000;
      const { bytes } = await encodeMetrics({
        step: Int32Array.from({ length: rows }, (_, i) => i),
        loss: withNulls(Array.from({ length: rows }, (_, i) => i / 7), 97),
      });
      const out = await assertSame(bytes, "two row groups") as DecodedMetrics;
      assertEquals(out.columns.step[rows - 1], rows - 1);
    },
  );
});

/** A real in-memory DuckDB, closed when disposed. */
async function duckdb() {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  return {
    run: async (sql: string) => void await con.run(sql),
    [Symbol.dispose]() {
      con.closeSync();
      instance.closeSync();
    },
  };
}

Deno.test("the fast path reads DuckDB's files exactly as the general reader does: dictionaries, nulls, v1 and v2 pages, row groups, codecs", async (t) => {
  await using dir = await tempDir();
  using db = await duckdb();
  await db.run(`CREATE TABLE t AS SELECT
      i::BIGINT AS step,
      (i * 0.001 - 3)::DOUBLE AS loss,
      (i % 17)::DOUBLE AS few,
      (i % 50)::BIGINT AS bucket,
      (i % 1000)::INTEGER AS i32,
      (i * 0.5)::FLOAT AS f32,
      (i % 7)::UINTEGER AS u32,
      (i * 4611686018427)::BIGINT AS huge,
      ((i % 7) * 4611686018427387)::BIGINT AS huge_dict,
      CASE WHEN i % 3 = 0 THEN NULL ELSE i END::BIGINT AS step_holes,
      CASE WHEN i % 9 = 0 THEN NULL ELSE i * 1.5 END::DOUBLE AS holes,
      CASE WHEN i % 4 = 0 THEN NULL ELSE i % 3 END::BIGINT AS dict_holes,
      CASE WHEN i % 2 = 0 THEN NULL ELSE 'x' || (i % 5) END AS label
    FROM range(150000) r(i)`);
  await db.run(
    "CREATE TABLE req (step BIGINT NOT NULL, loss DOUBLE NOT NULL, few INTEGER NOT NULL)",
  );
  await db.run(
    "INSERT INTO req SELECT i, i / 3, i % 9 FROM range(100000) r(i)",
  );
  // Every number column but the unsigned one (hyparquet converts it).
  const all = [
    "step",
    "loss",
    "few",
    "bucket",
    "i32",
    "f32",
    "huge",
    "huge_dict",
    "step_holes",
    "holes",
    "dict_holes",
  ];
  const variants: [string, string, string, string[]][] = [];
  for (
    const compression of ["zstd", "snappy", "uncompressed", "gzip", "lz4"]
  ) {
    variants.push([`${compression}`, "t", `COMPRESSION ${compression}`, all]);
  }
  variants.push(
    ["small row groups", "t", "COMPRESSION zstd, ROW_GROUP_SIZE 10000", all],
    // DELTA_BINARY_PACKED and BYTE_STREAM_SPLIT go to hyparquet; the
    // dictionary columns stay fast.
    ["parquet v2 (delta, byte stream split)", "t", "PARQUET_VERSION V2", [
      "few",
      "bucket",
      "i32",
      "huge_dict",
      "dict_holes",
    ]],
    ["NOT NULL columns (REQUIRED)", "req", "COMPRESSION snappy", [
      "step",
      "loss",
      "few",
    ]],
    ["NOT NULL columns, v2", "req", "PARQUET_VERSION V2", ["few"]],
  );
  for (const [name, table, options, fast] of variants) {
    await t.step(name, async () => {
      const path = join(dir.path, `${name.replace(/\W+/g, "_")}.parquet`);
      await db.run(`COPY ${table} TO '${path}' (FORMAT parquet, ${options})`);
      const bytes = await Deno.readFile(path);
      const out = await assertSame(bytes, name);
      if ("error" in out) throw new Error(`${name}: ${out.error}`);
      assertEquals(fastColumns(bytes), fast);
    });
  }
});

Deno.test("the fast path reads polars' and pyarrow's interop files exactly as the general reader does", async () => {
  const files = [
    ...["000000", "000001", "000002"].map((id) =>
      join(
        INTEROP,
        "python_vault",
        "specimens",
        `2024_01_01_run_${id}`,
        "strata",
        "metrics.parquet",
      )
    ),
  ];
  for await (const e of Deno.readDir(join(INTEROP, "parquet_edge"))) {
    if (e.name.endsWith(".parquet")) {
      files.push(join(INTEROP, "parquet_edge", e.name));
    }
  }
  assert(files.length >= 9);
  for (const path of files) {
    const bytes = await Deno.readFile(path);
    await assertSame(bytes, path);
    if (path.includes("python_vault")) {
      // polars: a dictionary-encoded INT64 step, PLAIN doubles, zstd, v1.
      assertEquals(fastColumns(bytes), ["step", "loss", "accuracy"]);
    }
  }
});

Deno.test("the fast path and the general reader agree on damaged files: flipped bits in pages and page headers give the same values or the same error", async () => {
  using db = await duckdb();
  await using dir = await tempDir();
  const duck = join(dir.path, "duck.parquet");
  await db.run(
    `COPY (SELECT i::BIGINT AS step, (i % 13) * 0.5 AS few, CASE WHEN i % 5 = 0 THEN NULL ELSE i / 7 END AS loss FROM range(3000) r(i)) TO '${duck}' (FORMAT parquet, COMPRESSION uncompressed)`,
  );
  const ours = (await encodeMetrics({
    step: Array.from({ length: 3000 }, (_, i) => i),
    loss: Array.from({ length: 3000 }, (_, i) => i % 6 ? i / 3 : null),
  }, { compression: "none" })).bytes;
  const snappy = (await encodeMetrics({
    step: Array.from({ length: 3000 }, (_, i) => i % 40),
    loss: Array.from({ length: 3000 }, (_, i) => i % 6 ? i / 3 : null),
  }, { compression: "snappy" })).bytes;
  const sources = [ours, snappy, await Deno.readFile(duck)];
  const r = random(16);
  let errors = 0;
  for (const source of sources) {
    for (let trial = 0; trial < 150; trial++) {
      const bytes = source.slice();
      // Damage the data and page headers, not the footer (whose damage
      // both paths meet before the data).
      const flips = 1 + Math.floor(r() * 3);
      for (let k = 0; k < flips; k++) {
        const at = 4 + Math.floor(r() * (bytes.length / 2));
        bytes[at] ^= 1 << Math.floor(r() * 8);
      }
      const out = await assertSame(bytes, `trial ${trial}`);
      if ("error" in out) errors++;
    }
  }
  assert(errors > 0, "no damage was ever detected");
});

Deno.test("a page that decompresses past its declared size (zstd, or a snappy stream declaring another length) is refused, by both paths, with CorruptFileError", async () => {
  const zeros = new Uint8Array(64 * 1024 * 1024);
  const bomb = zstdCompressSync(zeros);
  assert(bomb.length < 64 * 1024);
  let message = "";
  try {
    decompressPage("ZSTD", bomb, 1000);
  } catch (e) {
    message = (e as Error).message;
  }
  assert(message !== "", "a 64 MiB page declared as 1000 bytes was accepted");
  const snappy = snappyCompress(new Uint8Array(1 << 20));
  for (const size of [1000, (1 << 20) + 1]) {
    assertThrows(
      () => decompressPage("SNAPPY", snappy, size),
      Error,
      /SNAPPY page holds 1048576 bytes/,
    );
  }
  assertEquals(decompressPage("SNAPPY", snappy, 1 << 20).length, 1 << 20);

  // Our file with one page whose header declares 4 bytes less than it holds.
  const { bytes } = await encodeMetrics({
    loss: new Float64Array(131_072),
  });
  const varint = (v: number) => {
    const out = [];
    for (let z = v * 2; z >= 0x80; z = Math.floor(z / 128)) {
      out.push((z & 0x7f) | 0x80);
    }
    out.push(Math.floor(v * 2 / 128 ** (out.length)));
    return out;
  };
  const actual = varint(1_048_580);
  const declared = varint(1_048_576);
  assertEquals(actual.length, declared.length);
  const at = bytes.findIndex((_, i) =>
    actual.every((b, k) => bytes[i + k] === b)
  );
  assert(at > 0 && at < 20);
  bytes.set(declared, at);
  for (const fast of [true, false]) {
    await assertRejects(
      () => decodeParquet(bytes, "bomb.parquet", { fast }),
      CorruptFileError,
      /does not decode/,
    );
  }
});

Deno.test("decodeMetricsFile() gives what decodeMetrics() gives of the same bytes: by chunks, whole, damaged, missing", async () => {
  await using dir = await tempDir();
  using db = await duckdb();
  const duck = join(dir.path, "duck.parquet");
  await db.run(
    `COPY (SELECT i::BIGINT AS step, (i % 13) * 0.5 AS few, CASE WHEN i % 5 = 0 THEN NULL ELSE i / 7 END AS loss FROM range(150000) r(i)) TO '${duck}' (FORMAT parquet, COMPRESSION zstd)`,
  );
  const files: Uint8Array[] = [
    await Deno.readFile(duck),
    (await encodeMetrics({
      step: Int32Array.from({ length: 140_000 }, (_, i) => i),
      loss: Float64Array.from({ length: 140_000 }, (_, i) => i / 3),
    })).bytes,
    (await encodeMetrics({ step: [1, 2], phase: ["a", null] })).bytes,
    (await encodeMetrics({ step: [] as number[] })).bytes,
  ];
  const r = random(3);
  for (let k = 0; k < 10; k++) {
    const bytes = files[1].slice(0, 200_000 + Math.floor(r() * 10));
    bytes.set(files[1].subarray(files[1].length - 2000), bytes.length - 2000);
    const flipped = files[0].slice();
    flipped[4 + Math.floor(r() * 100_000)] ^= 0x10;
    files.push(bytes, flipped);
  }
  const path = join(dir.path, "m.parquet");
  for (const [i, bytes] of files.entries()) {
    await Deno.writeFile(path, bytes);
    const whole = await outcome(bytes, true);
    let byFile: Outcome;
    try {
      byFile = await decodeMetricsFile(path, dir.path);
    } catch (e) {
      byFile = { error: (e as Error).name };
    }
    assertEquals(byFile, whole, `file ${i}`);
  }
  await assertRejects(
    () => decodeMetricsFile(join(dir.path, "none.parquet"), dir.path),
    Deno.errors.NotFound,
  );
});

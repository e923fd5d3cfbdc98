import { DuckDBInstance } from "@duckdb/node-api";
import { type PageHeader, parquetMetadata } from "hyparquet";
import { parquetHeader } from "hyparquet/src/column.js";
import { parquetWriteBuffer } from "hyparquet-writer";
import { join } from "../lib/_deps.ts";
import {
  CorruptFileError,
  InvalidInputError,
  UnsupportedFormatError,
} from "../lib/errors.ts";
import {
  type ColumnValues,
  decodeMetrics,
  encodeMetrics,
  type MetricColumns,
  type ReadColumn,
} from "../lib/formats/parquet/parquet.ts";
// utils.ts' assertEquals is node's deepEqual, which Deno 2.9 compares loosely
// (1 equals 1n and "1"); types are the point here, so compare strictly.
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  assert,
  assertMatch,
  assertStrictEquals,
  INTEROP,
  tempDir,
} from "./utils.ts";

type Row = Record<string, unknown>;

/** A real in-memory DuckDB, closed when disposed. */
async function duckdb() {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  return {
    all: async (sql: string): Promise<Row[]> =>
      (await con.runAndReadAll(sql)).getRowObjectsJS() as Row[],
    run: async (sql: string) => void await con.run(sql),
    [Symbol.dispose]() {
      con.closeSync();
      instance.closeSync();
    },
  };
}

/** Encodes `columns` into a file in `dir`; returns its path. */
async function writeFile(
  dir: string,
  columns: MetricColumns,
  name = "metrics.parquet",
  compression?: "zstd" | "snappy" | "none",
): Promise<string> {
  const { bytes } = await encodeMetrics(columns, { compression });
  const path = join(dir, name);
  await Deno.writeFile(path, bytes);
  return path;
}

/** The page headers of every chunk of column `name`, in file order. */
function pageHeaders(bytes: Uint8Array, name: string): PageHeader[] {
  const buffer = bytes.slice().buffer;
  const view = new DataView(buffer);
  const headers: PageHeader[] = [];
  for (const group of parquetMetadata(buffer).row_groups) {
    const meta = group.columns.find((c) =>
      c.meta_data?.path_in_schema[0] === name
    )!.meta_data!;
    const reader = { view, offset: Number(meta.data_page_offset) };
    const end = reader.offset + Number(meta.total_compressed_size);
    while (reader.offset < end) {
      const header = parquetHeader(reader);
      headers.push(header);
      reader.offset += header.compressed_page_size;
    }
  }
  return headers;
}

async function roundTrip(columns: MetricColumns) {
  const { bytes } = await encodeMetrics(columns);
  return await decodeMetrics(bytes, "round-trip.parquet");
}

/** Awaits `fn`, expecting it to reject with `Class` and messages matching `patterns`. */
async function assertRejectsWith(
  fn: () => Promise<unknown>,
  Class: new (...args: never[]) => Error,
  ...patterns: RegExp[]
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    assert(e instanceof Class, `expected ${Class.name}, got ${e}`);
    for (const p of patterns) assertMatch(e.message, p);
    return e;
  }
  throw new Error(`expected ${Class.name}, but it resolved`);
}

/** Same class, same length, and every value the same by `Object.is` (NaN = NaN, -0 ≠ 0). */
function assertSameColumn(actual: ReadColumn, expected: ColumnValues) {
  assertStrictEquals(actual.constructor, expected.constructor);
  assertStrictEquals(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert(
      Object.is(actual[i], expected[i]),
      `row ${i}: got ${String(actual[i])}, expected ${String(expected[i])}`,
    );
  }
}

Deno.test("encodeMetrics() and decodeMetrics() round-trip every column kind", async (t) => {
  const cases: [string, ColumnValues][] = [
    ["integer number[] with nulls", [
      0,
      1,
      null,
      -5,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
    ]],
    ["float number[] with NaN, ±Infinity, -0 and null", [
      0.5,
      NaN,
      null,
      -0,
      Infinity,
      -Infinity,
      1e-300,
    ]],
    ["bigint[] with the int64 extremes and null", [
      1n,
      null,
      -(2n ** 63n),
      2n ** 63n - 1n,
      0n,
    ]],
    ["string[] with empty, unicode and null", [
      "a",
      "",
      null,
      "ünïcödé",
      "学习率",
      "🚀 launch",
      "tab\tand\nnewline",
    ]],
    ["boolean[] with null", [true, null, false, true, false]],
    ["Float64Array", new Float64Array([0.1, -2.5, NaN, 1e308, -0])],
    ["Float32Array", new Float32Array([0.1, -2.5, NaN, 3.4e38, 1 / 3])],
    ["Int8Array", new Int8Array([-128, 0, 127])],
    ["Int16Array", new Int16Array([-32768, 0, 32767])],
    ["Int32Array", new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1])],
    ["Uint8Array", new Uint8Array([0, 1, 255])],
    ["Uint16Array", new Uint16Array([0, 1, 65535])],
    ["Uint32Array", new Uint32Array([0, 1, 2 ** 32 - 1])],
    ["BigInt64Array", new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n])],
  ];
  for (const [label, values] of cases) {
    await t.step(label, async () => {
      const out = await roundTrip({ col: values });
      assertEquals(out.rows, values.length);
      assertSameColumn(out.columns.col, values);
    });
  }
  await t.step("all kinds together keep their order and names", async () => {
    const columns = Object.fromEntries(
      cases.map(([label, v], i) => [`c${i}_${label.split(" ")[0]}`, v]),
    );
    // Columns of one file need one length: take each case's first 3 values.
    for (const k of Object.keys(columns)) {
      columns[k] = columns[k].slice(0, 3) as ColumnValues;
    }
    const out = await roundTrip(columns);
    assertEquals(Object.keys(out.columns), Object.keys(columns));
    for (const k of Object.keys(columns)) {
      assertSameColumn(out.columns[k], columns[k]);
    }
  });
});

Deno.test("encodeMetrics() keeps an integer step column INT64 and makes 1.5 DOUBLE", async (t) => {
  const cases: [string, ColumnValues, "INT64" | "DOUBLE"][] = [
    ["integers", [0, 1, 2], "INT64"],
    ["integers with nulls", [null, 1, null], "INT64"],
    ["one fraction", [0, 1.5, 2], "DOUBLE"],
    ["NaN", [0, NaN], "DOUBLE"],
    ["an unsafe integer", [0, 2 ** 53], "DOUBLE"],
    ["negative zero", [1, -0], "DOUBLE"],
    ["no values at all", [null, null], "DOUBLE"],
    ["empty", [], "DOUBLE"],
    ["Int32Array", new Int32Array([1]), "INT64"],
    ["Uint8Array", new Uint8Array([1]), "INT64"],
    ["Float32Array of integers", new Float32Array([1, 2]), "DOUBLE"],
    ["bigint[]", [1n], "INT64"],
  ];
  for (const [label, values, type] of cases) {
    await t.step(`${label} → ${type}`, async () => {
      const { columns } = await encodeMetrics({ x: values });
      assertEquals(columns, [{ name: "x", type }]);
    });
  }
  await t.step("a mixed table reports each column's type", async () => {
    const out = await encodeMetrics({
      step: [0, 1],
      loss: [0.5, 0.25],
      phase: ["a", "b"],
      ok: [true, false],
    });
    assertEquals(out.rows, 2);
    assertEquals(out.columns, [
      { name: "step", type: "INT64" },
      { name: "loss", type: "DOUBLE" },
      { name: "phase", type: "STRING" },
      { name: "ok", type: "BOOLEAN" },
    ]);
  });
});

Deno.test("encodeMetrics() writes a zero-row file that keeps the columns and kinds", async () => {
  await using dir = await tempDir();
  const columns = {
    step: [],
    loss: new Float32Array(0),
    big: new BigInt64Array(0),
  };
  const { bytes, rows } = await encodeMetrics(columns);
  assertEquals(rows, 0);
  const out = await decodeMetrics(bytes);
  assertEquals(out.rows, 0);
  assertSameColumn(out.columns.step, []);
  assertSameColumn(out.columns.loss, new Float32Array(0));
  assertSameColumn(out.columns.big, new BigInt64Array(0));

  const path = join(dir.path, "empty.parquet");
  await Deno.writeFile(path, bytes);
  using db = await duckdb();
  assertEquals(await db.all(`SELECT count(*) AS n FROM '${path}'`), [{
    n: 0n,
  }]);
  const types = await db.all(`DESCRIBE SELECT * FROM '${path}'`);
  assertEquals(types.map((r) => r.column_type), ["DOUBLE", "DOUBLE", "BIGINT"]);
});

Deno.test("encodeMetrics() rejects bad input with InvalidInputError naming the problem", async (t) => {
  const cases: [string, unknown, RegExp, object?][] = [
    ["no columns", {}, /no columns given; pass at least one/],
    ["a blank name", { "": [1] }, /column name "" is blank/],
    ["a whitespace name", { "  ": [1] }, /column name " {2}" is blank/],
    [
      "names equal but for case",
      { loss: [1], Loss: [2] },
      /"loss" and "Loss" differ only in case/,
    ],
    [
      "unequal lengths",
      { step: [0, 1, 2, 3], loss: [1, 2, 3] },
      /column "loss" has 3 rows but column "step" has 4; give every column the same length/,
    ],
    [
      "an object value",
      { cfg: [1, { lr: 0.1 }] },
      /column "cfg" holds an object \{ lr: 0\.1 \} at row 1/,
    ],
    [
      "undefined",
      { loss: [1, undefined, 2] },
      /column "loss" holds undefined \(use null for a missing value\) at row 1/,
    ],
    [
      "a nested array",
      { loss: [[1, 2]] },
      /column "loss" holds \[ 1, 2 \] at row 0/,
    ],
    [
      "mixed number and string",
      { loss: [0.5, null, "high"] },
      /column "loss" mixes a number \(0\.5 at row 0\) with a string \("high" at row 2\)/,
    ],
    [
      "mixed boolean and bigint",
      { f: [true, 1n] },
      /column "f" mixes a boolean \(true at row 0\) with a bigint \(1n at row 1\)/,
    ],
    [
      "a column that is not an array",
      { loss: 0.5 },
      /column "loss" is 0\.5, not an array/,
    ],
    [
      "a BigUint64Array",
      { x: new BigUint64Array(1) },
      /column "x" is a BigUint64Array, which is not supported; use one of Float64Array/,
    ],
    [
      "a DataView",
      { x: new DataView(new ArrayBuffer(8)) },
      /column "x" is a DataView, which is not supported/,
    ],
    [
      "a bigint beyond int64",
      { x: [0n, 2n ** 63n] },
      /column "x" holds 9223372036854775808n at row 1, outside the 64-bit integer range/,
    ],
    [
      "an unknown compression",
      { x: [1] },
      /compression "lz4" is not supported; use "zstd", "snappy" or "none"/,
      { compression: "lz4" },
    ],
    [
      "a compression named like an Object method",
      { x: [1] },
      /compression "toString" is not supported/,
      { compression: "toString" },
    ],
  ];
  for (const [label, columns, message, options] of cases) {
    await t.step(label, async () => {
      await assertRejectsWith(
        () => encodeMetrics(columns as MetricColumns, options as object),
        InvalidInputError,
        /^Cannot encode metrics: /,
        message,
      );
    });
  }
});

Deno.test("DuckDB reads encodeMetrics() output with BIGINT/DOUBLE/VARCHAR/BOOLEAN types, values, statistics and zstd", async () => {
  await using dir = await tempDir();
  const path = await writeFile(dir.path, {
    step: new Int32Array([0, 1, 2, 3]),
    loss: new Float32Array([1.5, 0.75, 0.5, 0.25]),
    acc: [0.1, null, NaN, 0.9],
    phase: ["warmup", "train", null, "ünï"],
    ok: [true, null, false, true],
    big: [1n, 2n ** 62n, null, -5n],
    gap: [null, null, null, null],
  });
  using db = await duckdb();
  const types = await db.all(`DESCRIBE SELECT * FROM '${path}'`);
  assertEquals(
    types.map((r) => [r.column_name, r.column_type]),
    [
      ["step", "BIGINT"],
      ["loss", "DOUBLE"],
      ["acc", "DOUBLE"],
      ["phase", "VARCHAR"],
      ["ok", "BOOLEAN"],
      ["big", "BIGINT"],
      ["gap", "DOUBLE"],
    ],
  );
  const rows = await db.all(`SELECT * FROM '${path}'`);
  assertEquals(rows, [
    {
      step: 0n,
      loss: 1.5,
      acc: 0.1,
      phase: "warmup",
      ok: true,
      big: 1n,
      gap: null,
    },
    {
      step: 1n,
      loss: 0.75,
      acc: null,
      phase: "train",
      ok: null,
      big: 2n ** 62n,
      gap: null,
    },
    {
      step: 2n,
      loss: 0.5,
      acc: NaN,
      phase: null,
      ok: false,
      big: null,
      gap: null,
    },
    {
      step: 3n,
      loss: 0.25,
      acc: 0.9,
      phase: "ünï",
      ok: true,
      big: -5n,
      gap: null,
    },
  ]);

  const meta = await db.all(
    `SELECT path_in_schema AS col, compression, stats_min_value AS min,
            stats_max_value AS max, stats_null_count AS nulls
       FROM parquet_metadata('${path}') ORDER BY column_id`,
  );
  assertEquals(meta, [
    { col: "step", compression: "ZSTD", min: "0", max: "3", nulls: 0n },
    { col: "loss", compression: "ZSTD", min: "0.25", max: "1.5", nulls: 0n },
    { col: "acc", compression: "ZSTD", min: "0.1", max: "0.9", nulls: 1n },
    { col: "phase", compression: "ZSTD", min: "train", max: "ünï", nulls: 1n },
    { col: "ok", compression: "ZSTD", min: "false", max: "true", nulls: 1n },
    {
      col: "big",
      compression: "ZSTD",
      min: "-5",
      max: String(2n ** 62n),
      nulls: 1n,
    },
    { col: "gap", compression: "ZSTD", min: null, max: null, nulls: 4n },
  ]);
});

Deno.test("encodeMetrics() compression option sets the codec DuckDB sees", async (t) => {
  await using dir = await tempDir();
  using db = await duckdb();
  const columns = {
    step: [0, 1, 2],
    loss: [0.5, null, 0.25],
    s: ["a", "b", null],
    none: [null, null, null],
  };
  for (
    const [option, codec] of [
      [undefined, "ZSTD"],
      ["zstd", "ZSTD"],
      ["snappy", "SNAPPY"],
      ["none", "UNCOMPRESSED"],
    ] as const
  ) {
    await t.step(`${option ?? "default"} → ${codec}`, async () => {
      const path = await writeFile(
        dir.path,
        columns,
        `${codec}.parquet`,
        option,
      );
      const codecs = await db.all(
        `SELECT DISTINCT compression FROM parquet_metadata('${path}')`,
      );
      assertEquals(codecs, [{ compression: codec }]);
      const sums = await db.all(
        `SELECT sum(step) AS s, sum(loss) AS l, string_agg(s, ',') AS t FROM '${path}'`,
      );
      assertEquals(sums, [{ s: 3n, l: 0.75, t: "a,b" }]);
      const out = await decodeMetrics(await Deno.readFile(path));
      assertEquals(out.columns, columns);
    });
  }
});

Deno.test("encodeMetrics() stores a page that zstd or snappy barely shrinks uncompressed, and DuckDB and decodeMetrics() read it", async (t) => {
  await using dir = await tempDir();
  using db = await duckdb();
  const n = 50_000;
  // Every bit of these varies (xorshift words, any finite exponent): no
  // codec shrinks them by an eighth.
  let x = 7;
  const word = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const pair = new Uint32Array(2);
  const asDouble = new Float64Array(pair.buffer);
  const wild = () => {
    pair[0] = word();
    pair[1] = (word() & 0x800fffff) | ((word() % 2000) + 24) << 20;
    return asDouble[0];
  };
  const columns = {
    step: Float64Array.from({ length: n }, (_, i) => i), // shrinks
    loss: Float64Array.from({ length: n }, wild),
    lr: Array.from({ length: n }, (_, i) => i % 9 === 4 ? null : wild()),
  };
  for (const option of ["zstd", "snappy"] as const) {
    await t.step(option, async () => {
      const path = await writeFile(dir.path, columns, `n.parquet`, option);
      const bytes = await Deno.readFile(path);
      const compressed = (name: string) =>
        pageHeaders(bytes, name).map((p) =>
          p.data_page_header_v2!.is_compressed
        );
      assertEquals(compressed("step"), [true]);
      assertEquals(compressed("loss"), [false]);
      assertEquals(compressed("lr"), [false]);
      const rows = await db.all(
        `SELECT step, loss, lr FROM '${path}' ORDER BY step`,
      );
      assertEquals(rows.length, n);
      for (let i = 0; i < n; i++) {
        assert(
          Object.is(rows[i].loss, columns.loss[i]) &&
            Object.is(rows[i].lr, columns.lr[i]),
          `DuckDB's row ${i} differs`,
        );
      }
      const out = await decodeMetrics(bytes, path);
      assertSameColumn(out.columns.loss, columns.loss);
      assertEquals(out.columns.lr, columns.lr);
    });
  }
});

Deno.test("encodeMetrics() splits big columns into pages and row groups that DuckDB and decodeMetrics() read back", async () => {
  await using dir = await tempDir();
  const n = (1 << 20) + 12_345; // two row groups
  const step = new Int32Array(n);
  const loss: (number | null)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    step[i] = i;
    loss[i] = i % 7 === 3 ? null : i / 2;
  }
  const path = await writeFile(dir.path, { step, loss });
  using db = await duckdb();
  const groups = await db.all(
    `SELECT row_group_id AS g, row_group_num_rows AS n, stats_min_value AS min,
            stats_max_value AS max
       FROM parquet_metadata('${path}') WHERE path_in_schema = 'step'
      ORDER BY g`,
  );
  assertEquals(groups, [
    { g: 0n, n: BigInt(1 << 20), min: "0", max: String((1 << 20) - 1) },
    { g: 1n, n: 12_345n, min: String(1 << 20), max: String(n - 1) },
  ]);
  const [agg] = await db.all(
    `SELECT count(*) AS rows, count(loss) AS vals, sum(step) AS s,
            bool_and(loss IS NULL OR loss = step / 2) AS same
       FROM '${path}'`,
  );
  const nulls = Math.floor((n - 4) / 7) + 1;
  assertEquals(agg, {
    rows: BigInt(n),
    vals: BigInt(n - nulls),
    s: BigInt(n) * BigInt(n - 1) / 2n,
    same: true,
  });

  const bytes = await Deno.readFile(path);
  // Pages of 2^17 rows: 8 in the first group, 1 in the second.
  const pages = pageHeaders(bytes, "loss");
  assertEquals(
    pages.map((p) => [p.type, p.data_page_header_v2!.num_rows]),
    [
      ...Array(8).fill(["DATA_PAGE_V2", 1 << 17]),
      ["DATA_PAGE_V2", 12_345],
    ],
  );
  assertEquals(
    pages.reduce((k, p) => k + p.data_page_header_v2!.num_nulls, 0),
    nulls,
  );
  const out = await decodeMetrics(bytes, path);
  assertEquals(out.rows, n);
  assertSameColumn(out.columns.step, step);
  assertEquals(out.columns.loss, loss);
});

Deno.test("encodeMetrics() writes long strings across pages and DuckDB filters on them", async () => {
  await using dir = await tempDir();
  const notes = Array.from(
    { length: 3000 },
    (_, i) =>
      i % 11 === 0 ? null : `${String(i).padStart(5, "0")}-${"é".repeat(600)}`,
  );
  const path = await writeFile(dir.path, { notes });
  const bytes = await Deno.readFile(path);
  const out = await decodeMetrics(bytes);
  assertEquals(out.columns.notes, notes);
  // About 3.3 MB of UTF-8 in pages of about 1 MiB.
  const pages = pageHeaders(bytes, "notes");
  assertEquals(pages.length, 4);
  assertEquals(
    pages.reduce((n, p) => n + p.data_page_header_v2!.num_rows, 0),
    notes.length,
  );
  using db = await duckdb();
  const hits = await db.all(
    `SELECT count(*) AS n FROM '${path}' WHERE notes = '${notes[2999]}'`,
  );
  assertEquals(hits, [{ n: 1n }]);
  // Long bounds are truncated (and marked inexact) rather than copied whole.
  const [meta] = await db.all(
    `SELECT stats_min_value AS min, stats_null_count AS nulls FROM parquet_metadata('${path}')`,
  );
  assert(String(meta.min).startsWith("00001-"));
  assert(String(meta.min).length < 40);
  assertEquals(meta.nulls, BigInt(notes.filter((s) => s === null).length));
});

Deno.test("decodeMetrics() reads polars' zstd metrics files", async () => {
  const root = join(INTEROP, "python_vault", "specimens");
  using db = await duckdb();
  let files = 0;
  for await (const entry of Deno.readDir(root)) {
    const path = join(root, entry.name, "strata", "metrics.parquet");
    const out = await decodeMetrics(await Deno.readFile(path), path);
    assertEquals(out.schema, [
      { name: "step", type: "INT64" },
      { name: "loss", type: "DOUBLE" },
      { name: "accuracy", type: "DOUBLE" },
    ]);
    // No kinds stored by polars: safe INT64 → number[], DOUBLE → number[].
    assert(Array.isArray(out.columns.step));
    assert(out.columns.step.every((v) => typeof v === "number"));
    const expected = await db.all(
      `SELECT step, loss, accuracy FROM '${path}'`,
    );
    assertEquals(out.rows, expected.length);
    assert(out.rows > 0);
    assertEquals(out.columns.step, expected.map((r) => Number(r.step)));
    assertEquals(out.columns.loss, expected.map((r) => r.loss));
    assertEquals(out.columns.accuracy, expected.map((r) => r.accuracy));
    files++;
  }
  assertEquals(files, 3);
});

Deno.test("decodeMetrics() reads DuckDB-written files with default kinds", async (t) => {
  await using dir = await tempDir();
  using db = await duckdb();
  await db.run(`CREATE TABLE m AS SELECT
      i::BIGINT AS step, i::INTEGER AS epoch, (i / 4)::FLOAT AS lr,
      CASE WHEN i = 2 THEN NULL ELSE i * 0.5 END::DOUBLE AS loss,
      CASE WHEN i = 1 THEN NULL ELSE 'r' || i END AS tag,
      i % 2 = 0 AS even,
      CASE WHEN i = 3 THEN 9007199254740993 ELSE i END::BIGINT AS huge
    FROM range(4) t(i)`);
  for (const codec of ["zstd", "snappy", "gzip", "uncompressed"]) {
    await t.step(codec, async () => {
      const path = join(dir.path, `${codec}.parquet`);
      await db.run(
        `COPY m TO '${path}' (FORMAT parquet, COMPRESSION ${codec})`,
      );
      const out = await decodeMetrics(await Deno.readFile(path), path);
      assertEquals(out.schema.map((c) => c.type), [
        "INT64",
        "INT64",
        "DOUBLE",
        "DOUBLE",
        "STRING",
        "BOOLEAN",
        "INT64",
      ]);
      assertEquals(out.columns, {
        step: [0, 1, 2, 3],
        epoch: [0, 1, 2, 3],
        lr: [0, 0.25, 0.5, 0.75],
        loss: [0, 0.5, null, 1.5],
        tag: ["r0", null, "r2", "r3"],
        even: [true, false, true, false],
        // One value beyond 2^53: the whole column comes back as bigint[].
        huge: [0n, 1n, 2n, 9007199254740993n],
      });
    });
  }
});

Deno.test("decodeMetrics() reads hyparquet-writer's defaults: required columns, dictionaries, INT32 and FLOAT", async () => {
  const n = 3000;
  const buffer = parquetWriteBuffer({
    columnData: [
      {
        name: "step",
        data: Int32Array.from({ length: n }, (_, i) => i),
        type: "INT32",
        nullable: false,
      },
      {
        name: "loss",
        data: Float64Array.from({ length: n }, (_, i) => 1 / (i + 1)),
        type: "DOUBLE",
        nullable: false,
      },
      {
        name: "lr",
        data: Float32Array.from({ length: n }, (_, i) => (i % 3) / 4),
        type: "FLOAT",
        nullable: false,
      },
      {
        name: "phase",
        data: Array.from({ length: n }, (_, i) => i < 100 ? "warmup" : "train"),
        type: "STRING",
      },
    ],
  });
  const out = await decodeMetrics(new Uint8Array(buffer));
  assertEquals(out.schema, [
    { name: "step", type: "INT64" },
    { name: "loss", type: "DOUBLE" },
    { name: "lr", type: "DOUBLE" },
    { name: "phase", type: "STRING" },
  ]);
  assertEquals(out.columns.step, Array.from({ length: n }, (_, i) => i));
  assertEquals(
    out.columns.loss,
    Array.from({ length: n }, (_, i) => 1 / (i + 1)),
  );
  assertEquals(
    out.columns.lr,
    Array.from({ length: n }, (_, i) => (i % 3) / 4),
  );
  assertEquals(out.columns.phase.slice(98, 102), [
    "warmup",
    "warmup",
    "train",
    "train",
  ]);
});

Deno.test("decodeMetrics() refuses nested and interval columns with UnsupportedFormatError naming the column and type", async (t) => {
  await using dir = await tempDir();
  using db = await duckdb();
  const cases: [string, string, RegExp][] = [
    ["a list", "[1, 2] AS l", /column "l" is a nested \(group, list or map\)/],
    ["a struct", "{'a': 1} AS s", /column "s" is a nested/],
    ["a map", "MAP {'k': 1} AS m", /column "m" is a nested/],
    [
      "an interval",
      "INTERVAL 3 DAY AS i",
      /column "i" is of type FIXED_LEN_BYTE_ARRAY \(INTERVAL\)/,
    ],
  ];
  for (const [label, select, message] of cases) {
    await t.step(label, async () => {
      const path = join(dir.path, "bad.parquet");
      await db.run(
        `COPY (SELECT 1 AS step, ${select}) TO '${path}' (FORMAT parquet)`,
      );
      const e = await assertRejectsWith(
        () => decodeMetrics(Deno.readFileSync(path), path),
        UnsupportedFormatError,
        message,
      );
      assert(e.message.includes(`"${path}"`));
      assert(!(e instanceof CorruptFileError));
      assertStrictEquals((e as UnsupportedFormatError).exitCode, 6);
    });
  }
});

Deno.test("decodeMetrics() turns empty, truncated and garbage bytes into CorruptFileError naming the source", async (t) => {
  const { bytes } = await encodeMetrics({
    step: new Int32Array(1000).map((_, i) => i),
    loss: new Float64Array(1000).map((_, i) => Math.sin(i)),
  });
  const damagedPage = bytes.slice();
  for (let i = 40; i < 400; i++) damagedPage[i] ^= 0x5a;
  const damagedFooter = bytes.slice();
  const footerLength = new DataView(bytes.buffer).getUint32(
    bytes.length - 8,
    true,
  );
  for (let i = bytes.length - 8 - footerLength; i < bytes.length - 8; i++) {
    damagedFooter[i] = 0xff;
  }
  const cases: [string, Uint8Array, RegExp][] = [
    ["zero-length", new Uint8Array(0), /it is empty \(0 bytes\)/],
    [
      "garbage",
      new TextEncoder().encode("step,loss\n0,1.5\n"),
      /it is not a Parquet file \(16 bytes/,
    ],
    [
      "only the magic",
      new TextEncoder().encode("PAR1PAR1"),
      /it is not a Parquet file/,
    ],
    [
      "truncated (last half gone)",
      bytes.slice(0, bytes.length / 2),
      /it is not a Parquet file/,
    ],
    [
      "truncated footer",
      concat(bytes.slice(0, 4), bytes.slice(bytes.length - 20)),
      /its footer does not decode/,
    ],
    ["a damaged footer", damagedFooter, /its footer does not decode/],
    ["a damaged page", damagedPage, /its data does not decode/],
  ];
  for (const [label, input, reason] of cases) {
    await t.step(label, async () => {
      await assertRejectsWith(
        () => decodeMetrics(input, "specimens/x/strata/metrics.parquet"),
        CorruptFileError,
        /^Cannot read metrics from "specimens\/x\/strata\/metrics\.parquet": /,
        reason,
      );
    });
  }
  await t.step("without a source the message says so", async () => {
    await assertRejectsWith(
      () => decodeMetrics(new Uint8Array(0)),
      CorruptFileError,
      /^Cannot read metrics from the given bytes: it is empty/,
    );
  });
});

Deno.test("decodeMetrics() accepts a Uint8Array view into a larger buffer", async () => {
  const { bytes } = await encodeMetrics({ step: [1, 2, 3] });
  const big = new Uint8Array(bytes.length + 100);
  big.set(bytes, 50);
  const out = await decodeMetrics(big.subarray(50, 50 + bytes.length));
  assertEquals(out.columns.step, [1, 2, 3]);
});

Deno.test("decodeMetrics() can return a column named __proto__", async () => {
  const columns = JSON.parse('{"__proto__": [1, 2]}') as MetricColumns;
  const out = await roundTrip(columns);
  assertEquals(Object.keys(out.columns), ["__proto__"]);
  assertEquals(
    Object.getOwnPropertyDescriptor(out.columns, "__proto__")?.value,
    [1, 2],
  );
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

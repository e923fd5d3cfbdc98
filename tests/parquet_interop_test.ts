/**
 * decodeMetrics() on Parquet written by other tools: pyarrow's edge cases in
 * `tests/testdata/interop/parquet_edge/` (every value in its EXPECTED.json), and
 * DuckDB files of every type and codec, checked value by value against
 * DuckDB's own reading of the same file.
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { parquetWriteBuffer } from "hyparquet-writer";
import { join } from "../lib/_deps.ts";
import { decimalText, isoDate } from "../lib/formats/parquet/_types.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { UnsupportedFormatError } from "../lib/errors.ts";
import {
  decodeMetrics,
  type ReadColumn,
  type ReadColumnInfo,
} from "../lib/formats/parquet/parquet.ts";
import { catalogRows, writeSpecimen } from "./testdata/catalog_fixtures.ts";
// Strict: 1 must not equal 1n, nor "1" equal 1.
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  assert,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  INTEROP,
  tempDir,
  tempVault,
} from "./utils.ts";

const EDGE = join(INTEROP, "parquet_edge");

type Row = Record<string, unknown>;

/** A real in-memory DuckDB (UTC), closed when disposed. */
async function duckdb() {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  await con.run("SET TimeZone = 'UTC'");
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

/** JSON.parse that keeps integers beyond 2^53 exact, as bigint. */
function parseExact(text: string): unknown {
  return JSON.parse(
    text,
    // deno-lint-ignore no-explicit-any
    (_key, value, context?: any) =>
      typeof value === "number" && !Number.isSafeInteger(value) &&
        /^-?\d+$/.test(context?.source ?? "")
        ? BigInt(context.source)
        : value,
  );
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** An ISO instant with up to 9 fraction digits as bigint units since the epoch. */
function epochOf(iso: string, unit: "ms" | "us" | "ns"): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(iso)!;
  const seconds = BigInt(Date.parse(m[1] + (m[3] || "Z")) / 1000);
  const digits = { ms: 3, us: 6, ns: 9 }[unit];
  const fraction = BigInt((m[2] ?? "").padEnd(digits, "0").slice(0, digits));
  return seconds * 10n ** BigInt(digits) + fraction;
}

interface EdgeCase {
  note: string;
  columns: Record<string, unknown[]>;
  types: Record<string, string>;
}

Deno.test("decodeMetrics() reads every value of pyarrow's parquet_edge files exactly", async (t) => {
  const expected = parseExact(
    await Deno.readTextFile(join(EDGE, "EXPECTED.json")),
  ) as Record<string, EdgeCase>;
  assert(Object.keys(expected).length >= 6);
  for (const [file, edge] of Object.entries(expected)) {
    await t.step(`${file}: ${edge.note}`, async () => {
      const path = join(EDGE, `${file}.parquet`);
      const out = await decodeMetrics(await Deno.readFile(path), path);
      assertEquals(Object.keys(out.columns), Object.keys(edge.columns));
      for (const [name, want] of Object.entries(edge.columns)) {
        const got = out.columns[name];
        const info = out.schema.find((c) => c.name === name)!;
        const type = edge.types[name];
        assertStrictEquals(got.length, want.length);
        for (let i = 0; i < want.length; i++) {
          const w = want[i], g = got[i];
          const where = `${file}.${name}[${i}]`;
          if (w === null) {
            assertStrictEquals(g, null, where);
          } else if (type === "binary") {
            assert(g instanceof Uint8Array, `${where} is not bytes: ${g}`);
            assertStrictEquals(hex(g), w, where);
          } else if (/^u?int/.test(type)) {
            assertStrictEquals(
              BigInt(g as number | bigint),
              BigInt(w as number),
              where,
            );
          } else if (type.startsWith("timestamp")) {
            assertEquals(info.unit, /\[(\w+)/.exec(type)![1]);
            assertStrictEquals(g, epochOf(w as string, info.unit!), where);
          } else {
            // double, date32 (ISO string), decimal (exact string)
            assertStrictEquals(g, w, where);
          }
        }
        // A column is all number or all bigint: bigint when any value needs it.
        if (/^u?int/.test(type)) {
          const big = want.some((v) => typeof v === "bigint");
          assert(
            Array.from(got as ArrayLike<unknown>).every((v) =>
              v === null || typeof v === (big ? "bigint" : "number")
            ),
            `${file}.${name} mixes kinds`,
          );
        }
      }
    });
  }
  await t.step("column types are reported", async () => {
    const info = async (file: string) =>
      (await decodeMetrics(await Deno.readFile(join(EDGE, `${file}.parquet`))))
        .schema;
    assertEquals((await info("binary"))[1], { name: "blob", type: "BINARY" });
    assertEquals((await info("uint64_big"))[1], {
      name: "count",
      type: "UINT64",
    });
    assertEquals((await info("timestamps")).slice(1), [
      { name: "t_us", type: "TIMESTAMP", unit: "us", utc: true },
      { name: "d", type: "DATE" },
    ]);
    assertEquals((await info("decimal"))[1], {
      name: "price",
      type: "DECIMAL",
      precision: 10,
      scale: 2,
    });
  });
});

/** A DuckDB column: how to make it, what decodeMetrics reports, and how DuckDB prints each value for comparison. */
interface DuckColumn {
  name: string;
  sql: string;
  info: Omit<ReadColumnInfo, "name">;
  /** A VARCHAR expression over the column read back, matching {@linkcode show}. */
  expect: string;
}

const ROWS = 2000;
const DUCK_COLUMNS: DuckColumn[] = [
  {
    name: "ts_ns",
    sql: "make_timestamp_ns(1714564800123456789 + (i - 2500) * 1000000007)",
    info: { type: "TIMESTAMP", unit: "ns", utc: false },
    expect: "epoch_ns(ts_ns)::VARCHAR",
  },
  {
    name: "ts_ms",
    sql: "epoch_ms(1714564800123 + (i - 2500) * 86400007)::TIMESTAMP_MS",
    info: { type: "TIMESTAMP", unit: "ms", utc: false },
    expect: "epoch_ms(ts_ms)::VARCHAR",
  },
  {
    name: "ts_us",
    sql: "make_timestamp(1714564800123456 + (i - 2500) * 86400000007)",
    info: { type: "TIMESTAMP", unit: "us", utc: false },
    expect: "epoch_us(ts_us)::VARCHAR",
  },
  {
    name: "tstz",
    sql: "make_timestamp(1714564800123456 - i * 1000003)::TIMESTAMPTZ",
    info: { type: "TIMESTAMP", unit: "us", utc: true },
    expect: "epoch_us(tstz)::VARCHAR",
  },
  {
    name: "d",
    sql: "DATE '1970-01-01' + (i * 37 - 90000)::INTEGER",
    info: { type: "DATE" },
    expect: "d::VARCHAR",
  },
  {
    name: "tm",
    sql: "TIME '00:00:00' + to_microseconds((i * 17279999)::BIGINT)",
    info: { type: "TIME", unit: "us", utc: false },
    expect: "epoch_us(tm)::VARCHAR",
  },
  {
    name: "dec4",
    sql: "(((i % 1999) - 999) / 10)::DECIMAL(4,1)",
    info: { type: "DECIMAL", precision: 4, scale: 1 },
    expect: "dec4::VARCHAR",
  },
  {
    name: "dec18",
    sql: "(i * 12345678.9876 - 1000000000)::DECIMAL(18,4)",
    info: { type: "DECIMAL", precision: 18, scale: 4 },
    expect: "dec18::VARCHAR",
  },
  {
    name: "dec38",
    sql:
      "(((i - 2500)::HUGEINT * 333333333333333333333)::VARCHAR || '.' || lpad((i * 7919)::VARCHAR, 10, '0'))::DECIMAL(38,10)",
    info: { type: "DECIMAL", precision: 38, scale: 10 },
    expect: "dec38::VARCHAR",
  },
  {
    name: "big",
    sql: "(i * 1844674407370000 - 4611686018427387904)::BIGINT",
    info: { type: "INT64" },
    expect: "big::VARCHAR",
  },
  {
    name: "ubig",
    sql: "18446744073709551615::UBIGINT - i::UBIGINT * 3689348814741910",
    info: { type: "UINT64" },
    expect: "ubig::VARCHAR",
  },
  {
    name: "uint",
    sql: "(4294967295 - i)::UINTEGER",
    info: { type: "INT64" },
    expect: "uint::VARCHAR",
  },
  {
    name: "blob",
    sql:
      "CASE WHEN i % 5 = 0 THEN (SELECT v FROM all_bytes) WHEN i % 11 = 0 THEN ''::BLOB ELSE from_hex(printf('%04x', i)) END",
    info: { type: "BINARY" },
    expect: "lower(hex(blob))",
  },
  {
    name: "u",
    sql: "md5(i::VARCHAR)::UUID",
    info: { type: "STRING" },
    expect: "u::VARCHAR",
  },
  {
    name: "mood",
    sql: "(['warmup', 'train', 'eval'])[i % 3 + 1]::mood",
    info: { type: "STRING" },
    expect: "mood::VARCHAR",
  },
  {
    name: "j",
    sql: "json_object('step', i, 'ok', i % 2 = 0)",
    info: { type: "STRING" },
    expect: "j::VARCHAR",
  },
  {
    name: "loss",
    sql: "1 / (i + 1)",
    info: { type: "DOUBLE" },
    expect: "loss",
  },
];

/** How a decoded value is compared with DuckDB's VARCHAR of it. */
function show(v: unknown): string | null {
  if (v === null) return null;
  if (v instanceof Uint8Array) return hex(v);
  if (typeof v === "number") return v.toString();
  return String(v);
}

async function duckTable(db: Awaited<ReturnType<typeof duckdb>>) {
  await db.run("CREATE TYPE mood AS ENUM ('warmup', 'train', 'eval')");
  // Every column is null on every 7th row.
  await db.run(`CREATE TABLE t AS
    WITH all_bytes AS (
      SELECT from_hex(string_agg(printf('%02x', r), '' ORDER BY r)) AS v
      FROM range(256) AS b(r)
    )
    SELECT i AS step, ${
    DUCK_COLUMNS.map((c) =>
      `CASE WHEN i % 7 = 3 THEN NULL ELSE ${c.sql} END AS ${c.name}`
    ).join(", ")
  } FROM range(${ROWS}) AS r(i)`);
}

Deno.test("decodeMetrics() reads DuckDB's timestamps, dates, times, decimals, unsigned, blobs and nulls exactly under every codec", async (t) => {
  await using dir = await tempDir();
  using db = await duckdb();
  await duckTable(db);
  const codecs: [string, string][] = [
    ["uncompressed", "UNCOMPRESSED"],
    ["snappy", "SNAPPY"],
    ["gzip", "GZIP"],
    ["zstd", "ZSTD"],
    ["brotli", "BROTLI"],
    ["lz4", "LZ4_RAW"],
    ["lz4_raw", "LZ4_RAW"],
  ];
  let expected: (string | null)[][] | undefined;
  for (const [compression, codec] of codecs) {
    await t.step(`COMPRESSION ${compression}`, async () => {
      const path = join(dir.path, `${compression}.parquet`);
      await db.run(
        `COPY t TO '${path}' (FORMAT parquet, COMPRESSION ${compression})`,
      );
      const written = await db.all(
        `SELECT DISTINCT compression FROM parquet_metadata('${path}')`,
      );
      assertEquals(written, [{ compression: codec }]);
      expected ??= (await db.all(
        `SELECT ${
          DUCK_COLUMNS.map((c) => `${c.expect} AS ${c.name}`).join(", ")
        } FROM read_parquet('${path}') ORDER BY step`,
      )).map((r) =>
        DUCK_COLUMNS.map((c) => r[c.name] === null ? null : String(r[c.name]))
      );

      const out = await decodeMetrics(await Deno.readFile(path), path);
      assertEquals(out.rows, ROWS);
      assertEquals(
        out.schema,
        [
          { name: "step", type: "INT64" },
          ...DUCK_COLUMNS.map((c) => ({ name: c.name, ...c.info })),
        ],
      );
      DUCK_COLUMNS.forEach((c, j) => {
        const got: ReadColumn = out.columns[c.name];
        for (let i = 0; i < ROWS; i++) {
          const want = expected![i][j];
          if (show(got[i]) !== want) {
            assertEquals(
              show(got[i]),
              want,
              `${compression}: ${c.name}[${i}] = ${String(got[i])}`,
            );
          }
        }
        assertStrictEquals(got[3], null, `${c.name}[3] is not null`);
      });
      // BLOB: every byte value, and an empty value, as bytes.
      const blob = out.columns.blob as (Uint8Array | null)[];
      assertEquals(blob[0], Uint8Array.from({ length: 256 }, (_, i) => i));
      assertEquals(blob[11], new Uint8Array(0));
      // bigint exactly where needed, whole columns at a time.
      assert(
        Array.from(out.columns.ubig as ArrayLike<unknown>).every((v) =>
          v === null || typeof v === "bigint"
        ),
      );
      assert(
        Array.from(out.columns.uint as ArrayLike<unknown>).every((v) =>
          v === null || typeof v === "number"
        ),
      );
    });
  }
});

/** A valid LZ4 block of literals only (one final sequence). */
function lz4Literals(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  const head: number[] = [Math.min(n, 15) << 4];
  if (n >= 15) {
    let rest = n - 15;
    while (rest >= 255) {
      head.push(255);
      rest -= 255;
    }
    head.push(rest);
  }
  const out = new Uint8Array(head.length + n);
  out.set(head);
  out.set(bytes, head.length);
  return out;
}

/** Hadoop's LZ4 framing: per block, big-endian raw and compressed sizes. */
function hadoopFrame(raw: Uint8Array, blocks: number): Uint8Array {
  const parts: Uint8Array[] = [];
  const size = Math.ceil(raw.length / blocks);
  for (let at = 0; at < raw.length; at += size) {
    const chunk = raw.subarray(at, at + size);
    const packed = lz4Literals(chunk);
    const header = new Uint8Array(8);
    const view = new DataView(header.buffer);
    view.setUint32(0, chunk.length);
    view.setUint32(4, packed.length);
    parts.push(header, packed);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("decodeMetrics() reads the Hadoop-framed LZ4 codec, one block or several, and raw LZ4 blocks", async (t) => {
  const n = 3000;
  const step = BigInt64Array.from({ length: n }, (_, i) => BigInt(i));
  const loss = Float64Array.from({ length: n }, (_, i) => 1 / (i + 1));
  const cases: [string, "LZ4" | "LZ4_RAW", (b: Uint8Array) => Uint8Array][] = [
    ["LZ4, one Hadoop block", "LZ4", (b) => hadoopFrame(b, 1)],
    ["LZ4, three Hadoop blocks", "LZ4", (b) => hadoopFrame(b, 3)],
    ["LZ4 without framing (old writers)", "LZ4", lz4Literals],
    ["LZ4_RAW", "LZ4_RAW", lz4Literals],
  ];
  for (const [label, codec, compress] of cases) {
    await t.step(label, async () => {
      const buffer = parquetWriteBuffer({
        codec,
        compressors: { [codec]: compress },
        columnData: [
          { name: "step", data: step, type: "INT64" },
          { name: "loss", data: loss, type: "DOUBLE" },
        ],
      });
      const out = await decodeMetrics(new Uint8Array(buffer), label);
      assertEquals(out.columns.step, Array.from(step, Number));
      assertEquals(out.columns.loss, Array.from(loss));
    });
  }
});

Deno.test("decodeMetrics() refuses an LZO file with UnsupportedFormatError naming the column and codec", async () => {
  const buffer = parquetWriteBuffer({
    codec: "LZO",
    compressors: { LZO: (b: Uint8Array) => b },
    columnData: [{ name: "step", data: [1, 2], type: "INT32" }],
  });
  const e = await assertRejects(
    () => decodeMetrics(new Uint8Array(buffer), "old.parquet"),
    UnsupportedFormatError,
    /"old.parquet": column "step" is compressed with LZO, which this reader cannot decode \(it reads .*LZ4_RAW.*\); rewrite/,
  );
  assertStrictEquals((e as UnsupportedFormatError).exitCode, 6);
});

Deno.test("isoDate() matches JavaScript's ISO dates, and reaches INT32's day range", () => {
  for (let days = -800_000; days <= 3_000_000; days += 997) {
    const js = new Date(days * 86_400_000).toISOString();
    assertStrictEquals(isoDate(days), js.slice(0, js.indexOf("T")));
  }
  for (const days of [-100_000_000, -1, 0, 59, 11_016, 100_000_000]) {
    const js = new Date(days * 86_400_000).toISOString();
    assertStrictEquals(isoDate(days), js.slice(0, js.indexOf("T")));
  }
  // Beyond Date's range (INT32's extremes): the Gregorian calendar repeats
  // every 400 years (146,097 days), so shift into range and back.
  for (const days of [2_147_483_647, -2_147_483_648, 123_456_789]) {
    const cycles = Math.trunc(days / 146_097);
    const js = new Date((days - cycles * 146_097) * 86_400_000)
      .toISOString();
    const [, y, md] = /^([+-]?\d+)-(\d\d-\d\d)T/.exec(js)!;
    const year = Number(y) + cycles * 400;
    const text = `${year < 0 ? "-" : "+"}${
      String(Math.abs(year)).padStart(6, "0")
    }-${md}`;
    assertStrictEquals(isoDate(days), text);
  }
  assertStrictEquals(isoDate(2_147_483_647), "+5881580-07-11");
});

Deno.test("decimalText() writes exact decimals with the scale's digits", () => {
  const cases: [bigint, number, string][] = [
    [125n, 2, "1.25"],
    [-1n, 2, "-0.01"],
    [0n, 2, "0.00"],
    [-5n, 0, "-5"],
    [15000n, 4, "1.5000"],
    [-(10n ** 38n - 1n), 10, "-9999999999999999999999999999.9999999999"],
  ];
  for (const [unscaled, scale, text] of cases) {
    assertStrictEquals(decimalText(unscaled, scale), text);
  }
});

Deno.test("indexVault() indexes a specimen holding pyarrow's edge-case files and its exp_ views query them", async () => {
  await using v = await tempVault();
  const dir = await writeSpecimen(v.path, { id: "edge" });
  const files = [
    "binary",
    "lz4_raw",
    "uint64_big",
    "int64_exact",
    "timestamps",
    "decimal",
  ];
  for (const f of files) {
    await Deno.copyFile(
      join(EDGE, `${f}.parquet`),
      join(dir, "strata", `${f}.parquet`),
    );
  }
  const report = await indexVault({ vault: v.path, views: true });
  assertEquals(report.warnings, []);
  const q = (sql: string) => catalogRows(v.path, sql);
  assertEquals(
    (await q(
      "SELECT name FROM metric_tables WHERE specimen_id = 'edge' ORDER BY 1",
    ))
      .map((r) => r.name),
    [...files, "metrics"].sort(),
  );
  assertEquals(
    await q("SELECT hex(blob) AS h FROM exp_edge__binary ORDER BY step"),
    [{ h: "0100FE" }, { h: "" }, { h: null }],
  );
  // UBIGINT and DECIMAL views widen to DOUBLE today (issue 12 item 1, not
  // this reader's): only check that they index and query.
  assertEquals(
    await q(
      "SELECT count(count) AS n, max(count) > 1e19 AS big FROM exp_edge__uint64_big",
    ),
    [{ n: 3, big: true }],
  );
  assertEquals(
    await q(
      "SELECT val::VARCHAR AS v FROM exp_edge__int64_exact ORDER BY step",
    ),
    [
      { v: "9007199254740995" },
      { v: "-9223372036854775808" },
      { v: "9223372036854775806" },
    ],
  );
  assertEquals(
    await q(
      "SELECT epoch_us(t_us)::VARCHAR AS t, d::VARCHAR AS d FROM exp_edge__timestamps LIMIT 1",
    ),
    [{ t: "1714564800123456", d: "2024-05-01" }],
  );
  assertEquals(
    await q("SELECT price * 100 AS p FROM exp_edge__decimal ORDER BY step"),
    [{ p: 125 }, { p: -1 }, { p: null }],
  );
  assertEquals(
    await q("SELECT sum(loss) AS s FROM exp_edge__lz4_raw"),
    [{ s: 1.5 }],
  );
  assertMatch(
    String((await q("SELECT count(*) AS n FROM exp_edge"))[0].n),
    /^\d+$/,
  );
});

/** A legacy INT96 timestamp: nanoseconds of the day, then the Julian day. */
function int96(julianDay: number, nanosOfDay: bigint): Uint8Array {
  const bytes = new Uint8Array(12);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, nanosOfDay, true);
  view.setUint32(8, julianDay, true);
  return bytes;
}

Deno.test("decodeMetrics() reads legacy INT96 timestamps as exact nanoseconds", async () => {
  // hyparquet-writer writes no INT96, but its PLAIN bytes are those of a
  // FIXED_LEN_BYTE_ARRAY(12): write that, then turn the type in the footer
  // (thrift field 1, i32 7) into INT96 (3). DuckDB checks the result.
  const buffer = new Uint8Array(parquetWriteBuffer({
    statistics: false,
    codec: "UNCOMPRESSED",
    schema: [
      { name: "root", num_children: 2 },
      { name: "step", type: "INT32", repetition_type: "REQUIRED" },
      {
        name: "t96",
        type: "FIXED_LEN_BYTE_ARRAY",
        type_length: 12,
        repetition_type: "OPTIONAL",
      },
    ],
    columnData: [
      { name: "step", data: [0, 1, 2] },
      {
        name: "t96",
        data: [int96(2460432, 43_200_123_456_789n), null, int96(2440587, 1n)],
      },
    ],
  }));
  const footer = new DataView(buffer.buffer).getUint32(buffer.length - 8, true);
  let patched = 0;
  for (let i = buffer.length - 8 - footer; i < buffer.length - 8; i++) {
    if (buffer[i] === 0x15 && buffer[i + 1] === 0x0e) {
      buffer[i + 1] = 0x06;
      patched++;
    }
  }
  assertStrictEquals(patched, 2); // the schema element and the chunk
  await using dir = await tempDir();
  const path = join(dir.path, "int96.parquet");
  await Deno.writeFile(path, buffer);
  using db = await duckdb();
  // DuckDB keeps microseconds of INT96.
  assertEquals(
    await db.all(`SELECT t96::VARCHAR AS t FROM '${path}'`),
    [{ t: "2024-05-01 12:00:00.123456" }, { t: null }, {
      t: "1969-12-31 00:00:00",
    }],
  );
  const out = await decodeMetrics(buffer, path);
  assertEquals(out.schema[1], {
    name: "t96",
    type: "TIMESTAMP",
    unit: "ns",
    utc: false,
  });
  assertEquals(out.columns.t96, [
    1_714_564_800_123_456_789n,
    null,
    -86_400_000_000_000n + 1n,
  ]);
});

import * as zarr from "zarrita";
import FileSystemStore from "@zarrita/storage/fs";
import { join, relative } from "../lib/_deps.ts";
import {
  CorruptFileError,
  ImmutableArtifactError,
  InvalidInputError,
  NotFoundError,
  UnsupportedFormatError,
} from "../lib/errors.ts";
import {
  createZarrWriter,
  type DType,
  readZarr,
  registerCodecs,
  type TensorData,
  type TensorOptions,
  writeZarr,
  zarrInfo,
} from "../lib/formats/zarr/zarr.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  INTEROP,
  tempDir,
  until,
} from "./utils.ts";

const DTYPES: DType[] = [
  "bool",
  "float16",
  "float32",
  "float64",
  "int8",
  "int16",
  "int32",
  "int64",
  "uint8",
  "uint16",
  "uint32",
  "uint64",
];

/** Distinct values per index, using each type's range (negatives, > 2^53). */
function sample(dtype: DType, n: number): TensorData {
  const idx = Array.from({ length: n }, (_, i) => i);
  switch (dtype) {
    case "bool":
      return Uint8Array.from(idx, (i) => (i * 7) % 3 === 0 ? 1 : 0);
    case "float16":
      // Exactly representable: multiples of 1/4 below 2048.
      return Float16Array.from(idx, (i) => i / 4 - 30);
    case "float32":
      return Float32Array.from(idx, (i) => i / 7 - 3);
    case "float64":
      return Float64Array.from(idx, (i) => i / 3 - 1e6);
    case "int8":
      return Int8Array.from(idx, (i) => (i % 256) - 128);
    case "int16":
      return Int16Array.from(idx, (i) => ((i * 37) % 65536) - 32768);
    case "int32":
      return Int32Array.from(idx, (i) => i * 7919 - 2 ** 30);
    case "int64":
      return BigInt64Array.from(idx, (i) => BigInt(i) * 2n ** 40n - 2n ** 60n);
    case "uint8":
      return Uint8Array.from(idx, (i) => (i * 3) % 256);
    case "uint16":
      return Uint16Array.from(idx, (i) => (i * 31) % 65536);
    case "uint32":
      return Uint32Array.from(idx, (i) => (i * 65537 + 2 ** 31) % 2 ** 32);
    case "uint64":
      return BigUint64Array.from(idx, (i) => BigInt(i) * 2n ** 50n + 1n);
  }
}

/** Every file under `dir`, as relative path → bytes. */
async function files(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else out.set(relative(dir, p), await Deno.readFile(p));
    }
  };
  await walk(dir);
  return out;
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

async function readJson(path: string) {
  return JSON.parse(await Deno.readTextFile(path));
}

/** The same array written by zarrita's own `create` + `set`. */
async function writeWithZarrita(
  path: string,
  data: TensorData,
  shape: number[],
  chunks: number[],
  codecs: zarr.CodecMetadata[],
): Promise<void> {
  registerCodecs();
  const store = new FileSystemStore(path);
  const dtype = DTYPES.find((d) => data instanceof sample(d, 0).constructor)!;
  const arr = await zarr.create(zarr.root(store), {
    shape,
    chunkShape: chunks,
    dtype,
    codecs,
    fillValue: 0 as zarr.Scalar<DType>,
  });
  const stride = shape.map((_, i) =>
    shape.slice(i + 1).reduce((a, b) => a * b, 1)
  );
  await zarr.set(arr, null, { data, shape, stride } as zarr.Chunk<DType>);
}

/** Awaits `fn`, which must reject with an `ErrorClass` whose message matches. */
async function rejectsWith(
  fn: () => Promise<unknown>,
  ErrorClass: new (...args: never[]) => Error,
  pattern: RegExp,
): Promise<Error> {
  const err = await fn().then(() => undefined, (e) => e);
  assert(err instanceof ErrorClass, `expected ${ErrorClass.name}, got ${err}`);
  assertMatch(err.message, pattern);
  return err;
}

const ZSTD = [
  { name: "bytes", configuration: { endian: "little" } },
  { name: "zstd", configuration: { level: 1, checksum: false } },
];
const RAW = [{ name: "bytes", configuration: { endian: "little" } }];

// --- round trips -----------------------------------------------------------

Deno.test("writeZarr() and readZarr() round-trip every dtype, compressed or not", async (t) => {
  await using dir = await tempDir();
  for (const dtype of DTYPES) {
    for (const compression of ["zstd", "none"] as const) {
      await t.step(`${dtype} ${compression}`, async () => {
        const data = sample(dtype, 6 * 50);
        const path = join(dir.path, `${dtype}-${compression}.zarr`);
        const info = await writeZarr(path, data, {
          shape: [6, 50],
          dtype,
          chunks: [4, 50],
          compression,
        });
        assertEquals(info.shape, [6, 50]);
        assertEquals(info.dtype, dtype);
        assertEquals(info.chunks, [4, 50]);
        assertEquals(
          info.codecs,
          compression === "zstd" ? ["bytes", "zstd"] : ["bytes"],
        );
        assertStrictEquals(info.zarr_format, 3);
        assertEquals(info, await zarrInfo(path));
        const back = await readZarr(path);
        assertEquals(back.shape, [6, 50]);
        assertEquals(back.data, data);
      });
    }
  }
});

Deno.test("writeZarr() writes standard Zarr v3 metadata: bytes little endian, zstd {level, checksum: false}, fill value 0", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "m.zarr");
  await writeZarr(path, sample("int64", 12), { shape: [3, 4], level: 5 });
  const meta = await readJson(join(path, "zarr.json"));
  assertEquals(meta.zarr_format, 3);
  assertEquals(meta.node_type, "array");
  assertEquals(meta.data_type, "int64");
  assertEquals(meta.shape, [3, 4]);
  assertEquals(meta.chunk_grid, {
    name: "regular",
    configuration: { chunk_shape: [3, 4] },
  });
  assertEquals(meta.chunk_key_encoding, {
    name: "default",
    configuration: { separator: "/" },
  });
  assertEquals(meta.codecs, [
    { name: "bytes", configuration: { endian: "little" } },
    { name: "zstd", configuration: { level: 5, checksum: false } },
  ]);
  assertStrictEquals(meta.fill_value, 0);
  assertEquals(await entries(path), ["c", "zarr.json"]);
});

Deno.test("writeZarr() records the content size in each zstd frame header, like tensorstore", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "z.zarr");
  await writeZarr(path, sample("float32", 1000), { shape: [1000] });
  const frame = await Deno.readFile(join(path, "c", "0"));
  assertEquals([...frame.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
  // Frame_Content_Size_flag (top two bits of the descriptor) is set.
  assert(frame[4] >> 6 !== 0, `descriptor ${frame[4].toString(2)}`);
});

Deno.test("chunks written by writeZarr() decode with numcodecs' reference zstd (WebAssembly)", async () => {
  // zarrita's own dependency (the reference libzstd compiled to WebAssembly).
  const { default: Zstd } = await import("numcodecs/zstd");
  await using dir = await tempDir();
  const path = join(dir.path, "z.zarr");
  const data = sample("float64", 2000);
  await writeZarr(path, data, { shape: [2000], chunks: [1500], level: 3 });
  const codec = Zstd.fromConfig({ id: "zstd", level: 3 });
  const first = await codec.decode(await Deno.readFile(join(path, "c", "0")));
  assertEquals(new Float64Array(first.slice().buffer), data.subarray(0, 1500));
  // The edge chunk is a whole chunk, padded with the fill value.
  const edge = new Float64Array(
    (await codec.decode(await Deno.readFile(join(path, "c", "1")))).slice()
      .buffer,
  );
  assertEquals(edge.length, 1500);
  assertEquals(edge.subarray(0, 500), data.subarray(1500));
  assert(edge.subarray(500).every((v) => v === 0));
});

Deno.test("writeZarr() writes the same files as zarrita's zarr.set, for each chunk layout", async (t) => {
  await using dir = await tempDir();
  const cases: { name: string; shape: number[]; chunks: number[] }[] = [
    { name: "full rows, edge chunk", shape: [10, 6], chunks: [4, 6] },
    { name: "one chunk", shape: [5, 3, 2], chunks: [5, 3, 2] },
    { name: "split second axis", shape: [3, 5, 4], chunks: [1, 2, 4] },
    { name: "split last axis", shape: [4, 7], chunks: [1, 3] },
    { name: "general layout", shape: [10, 12], chunks: [4, 5] },
    { name: "chunk larger than shape", shape: [3, 4], chunks: [8, 4] },
    { name: "1-d", shape: [100], chunks: [30] },
  ];
  for (const { name, shape, chunks } of cases) {
    for (const [label, codecs] of [["zstd", ZSTD], ["raw", RAW]] as const) {
      await t.step(`${name} (${label})`, async () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const data = sample("int32", n);
        const ours = join(dir.path, `${name}-${label}.zarr`);
        const theirs = join(dir.path, `${name}-${label}-zarrita.zarr`);
        await writeZarr(ours, data, {
          shape,
          chunks,
          compression: label === "zstd" ? "zstd" : "none",
        });
        await writeWithZarrita(theirs, data, shape, chunks, [...codecs]);
        const a = await files(ours);
        const b = await files(theirs);
        assertEquals([...a.keys()].sort(), [...b.keys()].sort());
        for (const [key, bytes] of a) {
          if (key === "zarr.json") continue;
          assertEquals(bytes, b.get(key), `chunk ${key}`);
        }
        assertEquals(
          await readJson(join(ours, "zarr.json")),
          await readJson(join(theirs, "zarr.json")),
        );
        assertEquals((await readZarr(ours)).data, data);
      });
    }
  }
});

Deno.test("writeZarr() picks about 4 MB chunks along the leading axis for large tensors, one chunk for small ones", async () => {
  await using dir = await tempDir();
  const big = await writeZarr(
    join(dir.path, "big.zarr"),
    new Float32Array(3000 * 768),
    { shape: [3000, 768], compression: "none" },
  );
  assertEquals(big.chunks, [1365, 768]);
  assertEquals(await entries(join(dir.path, "big.zarr", "c")), ["0", "1", "2"]);
  // Chunk files are whole chunks (the edge one padded).
  const edge = await Deno.stat(join(dir.path, "big.zarr", "c", "2", "0"));
  assertEquals(edge.size, 1365 * 768 * 4);
  const small = await writeZarr(
    join(dir.path, "small.zarr"),
    new Float64Array(40 * 24),
    { shape: [40, 24] },
  );
  assertEquals(small.chunks, [40, 24]);
  // A single row above the target splits the next axis instead.
  const wide = await writeZarr(
    join(dir.path, "wide.zarr"),
    new Uint8Array(2 * 3 * 2_000_000),
    { shape: [2, 3, 2_000_000], compression: "none" },
  );
  assertEquals(wide.chunks, [1, 2, 2_000_000]);
});

Deno.test("writeZarr() reports the bytes on disk, metadata included", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "b.zarr");
  const info = await writeZarr(path, sample("float32", 3000), {
    shape: [300, 10],
    chunks: [128, 10],
  });
  let total = 0;
  for (const bytes of (await files(path)).values()) total += bytes.length;
  assertStrictEquals(info.bytes, total);
});

// --- slices and laziness ---------------------------------------------------

Deno.test("readZarr() selects by index, range, null and shorter lists", async (t) => {
  await using dir = await tempDir();
  const path = join(dir.path, "s.zarr");
  const shape = [6, 5, 4];
  const data = sample("float64", 120) as Float64Array;
  await writeZarr(path, data, { shape, chunks: [4, 2, 3] });
  const at = (i: number, j: number, k: number) => data[i * 20 + j * 4 + k];
  const cases: {
    sel: (number | [number, number] | null)[];
    shape: number[];
    value: (ix: number[]) => number;
  }[] = [
    { sel: [2], shape: [5, 4], value: ([j, k]) => at(2, j, k) },
    { sel: [null, 3], shape: [6, 4], value: ([i, k]) => at(i, 3, k) },
    {
      sel: [[1, 5], null, [1, 3]],
      shape: [4, 5, 2],
      value: ([i, j, k]) => at(i + 1, j, k + 1),
    },
    { sel: [[3, 6], 4], shape: [3, 4], value: ([i, k]) => at(i + 3, 4, k) },
    { sel: [5, 1, 2], shape: [], value: () => at(5, 1, 2) },
    { sel: [], shape: [6, 5, 4], value: ([i, j, k]) => at(i, j, k) },
    { sel: [[2, 2]], shape: [0, 5, 4], value: () => 0 },
  ];
  for (const c of cases) {
    await t.step(JSON.stringify(c.sel), async () => {
      const got = await readZarr(path, c.sel);
      assertEquals(got.shape, c.shape);
      const expected: number[] = [];
      const walk = (prefix: number[]) => {
        if (prefix.length === c.shape.length) {
          expected.push(c.value(prefix));
          return;
        }
        for (let i = 0; i < c.shape[prefix.length]; i++) walk([...prefix, i]);
      };
      walk([]);
      assertEquals([...got.data as Float64Array], expected);
    });
  }
});

Deno.test("readZarr() rejects a selection outside the shape, naming the axis and bounds", async (t) => {
  await using dir = await tempDir();
  const path = join(dir.path, "s.zarr");
  await writeZarr(path, sample("uint8", 20), { shape: [4, 5] });
  const bad: [unknown[], RegExp][] = [
    [[4], /index 4 on axis 0 is outside 0\.\.3/],
    [[-1], /index -1 on axis 0/],
    [[0, 1.5], /index 1.5 on axis 1/],
    [[[2, 1]], /range \[2,1\] on axis 0/],
    [[null, [0, 6]], /range \[0,6\] on axis 1 .*<= 5/],
    [[0, 0, 0], /3 entries but shape \[4,5\] has 2 axes/],
  ];
  for (const [sel, message] of bad) {
    await t.step(JSON.stringify(sel), async () => {
      await rejectsWith(
        () => readZarr(path, sel as never),
        InvalidInputError,
        message,
      );
    });
  }
});

Deno.test("readZarr() of one row reads only zarr.json and the one chunk holding it", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "lazy.zarr");
  const data = sample("float32", 1000 * 16);
  await writeZarr(path, data, { shape: [1000, 16], chunks: [100, 16] });
  const reads: string[] = [];
  const row = await readZarr(path, [345], { onRead: (key) => reads.push(key) });
  assertEquals(row.data, data.subarray(345 * 16, 346 * 16));
  assertEquals(reads, ["zarr.json", "c/3/0"]);
});

Deno.test("readZarr() of a slice works with every other chunk file deleted", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "lazy.zarr");
  const data = sample("int16", 100 * 8);
  await writeZarr(path, data, { shape: [100, 8], chunks: [10, 8] });
  for (let i = 0; i < 10; i++) {
    if (i !== 4) {
      await Deno.remove(join(path, "c", String(i)), { recursive: true });
    }
  }
  const got = await readZarr(path, [[42, 48]]);
  assertEquals(got.data, data.subarray(42 * 8, 48 * 8));
});

Deno.test("readZarr() reads a missing chunk as the fill value", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "hole.zarr");
  const data = sample("int64", 30) as BigInt64Array;
  await writeZarr(path, data, { shape: [30], chunks: [10] });
  await Deno.remove(join(path, "c", "1"));
  const got = (await readZarr(path)).data as BigInt64Array;
  assertEquals(got.subarray(0, 10), data.subarray(0, 10));
  assert(got.subarray(10, 20).every((v) => v === 0n));
  assertEquals(got.subarray(20), data.subarray(20));
});

// --- damaged and missing arrays --------------------------------------------

Deno.test("readZarr() throws CorruptFileError naming the array and the chunk that does not decode", async (t) => {
  await using dir = await tempDir();
  for (const compression of ["zstd", "none"] as const) {
    await t.step(compression, async () => {
      const path = join(dir.path, `bad-${compression}.zarr`);
      await writeZarr(path, sample("float32", 400), {
        shape: [40, 10],
        chunks: [10, 10],
        compression,
      });
      await Deno.writeFile(
        join(path, "c", "2", "0"),
        new Uint8Array([1, 2, 3]),
      );
      const err = await readZarr(path).catch((e) => e);
      assert(err instanceof CorruptFileError, String(err));
      assertMatch(err.message, new RegExp(`"${path}"`));
      assertMatch(err.message, /chunk "c\/2\/0"/);
      // Rows in intact chunks still read.
      assertEquals((await readZarr(path, [5])).shape, [10]);
    });
  }
});

Deno.test("readZarr() names a codec the vault does not know as unsupported", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "odd.zarr");
  await writeZarr(path, sample("float32", 10), { shape: [10] });
  const meta = await readJson(join(path, "zarr.json"));
  meta.codecs[1] = { name: "fancy_codec", configuration: {} };
  await Deno.writeTextFile(join(path, "zarr.json"), JSON.stringify(meta));
  await rejectsWith(
    () => readZarr(path),
    UnsupportedFormatError,
    /codec "fancy_codec" is not supported/,
  );
});

Deno.test("readZarr() and zarrInfo() throw NotFoundError for a missing array or a folder without metadata", async () => {
  await using dir = await tempDir();
  const missing = join(dir.path, "nope.zarr");
  for (const fn of [() => readZarr(missing), () => zarrInfo(missing)]) {
    await rejectsWith(fn, NotFoundError, /nope\.zarr/);
  }
  await Deno.mkdir(join(dir.path, "empty.zarr"));
  await rejectsWith(
    () => readZarr(join(dir.path, "empty.zarr")),
    NotFoundError,
    /empty\.zarr/,
  );
  await Deno.writeTextFile(join(dir.path, "file.zarr"), "not a folder");
  await rejectsWith(
    () => zarrInfo(join(dir.path, "file.zarr")),
    NotFoundError,
    /file\.zarr/,
  );
});

Deno.test("zarrInfo() throws CorruptFileError for unparseable zarr.json", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "j.zarr");
  await Deno.mkdir(path);
  await Deno.writeTextFile(join(path, "zarr.json"), "{ not json");
  await rejectsWith(() => zarrInfo(path), CorruptFileError, /zarr\.json/);
});

// --- write-once, validation, cleanup ---------------------------------------

Deno.test("writeZarr() refuses to replace an existing array and leaves it untouched", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "once.zarr");
  const first = sample("float32", 20);
  await writeZarr(path, first, { shape: [20] });
  const before = await files(path);
  const err = await writeZarr(path, new Float32Array(20), { shape: [20] })
    .catch((e) => e);
  assert(err instanceof ImmutableArtifactError, String(err));
  assertMatch(err.message, /immutable: create a new specimen for a variation/);
  assertEquals(await files(path), before);
  assertEquals(await entries(dir.path), ["once.zarr"]);
});

Deno.test("ZarrWriter.close() refuses when the target appeared meanwhile, and removes its temp folder", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "race.zarr");
  const writer = await createZarrWriter(path, { shape: [4], dtype: "uint8" });
  await writer.write(new Uint8Array([1, 2, 3, 4]));
  await writeZarr(path, new Uint8Array([9, 9, 9, 9]), { shape: [4] });
  await assertRejects(() => writer.close(), ImmutableArtifactError);
  assertEquals(await entries(dir.path), ["race.zarr"]);
  assertEquals((await readZarr(path)).data, new Uint8Array([9, 9, 9, 9]));
});

Deno.test("writeZarr() rejects invalid input with the offending value, leaving nothing behind", async (t) => {
  await using dir = await tempDir();
  const path = join(dir.path, "x.zarr");
  const f32 = new Float32Array(12);
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    [
      "shape product ≠ data length",
      () => writeZarr(path, f32, { shape: [5, 2] }),
      /shape \[5,2\] holds 10 values but the data has 12/,
    ],
    [
      "dtype mismatch",
      () => writeZarr(path, f32, { shape: [12], dtype: "float64" }),
      /dtype "float64" does not match the data, a Float32Array \("float32"\)/,
    ],
    [
      "unknown dtype",
      () => writeZarr(path, f32, { shape: [12], dtype: "float16" as DType }),
      /dtype "float16" does not match/,
    ],
    [
      "zero dimension",
      () => writeZarr(path, new Float32Array(0), { shape: [0, 4] }),
      /positive integers, got \[0,4\]/,
    ],
    [
      "non-integer dimension",
      () => writeZarr(path, f32, { shape: [2.5, 4] }),
      /positive integers, got \[2.5,4\]/,
    ],
    [
      "empty shape",
      () => writeZarr(path, f32, { shape: [] }),
      /non-empty list of positive integers, got \[\]/,
    ],
    [
      "chunks rank mismatch",
      () => writeZarr(path, f32, { shape: [3, 4], chunks: [2] }),
      /chunks \[2\] do not match shape \[3,4\]: give one chunk size per axis \(2\)/,
    ],
    [
      "zero chunk",
      () => writeZarr(path, f32, { shape: [3, 4], chunks: [0, 4] }),
      /chunks must be positive integers, got \[0,4\]/,
    ],
    [
      "empty name",
      () => writeZarr("", f32, { shape: [12] }),
      /path must name the array folder/,
    ],
    [
      "unknown compression",
      () =>
        writeZarr(path, f32, {
          shape: [12],
          compression: "gzip" as TensorOptions["compression"],
        }),
      /compression must be "zstd" or "none", got "gzip"/,
    ],
    [
      "bad level",
      () => writeZarr(path, f32, { shape: [12], level: 23 }),
      /zstd level must be an integer from -131072 to 22 .*got 23/,
    ],
    [
      "not a typed array",
      () => writeZarr(path, [1, 2, 3] as unknown as TensorData, { shape: [3] }),
      /data must be a typed array .*got Array/,
    ],
  ];
  for (const [name, fn, message] of cases) {
    await t.step(name, async () => {
      await rejectsWith(fn, InvalidInputError, message);
    });
  }
  assertEquals(await entries(dir.path), []);
});

Deno.test("writeZarr() throws NotFoundError when the folder to hold the array is missing", async () => {
  await using dir = await tempDir();
  await rejectsWith(
    () =>
      writeZarr(join(dir.path, "no_strata", "a.zarr"), new Uint8Array(1), {
        shape: [1],
      }),
    NotFoundError,
    /no_strata/,
  );
  assertEquals(await entries(dir.path), []);
});

// --- streaming writer ------------------------------------------------------

Deno.test("createZarrWriter() with uneven blocks writes the same files as writeZarr()", async (t) => {
  await using dir = await tempDir();
  const layouts = [
    { name: "full rows", shape: [100, 6], chunks: [16, 6] },
    { name: "split second axis", shape: [9, 10, 3], chunks: [1, 4, 3] },
    { name: "general layout", shape: [100, 6], chunks: [16, 4] },
  ];
  for (const { name, shape, chunks } of layouts) {
    await t.step(name, async () => {
      const rows = shape[0];
      const rowLen = shape.slice(1).reduce((a, b) => a * b, 1);
      const data = sample("float32", rows * rowLen) as Float32Array;
      const whole = join(dir.path, `${name}-whole.zarr`);
      const streamed = join(dir.path, `${name}-streamed.zarr`);
      await writeZarr(whole, data, { shape, chunks });
      await using writer = await createZarrWriter(streamed, {
        shape,
        chunks,
        dtype: "float32",
      });
      const sizes = [1, 0, 7, 33, 2, rows];
      let row = 0;
      for (const size of sizes) {
        const n = Math.min(size, rows - row);
        // A reused buffer: the writer must not keep references to it.
        const block = new Float32Array(n * rowLen);
        block.set(data.subarray(row * rowLen, (row + n) * rowLen));
        await writer.write(block);
        block.fill(-1);
        row += n;
        assertStrictEquals(writer.rowsWritten, row);
      }
      const info = await writer.close();
      assertEquals(info, await zarrInfo(whole));
      assertEquals(await files(streamed), await files(whole));
    });
  }
});

Deno.test("createZarrWriter() writes each chunk as soon as its rows are complete", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "s.zarr");
  await using writer = await createZarrWriter(path, {
    shape: [30, 4],
    chunks: [10, 4],
    dtype: "int32",
    compression: "none",
  });
  await writer.write(new Int32Array(12 * 4).fill(7));
  // Let the chunk in flight land.
  await writer.write(new Int32Array(0));
  const [tmp] = await entries(dir.path);
  assertMatch(tmp, /^\.tmp-s\.zarr-/);
  const chunkDir = join(dir.path, tmp, "c");
  await until(
    async () => (await entries(chunkDir).catch(() => [])).length > 0,
    "the chunk in flight to land",
  );
  assertEquals(await entries(chunkDir), ["0"]);
  await writer.abort();
});

Deno.test("ZarrWriter.close() with too few rows throws InvalidInputError and removes the temp folder", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "short.zarr");
  const writer = await createZarrWriter(path, {
    shape: [100, 3],
    dtype: "float64",
  });
  await writer.write(new Float64Array(60 * 3));
  await rejectsWith(
    () => writer.close(),
    InvalidInputError,
    /expected 100 rows, 60 written/,
  );
  assertEquals(await entries(dir.path), []);
});

Deno.test("ZarrWriter.write() rejects too many rows, partial rows and the wrong type", async () => {
  await using dir = await tempDir();
  await using writer = await createZarrWriter(join(dir.path, "w.zarr"), {
    shape: [4, 3],
    dtype: "int16",
  });
  await writer.write(new Int16Array(9));
  await rejectsWith(
    () => writer.write(new Int16Array(6)),
    InvalidInputError,
    /too many rows: 3 written \+ 2 in this block > 4/,
  );
  await rejectsWith(
    () => writer.write(new Int16Array(4)),
    InvalidInputError,
    /whole rows of 3 values .*got 4 values/,
  );
  await rejectsWith(
    () => writer.write(new Float32Array(3)),
    InvalidInputError,
    /must be a Int16Array \(dtype "int16"\), got Float32Array/,
  );
  assertStrictEquals(writer.rowsWritten, 3);
});

Deno.test("ZarrWriter.abort() and `await using` without close() remove the temp folder", async () => {
  await using dir = await tempDir();
  const writer = await createZarrWriter(join(dir.path, "a.zarr"), {
    shape: [10, 2],
    dtype: "uint32",
  });
  await writer.write(new Uint32Array(8));
  assertEquals((await entries(dir.path)).length, 1);
  await writer.abort();
  assertEquals(await entries(dir.path), []);
  await assertRejects(
    () => writer.write(new Uint32Array(2)),
    /already aborted/,
  );
  {
    await using w = await createZarrWriter(join(dir.path, "b.zarr"), {
      shape: [10, 2],
      dtype: "uint32",
    });
    await w.write(new Uint32Array(20));
  }
  assertEquals(await entries(dir.path), []);
});

Deno.test("a failed chunk write rejects write() and close(), and the temp folder is removed", async () => {
  await using dir = await tempDir();
  const writer = await createZarrWriter(join(dir.path, "f.zarr"), {
    shape: [30, 4],
    chunks: [10, 4],
    dtype: "int32",
    compression: "none",
  });
  const [tmp] = await entries(dir.path);
  // A file where the chunk folder must go makes every chunk write fail.
  await Deno.writeTextFile(join(dir.path, tmp, "c"), "in the way");
  const failure = await writer.write(new Int32Array(10 * 4)).catch((e) => e);
  assert(failure instanceof Error, String(failure));
  assertStrictEquals(await writer.close().catch((e) => e), failure);
  assertEquals(await entries(dir.path), []);
});

Deno.test("createZarrWriter() refuses an existing target before writing anything", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "t.zarr");
  await Deno.mkdir(path);
  await assertRejects(
    () => createZarrWriter(path, { shape: [1], dtype: "int8" }),
    ImmutableArtifactError,
  );
  assertEquals(await entries(dir.path), ["t.zarr"]);
});

// --- interop ---------------------------------------------------------------

const ZARR3 = join(INTEROP, "zarr3");
const expected3 = JSON.parse(
  await Deno.readTextFile(join(ZARR3, "EXPECTED.json")),
);

Deno.test("readZarr() reads every tensorstore array in interop/zarr3 exactly", async (t) => {
  const float32 = Float32Array.from({ length: 960 }, (_, i) => i / 7);
  const arrays: [string, string[]][] = [
    ["float32_bytes.zarr", ["bytes"]],
    ["float32_zstd.zarr", ["bytes", "zstd"]],
    ["float32_gzip.zarr", ["bytes", "gzip"]],
    ["float32_blosc.zarr", ["bytes", "blosc"]],
    ["float32_sharded.zarr", ["sharding_indexed"]],
  ];
  for (const [name, codecs] of arrays) {
    await t.step(name, async () => {
      const path = join(ZARR3, name);
      const { data, shape } = await readZarr(path);
      assertEquals(shape, expected3.float32.shape);
      assertEquals(data, float32);
      let sum = 0;
      for (const v of data as Float32Array) sum += v;
      assert(Math.abs(sum - expected3.float32.sum) < 1e-6, `sum ${sum}`);
      const part = await readZarr(path, [[15, 25], [3, 10]]);
      assertEquals(part.shape, [10, 7]);
      assertStrictEquals(part.data[0], float32[15 * 24 + 3]);
      assertStrictEquals(part.data[69], float32[24 * 24 + 9]);
      const info = await zarrInfo(path);
      assertEquals(info.zarr_format, 3);
      assertEquals(info.dtype, "float32");
      assertEquals(info.codecs, codecs);
      let bytes = 0;
      for (const b of (await files(path)).values()) bytes += b.length;
      assertStrictEquals(info.bytes, bytes);
    });
  }
  await t.step("int64_3d_zstd.zarr", async () => {
    const path = join(ZARR3, "int64_3d_zstd.zarr");
    const { data, shape } = await readZarr(path);
    assertEquals(shape, expected3.int64_3d.shape);
    assertEquals(
      data,
      BigInt64Array.from({ length: 60 }, (_, i) => BigInt(i - 30)),
    );
    let sum = 0n;
    for (const v of data as BigInt64Array) sum += v;
    assertStrictEquals(sum, BigInt(expected3.int64_3d.sum));
    const row = await readZarr(path, [2, 3]);
    assertEquals(row, {
      data: BigInt64Array.from([25n, 26n, 27n, 28n, 29n]),
      shape: [5],
    });
    const info = await zarrInfo(path);
    assertEquals(info.codecs, ["bytes", "zstd"]);
    assertEquals(info.chunks, [2, 2, 5]);
  });
});

Deno.test("readZarr() reads the zarr-python 2 array (Blosc lz4) in interop/zarr2", async () => {
  const dir = join(INTEROP, "zarr2");
  const expected = JSON.parse(
    await Deno.readTextFile(join(dir, "EXPECTED.json")),
  );
  const path = join(dir, "activations.zarr");
  const { data, shape } = await readZarr(path);
  assertEquals(shape, expected.shape);
  assert(data instanceof Float32Array);
  expected.first_rows_first_8.forEach((row: number[], i: number) => {
    assertEquals([...data.subarray(i * 512, i * 512 + 8)], row);
  });
  let sum = 0;
  for (const v of data) sum += v;
  assert(Math.abs(sum - expected.sum) < 1e-3, `sum ${sum}`);
  const row = await readZarr(path, [1, [0, 8]]);
  assertEquals([...row.data as Float32Array], expected.first_rows_first_8[1]);
  const info = await zarrInfo(path);
  assertEquals(info, {
    shape: [100, 512],
    dtype: "float32",
    chunks: [100, 512],
    codecs: ["blosc"],
    bytes: (await Deno.stat(join(path, ".zarray"))).size +
      (await Deno.stat(join(path, "0.0"))).size,
    zarr_format: 2,
  });
});

Deno.test("readZarr() returns C order for a Fortran-order Zarr v2 array", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "f.zarr");
  await Deno.mkdir(path);
  await Deno.writeTextFile(
    join(path, ".zarray"),
    JSON.stringify({
      zarr_format: 2,
      shape: [2, 3],
      chunks: [2, 3],
      dtype: "<i4",
      order: "F",
      compressor: null,
      filters: null,
      fill_value: 0,
    }),
  );
  // [[0, 1, 2], [10, 11, 12]] stored column by column.
  await Deno.writeFile(
    join(path, "0.0"),
    new Uint8Array(Int32Array.from([0, 10, 1, 11, 2, 12]).buffer),
  );
  const got = await readZarr(path);
  assertEquals(got, {
    data: Int32Array.from([0, 1, 2, 10, 11, 12]),
    shape: [2, 3],
  });
  assertEquals(
    (await readZarr(path, [null, 2])).data,
    Int32Array.from([2, 12]),
  );
});

Deno.test("readZarr() reads a 0-d Zarr v3 array as one value with shape []", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "scalar.zarr");
  await Deno.mkdir(path);
  await Deno.writeTextFile(
    join(path, "zarr.json"),
    JSON.stringify({
      zarr_format: 3,
      node_type: "array",
      shape: [],
      data_type: "float64",
      chunk_grid: { name: "regular", configuration: { chunk_shape: [] } },
      chunk_key_encoding: { name: "default" },
      codecs: [{ name: "bytes", configuration: { endian: "little" } }],
      fill_value: 0,
    }),
  );
  await Deno.writeFile(
    join(path, "c"),
    new Uint8Array(Float64Array.from([2.5]).buffer),
  );
  assertEquals(await readZarr(path), {
    data: Float64Array.from([2.5]),
    shape: [],
  });
});

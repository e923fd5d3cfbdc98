// Zarr reading at the edges: other tools' fill values, shards, data types and
// empty arrays; hostile arrays (symlinks, FIFOs, memory bombs, bad indexes).
import { gzipSync } from "node:zlib";
import { join, zstdCompressSync } from "../lib/_deps.ts";
import {
  CorruptFileError,
  InvalidInputError,
  UnsafeFileError,
  UnsupportedFormatError,
  type VaultError,
} from "../lib/errors.ts";
import { readZarr, writeZarr, zarrInfo } from "../lib/formats/zarr/zarr.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { crc32c } from "../lib/_deps.ts";
import { readPreview } from "../lib/dashboard/_tensor.ts";
import {
  addExampleSpecimen,
  EXAMPLE_ID,
  serveVault,
} from "./testdata/dashboard_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  INTEROP,
  ROOT,
  runDeno,
  tempDir,
  tempVault,
} from "./utils.ts";

const EDGE = join(INTEROP, "zarr3_edge");
// Python's json writes -Infinity and NaN bare: quote them, then read back.
const expected = JSON.parse(
  (await Deno.readTextFile(join(EDGE, "EXPECTED.json")))
    .replaceAll(/([[,:]\s*)(-?Infinity|NaN)(?=\s*[,\]}])/g, '$1"$2"'),
  (_key, v) =>
    typeof v === "string" && /^(-?Infinity|NaN)$/.test(v) ? Number(v) : v,
) as Record<
  string,
  { shape: number[]; data_type: string; values: number[]; is_nan: boolean[] }
>;

type Json = Record<string, unknown>;

/** Writes a Zarr v3 array by hand: metadata and the given files. */
async function handArray(
  path: string,
  meta: Json,
  files: Record<string, Uint8Array> = {},
): Promise<void> {
  await Deno.mkdir(path, { recursive: true });
  await Deno.writeTextFile(
    join(path, "zarr.json"),
    JSON.stringify({
      zarr_format: 3,
      node_type: "array",
      chunk_key_encoding: { name: "default" },
      codecs: [{ name: "bytes", configuration: { endian: "little" } }],
      fill_value: 0,
      ...meta,
    }),
  );
  for (const [key, bytes] of Object.entries(files)) {
    const file = join(path, ...key.split("/"));
    await Deno.mkdir(join(file, ".."), { recursive: true });
    await Deno.writeFile(file, bytes);
  }
}

function grid(chunk: number[]): Json {
  return { name: "regular", configuration: { chunk_shape: chunk } };
}

const le = (a: ArrayBufferView) =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

// --- tensorstore's files ----------------------------------------------------

Deno.test("readZarr() reads every array in interop/zarr3_edge element for element", async (t) => {
  for (const [name, want] of Object.entries(expected)) {
    await t.step(name, async () => {
      const { data, shape } = await readZarr(join(EDGE, `${name}.zarr`));
      assertEquals(shape, want.shape);
      assertStrictEquals(data.length, want.values.length);
      if (want.data_type === "bool") assert(data instanceof Uint8Array);
      if (want.data_type === "float16") assert(data instanceof Float16Array);
      for (let i = 0; i < data.length; i++) {
        const v = Number(data[i]);
        if (want.is_nan[i]) assert(Number.isNaN(v), `${name}[${i}] = ${v}`);
        else assertStrictEquals(v, want.values[i], `${name}[${i}]`);
      }
    });
  }
  await t.step(
    "slices of the sharded arrays cross shards and inner chunks",
    async () => {
      for (const name of ["shard_index_start", "shard_index_start_partial"]) {
        const want = expected[name];
        const got = await readZarr(join(EDGE, `${name}.zarr`), [[1, 9], [
          2,
          8,
        ]]);
        assertEquals(got.shape, [8, 6]);
        for (let r = 0; r < 8; r++) {
          for (let c = 0; c < 6; c++) {
            assertStrictEquals(
              got.data[r * 6 + c],
              want.values[(r + 1) * 9 + c + 2],
            );
          }
        }
      }
    },
  );
});

// --- fill values --------------------------------------------------------------

Deno.test("readZarr() decodes every fill_value form of the v3 spec, bit for bit", async (t) => {
  await using dir = await tempDir();
  // [dtype, fill_value, raw bits expected as unsigned hex, or a value]
  const cases: [string, unknown, string][] = [
    ["float32", "0x7fc00001", "7fc00001"],
    ["float32", "0xff800000", "ff800000"],
    ["float32", "NaN", "7fc00000"],
    ["float32", "Infinity", "7f800000"],
    ["float32", "-Infinity", "ff800000"],
    ["float32", -2.5, "c0200000"],
    ["float64", "0x7ff8000000000001", "7ff8000000000001"],
    ["float64", "0x4000000000000000", "4000000000000000"],
    ["float64", "NaN", "7ff8000000000000"],
    ["float64", "-Infinity", "fff0000000000000"],
    ["float64", 1e300, "7e37e43c8800759c"],
    ["float16", "0x7e01", "7e01"],
    ["float16", "0x3c00", "3c00"],
    ["float16", "NaN", "7e00"],
    ["float16", "Infinity", "7c00"],
    ["float16", -2, "c000"],
    ["int8", -5, "fb"],
    ["uint16", 65535, "ffff"],
    ["int32", -2147483648, "80000000"],
    ["int64", "__9223372036854775807", "7fffffffffffffff"],
    ["int64", -1, "ffffffffffffffff"],
    ["uint64", "__18446744073709551615", "ffffffffffffffff"],
    ["bool", true, "01"],
    ["bool", false, "00"],
  ];
  let n = 0;
  for (const [dtype, fill, bits] of cases) {
    await t.step(`${dtype} ${JSON.stringify(fill)}`, async () => {
      const path = join(dir.path, `f${n++}.zarr`);
      await handArray(path, {
        shape: [3],
        data_type: dtype,
        chunk_grid: grid([2]),
        fill_value: fill,
      });
      // Integers beyond 2^53 as JSON number literals, not strings.
      if (typeof fill === "string" && fill.startsWith("__")) {
        const file = join(path, "zarr.json");
        const text = await Deno.readTextFile(file);
        await Deno.writeTextFile(
          file,
          text.replace(`"${fill}"`, fill.slice(2)),
        );
      }
      const { data } = await readZarr(path);
      assertStrictEquals(data.length, 3);
      const raw = le(data);
      const size = raw.length / 3;
      for (let i = 0; i < 3; i++) {
        const el = [...raw.subarray(i * size, (i + 1) * size)].reverse();
        assertEquals(
          el.map((b) => b.toString(16).padStart(2, "0")).join(""),
          bits,
          `element ${i}`,
        );
      }
    });
  }
  const bad: [string, unknown][] = [
    ["float32", "0x7fc0"],
    ["float32", "0x7fc0000000"],
    ["float64", "nan"],
    ["float32", true],
    ["int8", 300],
    ["uint8", -1],
    ["int16", 1.5],
    ["bool", 2],
    ["bool", "true"],
  ];
  for (const [dtype, fill] of bad) {
    await t.step(`refuses ${dtype} ${JSON.stringify(fill)}`, async () => {
      const path = join(dir.path, `bad${n++}.zarr`);
      await handArray(path, {
        shape: [3],
        data_type: dtype,
        chunk_grid: grid([2]),
        fill_value: fill,
      });
      const e = await assertRejects(() => readZarr(path), CorruptFileError);
      assertMatch(e.message, /fill_value .* is not valid for data type/);
      assert(e.message.includes(JSON.stringify(fill)), e.message);
    });
  }
});

Deno.test("readZarr() fills only the unwritten elements of a partly written array", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "p.zarr");
  await handArray(path, {
    shape: [5, 3],
    data_type: "float32",
    chunk_grid: grid([2, 2]),
    fill_value: "0x7fc00001",
  }, {
    "c/1/0": le(Float32Array.from([1, 2, 3, 4])),
  });
  const { data } = await readZarr(path);
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const written = [6, 7, 9, 10];
  for (let i = 0; i < 15; i++) {
    if (written.includes(i)) {
      assertStrictEquals(data[i], written.indexOf(i) + 1);
    } else assertStrictEquals(bits[i], 0x7fc00001, `element ${i}`);
  }
});

// --- sharding -----------------------------------------------------------------

/** A shard file: inner chunks (null = missing) and its index, with crc32c. */
function shardFile(
  chunks: (Uint8Array | null)[],
  location: "start" | "end",
  crc = true,
): Uint8Array {
  const indexBytes = chunks.length * 16 + (crc ? 4 : 0);
  const index = new Uint8Array(indexBytes);
  const view = new DataView(index.buffer);
  let offset = location === "start" ? indexBytes : 0;
  const parts: Uint8Array[] = [];
  chunks.forEach((c, i) => {
    if (!c) {
      view.setBigUint64(16 * i, 2n ** 64n - 1n, true);
      view.setBigUint64(16 * i + 8, 2n ** 64n - 1n, true);
      return;
    }
    view.setBigUint64(16 * i, BigInt(offset), true);
    view.setBigUint64(16 * i + 8, BigInt(c.length), true);
    offset += c.length;
    parts.push(c);
  });
  if (crc) {
    view.setUint32(
      indexBytes - 4,
      crc32c(index.subarray(0, indexBytes - 4)),
      true,
    );
  }
  const body = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.length;
  }
  const out = new Uint8Array(body.length + indexBytes);
  out.set(location === "start" ? index : body, 0);
  out.set(
    location === "start" ? body : index,
    location === "start" ? indexBytes : body.length,
  );
  return out;
}

const INNER: Record<string, [Json[], (b: Uint8Array) => Uint8Array]> = {
  bytes: [[{ name: "bytes", configuration: { endian: "little" } }], (b) => b],
  zstd: [[{ name: "bytes", configuration: { endian: "little" } }, {
    name: "zstd",
    configuration: { level: 3, checksum: false },
  }], (b) => zstdCompressSync(b)],
  gzip: [[{ name: "bytes", configuration: { endian: "little" } }, {
    name: "gzip",
    configuration: { level: 5 },
  }], (b) => gzipSync(b)],
  "big endian": [[{ name: "bytes", configuration: { endian: "big" } }], (b) => {
    const out = b.slice();
    for (let i = 0; i < out.length; i += 4) out.subarray(i, i + 4).reverse();
    return out;
  }],
  "bytes+crc32c": [[{ name: "bytes", configuration: { endian: "little" } }, {
    name: "crc32c",
  }], (b) => {
    const out = new Uint8Array(b.length + 4);
    out.set(b);
    new DataView(out.buffer).setUint32(b.length, crc32c(b), true);
    return out;
  }],
};

/**
 * A [6, 4] int32 array (value = 10 * row + col), shards of [4, 4], inner
 * chunks of [2, 2]; inner chunks listed in `skip` are missing (fill -1).
 */
async function shardedArray(
  path: string,
  location: "start" | "end",
  inner: keyof typeof INNER,
  skip: number[] = [],
): Promise<void> {
  const [codecs, encode] = INNER[inner];
  const files: Record<string, Uint8Array> = {};
  for (const shard of [0, 1]) {
    const chunks: (Uint8Array | null)[] = [];
    for (let ci = 0; ci < 2; ci++) {
      for (let cj = 0; cj < 2; cj++) {
        const id = shard * 4 + ci * 2 + cj;
        const rows = [0, 1].map((r) => shard * 4 + ci * 2 + r);
        if (skip.includes(id) || rows[0] >= 6) {
          chunks.push(null);
          continue;
        }
        const v = Int32Array.from(
          rows.flatMap((r) => [0, 1].map((c) => 10 * r + cj * 2 + c)),
        );
        chunks.push(encode(le(v)));
      }
    }
    files[`c/${shard}/0`] = shardFile(chunks, location);
  }
  await handArray(path, {
    shape: [6, 4],
    data_type: "int32",
    chunk_grid: grid([4, 4]),
    fill_value: -1,
    codecs: [{
      name: "sharding_indexed",
      configuration: {
        chunk_shape: [2, 2],
        codecs,
        index_codecs: [
          { name: "bytes", configuration: { endian: "little" } },
          { name: "crc32c" },
        ],
        index_location: location,
      },
    }],
  }, files);
}

Deno.test("readZarr() reads shards with the index at the start or the end, full or partial, with any inner codec", async (t) => {
  await using dir = await tempDir();
  let n = 0;
  for (const location of ["start", "end"] as const) {
    for (const inner of Object.keys(INNER)) {
      for (const skip of [[], [1, 4]]) {
        await t.step(`${location}, ${inner}, missing ${skip}`, async () => {
          const path = join(dir.path, `s${n++}.zarr`);
          await shardedArray(path, location, inner, skip);
          const { data, shape } = await readZarr(path);
          assertEquals(shape, [6, 4]);
          const want = Array.from({ length: 24 }, (_, i) => {
            const [r, c] = [Math.floor(i / 4), i % 4];
            const id = Math.floor(r / 4) * 4 + Math.floor((r % 4) / 2) * 2 +
              Math.floor(c / 2);
            return skip.includes(id) ? -1 : 10 * r + c;
          });
          assertEquals([...data], want);
          assertEquals([...(await readZarr(path, [5])).data], want.slice(20));
        });
      }
    }
  }
});

Deno.test("readZarr() names the shard and the problem for an inconsistent shard index", async (t) => {
  await using dir = await tempDir();
  const cases: [string, (b: Uint8Array) => Uint8Array, RegExp][] = [
    ["an offset past the end of the file", (b) => {
      new DataView(b.buffer).setBigUint64(0, 2n ** 62n, true);
      return fixCrc(b);
    }, /outside the data part/],
    ["a length past the end of the file", (b) => {
      new DataView(b.buffer).setBigUint64(8, 4_611_686_019_427_387_904n, true);
      return fixCrc(b);
    }, /outside the data part/],
    ["an offset inside the index", (b) => {
      new DataView(b.buffer).setBigUint64(0, 3n, true);
      return fixCrc(b);
    }, /outside the data part/],
    ["half an entry missing", (b) => {
      new DataView(b.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
      return fixCrc(b);
    }, /half missing/],
    ["a crc32c that does not match", (b) => {
      b[5] ^= 1;
      return b;
    }, /crc32c/],
    [
      "a file shorter than its index",
      (b) => b.subarray(0, 40),
      /fewer than its 68-byte index/,
    ],
    ["an empty file", () => new Uint8Array(0), /fewer than its/],
  ];
  let n = 0;
  for (const [name, damage, reason] of cases) {
    await t.step(name, async () => {
      const path = join(dir.path, `bad${n++}.zarr`);
      await shardedArray(path, "start", "zstd");
      const file = join(path, "c", "0", "0");
      await Deno.writeFile(file, damage(await Deno.readFile(file)));
      const e = await assertRejects(() => readZarr(path), CorruptFileError);
      assertMatch(e.message, /shard "c\/0\/0"/);
      assertMatch(e.message, reason);
      // The other shard still reads.
      assertEquals([...(await readZarr(path, [5])).data], [50, 51, 52, 53]);
    });
  }
  await t.step("tensorstore's start-index shard declared as end", async () => {
    const path = join(dir.path, "flipped.zarr");
    await Deno.mkdir(path);
    for (const key of ["c/0/0", "zarr.json"]) {
      await Deno.mkdir(join(path, key, "..", ".."), { recursive: true });
      await Deno.mkdir(join(path, key, ".."), { recursive: true });
      await Deno.copyFile(
        join(EDGE, "shard_index_start_partial.zarr", key),
        join(path, key),
      );
    }
    const meta = JSON.parse(await Deno.readTextFile(join(path, "zarr.json")));
    meta.codecs[0].configuration.index_location = "end";
    await Deno.writeTextFile(join(path, "zarr.json"), JSON.stringify(meta));
    await assertRejects(
      () => readZarr(path),
      CorruptFileError,
      /shard "c\/0\/0" has a bad index: its crc32c/,
    );
  });
});

function fixCrc(shard: Uint8Array): Uint8Array {
  // Index at the start, 4 entries of 16 bytes, then the crc32c.
  new DataView(shard.buffer).setUint32(64, crc32c(shard.subarray(0, 64)), true);
  return shard;
}

// --- data types -----------------------------------------------------------------

Deno.test("bool and float16 tensors round-trip through writeZarr(), in every chunk layout", async (t) => {
  await using dir = await tempDir();
  const bools = Uint8Array.from(
    { length: 60 },
    (_, i) => (i * i) % 3 === 1 ? 1 : 0,
  );
  const halves = Float16Array.from({ length: 60 }, (_, i) => (i - 30) / 8);
  for (const chunks of [[10, 6], [3, 6], [4, 4]]) {
    await t.step(`chunks ${chunks}`, async () => {
      const b = join(dir.path, `b${chunks}.zarr`);
      await writeZarr(b, bools, { shape: [10, 6], dtype: "bool", chunks });
      const meta = JSON.parse(await Deno.readTextFile(join(b, "zarr.json")));
      assertStrictEquals(meta.data_type, "bool");
      assertStrictEquals(meta.fill_value, false);
      assertEquals((await readZarr(b)).data, bools);
      const h = join(dir.path, `h${chunks}.zarr`);
      await writeZarr(h, halves, { shape: [10, 6], chunks });
      assertStrictEquals((await zarrInfo(h)).dtype, "float16");
      assertEquals((await readZarr(h)).data, halves);
    });
  }
  await t.step("a bool tensor holds only 0 and 1", async () => {
    await assertRejects(
      () =>
        writeZarr(join(dir.path, "two.zarr"), Uint8Array.from([0, 2]), {
          shape: [2],
          dtype: "bool",
        }),
      InvalidInputError,
      /holds only 0 and 1, got 2 at index 1/,
    );
  });
});

Deno.test("readZarr() reports complex, string and other data types and codecs as unsupported, not corrupt", async (t) => {
  await using dir = await tempDir();
  const v3: [string, Json, RegExp][] = [
    [
      "complex64",
      { data_type: "complex64", fill_value: [0, 0] },
      /data type "complex64"/,
    ],
    [
      "complex128",
      { data_type: "complex128", fill_value: [0, 0] },
      /data type "complex128"/,
    ],
    ["string", { data_type: "string", fill_value: "" }, /data type "string"/],
    ["bz2 codec", {
      data_type: "int32",
      codecs: [{ name: "bytes", configuration: { endian: "little" } }, {
        name: "numcodecs.bz2",
        configuration: { level: 1 },
      }],
    }, /codec "numcodecs\.bz2"/],
    ["rectilinear grid", {
      data_type: "int32",
      chunk_grid: { name: "rectilinear", configuration: { chunk_shape: [2] } },
    }, /chunk grid "rectilinear"/],
  ];
  let n = 0;
  for (const [name, meta, reason] of v3) {
    await t.step(`v3 ${name}`, async () => {
      const path = join(dir.path, `u${n++}.zarr`);
      await handArray(path, { shape: [4], chunk_grid: grid([2]), ...meta });
      const e = await assertRejects(
        () => readZarr(path),
        UnsupportedFormatError,
        reason,
      );
      assertStrictEquals((e as VaultError).exitCode, 6);
      // Still described for the catalog.
      assertEquals((await zarrInfo(path)).shape, [4]);
    });
  }
  const v2: [string, Json, RegExp][] = [
    ["complex64", { dtype: "<c8" }, /data type "<c8"/],
    [
      "bz2",
      { dtype: "<i4", compressor: { id: "bz2", level: 1 } },
      /compressor "bz2"/,
    ],
    ["delta filter", {
      dtype: "<i4",
      filters: [{ id: "delta", dtype: "<i4" }],
    }, /filters "delta"/],
  ];
  for (const [name, meta, reason] of v2) {
    await t.step(`v2 ${name}`, async () => {
      const path = join(dir.path, `v${n++}.zarr`);
      await Deno.mkdir(path);
      await Deno.writeTextFile(
        join(path, ".zarray"),
        JSON.stringify({
          zarr_format: 2,
          shape: [4],
          chunks: [2],
          order: "C",
          compressor: null,
          filters: null,
          fill_value: 0,
          ...meta,
        }),
      );
      await assertRejects(() => readZarr(path), UnsupportedFormatError, reason);
    });
  }
  await t.step("a task exits 6 on it", async () => {
    const path = join(dir.path, "u0.zarr");
    const script = `import { runMain } from "${ROOT}/lib/cli/cli.ts";
import { readZarr } from "${ROOT}/lib/formats/zarr/zarr.ts";
await runMain(async () => { await readZarr(${JSON.stringify(path)}); });`;
    const r = await runDeno(["eval", script]);
    assertStrictEquals(r.code, 6, r.stderr);
    assertMatch(r.stderr, /error: .*data type "complex64" is not supported/);
  });
});

Deno.test("readZarr() reads a shape with a 0-length axis as an empty tensor of that shape", async (t) => {
  await using dir = await tempDir();
  const cases: [string, number[], number[]][] = [
    ["float32", [0, 3], [2, 3]],
    ["int64", [4, 0], [2, 2]],
    ["bool", [0], [1]],
    ["float16", [2, 0, 5], [1, 0, 5]],
    ["uint8", [0, 0], [0, 0]],
  ];
  let n = 0;
  for (const [dtype, shape, chunks] of cases) {
    await t.step(`v3 ${dtype} ${JSON.stringify(shape)}`, async () => {
      const path = join(dir.path, `e${n++}.zarr`);
      await handArray(path, {
        shape,
        data_type: dtype,
        chunk_grid: grid(chunks),
        fill_value: dtype === "bool" ? false : 0,
      });
      const got = await readZarr(path);
      assertEquals(got.shape, shape);
      assertStrictEquals(got.data.length, 0);
      assertEquals((await readZarr(path, [[0, 0]])).shape, [
        0,
        ...shape.slice(1),
      ]);
    });
  }
  await t.step("v2 as zarr-python 2 writes it", async () => {
    const path = join(dir.path, "v2.zarr");
    await Deno.mkdir(path);
    await Deno.writeTextFile(
      join(path, ".zarray"),
      JSON.stringify({
        zarr_format: 2,
        shape: [0, 3],
        chunks: [1, 3],
        dtype: "<f8",
        order: "C",
        compressor: { id: "blosc", cname: "lz4", clevel: 5, shuffle: 1 },
        filters: null,
        fill_value: 0.0,
      }),
    );
    const got = await readZarr(path);
    assertEquals(got.shape, [0, 3]);
    assert(got.data instanceof Float64Array && got.data.length === 0);
  });
});

// --- hostile arrays -----------------------------------------------------------------

/** An array inside `vault`, and a decoy outside it with the same layout. */
async function arrayAndDecoy(dir: string, name: string, sharded = false) {
  const inside = join(dir, "vault", `${name}.zarr`);
  const outside = join(dir, "outside", `${name}.zarr`);
  await Deno.mkdir(join(dir, "vault"), { recursive: true });
  await Deno.mkdir(join(dir, "outside"), { recursive: true });
  if (sharded) {
    await shardedArray(inside, "end", "bytes");
    await shardedArray(outside, "end", "bytes");
  } else {
    const data = Int32Array.from({ length: 16 }, (_, i) => i);
    await writeZarr(inside, data, { shape: [4, 4], chunks: [2, 2] });
    await writeZarr(outside, data.map((v) => v + 1000), {
      shape: [4, 4],
      chunks: [2, 2],
    });
  }
  return { inside, outside };
}

async function replaceWithLink(at: string, target: string): Promise<void> {
  await Deno.remove(at, { recursive: true });
  await Deno.symlink(target, at);
}

Deno.test("readZarr() refuses a symlink out of the array at every level, naming it", async (t) => {
  await using dir = await tempDir();
  const levels: [string, string, boolean][] = [
    ["zarr.json", "zarr.json", false],
    ["a chunk file", "c/1/1", false],
    ["the c/ folder", "c", false],
    ["a subfolder c/1/", "c/1", false],
    ["a shard file", "c/1/0", true],
  ];
  for (const [name, key, sharded] of levels) {
    await t.step(name, async () => {
      const { inside, outside } = await arrayAndDecoy(
        join(dir.path, name.replaceAll(/\W/g, "_")),
        "a",
        sharded,
      );
      await replaceWithLink(join(inside, key), join(outside, key));
      const e = await assertRejects(
        () => readZarr(inside),
        UnsafeFileError,
      );
      assertMatch(e.message, new RegExp(`"${inside}"`));
      assert(
        e.message.includes(join(inside, key.split("/")[0])),
        e.message,
      );
      // Through the dashboard's preview too.
      await assertRejects(
        () => readPreview(inside, [sharded ? 6 : 4, 4], "int32", undefined),
        UnsafeFileError,
      );
    });
  }
  await t.step(
    "a symlink to a chunk inside the same array still reads",
    async () => {
      const { inside } = await arrayAndDecoy(join(dir.path, "ok"), "a");
      await replaceWithLink(join(inside, "c/1/1"), join(inside, "c/0/0"));
      const { data } = await readZarr(inside, [3]);
      // c/1/1 now holds c/0/0: rows 0-1, columns 0-1.
      assertEquals([...data], [12, 13, 4, 5]);
    },
  );
  await t.step("a dangling symlink is refused, not read as fill", async () => {
    const { inside } = await arrayAndDecoy(join(dir.path, "dangling"), "a");
    await replaceWithLink(join(inside, "c/1/1"), join(dir.path, "gone"));
    await assertRejects(
      () => readZarr(inside),
      UnsafeFileError,
      /does not exist/,
    );
  });
});

Deno.test("readZarr() refuses a FIFO as a chunk, shard or zarr.json without waiting for a writer", async (t) => {
  await using dir = await tempDir();
  for (
    const [name, key, sharded] of [
      ["chunk", "c/0/1", false],
      ["shard", "c/0/0", true],
      ["zarr.json", "zarr.json", false],
    ] as const
  ) {
    await t.step(name, async () => {
      const { inside } = await arrayAndDecoy(
        join(dir.path, name),
        "f",
        sharded,
      );
      await Deno.remove(join(inside, key));
      const made = await new Deno.Command("mkfifo", {
        args: [join(inside, key)],
      }).output();
      assert(made.success);
      // Opening a FIFO to read would block forever: an answer at all proves it
      // was not opened.
      await assertRejects(() => readZarr(inside), UnsafeFileError, /FIFO/);
    });
  }
});

Deno.test("readZarr() bounds memory: chunks that decompress past their size, huge chunk shapes, huge selections", async (t) => {
  await using dir = await tempDir();
  const bomb = new Uint8Array(64 * 1024 * 1024); // 64 MiB of zeros
  const compressors: [string, Json[], () => Promise<Uint8Array>][] = [
    [
      "zstd",
      [{ name: "zstd", configuration: { level: 1 } }],
      () => Promise.resolve(zstdCompressSync(bomb)),
    ],
    [
      "gzip",
      [{ name: "gzip", configuration: { level: 1 } }],
      () => Promise.resolve(gzipSync(bomb)),
    ],
    ["blosc", [{
      name: "blosc",
      configuration: {
        cname: "lz4",
        clevel: 1,
        shuffle: "noshuffle",
        typesize: 4,
        blocksize: 0,
      },
    }], async () => {
      const { default: Blosc } = await import("numcodecs/blosc");
      return await Blosc.fromConfig({
        id: "blosc",
        cname: "lz4",
        clevel: 1,
        shuffle: 0,
      })
        .encode(bomb.subarray(0, 1024 * 1024));
    }],
  ];
  for (const [name, codecs, make] of compressors) {
    await t.step(
      `a ${name} chunk declared [1, 20] that inflates to MiBs`,
      async () => {
        const path = join(dir.path, `bomb-${name}.zarr`);
        await handArray(path, {
          shape: [1, 20],
          data_type: "float32",
          chunk_grid: grid([1, 20]),
          codecs: [
            { name: "bytes", configuration: { endian: "little" } },
            ...codecs,
          ],
        }, { "c/0/0": await make() });
        const e = await assertRejects(() => readZarr(path), CorruptFileError);
        assertMatch(
          e.message,
          /chunk "c\/0\/0" does not decode \(it decodes to more than the 80 bytes/,
        );
      },
    );
  }
  await t.step(
    "a missing chunk of a huge chunk_shape costs only the selection",
    async () => {
      const path = join(dir.path, "huge.zarr");
      await handArray(path, {
        shape: [1_000_000, 1_000_000],
        data_type: "float64",
        chunk_grid: grid([1_000_000, 1_000_000]),
        fill_value: 7,
      });
      const { data, shape } = await readZarr(path, [[0, 2], [0, 2]]);
      assertEquals(shape, [2, 2]);
      assertEquals([...data], [7, 7, 7, 7]);
    },
  );
  await t.step(
    "a present chunk above the chunk limit is refused before decoding",
    async () => {
      const path = join(dir.path, "huge2.zarr");
      await handArray(path, {
        shape: [100_000, 100_000],
        data_type: "float32",
        chunk_grid: grid([100_000, 100_000]),
      }, { "c/0/0": zstdCompressSync(new Uint8Array(100)) });
      await assertRejects(
        () => readZarr(path, [[0, 2], [0, 2]]),
        UnsupportedFormatError,
        /decodes to 40000000000 bytes, more than the reader's limit of 536870912 bytes per chunk/,
      );
      await assertRejects(
        () => readZarr(path, [[0, 2], [0, 2]], { maxChunkBytes: 1000 }),
        UnsupportedFormatError,
        /limit of 1000 bytes per chunk/,
      );
    },
  );
  await t.step(
    "a selection above the limit is refused before allocating",
    async () => {
      const path = join(dir.path, "wide.zarr");
      await handArray(path, {
        shape: [2 ** 40],
        data_type: "float32",
        chunk_grid: grid([1024]),
      });
      await assertRejects(
        () => readZarr(path),
        InvalidInputError,
        /holds 1099511627776 values .* more than the limit of 2147483648 bytes per read: read it in slices/,
      );
      await assertRejects(
        () => readZarr(path, [[0, 100]], { maxBytes: 100 }),
        InvalidInputError,
        /limit of 100 bytes per read/,
      );
      assertEquals((await readZarr(path, [[5, 8]])).shape, [3]);
    },
  );
  await t.step(
    "the dashboard preview reads chunks up to 64 MiB only",
    async () => {
      const path = join(dir.path, "preview.zarr");
      await handArray(path, {
        shape: [10_000, 10_000],
        data_type: "float32",
        chunk_grid: grid([10_000, 10_000]),
      }, { "c/0/0": zstdCompressSync(new Uint8Array(100)) });
      await assertRejects(
        () => readPreview(path, [10_000, 10_000], "float32", "0:2,0:2"),
        UnsupportedFormatError,
        /limit of 67108864 bytes per chunk/,
      );
    },
  );
});

Deno.test("GET /api/specimens/:id/tensors/:name refuses a chunk symlinked out of the vault or a FIFO chunk, and keeps serving", async () => {
  await using v = await tempVault();
  await using outside = await tempDir();
  const dir = await addExampleSpecimen(v.path);
  await using server = await serveVault(v.path);
  const url = new URL(
    `/api/specimens/${EXAMPLE_ID}/tensors/activations?sel=0:2,0:4`,
    server.url,
  );
  const ok = await fetch(url);
  assertStrictEquals(ok.status, 200);
  await ok.body?.cancel();
  const array = join(dir, "strata", "activations.zarr");
  const chunk = join(array, "c", "0", "0");
  const decoy = join(outside.path, "decoy.zarr");
  await writeZarr(decoy, new Float32Array(100 * 512).fill(4242), {
    shape: [100, 512],
    chunks: (await zarrInfo(array)).chunks,
  });
  await Deno.rename(chunk, join(outside.path, "real_chunk"));
  await Deno.symlink(join(decoy, "c", "0", "0"), chunk);
  const res = await fetch(url);
  const text = await res.text();
  assertStrictEquals(res.status, 403, text);
  assertMatch(text, /activations\.zarr/);
  assert(!text.includes("4242"), text);
  await Deno.remove(chunk);
  const made = await new Deno.Command("mkfifo", { args: [chunk] }).output();
  assert(made.success);
  const fifo = await fetch(url);
  assertStrictEquals(fifo.status, 403);
  assertMatch(await fifo.text(), /FIFO/);
  const info = await fetch(new URL("/api/info", server.url));
  assertStrictEquals(info.status, 200);
  await info.body?.cancel();
});

Deno.test("readTensor() and tensorInfo() refuse an array folder symlinked out of the specimen", async () => {
  await using v = await tempVault();
  await using outside = await tempDir();
  const dir = await addExampleSpecimen(v.path);
  const storage = await SpecimenStorage.open(dir);
  assertEquals((await storage.readTensor("activations", [0, [0, 2]])).shape, [
    2,
  ]);
  const array = join(dir, "strata", "activations.zarr");
  await Deno.rename(array, join(outside.path, "activations.zarr"));
  await Deno.symlink(join(outside.path, "activations.zarr"), array);
  await assertRejects(
    () => storage.readTensor("activations", [0]),
    UnsafeFileError,
    /outside/,
  );
  await assertRejects(() => storage.tensorInfo("activations"), UnsafeFileError);
});

Deno.test("readZarr() undoes a v3 transpose codec and big-endian bytes", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "t.zarr");
  // [[0, 1, 2], [10, 11, 12]] stored transposed ([3, 2]), big endian.
  const stored = new Uint8Array(24);
  const view = new DataView(stored.buffer);
  [0, 10, 1, 11, 2, 12].forEach((v, i) => view.setInt32(4 * i, v, false));
  await handArray(path, {
    shape: [2, 3],
    data_type: "int32",
    chunk_grid: grid([2, 3]),
    codecs: [
      { name: "transpose", configuration: { order: [1, 0] } },
      { name: "bytes", configuration: { endian: "big" } },
    ],
  }, { "c/0/0": stored });
  assertEquals([...(await readZarr(path)).data], [0, 1, 2, 10, 11, 12]);
  assertEquals([...(await readZarr(path, [null, 1])).data], [1, 11]);
});

Deno.test("readZarr() stops v2 lz4, zlib and gzip chunks at their expected size", async (t) => {
  await using dir = await tempDir();
  const big = new Uint8Array(8 * 1024 * 1024);
  const { default: LZ4 } = await import("numcodecs/lz4");
  const { deflateSync } = await import("node:zlib");
  const cases: [string, Json, Uint8Array][] = [
    [
      "lz4",
      { id: "lz4", acceleration: 1 },
      await LZ4.fromConfig({ id: "lz4", acceleration: 1 }).encode(big),
    ],
    ["zlib", { id: "zlib", level: 1 }, deflateSync(big)],
    ["gzip", { id: "gzip", level: 1 }, gzipSync(big)],
  ];
  for (const [name, compressor, chunk] of cases) {
    await t.step(name, async () => {
      const path = join(dir.path, `${name}.zarr`);
      await Deno.mkdir(path);
      await Deno.writeTextFile(
        join(path, ".zarray"),
        JSON.stringify({
          zarr_format: 2,
          shape: [20],
          chunks: [20],
          dtype: "<f4",
          order: "C",
          compressor,
          filters: null,
          fill_value: 0,
        }),
      );
      await Deno.writeFile(join(path, "0"), chunk);
      await assertRejects(
        () => readZarr(path),
        CorruptFileError,
        /chunk "0" does not decode \(it decodes to more than the 80 bytes/,
      );
    });
  }
});

import { join } from "../lib/_deps.ts";
import { CorruptFileError, InvalidInputError } from "../lib/errors.ts";
import {
  adoptSafetensors,
  readSafetensorsHeader,
} from "../lib/formats/tensor_files/safetensors.ts";
import { readZarr } from "../lib/formats/zarr/zarr.ts";
import { assert, assertEquals, assertRejects, tempDir } from "./utils.ts";
import { hasNumpy, NO_NUMPY, runPython } from "./_python.ts";

const numpy = await hasNumpy();
if (!numpy) console.warn(`safetensors_test: ${NO_NUMPY}`);

/**
 * No safetensors package here (no PyPI): the file is written by hand from
 * the documented format: u64 little-endian header length, JSON header
 * (padded with spaces to 8 bytes, as the reference writer does), data.
 * Beside it, each tensor's values as the vault stores them (C order, LE).
 */
const WRITE = `
import json, struct, sys, numpy as np
out = sys.argv[1]
rng = np.random.default_rng(3)
tensors = {}
def add(name, code, arr, stored):
    tensors[name] = (code, arr, stored)
for code, t in [('U8','u1'),('I8','i1'),('U16','u2'),('I16','i2'),('U32','u4'),('I32','i4'),('U64','u8'),('I64','i8')]:
    info = np.iinfo(t)
    a = rng.integers(info.min, info.max, (4, 3, 5), dtype=t, endpoint=True)
    add('int.' + code, code, a, a)
a = rng.standard_normal((6, 7)).astype('<f4'); add('w.f32', 'F32', a, a)
a = rng.standard_normal((6, 7)).astype('<f8'); add('w.f64', 'F64', a, a)
a = rng.standard_normal((3, 9)).astype('<f2'); add('w.f16', 'F16', a, a)
f = rng.standard_normal((5, 5)).astype('<f4')
bf = (f.view('<u4') >> 16).astype('<u2')
add('w.bf16', 'BF16', bf, (bf.astype('<u4') << 16).view('<f4'))
b = rng.integers(0, 2, (8,)).astype(bool); add('mask', 'BOOL', b, b.astype('<u1'))
add('scalar', 'F32', np.array(2.5, dtype='<f4'), np.array(2.5, dtype='<f4'))
big = rng.standard_normal((1500, 1000)).astype('<f4'); add('big', 'F32', big, big)
header, data, offset = {'__metadata__': {'format': 'pt', 'source': 'test'}}, b'', 0
for name, (code, arr, _) in tensors.items():
    raw = np.ascontiguousarray(arr).tobytes()
    header[name] = {'dtype': code, 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(raw)]}
    data += raw; offset += len(raw)
text = json.dumps(header).encode()
text += b' ' * (-len(text) % 8)
with open(f'{out}/model.safetensors', 'wb') as fh:
    fh.write(struct.pack('<Q', len(text)) + text + data)
for name, (_, _, stored) in tensors.items():
    with open(f'{out}/{name}.expected', 'wb') as fh:
        fh.write(np.ascontiguousarray(stored).tobytes())
json.dump({n: list(a.shape) for n, (_, a, _) in tensors.items()}, open(f'{out}/shapes.json', 'w'))
`;

Deno.test({
  name:
    "adoptSafetensors() stores every tensor as its own Zarr array, equal to the values written",
  ignore: !numpy,
  async fn() {
    await using dir = await tempDir();
    await runPython(WRITE, dir.path);
    const file = join(dir.path, "model.safetensors");
    const shapes = JSON.parse(
      await Deno.readTextFile(join(dir.path, "shapes.json")),
    ) as Record<string, number[]>;
    const header = await readSafetensorsHeader(file);
    assertEquals({ ...header.metadata }, { format: "pt", source: "test" });
    assertEquals(
      header.tensors.map((t) => t.name).sort(),
      Object.keys(shapes).sort(),
    );
    await Deno.mkdir(join(dir.path, "strata"));
    const { tensors, metadata } = await adoptSafetensors(
      file,
      (name) => join(dir.path, "strata", `${name}.zarr`),
      { pieceBytes: 1 << 20 },
    );
    assertEquals(metadata.format, "pt");
    assertEquals(tensors.length, Object.keys(shapes).length);
    for (const t of tensors) {
      const { data, shape } = await readZarr(
        join(dir.path, "strata", `${t.name}.zarr`),
      );
      assertEquals(shape, shapes[t.name], t.name);
      const expected = await Deno.readFile(
        join(dir.path, `${t.name}.expected`),
      );
      const got = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      assertEquals(got.byteLength, expected.byteLength, t.name);
      assert(got.every((b, i) => b === expected[i]), `${t.name} differs`);
    }
    const bf16 = tensors.find((t) => t.name === "w.bf16")!;
    assertEquals([bf16.source_dtype, bf16.info.dtype], ["bfloat16", "float32"]);
  },
});

function file(header: unknown, data: number[], claim?: number): Uint8Array {
  const text = new TextEncoder().encode(
    typeof header === "string" ? header : JSON.stringify(header),
  );
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(
    0,
    BigInt(claim ?? text.length),
    true,
  );
  return new Uint8Array([...head, ...text, ...data]);
}

Deno.test("adoptSafetensors() refuses truncated files and bad headers, naming the file", async (t) => {
  await using dir = await tempDir();
  const w = (shape: number[], offsets: number[], dtype = "F32") => ({
    w: { dtype, shape, data_offsets: offsets },
  });
  const eight = [0, 0, 128, 63, 0, 0, 0, 64];
  const cases: [string, Uint8Array, typeof CorruptFileError, RegExp][] = [
    ["empty file", new Uint8Array(0), CorruptFileError, /fewer than the 8/],
    [
      "huge length",
      file(w([2], [0, 8]), eight, 2 ** 40),
      CorruptFileError,
      /over the .*-byte limit/,
    ],
    [
      "header cut short",
      file(w([2], [0, 8]), [], 500),
      CorruptFileError,
      /truncated/,
    ],
    [
      "data cut short",
      file(w([2], [0, 8]), eight.slice(0, 5)),
      CorruptFileError,
      /tensor "w" ends past the end.*truncated/,
    ],
    [
      "extra bytes",
      file(w([2], [0, 8]), [...eight, 1]),
      CorruptFileError,
      /1 bytes follow/,
    ],
    ["not JSON", file("{w: 1}", []), CorruptFileError, /not UTF-8 JSON/],
    [
      "not an object",
      file("[1, 2]", []),
      CorruptFileError,
      /not a JSON object/,
    ],
    [
      "wrong span",
      file(w([3], [0, 8]), eight),
      CorruptFileError,
      /needs 12 bytes/,
    ],
    [
      "bad offsets",
      file(w([2], [8, 0]), eight),
      CorruptFileError,
      /not \[begin, end\]/,
    ],
    [
      "bad shape",
      file(w([-2], [0, 8]), eight),
      CorruptFileError,
      /non-negative/,
    ],
    [
      "gap",
      file({ a: { dtype: "U8", shape: [1], data_offsets: [1, 2] } }, [0, 0]),
      CorruptFileError,
      /starts at byte 1/,
    ],
    [
      "metadata not strings",
      file({ __metadata__: { a: 1 } }, []),
      CorruptFileError,
      /__metadata__ "a"/,
    ],
    [
      "fp8",
      file(w([8], [0, 8], "F8_E4M3"), eight),
      InvalidInputError,
      /"F8_E4M3", not supported/,
    ],
  ];
  for (const [name, bytes, cls, pattern] of cases) {
    await t.step(name, async () => {
      const path = join(dir.path, `${name.replaceAll(" ", "_")}.safetensors`);
      await Deno.writeFile(path, bytes);
      const e = await assertRejects(
        () =>
          adoptSafetensors(path, (n) => join(dir.path, `${name}-${n}.zarr`)),
        cls,
        pattern,
      );
      assert(e.message.includes(path), e.message);
      const left = [];
      for await (const entry of Deno.readDir(dir.path)) {
        if (entry.name.endsWith(".zarr")) left.push(entry.name);
      }
      assertEquals(left, []);
    });
  }
});

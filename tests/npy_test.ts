import { join } from "../lib/_deps.ts";
import {
  CorruptFileError,
  InvalidInputError,
  NotFoundError,
} from "../lib/errors.ts";
import { adoptNpy, openNpy } from "../lib/formats/tensor_files/npy.ts";
import { readZarr } from "../lib/formats/zarr/zarr.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  tempDir,
} from "./utils.ts";
import { hasNumpy, NO_NUMPY, runPython } from "./_python.ts";

const numpy = await hasNumpy();
if (!numpy) console.warn(`npy_test: ${NO_NUMPY}`);

/**
 * Writes one .npy per case with numpy itself, and beside it the values numpy
 * loads, as C-order little-endian bytes of the dtype the vault stores.
 */
const WRITE_CASES = `
import json, sys, numpy as np
from numpy.lib import format as fmt
out = sys.argv[1]
rng = np.random.default_rng(7)
cases = []
def stored(a):
    if a.dtype.kind == 'b': return a.astype('<u1')
    return a.astype(a.dtype.newbyteorder('<'))
def case(name, a, version, order):
    a = np.asfortranarray(a) if order == 'F' else np.ascontiguousarray(a)
    with open(f'{out}/{name}.npy', 'wb') as f:
        fmt.write_array(f, a, version=version)
    back = np.load(f'{out}/{name}.npy')
    with open(f'{out}/{name}.expected', 'wb') as f:
        f.write(np.ascontiguousarray(stored(back)).tobytes(order='C'))
    cases.append({'name': name, 'shape': list(a.shape), 'descr': a.dtype.str,
                  'fortran': bool(np.isfortran(a)), 'version': '%d.0' % version[0]})
types = ['i1','i2','i4','i8','u1','u2','u4','u8','f4','f8','f2','b1']
for t in types:
    for endian in ('<', '>'):
        if t in ('i1','u1','b1') and endian == '>': continue
        dt = np.dtype(t).newbyteorder(endian)
        if t == 'b1': a = rng.integers(0, 2, (3, 4, 5)).astype(bool)
        elif t[0] == 'f': a = (rng.standard_normal((3, 4, 5)) * 100).astype(dt)
        else:
            info = np.iinfo(np.dtype(t))
            a = rng.integers(info.min, info.max, (3, 4, 5), dtype=np.dtype(t), endpoint=True).astype(dt)
        for v in ((1, 0), (2, 0), (3, 0)):
            for order in ('C', 'F'):
                case(f'{t}_{"le" if endian == "<" else "be"}_{order}_v{v[0]}', a, v, order)
case('zero_d', np.array(3.5, dtype='<f8'), (1, 0), 'C')
case('empty', np.zeros((0, 3), dtype='<f4'), (1, 0), 'C')
case('empty_f', np.zeros((4, 0, 2), dtype='<i2'), (2, 0), 'F')
case('one_d_f', np.arange(10, dtype='<i4'), (1, 0), 'F')
# Several chunks and pieces: 300 x 5000 float32 = 6 MB (chunks target 4 MB).
big = rng.standard_normal((300, 5000)).astype('<f4')
case('multi_c', big, (1, 0), 'C')
case('multi_f', big, (1, 0), 'F')
case('multi_f_3d', rng.standard_normal((7, 300, 700)).astype('>f8'), (2, 0), 'F')
json.dump(cases, open(f'{out}/cases.json', 'w'))
`;

Deno.test({
  name:
    "adoptNpy() stores every dtype, byte order, C/F order and format version as numpy loads it",
  ignore: !numpy,
  async fn(t) {
    await using dir = await tempDir();
    await runPython(WRITE_CASES, dir.path);
    const cases = JSON.parse(
      await Deno.readTextFile(join(dir.path, "cases.json")),
    ) as {
      name: string;
      shape: number[];
      descr: string;
      fortran: boolean;
      version: string;
    }[];
    assert(cases.length > 100, `only ${cases.length} cases`);
    for (const c of cases) {
      await t.step(c.name, async () => {
        const npy = join(dir.path, `${c.name}.npy`);
        {
          await using f = await openNpy(npy);
          assertEquals(f.header.shape, c.shape);
          assertEquals(f.header.fortranOrder, c.fortran);
          assertEquals(f.header.version, c.version);
          assertEquals(f.header.descr, c.descr);
        }
        const zarr = join(dir.path, `${c.name}.zarr`);
        // Small pieces make the multi-piece paths run on small arrays too.
        const result = await adoptNpy(npy, zarr, { pieceBytes: 1 << 20 });
        assertEquals(result.info.shape, c.shape);
        assertEquals(result.source_order, c.fortran ? "F" : "C");
        if (c.shape.includes(0)) {
          // zarrita (so readZarr) cannot read a 0-length axis: the metadata
          // is checked, and that no chunk was written.
          const meta = JSON.parse(
            await Deno.readTextFile(join(zarr, "zarr.json")),
          );
          assertEquals(meta.shape, c.shape);
          await assertRejects(() => Deno.stat(join(zarr, "c")));
          return;
        }
        const { data, shape } = await readZarr(zarr);
        assertEquals(shape, c.shape);
        const expected = await Deno.readFile(
          join(dir.path, `${c.name}.expected`),
        );
        const got = new Uint8Array(
          data.buffer,
          data.byteOffset,
          data.byteLength,
        );
        assertEquals(got.byteLength, expected.byteLength);
        assert(
          got.every((b, i) => b === expected[i]),
          `${c.name}: values differ from numpy's`,
        );
        if (c.fortran && c.shape.filter((n) => n > 1).length > 1) {
          assert(result.info.codecs.includes("transpose"), c.name);
        }
      });
    }
  },
});

Deno.test({
  name: "openNpy().pieces() yields whole elements within the size asked",
  ignore: !numpy,
  async fn() {
    await using dir = await tempDir();
    await runPython(
      `import sys, numpy as np; np.save(sys.argv[1], np.arange(1000, dtype='<f8'))`,
      join(dir.path, "a.npy"),
    );
    await using npy = await openNpy(join(dir.path, "a.npy"));
    const sizes: number[] = [];
    let sum = 0;
    for await (const p of npy.pieces(100)) {
      sizes.push(p.byteLength);
      const v = new Float64Array(p.slice().buffer);
      for (const x of v) assertEquals(x, sum++);
    }
    assertEquals(sum, 1000);
    assert(sizes.every((n) => n <= 100 && n % 8 === 0), String(sizes));
  },
});

function npyBytes(dict: string, data: number[], version = 1): Uint8Array {
  const lenBytes = version === 1 ? 2 : 4;
  const pad = 64 - ((8 + lenBytes + dict.length + 1) % 64);
  const text = new TextEncoder().encode(dict + " ".repeat(pad % 64) + "\n");
  const head = new Uint8Array(8 + lenBytes);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(head.buffer);
  if (version === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  return new Uint8Array([...head, ...text, ...data]);
}

Deno.test("adoptNpy() refuses bad files with an error naming the file", async (t) => {
  await using dir = await tempDir();
  const ok = "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }";
  const cases: [string, Uint8Array, typeof CorruptFileError, RegExp][] = [
    [
      "bad magic",
      new TextEncoder().encode("PK\x03\x04 not numpy at all"),
      CorruptFileError,
      /magic/,
    ],
    [
      "short file",
      new Uint8Array([0x93, 0x4e, 0x55]),
      CorruptFileError,
      /truncated/,
    ],
    [
      "version 4.0",
      npyBytes(ok, [1, 0, 2, 0], 4),
      CorruptFileError,
      /version 4\.0/,
    ],
    [
      "truncated header",
      npyBytes(ok, []).subarray(0, 40),
      CorruptFileError,
      /ends inside its header/,
    ],
    ["truncated data", npyBytes(ok, [1, 0, 2]), CorruptFileError, /truncated/],
    [
      "extra bytes",
      npyBytes(ok, [1, 0, 2, 0, 9]),
      CorruptFileError,
      /extra bytes/,
    ],
    [
      "missing key",
      npyBytes("{'descr': '<i2', 'shape': (2,), }", [1, 0, 2, 0]),
      CorruptFileError,
      /keys/,
    ],
    [
      "not a literal",
      npyBytes("{'descr': '<i2', 'fortran_order': Flase, 'shape': (2,), }", [
        1,
        0,
        2,
        0,
      ]),
      CorruptFileError,
      /Python literal/,
    ],
    [
      "negative dim",
      npyBytes(
        "{'descr': '<i2', 'fortran_order': False, 'shape': (-2,), }",
        [],
      ),
      CorruptFileError,
      /non-negative/,
    ],
    [
      "complex",
      npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", [
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
      ]),
      InvalidInputError,
      /"<c8" is not supported/,
    ],
    [
      "object",
      npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", [
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
      ]),
      InvalidInputError,
      /"\|O" is not supported/,
    ],
    [
      "structured",
      npyBytes(
        "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }",
        [0, 0, 0, 0],
      ),
      InvalidInputError,
      /structured/,
    ],
  ];
  for (const [name, bytes, cls, pattern] of cases) {
    await t.step(name, async () => {
      const file = join(dir.path, `${name.replaceAll(" ", "_")}.npy`);
      await Deno.writeFile(file, bytes);
      const zarr = join(dir.path, `${name.replaceAll(" ", "_")}.zarr`);
      const e = await assertRejects(() => adoptNpy(file, zarr), cls, pattern);
      assertMatch(e.message, new RegExp(file.replaceAll(".", "\\.")));
      // Nothing is left behind under the target name.
      await assertRejects(() => Deno.stat(zarr), Deno.errors.NotFound);
    });
  }
});

Deno.test({
  name: "adoptNpy() refuses to replace an existing array",
  ignore: !numpy,
  async fn() {
    await using dir = await tempDir();
    for (const order of ["C", "F"]) {
      const npy = join(dir.path, `${order}.npy`);
      await runPython(
        `import sys, numpy as np; np.save(sys.argv[1], np.zeros((4, 5), order='${order}'))`,
        npy,
      );
      const zarr = join(dir.path, `${order}.zarr`);
      await adoptNpy(npy, zarr);
      await assertRejects(() => adoptNpy(npy, zarr), Error, /already exists/);
    }
  },
});

Deno.test({
  name:
    "adoptNpy() into a missing folder fails with NotFoundError and leaves nothing",
  ignore: !numpy,
  async fn() {
    await using dir = await tempDir();
    for (const order of ["C", "F"]) {
      const npy = join(dir.path, `${order}.npy`);
      await runPython(
        `import sys, numpy as np; np.save(sys.argv[1], np.ones((64, 3), order='${order}'))`,
        npy,
      );
      await assertRejects(
        () => adoptNpy(npy, join(dir.path, "missing", `${order}.zarr`)),
        NotFoundError,
        "does not exist",
      );
    }
    const left = [...Deno.readDirSync(dir.path)].map((e) => e.name).sort();
    assertEquals(left, ["C.npy", "F.npy"]);
  },
});

/** Reads an uncompressed Zarr v3 array with numpy alone, per the spec. */
const READ_ZARR_WITH_NUMPY = `
import json, os, sys, itertools, numpy as np
src, path = sys.argv[1], sys.argv[2]
meta = json.load(open(os.path.join(path, 'zarr.json')))
shape, chunks = meta['shape'], meta['chunk_grid']['configuration']['chunk_shape']
names = [c['name'] for c in meta['codecs']]
assert names in (['bytes'], ['transpose', 'bytes']), names
order = meta['codecs'][0]['configuration']['order'] if names[0] == 'transpose' else list(range(len(shape)))
dtype = np.dtype(meta['data_type']).newbyteorder('<')
out = np.zeros(shape, dtype)
grid = [range(-(-s // c)) for s, c in zip(shape, chunks)]
for coords in itertools.product(*grid):
    raw = open(os.path.join(path, 'c', *map(str, coords)), 'rb').read()
    # The transpose codec stores numpy.transpose(chunk, order).
    encoded = np.frombuffer(raw, dtype).reshape([chunks[o] for o in order])
    chunk = encoded.transpose(np.argsort(order))
    region = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, chunks, shape))
    out[region] = chunk[tuple(slice(0, r.stop - r.start) for r in region)]
assert np.array_equal(out, np.load(src)), 'values differ'
print(names, chunks)
`;

Deno.test({
  name:
    "adoptNpy() of Fortran-order arrays writes Zarr that numpy alone reads back per the Zarr v3 spec",
  ignore: !numpy,
  async fn(t) {
    await using dir = await tempDir();
    const shapes = ["(5, 7)", "(2000, 700)", "(3, 4, 5)", "(60, 50, 400)"];
    for (const shape of shapes) {
      await t.step(shape, async () => {
        const name = shape.replace(/\D+/g, "_");
        const npy = join(dir.path, `${name}.npy`);
        await runPython(
          `import sys, numpy as np; a = np.arange(int(np.prod(${shape})), dtype='<i4').reshape(${shape}); np.save(sys.argv[1], np.asfortranarray(a))`,
          npy,
        );
        const zarr = join(dir.path, `${name}.zarr`);
        await adoptNpy(npy, zarr, { compression: "none" });
        const printed = await runPython(READ_ZARR_WITH_NUMPY, npy, zarr);
        assert(printed.includes("transpose"), printed);
      });
    }
  },
});

Deno.test({
  name: "adoptNpy() refuses an unknown compression or zstd level",
  ignore: !numpy,
  async fn() {
    await using dir = await tempDir();
    const npy = join(dir.path, "a.npy");
    await runPython(
      `import sys, numpy as np; np.save(sys.argv[1], np.ones((4, 3), order='F'))`,
      npy,
    );
    const bad = [
      [
        { compression: "gzip" },
        /compression must be "zstd" or "none", got "gzip"/,
      ],
      [{ level: 99 }, /level must be an integer .* got 99/],
    ] as const;
    for (const [options, pattern] of bad) {
      await assertRejects(
        // deno-lint-ignore no-explicit-any
        () => adoptNpy(npy, join(dir.path, "a.zarr"), options as any),
        InvalidInputError,
        pattern,
      );
    }
  },
});

import { DuckDBInstance } from "@duckdb/node-api";
import { join } from "../lib/_deps.ts";
import {
  adoptOutputs,
  AdoptOutputsError,
  type AdoptReport,
  mediaType,
} from "../lib/run/adopt_outputs.ts";
import {
  assignNames,
  naturalName,
  sanitizeName,
} from "../lib/run/_adopt_names.ts";
import { encodeMetrics } from "../lib/formats/parquet/parquet.ts";
import { sealSpecimen } from "../lib/specimen/seal.ts";
import { verifySpecimen } from "../lib/specimen/verify.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  newStorage,
  runTask,
  tempDir,
  tempVault,
  webSha256,
} from "./utils.ts";
import { hasNumpy, NO_NUMPY, runPython } from "./_python.ts";

const numpy = await hasNumpy();
if (!numpy) console.warn(`adopt_outputs_test: ${NO_NUMPY}`);

/**
 * What a training script leaves in SPECIMEN_OUTPUTS, written by Debian's
 * numpy. The safetensors file is written by hand (no safetensors package):
 * u64 LE header length, JSON header, data. Beside the outputs, `expected/`
 * holds each array's values as C-order little-endian bytes.
 */
const WRITE_OUTPUTS = `
import json, os, struct, sys, zlib, numpy as np
out, exp = sys.argv[1], sys.argv[2]
os.makedirs(exp, exist_ok=True)
rng = np.random.default_rng(7)
def save(rel, arr, version=None):
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as fh:
        np.lib.format.write_array(fh, arr, version=version)
    key = rel.replace('/', '__')[:-4]
    open(os.path.join(exp, key), 'wb').write(np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder('<')).tobytes())
save('weights.npy', rng.standard_normal((30, 20)).astype('<f4'))
save('fortran.npy', np.asfortranarray(rng.standard_normal((7, 5, 3))))
save('v2.npy', np.arange(12, dtype='<i8').reshape(3, 4), (2, 0))
save('v3.npy', np.arange(6, dtype='>i4').reshape(2, 3), (3, 0))
save('sub/deeper/x.npy', np.linspace(0, 1, 9, dtype='<f8'))
tensors = {'layer.0.weight': rng.standard_normal((4, 3)).astype('<f4'), 'bias': np.arange(3, dtype='<f4')}
header, data = {'__metadata__': {'format': 'pt'}}, b''
for name, arr in tensors.items():
    raw = arr.tobytes()
    header[name] = {'dtype': 'F32', 'shape': list(arr.shape), 'data_offsets': [len(data), len(data) + len(raw)]}
    data += raw
    open(os.path.join(exp, 'model.' + name), 'wb').write(raw)
text = json.dumps(header).encode(); text += b' ' * (-len(text) % 8)
open(os.path.join(out, 'model.safetensors'), 'wb').write(struct.pack('<Q', len(text)) + text + data)
def png(w, h):
    rows = b''.join(b'\\x00' + b''.join(bytes([(x * 40) % 256, (y * 60) % 256, 128]) for x in range(w)) for y in range(h))
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    return b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b'')
open(os.path.join(out, 'plot.png'), 'wb').write(png(6, 4))
open(os.path.join(out, 'weights.png'), 'wb').write(png(2, 2))
open(os.path.join(out, 'model.ckpt'), 'wb').write(rng.integers(0, 256, 3 * 1024 * 1024 + 17, dtype='u1').tobytes())
with open(os.path.join(out, 'eval.csv'), 'w') as fh:
    fh.write('step,acc,phase,note\\n')
    for s in range(50):
        fh.write(f'{s},{s / 50},{"warmup" if s < 10 else "main"},{"n/a" if s == 3 else s * 2}\\n')
with open(os.path.join(out, 'train.jsonl'), 'w') as fh:
    for s in range(40):
        row = {'step': s, 'loss': 1 / (s + 1), 'done': s == 39}
        if s >= 20: row['lr'] = 0.001
        if s == 5: row['extra'] = {'k': [1, 2]}
        fh.write(json.dumps(row) + '\\n')
os.makedirs(os.path.join(out, 'empty', 'inside'))
open(os.path.join(out, 'My Plot (final).svg'), 'w').write('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>')
open(os.path.join(out, 'README'), 'w').write('trained\\n')
open(os.path.join(out, 'Ümlaut notes.TXT'), 'w').write('notes\\n')
open(os.path.join(out, 'a' * 100 + '.txt'), 'w').write('long\\n')
open(os.path.join(out, 'header_only.csv'), 'w').write('step,loss\\n')
`;

async function writeOutputs(out: string, expected: string): Promise<void> {
  await runPython(WRITE_OUTPUTS, out, expected);
  const { bytes } = await encodeMetrics({
    step: [0, 1, 2],
    score: [0.5, 0.25, 0.125],
    tag: ["a", "b", null],
  });
  await Deno.writeFile(join(out, "ours.parquet"), bytes);
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    await con.run(
      `COPY (SELECT i::INTEGER AS step, (i * 0.5)::DOUBLE AS value, (i / 4)::DECIMAL(9, 2) AS price, 'r' || i AS label FROM range(100) t(i)) TO '${
        join(out, "duck.parquet")
      }' (FORMAT parquet, COMPRESSION snappy)`,
    );
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

Deno.test({
  name:
    "adoptOutputs() turns npy, safetensors, csv, jsonl, parquet and other files into recorded artifacts",
  ignore: !numpy,
  async fn(t) {
    await using vault = await tempVault();
    await using tmp = await tempDir();
    const out = join(tmp.path, "outputs");
    const expected = join(tmp.path, "expected");
    await writeOutputs(out, expected);
    const storage = await newStorage(vault.path);
    const report = await adoptOutputs(storage, out);
    const a = storage.artifacts;

    await t.step(
      "every array equals what numpy wrote (C, F, v1, v2, v3, nested)",
      async () => {
        for (
          const [name, file] of [
            ["weights", "weights"],
            ["fortran", "fortran"],
            ["v2", "v2"],
            ["v3", "v3"],
            ["sub__deeper__x", "sub__deeper__x"],
          ]
        ) {
          assertEquals(a[name].format, "zarr", name);
          const { data } = await storage.readTensor(name);
          assertEquals(
            bytesOf(data),
            await Deno.readFile(join(expected, file)),
            name,
          );
          assert(a[name].codecs!.includes("zstd"), name);
        }
        assertEquals(a.fortran.source_order, "F");
        assertEquals(a.fortran.shape, [7, 5, 3]);
        assertEquals(a.sub__deeper__x.source, "sub/deeper/x.npy");
      },
    );

    await t.step(
      "a safetensors file gives one array per tensor, file__tensor",
      async () => {
        assertEquals(a.model__bias.format, "zarr");
        assertEquals(a.model__layer_0_weight.shape, [4, 3]);
        assertEquals(a.model__layer_0_weight.source_tensor, "layer.0.weight");
        for (
          const [name, file] of [["model__bias", "model.bias"], [
            "model__layer_0_weight",
            "model.layer.0.weight",
          ]]
        ) {
          const { data } = await storage.readTensor(name);
          assertEquals(
            bytesOf(data),
            await Deno.readFile(join(expected, file)),
          );
        }
        assertEquals(
          report.renamed["model.safetensors#layer.0.weight"],
          "model__layer_0_weight",
        );
      },
    );

    await t.step(
      "the safetensors file itself is kept as saved, mapped to its arrays",
      async () => {
        // model.ckpt took "model": the kept .safetensors gets its extension.
        const kept = a.model_safetensors;
        assertEquals(kept.format, "file");
        assertEquals(kept.path, "strata/files/model_safetensors.safetensors");
        const saved = await Deno.readFile(join(out, "model.safetensors"));
        assertEquals(await Deno.readFile(join(storage.dir, kept.path)), saved);
        assertEquals(kept.sha256, await webSha256(saved));
        assertEquals(kept.safetensors_metadata, [["format", "pt"]]);
        assertEquals(
          new Set(kept.arrays as unknown[]),
          new Set([
            { name: "bias", artifact: "model__bias" },
            { name: "layer.0.weight", artifact: "model__layer_0_weight" },
          ]),
        );
        assertEquals(a.model__bias.source_artifact, "model_safetensors");
        const zarrJson = JSON.parse(
          await Deno.readTextFile(
            join(storage.strata, "model__layer_0_weight.zarr/zarr.json"),
          ),
        );
        assertEquals(zarrJson.attributes.source_tensor, "layer.0.weight");
        assertEquals(zarrJson.attributes.source_metadata, { format: "pt" });
        assertEquals(zarrJson.attributes.source_file, "model.safetensors");
      },
    );

    await t.step(
      "csv and jsonl become tables; a mixed column is text",
      async () => {
        const ev = await storage.readMetrics("eval");
        assertEquals(ev.step.length, 50);
        assertEquals(ev.acc[25], 0.5);
        assertEquals(ev.phase[0], "warmup");
        assertEquals(ev.note[3], "n/a");
        assertEquals(ev.note[4], "8");
        const tr = await storage.readMetrics("train");
        assertEquals(tr.step.length, 40);
        assertEquals(tr.lr[0], null);
        assertEquals(tr.lr[20], 0.001);
        assertEquals(tr.done[39], true);
        assertEquals(tr.extra[5], '{"k":[1,2]}');
        assertEquals(a.train.source, "train.jsonl");
      },
    );

    await t.step("parquet files are copied as they are", async () => {
      const ours = await storage.readMetrics("ours");
      assertEquals(ours.score, [0.5, 0.25, 0.125]);
      assertEquals(
        await Deno.readFile(join(storage.strata, "ours.parquet")),
        await Deno.readFile(join(out, "ours.parquet")),
      );
      assertEquals(a.duck.rows, 100);
      assertEquals(a.duck.columns, [
        { name: "step", type: "INT64" },
        { name: "value", type: "DOUBLE" },
        { name: "price", type: "DECIMAL" },
        { name: "label", type: "STRING" },
      ]);
      assertEquals((await storage.readMetrics("duck")).label[99], "r99");
    });

    await t.step(
      "other files are kept under strata/files/ with size, media type, SHA-256",
      async () => {
        const ckpt = await Deno.readFile(join(out, "model.ckpt"));
        assertEquals(a.model.format, "file");
        assertEquals(a.model.path, "strata/files/model.ckpt");
        assertEquals(a.model.bytes, ckpt.length);
        assertEquals(a.model.sha256, await webSha256(ckpt));
        assertEquals(a.model.media_type, "application/octet-stream");
        assertEquals(
          await Deno.readFile(join(storage.dir, "strata/files/model.ckpt")),
          ckpt,
        );
        assertEquals(a.plot.media_type, "image/png");
        assertEquals(a.plot.path, "strata/files/plot.png");
        // "weights" is the .npy's: the PNG of that name gets its extension.
        assertEquals(a.weights_png.path, "strata/files/weights_png.png");
        assertEquals(a.readme.path, "strata/files/readme");
        assertEquals(a.readme.media_type, "application/octet-stream");
        assertEquals(a.my_plot_final_.media_type, "image/svg+xml");
        assertEquals(a.umlaut_notes.path, "strata/files/umlaut_notes.txt");
        assertEquals(a.umlaut_notes.media_type, "text/plain");
        // A table with no rows is kept as the file it is.
        assertEquals(a.header_only.format, "file");
        assertEquals(a.header_only.media_type, "text/csv");
      },
    );

    await t.step(
      "invalid names are renamed, with the mapping in the report and the record",
      () => {
        assertEquals(report.renamed["My Plot (final).svg"], "my_plot_final_");
        assertEquals(report.renamed["README"], "readme");
        assertEquals(report.renamed["Ümlaut notes.TXT"], "umlaut_notes");
        assertEquals(report.renamed["weights.png"], "weights_png");
        const long = report.renamed[`${"a".repeat(100)}.txt`];
        assertEquals(long.length, 64);
        assert(/^a{55}_[0-9a-f]{8}$/.test(long), long);
        assertEquals(a[long].source, `${"a".repeat(100)}.txt`);
        assertEquals(a.my_plot_final_.source, "My Plot (final).svg");
        // Valid names, and nested paths by the documented rule, are not renamed.
        assertEquals(report.renamed["eval.csv"], undefined);
        assertEquals(report.renamed["sub/deeper/x.npy"], undefined);
      },
    );

    await t.step("the report lists every artifact; nothing was refused", () => {
      assertEquals(report.refused, []);
      assertEquals(report.artifacts.length, 20);
      assertEquals(
        new Set(report.artifacts),
        new Set(Object.keys(a)),
      );
      assertEquals(report.adopted.length, report.artifacts.length);
    });

    await t.step(
      "the seal covers strata/files/, and verify checks it",
      async () => {
        await sealSpecimen(storage.dir);
        const sealed = await SpecimenStorage.open(storage.dir);
        const files = Object.keys(sealed.manifest.seal!.files);
        assert(files.includes("strata/files/model.ckpt"));
        assert(files.includes("strata/files/plot.png"));
        assertEquals((await verifySpecimen(storage.dir)).state, "ok");
        const path = join(storage.dir, "strata/files/plot.png");
        const png = await Deno.readFile(path);
        png[png.length - 1] ^= 1;
        await Deno.writeFile(path, png);
        const v = await verifySpecimen(storage.dir);
        assertEquals(v.state, "mismatch");
        assertEquals(v.modified, ["strata/files/plot.png"]);
      },
    );
  },
});

Deno.test({
  name:
    "deno task index --strict and deno task verify accept a specimen with kept files",
  ignore: !numpy,
  async fn() {
    await using vault = await tempVault();
    await using tmp = await tempDir();
    const out = join(tmp.path, "outputs");
    await writeOutputs(out, join(tmp.path, "expected"));
    const storage = await newStorage(vault.path, "adopted");
    await adoptOutputs(storage, out);
    await sealSpecimen(storage.dir);
    const index = await runTask("index", ["--vault", vault.path, "--strict"]);
    assertEquals(index.code, 0, index.stderr);
    const q = await runTask("query", [
      "--vault",
      vault.path,
      "--format",
      "json",
      `SELECT issues, artifacts->'$.plot'->>'format' AS f, (SELECT count(*) FROM tensors WHERE specimen_id = 'adopted') AS tensors, (SELECT count(*) FROM metric_tables WHERE specimen_id = 'adopted') AS tables FROM catalog WHERE specimen_id = 'adopted'`,
    ]);
    assertEquals(q.code, 0, q.stderr);
    const [row] = JSON.parse(q.stdout);
    assertEquals(row.issues, []);
    assertEquals(row.f, "file");
    assertEquals(Number(row.tensors), 7);
    assertEquals(Number(row.tables), 4);
    const verify = await runTask("verify", ["--vault", vault.path]);
    assertEquals(verify.code, 0, verify.stdout + verify.stderr);
  },
});

Deno.test({
  name:
    "adoptOutputs() refuses links, FIFOs, a bad npy header and a truncated safetensors, adopts the rest, then throws listing each",
  ignore: !numpy,
  async fn() {
    await using vault = await tempVault();
    await using tmp = await tempDir();
    const out = join(tmp.path, "outputs");
    await Deno.mkdir(join(out, "nested"), { recursive: true });
    await runPython(
      `import sys, numpy as np, json, struct
out = sys.argv[1]
np.save(out + '/good.npy', np.arange(5, dtype='<f4'))
np.save(out + '/cut.npy', np.arange(1000, dtype='<f8'))
open(out + '/cut.npy', 'r+b').truncate(4000)
open(out + '/bad.npy', 'wb').write(b'\\x93NUMPY\\x01\\x00\\x20\\x00' + b"{'descr': '<f4', 'shape': (2,) }".ljust(31) + b'\\n' + b'\\0' * 8)
open(out + '/notnpy.npy', 'wb').write(b'hello, not an array')
h = json.dumps({'w': {'dtype': 'F32', 'shape': [100], 'data_offsets': [0, 400]}}).encode()
open(out + '/cut.safetensors', 'wb').write(struct.pack('<Q', len(h)) + h + b'\\0' * 100)
open(out + '/ragged.csv', 'w').write('a,b\\n1,2\\n3\\n')
open(out + '/lines.jsonl', 'w').write('{"a": 1}\\n[1, 2]\\n')
`,
      out,
    );
    const outside = join(tmp.path, "secret.txt");
    await Deno.writeTextFile(outside, "secret");
    await Deno.symlink(outside, join(out, "leak.txt"));
    await Deno.symlink(join(out, "good.npy"), join(out, "nested", "alias.npy"));
    await Deno.symlink("/etc", join(out, "etc_dir"));
    const fifo = await new Deno.Command("mkfifo", {
      args: [join(out, "pipe.csv")],
    }).output();
    assert(fifo.success);
    const storage = await newStorage(vault.path);
    const e = await assertRejects(
      () => adoptOutputs(storage, out),
      AdoptOutputsError,
    );
    const report = (e as AdoptOutputsError).report;
    const why = Object.fromEntries(
      report.refused.map((r) => [r.file, r.reason]),
    );
    assertEquals(Object.keys(why).sort(), [
      "bad.npy",
      "cut.npy",
      "cut.safetensors",
      "etc_dir",
      "leak.txt",
      "lines.jsonl",
      "nested/alias.npy",
      "notnpy.npy",
      "pipe.csv",
      "ragged.csv",
    ]);
    assert(/symbolic link \(to .*secret\.txt\)/.test(why["leak.txt"]));
    assert(why["nested/alias.npy"].includes("symbolic link"));
    assert(why["etc_dir"].includes("never followed"));
    assert(why["pipe.csv"].includes("FIFO"), why["pipe.csv"]);
    assert(/header|NUMPY|npy/i.test(why["bad.npy"]), why["bad.npy"]);
    assert(/truncated/.test(why["cut.safetensors"]), why["cut.safetensors"]);
    assert(/short|truncated|bytes/.test(why["cut.npy"]), why["cut.npy"]);
    assert(/line 2/.test(why["lines.jsonl"]), why["lines.jsonl"]);
    assert(/Record Length|cells/i.test(why["ragged.csv"]), why["ragged.csv"]);
    for (const file of Object.keys(why)) assert(e.message.includes(file));
    // The rest is adopted; nothing of a refused file is recorded or left.
    assertEquals(report.artifacts, ["good"]);
    assertEquals(Object.keys(storage.artifacts), ["good"]);
    const strata = [...Deno.readDirSync(storage.strata)].map((d) => d.name);
    assertEquals(strata.filter((n) => !n.startsWith(".")), ["good.zarr"]);
  },
});

Deno.test("adoptOutputs() with failOnRefused: false reports and returns", async () => {
  await using vault = await tempVault();
  await using tmp = await tempDir();
  await Deno.writeTextFile(join(tmp.path, "ok.txt"), "fine");
  await Deno.symlink("/etc/hostname", join(tmp.path, "host"));
  const storage = await newStorage(vault.path);
  const report = await adoptOutputs(storage, tmp.path, {
    failOnRefused: false,
  });
  assertEquals(report.artifacts, ["ok"]);
  assertEquals(report.refused.map((r) => r.file), ["host"]);
});

Deno.test("adoptOutputs() of an empty or missing folder adopts nothing", async () => {
  await using vault = await tempVault();
  await using tmp = await tempDir();
  await Deno.mkdir(join(tmp.path, "a", "b"), { recursive: true });
  const storage = await newStorage(vault.path);
  const empty: AdoptReport = {
    artifacts: [],
    renamed: {},
    refused: [],
    adopted: [],
  };
  assertEquals(await adoptOutputs(storage, tmp.path), empty);
  assertEquals(await adoptOutputs(storage, join(tmp.path, "none")), empty);
  assertEquals(storage.artifacts, {});
});

Deno.test("adoptOutputs() never takes the name of an artifact the specimen holds", async () => {
  await using vault = await tempVault();
  await using tmp = await tempDir();
  const storage = await newStorage(vault.path);
  await storage.writeMetrics({ step: [0], loss: [1] });
  await Deno.writeTextFile(join(tmp.path, "metrics.csv"), "step,acc\n0,1\n");
  await Deno.writeTextFile(join(tmp.path, "metrics.txt"), "x");
  const report = await adoptOutputs(storage, tmp.path);
  assertEquals(report.renamed, {
    "metrics.csv": "metrics_csv",
    "metrics.txt": "metrics_txt",
  });
  assertEquals((await storage.readMetrics("metrics")).loss, [1]);
  assertEquals((await storage.readMetrics("metrics_csv")).acc, [1]);
});

Deno.test("adoptOutputs() names the same files the same way every time", async () => {
  await using vault = await tempVault();
  await using tmp = await tempDir();
  for (
    const f of [
      "B.txt",
      "b.txt",
      "b.png",
      "b c.txt",
      "b_c.txt",
      "x/y.txt",
      "x__y.txt",
    ]
  ) {
    const path = join(tmp.path, f);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeTextFile(path, f);
  }
  const one = await adoptOutputs(await newStorage(vault.path, "one"), tmp.path);
  const two = await adoptOutputs(await newStorage(vault.path, "two"), tmp.path);
  assertEquals(one.adopted, two.adopted);
  assertEquals(new Set(one.artifacts).size, 7);
  // Valid names are claimed first, in path order ("b.png" before "b.txt"),
  // then the others take the extension or a counter.
  assertEquals(one.renamed, {
    "B.txt": "b_txt",
    "b c.txt": "b_c_txt",
    "b.txt": "b_2",
    "x__y.txt": "x__y_txt",
  });
  assertEquals(one.adopted.find((x) => x.file === "b.png")?.artifact, "b");
});

Deno.test("adoptOutputs() refuses to adopt into a sealed specimen", async () => {
  await using vault = await tempVault();
  await using tmp = await tempDir();
  await Deno.writeTextFile(join(tmp.path, "a.txt"), "a");
  const storage = await newStorage(vault.path);
  await storage.writeMetrics({ step: [0] });
  await sealSpecimen(storage.dir);
  const e = await assertRejects(
    () => adoptOutputs(storage, tmp.path),
    AdoptOutputsError,
  );
  assert(/sealed/.test((e as AdoptOutputsError).report.refused[0].reason));
  assertEquals(
    await Deno.stat(join(storage.strata, "files", "a.txt")).catch(() => null),
    null,
  );
});

Deno.test("artifact names from output paths", async (t) => {
  await t.step(
    "naturalName() joins folders with __ and drops the last extension",
    () => {
      assertEquals(naturalName("sub/x.npy"), { natural: "sub__x", ext: "npy" });
      assertEquals(naturalName("a.tar.GZ"), { natural: "a.tar", ext: "gz" });
      assertEquals(naturalName(".hidden"), { natural: ".hidden", ext: "" });
      assertEquals(naturalName("README"), { natural: "README", ext: "" });
    },
  );
  await t.step("sanitizeName() keeps [a-z0-9_], at most 64", () => {
    assertEquals(sanitizeName("Größe.v2"), "gro_e_v2");
    assertEquals(sanitizeName("..."), "output");
    assertEquals(sanitizeName("日本"), "output");
    assertEquals(sanitizeName("x".repeat(80)).length, 64);
    assert(sanitizeName("x".repeat(80)) !== sanitizeName("x".repeat(81)));
  });
  await t.step("assignNames() suffixes the extension, then a counter", () => {
    const names = assignNames([
      { key: "1", natural: "a", ext: "csv" },
      { key: "2", natural: "a", ext: "npy" },
      { key: "3", natural: "a", ext: "npy" },
      { key: "4", natural: "taken", ext: "" },
    ], (n) => n === "taken");
    assertEquals([...names.values()], ["a", "a_npy", "a_2", "taken_2"]);
  });
  await t.step("mediaType() from the extension, any case", () => {
    assertEquals(mediaType("x.JPG"), "image/jpeg");
    assertEquals(mediaType("x.svg"), "image/svg+xml");
    assertEquals(mediaType("x.pt"), "application/octet-stream");
  });
});

Deno.test("the adopt benchmark runs at a small size and prints its figures", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(import.meta.dirname!, "_tools", "bench", "adopt_bench.ts"),
      "--mb",
      "2",
      "--rounds",
      "1",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  assert(
    /adoptOutputs \.npy → Zarr zstd\(1\).* MB\/s .*vs writeTensor/.test(text),
    text,
  );
  assert(/peak RSS .* MB/.test(text), text);
});

Deno.test("SpecimenStorage.open() removes what a copy into strata/files/ killed midway left", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const files = join(storage.strata, "files");
  await Deno.mkdir(files);
  // A temp name of a process that has ended (no such pid), and a user's file.
  await Deno.writeTextFile(
    join(files, ".tmp-plot.png-999999999-0a1b2c3d"),
    "x",
  );
  await Deno.writeTextFile(join(files, "kept.txt"), "y");
  await SpecimenStorage.open(storage.dir);
  assertEquals([...Deno.readDirSync(files)].map((e) => e.name), ["kept.txt"]);
});

Deno.test("adoptOutputs() refuses tables whose column names clash, and keeps a column that starts null", async () => {
  await using vault = await tempVault();
  await using tmp = await tempDir();
  await Deno.writeTextFile(join(tmp.path, "dup.csv"), "a,a\n1,2\n");
  await Deno.writeTextFile(join(tmp.path, "case.csv"), "Loss,loss\n1,2\n");
  await Deno.writeTextFile(
    join(tmp.path, "case.jsonl"),
    '{"Loss": 1}\n{"loss": 2}\n',
  );
  await Deno.writeTextFile(
    join(tmp.path, "late.jsonl"),
    '{"a": null, "b": 1}\n{"a": 2, "b": 2}\n',
  );
  const storage = await newStorage(vault.path);
  const e = await assertRejects(
    () => adoptOutputs(storage, tmp.path),
    AdoptOutputsError,
  );
  const why = Object.fromEntries(
    (e as AdoptOutputsError).report.refused.map((r) => [r.file, r.reason]),
  );
  assertEquals(Object.keys(why).sort(), ["case.csv", "case.jsonl", "dup.csv"]);
  assert(why["dup.csv"].includes('two columns are named "a"'));
  assert(why["case.csv"].includes("differ only in case"));
  assert(why["case.jsonl"].includes("differ only in case"));
  assertEquals((await storage.readMetrics("late")).a, [null, 2]);
});

/**
 * Checkpoints and array files left in SPECIMEN_OUTPUTS: a `.safetensors` or
 * `.npz` comes back as the file that was saved (byte for byte, its SHA-256
 * recorded) and its tensors as Zarr arrays under their own names; the
 * README's numpy-only recipe loads the kept file. Files written by real
 * tools: transformers' `model.safetensors` (tests/testdata/interop), and
 * numpy (`.npz`: adopt_npz_test.ts).
 */
import { join } from "../lib/_deps.ts";
import { adoptOutputs } from "../lib/run/adopt_outputs.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { sealSpecimen } from "../lib/specimen/seal.ts";
import { verifySpecimen } from "../lib/specimen/verify.ts";
import {
  assert,
  assertEquals,
  newStorage,
  runTask,
  tempDir,
  tempVault,
  webSha256,
} from "./utils.ts";
import { hasNumpy, NO_NUMPY, PYTHON, runPython } from "./_python.ts";

const numpy = await hasNumpy();
if (!numpy) console.warn(`adopt_checkpoints_test: ${NO_NUMPY}`);

const ROOT = join(import.meta.dirname!, "..");
const HF_MODEL = join(
  import.meta.dirname!,
  "testdata/interop/trackers2/hf/tiny-gpt2-nan/model.safetensors",
);

/** The README's recipe, run on the file named by argv[1]. */
async function readmeRecipe(): Promise<string> {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const at = readme.indexOf("### Getting a checkpoint back");
  assert(at >= 0, "README has the checkpoint section");
  const m = /```python\n([\s\S]*?)```/.exec(readme.slice(at));
  assert(m, "the section has a Python block");
  const example = '"specimens/my_run/strata/files/model.safetensors"';
  assert(m[1].includes(example), "the recipe names the predictable path");
  return "import sys\n" + m[1].replace(example, "sys.argv[1]");
}

/**
 * Loads the kept file with the README recipe and prints, per tensor, its
 * dtype, shape and values as hex (raw little-endian bytes): compared with
 * what the writer saved.
 */
const PRINT = `
print(json.dumps({k: [str(v.dtype), list(v.shape), v.astype(v.dtype.newbyteorder('<')).tobytes().hex()] for k, v in state.items()}))
`;

/**
 * A .safetensors written by numpy (the format is an 8-byte length, a JSON
 * header and raw bytes), with dtypes, a 0-d, an empty tensor and metadata
 * whose keys are hostile; prints the same summary of what it wrote.
 */
const WRITE_SAFETENSORS = `
import json, struct, sys, numpy as np
rng = np.random.default_rng(3)
tensors = {
  '0.weight': rng.standard_normal((5, 4)).astype('<f4'),
  '0.bias': np.arange(5, dtype='<f8') / 3,
  'emb.half': rng.standard_normal((3, 2)).astype('<f2'),
  'steps': np.array(2**62 + 7, dtype='<i8'),
  'mask': np.array([True, False, True]),
  'ids': np.arange(6, dtype='u1').reshape(2, 3),
  'empty': np.zeros((0, 3), dtype='<i4'),
}
kinds = {'float32': 'F32', 'float64': 'F64', 'float16': 'F16', 'int64': 'I64', 'bool': 'BOOL', 'uint8': 'U8', 'int32': 'I32'}
header, data = {'__metadata__': {'format': 'pt', '__proto__': 'x', 'note': 'é ✓'}}, b''
for name, arr in tensors.items():
    raw = arr.tobytes()
    header[name] = {'dtype': kinds[str(arr.dtype)], 'shape': list(arr.shape), 'data_offsets': [len(data), len(data) + len(raw)]}
    data += raw
text = json.dumps(header).encode(); text += b' ' * (-len(text) % 8)
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(text)) + text + data)
print(json.dumps({k: [str(v.dtype), list(v.shape), v.tobytes().hex()] for k, v in tensors.items()}))
`;

Deno.test({
  name:
    "a .safetensors left in SPECIMEN_OUTPUTS comes back byte for byte and loads with the README recipe",
  ignore: !numpy,
  async fn(t) {
    await using vault = await tempVault();
    await using tmp = await tempDir();
    const out = join(tmp.path, "out");
    await Deno.mkdir(join(out, "ckpt"), { recursive: true });
    await Deno.copyFile(HF_MODEL, join(out, "model.safetensors"));
    const written = JSON.parse(
      await runPython(WRITE_SAFETENSORS, join(out, "ckpt/last.safetensors")),
    );
    const storage = await newStorage(vault.path);
    const report = await adoptOutputs(storage, out);
    const a = storage.artifacts;
    const recipe = await readmeRecipe();

    await t.step("the transformers checkpoint is kept as saved", async () => {
      assertEquals(a.model.format, "file");
      assertEquals(a.model.path, "strata/files/model.safetensors");
      const saved = await Deno.readFile(HF_MODEL);
      const kept = await Deno.readFile(join(storage.dir, a.model.path));
      assertEquals(kept, saved);
      assertEquals(a.model.sha256, await webSha256(saved));
      assertEquals(a.model.bytes, saved.length);
      assertEquals(a.model.safetensors_metadata, [["format", "pt"]]);
    });

    await t.step(
      "the README recipe loads it: every tensor under its own name",
      async () => {
        const got = JSON.parse(
          await runPython(
            recipe + PRINT,
            join(storage.dir, "strata/files/model.safetensors"),
          ),
        );
        assertEquals(Object.keys(got).length, 16);
        assertEquals(got["transformer.wte.weight"].slice(0, 2), [
          "float32",
          [50, 16],
        ]);
        // The arrays hold the same values as the kept file.
        const arrays = a.model.arrays as { name: string; artifact: string }[];
        assertEquals(arrays.length, 16);
        for (const { name, artifact } of arrays) {
          const { data } = await storage.readTensor(artifact);
          const hex = Array.from(
            new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
          ).map((b) => b.toString(16).padStart(2, "0")).join("");
          assertEquals(hex, got[name][2], name);
          assertEquals(a[artifact].source_tensor, name);
        }
      },
    );

    await t.step(
      "a numpy-written file with seven dtypes, 0-d, empty and hostile metadata keys",
      async () => {
        const kept = a.ckpt__last;
        assertEquals(kept.path, "strata/files/ckpt__last.safetensors");
        const got = JSON.parse(
          await runPython(recipe + PRINT, join(storage.dir, kept.path)),
        );
        assertEquals(got, written);
        assertEquals(
          kept.sha256,
          await webSha256(
            await Deno.readFile(join(out, "ckpt/last.safetensors")),
          ),
        );
        assertEquals(kept.safetensors_metadata, [
          ["format", "pt"],
          ["__proto__", "x"],
          ["note", "é ✓"],
        ]);
        assertEquals(a.ckpt__last__0_weight.source_tensor, "0.weight");
        assertEquals(
          report.renamed["ckpt/last.safetensors#0.weight"],
          "ckpt__last__0_weight",
        );
        const attrs = JSON.parse(
          await Deno.readTextFile(
            join(storage.strata, "ckpt__last__steps.zarr/zarr.json"),
          ),
        ).attributes;
        assertEquals(attrs.source_tensor, "steps");
        assertEquals(attrs.source_file, "ckpt/last.safetensors");
        assertEquals(attrs.source_artifact, "ckpt__last");
        assertEquals(Object.keys(attrs.source_metadata), [
          "format",
          "__proto__",
          "note",
        ]);
        const steps = await storage.readTensor("ckpt__last__steps");
        assertEquals(steps.shape, []);
        assertEquals(steps.data[0], 2n ** 62n + 7n);
        assertEquals((await storage.readTensor("ckpt__last__empty")).shape, [
          0,
          3,
        ]);
      },
    );

    await t.step(
      "the manifest still reads (hostile keys stored as pairs), seals and verifies",
      async () => {
        const m = await readManifest(storage.dir);
        assertEquals(m.artifacts.ckpt__last.format, "file");
        await sealSpecimen(storage.dir);
        assertEquals((await verifySpecimen(storage.dir)).state, "ok");
        const sealed = await SpecimenStorage.open(storage.dir);
        assert(
          Object.keys(sealed.manifest.seal!.files).includes(
            "strata/files/model.safetensors",
          ),
        );
      },
    );
  },
});

Deno.test({
  name:
    "a .safetensors over splitMaxBytes is kept as the file alone, and says so",
  ignore: !numpy,
  async fn() {
    await using vault = await tempVault();
    await using tmp = await tempDir();
    await Deno.copyFile(HF_MODEL, join(tmp.path, "big.safetensors"));
    await runPython(WRITE_SAFETENSORS, join(tmp.path, "small.safetensors"));
    const storage = await newStorage(vault.path);
    const report = await adoptOutputs(storage, tmp.path, {
      splitMaxBytes: 10_000, // the HF file has 18,928 bytes; small has fewer
    });
    const a = storage.artifacts;
    assertEquals(report.refused, []);
    assertEquals(a.big.format, "file");
    assert(String(a.big.unsplit).includes("10000"), String(a.big.unsplit));
    assertEquals(a.big.arrays, []);
    assertEquals(a.big.safetensors_metadata, [["format", "pt"]]);
    assertEquals(
      Object.keys(a).filter((n) => n.startsWith("big__")),
      [],
    );
    assertEquals(a.small__0_weight.format, "zarr");
    // 0 never splits.
    const other = await newStorage(vault.path, "s2");
    await adoptOutputs(other, tmp.path, { splitMaxBytes: 0 });
    assertEquals(Object.keys(other.artifacts).sort(), ["big", "small"]);
  },
});

/** A training script: metrics, a checkpoint, an .npz and a .pt it saves. */
const TRAIN = `
import json, os, struct, numpy as np
out = os.environ["SPECIMEN_OUTPUTS"]
rng = np.random.default_rng(5)
state = {"0.weight": rng.standard_normal((8, 4)).astype("<f4"), "0.bias": np.zeros(8, dtype="<f4")}
with open(os.environ["SPECIMEN_METRICS"], "a") as m:
    for step in range(3):
        m.write(json.dumps({"step": step, "loss": 1 / (step + 1)}) + "\\n")
header, data = {"__metadata__": {"format": "pt"}}, b""
for name, arr in state.items():
    raw = arr.tobytes()
    header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
text = json.dumps(header).encode()
open(os.path.join(out, "model.safetensors"), "wb").write(struct.pack("<Q", len(text)) + text + data)
np.savez_compressed(os.path.join(out, "activations.npz"), h=rng.standard_normal((16, 8)))
open(os.path.join(out, "optimizer.pt"), "wb").write(b"\\x80\\x04opaque pickle")
print(json.dumps({k: [str(v.dtype), list(v.shape), v.tobytes().hex()] for k, v in state.items()}))
`;

Deno.test({
  name:
    "a checkpoint a training script saves through storage.exec is found with the README's query and loads with its recipe",
  ignore: !numpy,
  async fn() {
    await using vault = await tempVault();
    const storage = await newStorage(vault.path, "my_run");
    const r = await storage.exec([PYTHON, "-c", TRAIN], { echo: false });
    assertEquals(r.code, 0);
    const state = JSON.parse(
      await Deno.readTextFile(join(storage.dir, r.stdout)),
    );
    const a = storage.artifacts;
    assertEquals(a.optimizer.path, "strata/files/optimizer.pt");
    assertEquals(a.optimizer.media_type, "application/octet-stream");
    assertEquals(a.activations__h.shape, [16, 8]);
    await sealSpecimen(storage.dir);
    const index = await runTask("index", ["--vault", vault.path]);
    assertEquals(index.code, 0, index.stderr);
    const readme = await Deno.readTextFile(join(ROOT, "README.md"));
    const sql = /deno task query "(SELECT artifacts[^"]*)"/.exec(readme)?.[1];
    assert(sql, "the README names the query");
    const q = await runTask("query", [
      "--vault",
      vault.path,
      "--local",
      "--format",
      "csv",
      sql,
    ]);
    assertEquals(q.code, 0, q.stderr);
    const path = q.stdout.trim().split("\n").at(-1)!;
    assertEquals(path, "strata/files/model.safetensors");
    const got = JSON.parse(
      await runPython(
        (await readmeRecipe()) + PRINT,
        join(vault.specimens, "my_run", path),
      ),
    );
    assertEquals(got, state);
  },
});

/**
 * `.npz` outputs written by numpy (`savez`, `savez_compressed`): one Zarr
 * array per member, the file kept as saved, bad files refused whole.
 */
import { join } from "../lib/_deps.ts";
import { adoptOutputs, AdoptOutputsError } from "../lib/run/adopt_outputs.ts";
import {
  assert,
  assertEquals,
  newStorage,
  tempDir,
  tempVault,
  webSha256,
} from "./utils.ts";
import { hasNumpy, NO_NUMPY, runPython } from "./_python.ts";

const numpy = await hasNumpy();
if (!numpy) console.warn(`adopt_npz_test: ${NO_NUMPY}`);

/**
 * .npz files written by numpy: savez (stored) and savez_compressed
 * (deflate), with a 0-d, bool, big-endian, Fortran-order, float16 and an
 * empty member; prints each member's dtype, shape and C-order
 * little-endian bytes.
 */
const WRITE_NPZ = `
import json, os, sys, numpy as np
out = sys.argv[1]
rng = np.random.default_rng(11)
arrays = {
  'w': rng.standard_normal((40, 30)).astype('<f4'),
  'scalar': np.float64(2.5),
  'flags': np.array([[True, False], [False, True]]),
  'big_endian': np.arange(12, dtype='>i4').reshape(3, 4),
  'fortran': np.asfortranarray(np.arange(24, dtype='<i2').reshape(2, 3, 4)),
  'half': rng.standard_normal(7).astype('<f2'),
  'empty': np.zeros((0, 5), dtype='<f8'),
}
np.savez(os.path.join(out, 'stored.npz'), **arrays)
np.savez_compressed(os.path.join(out, 'deflated.npz'), rng.standard_normal((300, 200)), **arrays)
def summary(a):
    a = np.array(a, order='C')
    return [str(a.dtype.newbyteorder('=')), list(a.shape), a.astype(a.dtype.newbyteorder('<')).tobytes().hex()]
print(json.dumps({k: summary(v) for k, v in np.load(os.path.join(out, 'deflated.npz')).items()}))
`;

Deno.test({
  name:
    ".npz files from numpy.savez and savez_compressed become one array per member and are kept as saved",
  ignore: !numpy,
  async fn(t) {
    await using vault = await tempVault();
    await using tmp = await tempDir();
    const expected = JSON.parse(await runPython(WRITE_NPZ, tmp.path));
    const storage = await newStorage(vault.path);
    const report = await adoptOutputs(storage, tmp.path);
    const a = storage.artifacts;
    assertEquals(report.refused, []);

    for (const file of ["stored", "deflated"]) {
      await t.step(
        `${file}.npz: every member equals numpy.load's`,
        async () => {
          const members = Object.keys(expected).filter((k) =>
            file === "deflated" || k !== "arr_0"
          );
          for (const member of members) {
            const name = `${file}__${member}`;
            const [dtype, shape, hex] = expected[member];
            const { data } = await storage.readTensor(name);
            assertEquals(a[name].shape, shape, name);
            const want = dtype === "bool" ? "bool" : dtype;
            assertEquals(a[name].dtype, want, name);
            const got = Array.from(
              new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
            ).map((b) => b.toString(16).padStart(2, "0")).join("");
            assertEquals(got, hex, name);
            assertEquals(a[name].source_tensor, member);
            assertEquals(a[name].source_artifact, file);
          }
          const kept = a[file];
          assertEquals(kept.path, `strata/files/${file}.npz`);
          const saved = await Deno.readFile(join(tmp.path, `${file}.npz`));
          assertEquals(
            await Deno.readFile(join(storage.dir, kept.path)),
            saved,
          );
          assertEquals(kept.sha256, await webSha256(saved));
          assertEquals(
            (kept.arrays as { name: string }[]).map((x) => x.name).sort(),
            members.sort(),
          );
        },
      );
    }

    await t.step("the kept .npz loads with numpy.load", async () => {
      const out = await runPython(
        "import sys, numpy as np; d = np.load(sys.argv[1]); print(sorted(d.keys()), float(d['scalar']))",
        join(storage.dir, "strata/files/deflated.npz"),
      );
      assert(out.includes("'arr_0'") && out.includes("2.5"), out);
    });
  },
});

Deno.test({
  name:
    "a bad .npz is refused whole, naming the member: an object array, a bad CRC, not a zip",
  ignore: !numpy,
  async fn(t) {
    await using vault = await tempVault();
    await using tmp = await tempDir();
    await runPython(
      `
import os, sys, zipfile, numpy as np
out = sys.argv[1]
np.savez(os.path.join(out, 'objects.npz'), ok=np.arange(3), labels=np.array(['a', 1, None], dtype=object))
np.savez(os.path.join(out, 'crc.npz'), x=np.arange(1000, dtype='<i8'))
b = bytearray(open(os.path.join(out, 'crc.npz'), 'rb').read())
i = b.index(np.arange(1000, dtype='<i8')[500:501].tobytes())
b[i] ^= 0xff
open(os.path.join(out, 'crc.npz'), 'wb').write(bytes(b))
open(os.path.join(out, 'notzip.npz'), 'wb').write(b'PK not really a zip file' * 3)
np.savez(os.path.join(out, 'complex.npz'), c=np.array([1 + 2j]))
with zipfile.ZipFile(os.path.join(out, 'extra.npz'), 'w') as z:
    z.writestr('readme.txt', 'hello')
    with z.open('v.npy', 'w') as f:
        np.lib.format.write_array(f, np.arange(4, dtype='<i4'))
`,
      tmp.path,
    );
    const storage = await newStorage(vault.path);
    let error: AdoptOutputsError | undefined;
    try {
      await adoptOutputs(storage, tmp.path);
    } catch (e) {
      error = e as AdoptOutputsError;
    }
    assert(error instanceof AdoptOutputsError);
    const why = Object.fromEntries(
      error.report.refused.map((r) => [r.file, r.reason]),
    );
    const a = storage.artifacts;

    await t.step(
      "an object array: refused unread, nothing of the file adopted",
      () => {
        assert(/labels\.npy/.test(why["objects.npz"]), why["objects.npz"]);
        assert(/object array/.test(why["objects.npz"]), why["objects.npz"]);
        assertEquals(
          Object.keys(a).filter((n) => n.startsWith("objects")),
          [],
        );
      },
    );
    await t.step("a flipped byte: the CRC-32 check refuses it", () => {
      assert(/CRC-32/.test(why["crc.npz"]), why["crc.npz"]);
      assertEquals(Object.keys(a).filter((n) => n.startsWith("crc")), []);
    });
    await t.step("not a zip, and a complex dtype", () => {
      assert(/not a readable zip/.test(why["notzip.npz"]), why["notzip.npz"]);
      assert(/"<c16"/.test(why["complex.npz"]), why["complex.npz"]);
    });
    await t.step(
      "a member that is not .npy is listed, the rest adopted",
      () => {
        assertEquals(a.extra.members_not_arrays, ["readme.txt"]);
        assertEquals(a.extra__v.shape, [4]);
      },
    );
    assertEquals(error.report.refused.length, 4);
  },
});

Deno.test({
  name:
    "a .npz whose members span many reads (deflated and stored) is adopted exactly, every time",
  ignore: !numpy,
  async fn() {
    await using vault = await tempVault();
    await using tmp = await tempDir();
    // Random values barely compress: each member is about 4 MB in the zip,
    // read 1 MiB at a time while the next member's reads follow.
    const sums = JSON.parse(
      await runPython(
        `
import json, os, sys, numpy as np
rng = np.random.default_rng(2)
arrays = {k: rng.standard_normal(500_000) for k in ('a', 'b', 'c')}
np.savez_compressed(os.path.join(sys.argv[1], 'acts.npz'), **arrays)
np.savez(os.path.join(sys.argv[1], 'raw.npz'), **arrays)
print(json.dumps({k: v.tobytes().hex()[:64] + v[-4:].tobytes().hex() for k, v in arrays.items()}))
`,
        tmp.path,
      ),
    );
    for (let round = 0; round < 4; round++) {
      const storage = await newStorage(vault.path, `npz_${round}`);
      const report = await adoptOutputs(storage, tmp.path);
      assertEquals(report.refused, [], `round ${round}`);
      for (
        const name of ["acts__a", "acts__b", "acts__c", "raw__a", "raw__c"]
      ) {
        const k = name.at(-1)!;
        const { data } = await storage.readTensor(name);
        const bytes = new Uint8Array(
          data.buffer,
          data.byteOffset,
          data.byteLength,
        );
        const hex = (b: Uint8Array) =>
          Array.from(b).map((x) => x.toString(16).padStart(2, "0")).join("");
        assertEquals(
          hex(bytes.subarray(0, 32)) + hex(bytes.subarray(bytes.length - 32)),
          sums[k],
          `${name} in round ${round}`,
        );
      }
    }
  },
});

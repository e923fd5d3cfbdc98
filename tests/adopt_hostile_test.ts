/**
 * Hostile outputs (issue 22): files swapped for links or FIFOs while
 * adoption runs, a 10 GB sparse file, headers built to make long messages,
 * more dimensions than the vault allows; and one rule for whole-number
 * columns (INT64, exact past 2^53).
 */
import { join, statfsSync } from "../lib/_deps.ts";
import {
  adoptOutputs,
  AdoptOutputsError,
  type AdoptProgress,
} from "../lib/run/adopt_outputs.ts";
import { MAX_TENSOR_DIMS } from "../lib/formats/zarr/zarr.ts";
import { openVaultFile } from "../lib/_fs.ts";
import { UnsafeFileError } from "../lib/errors.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  newStorage,
  runTask,
  tempDir,
  tempVault,
} from "./utils.ts";
import { hasNumpy, NO_NUMPY } from "./_python.ts";
import { adoptRace } from "./_tools/stress/adopt_race.ts";

const numpy = await hasNumpy();
if (!numpy) console.warn(`adopt_hostile_test: ${NO_NUMPY}`);

/** Adopts `out`, returning the refusals by file (never throwing for them). */
async function adoptAll(
  storage: Awaited<ReturnType<typeof newStorage>>,
  out: string,
  options: Parameters<typeof adoptOutputs>[2] = {},
): Promise<Record<string, string>> {
  try {
    await adoptOutputs(storage, out, options);
    return {};
  } catch (e) {
    if (!(e instanceof AdoptOutputsError)) throw e;
    return Object.fromEntries(e.report.refused.map((r) => [r.file, r.reason]));
  }
}

Deno.test(
  "adoptOutputs() never records an outside file's content nor hangs while a leftover process swaps outputs for links and FIFOs",
  async () => {
    await using vault = await tempVault();
    const counts = await adoptRace(vault.path, { rounds: 12 });
    assert(counts.adopted > 0 || counts.refused > 0);
  },
);

Deno.test({
  name:
    "a 10 GB sparse output over maxFileBytes is refused unread, naming its size; the rest is adopted",
  async fn() {
    await using vault = await tempVault();
    await using tmp = await tempDir();
    const big = join(tmp.path, "x.bin");
    // Sparse: no disk used (truncate -s 10G).
    using f = await Deno.open(big, { create: true, write: true });
    await f.truncate(10 * 2 ** 30);
    await Deno.writeTextFile(join(tmp.path, "ok.txt"), "kept\n");
    const storage = await newStorage(vault.path);
    const why = await adoptAll(storage, tmp.path, { maxFileBytes: 2 ** 30 });
    assert(/10737418240 bytes \(10\.74 GB\)/.test(why["x.bin"]), why["x.bin"]);
    assert(/maxFileBytes/.test(why["x.bin"]), why["x.bin"]);
    assertEquals(Object.keys(storage.artifacts), ["ok"]);
  },
});

Deno.test({
  name:
    "an output larger than the disk's free space is refused before copying, nothing left behind",
  async fn(t) {
    await using vault = await tempVault();
    await using tmp = await tempDir();
    const s = statfsSync(vault.path);
    const free = Number(s.bavail) * Number(s.bsize);
    const size = free + 2 ** 30;
    using f = await Deno.open(join(tmp.path, "huge.ckpt"), {
      create: true,
      write: true,
    });
    try {
      await f.truncate(size);
    } catch (e) {
      t.step(
        `skipped: this filesystem refuses a ${size}-byte sparse file (${e})`,
        () => {},
      );
      return;
    }
    const storage = await newStorage(vault.path);
    const why = await adoptAll(storage, tmp.path, { maxFileBytes: Infinity });
    assert(/free disk space/.test(why["huge.ckpt"]), why["huge.ckpt"]);
    const files = join(storage.dir, "strata/files");
    const left = await Array.fromAsync(Deno.readDir(files)).catch(() => []);
    assertEquals(left, []);
  },
});

Deno.test({
  name:
    "a large kept file reports progress up to its size, and a sparse one stays sparse",
  async fn() {
    await using vault = await tempVault();
    await using tmp = await tempDir();
    const size = 80 * 2 ** 20 + 5;
    using f = await Deno.open(join(tmp.path, "weights.ckpt"), {
      create: true,
      write: true,
    });
    await f.truncate(size);
    const storage = await newStorage(vault.path);
    const seen: AdoptProgress[] = [];
    await adoptOutputs(storage, tmp.path, { onProgress: (p) => seen.push(p) });
    assert(seen.length >= 1);
    assertEquals(seen.at(-1), {
      file: "weights.ckpt",
      done: size,
      total: size,
    });
    for (let i = 1; i < seen.length; i++) {
      assert(seen[i].done >= seen[i - 1].done);
    }
    assertEquals(storage.artifacts.weights.bytes, size);
    // The copy of a sparse file stays sparse: its zeros take no disk.
    const kept = await Deno.stat(
      join(storage.dir, "strata/files/weights.ckpt"),
    );
    assertEquals(kept.size, size);
    assert(kept.blocks! * 512 < 2 ** 20, `${kept.blocks} blocks`);
  },
});

/** `.npy` files with hostile headers, written byte by byte. */
function npy(dict: string, data = new Uint8Array(0), version = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  const len = Math.ceil((pre + dict.length + 1) / 64) * 64 - pre;
  const text = new TextEncoder().encode(dict.padEnd(len - 1, " ") + "\n");
  const head = new Uint8Array(pre);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(head.buffer);
  if (version === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  const out = new Uint8Array(pre + text.length + data.length);
  out.set(head);
  out.set(text, pre);
  out.set(data, pre + text.length);
  return out;
}

function safetensors(header: unknown, data = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("hostile headers give short messages, whatever they hold", async (t) => {
  await using vault = await tempVault();
  await using tmp = await tempDir();
  const deep = "(".repeat(5000) + "1" + ")".repeat(5000);
  const deepList = JSON.parse("[".repeat(5000) + "1" + "]".repeat(5000));
  const files: Record<string, Uint8Array> = {
    "deep.npy": npy(
      `{'descr': '<f8', 'fortran_order': False, 'shape': ${deep}, }`,
      new Uint8Array(0),
      2,
    ),
    "deep_dict.npy": npy(
      `{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': ${
        "[".repeat(3000)
      }${"]".repeat(3000)}}`,
      new Uint8Array(0),
      2,
    ),
    "long_descr.npy": npy(
      `{'descr': '<${
        "f".repeat(20000)
      }', 'fortran_order': False, 'shape': (1,), }`,
      new Uint8Array(0),
      2,
    ),
    "long_key.npy": npy(
      `{'descr': '<f8', 'fortran_order': False, 'shape': (1,), '${
        "k".repeat(30000)
      }': 1}`,
      new Uint8Array(0),
      2,
    ),
    "garbage.npy": npy(
      `{'descr': '<f8', ${"@".repeat(40000)}`,
      new Uint8Array(0),
      2,
    ),
    "deep.safetensors": safetensors({
      t: { dtype: "F32", shape: deepList, data_offsets: [0, 4] },
    }, new Uint8Array(4)),
    "long_name.safetensors": safetensors({
      ["n".repeat(50000)]: { dtype: "Q9", shape: [1], data_offsets: [0, 4] },
    }, new Uint8Array(4)),
    "long_meta.safetensors": safetensors({
      __metadata__: { ["m".repeat(50000)]: 5 },
    }),
    "proto_dtype.safetensors": safetensors({
      t: { dtype: "constructor", shape: [1], data_offsets: [0, 4] },
    }, new Uint8Array(4)),
  };
  for (const [name, bytes] of Object.entries(files)) {
    await Deno.writeFile(join(tmp.path, name), bytes);
  }
  const storage = await newStorage(vault.path);
  const why = await adoptAll(storage, tmp.path);
  assert(
    /dtype "constructor", not supported/.test(why["proto_dtype.safetensors"]),
    why["proto_dtype.safetensors"],
  );
  for (const name of Object.keys(files)) {
    await t.step(name, () => {
      assert(why[name], `${name} refused`);
      assert(
        why[name].length < 700,
        `${name}: ${why[name].length} characters: ${why[name].slice(0, 300)}`,
      );
    });
  }
});

Deno.test({
  name:
    "one dimension rule for adoption and the index: 64 dimensions adopted and indexed, 65 and 100 refused at adoption",
  ignore: !numpy,
  async fn(t) {
    await using vault = await tempVault();
    await using tmp = await tempDir();
    const ones = (n: number) => `(${Array(n).fill("1").join(", ")},)`;
    for (const n of [MAX_TENSOR_DIMS, MAX_TENSOR_DIMS + 1, 100]) {
      await Deno.writeFile(
        join(tmp.path, `d${n}.npy`),
        npy(
          `{'descr': '<f8', 'fortran_order': False, 'shape': ${ones(n)}, }`,
          new Uint8Array(8),
          2,
        ),
      );
    }
    const shape = Array(65).fill(1);
    await Deno.writeFile(
      join(tmp.path, "s65.safetensors"),
      safetensors(
        { t: { dtype: "F32", shape, data_offsets: [0, 4] } },
        new Uint8Array(4),
      ),
    );
    const storage = await newStorage(vault.path, "dims");
    const why = await adoptAll(storage, tmp.path);
    await t.step("65 and 100 refused, naming the limit", () => {
      for (const f of ["d65.npy", "d100.npy", "s65.safetensors"]) {
        assert(/more than the 64/.test(why[f]), `${f}: ${why[f]}`);
      }
    });
    await t.step("64 adopted, and the index takes it", async () => {
      assertEquals(storage.artifacts.d64.shape, Array(64).fill(1));
      const index = await runTask("index", ["--vault", vault.path, "--strict"]);
      assertEquals(index.code, 0, index.stderr);
      const q = await runTask("query", [
        "--vault",
        vault.path,
        "--local",
        "--format",
        "json",
        "SELECT len(shape) AS n FROM tensors WHERE name = 'd64'",
      ]);
      assertEquals(q.code, 0, q.stderr);
      assertEquals(JSON.parse(q.stdout), [{ n: 64 }]);
    });
  },
});

Deno.test("adopted tables: whole-number columns are INT64, exact past 2^53; a rounded column is named", async () => {
  await using vault = await tempVault();
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    join(tmp.path, "times.csv"),
    "step,ns,neg,mixed,ratio\n0,1796609848123456789,-9007199254740993,1796609848123456789,1\n1,1796609848123456790,-3,0.5,2.5\n",
  );
  await Deno.writeTextFile(
    join(tmp.path, "ints.jsonl"),
    '{"step": 0, "count": 3}\n{"step": 1, "count": -4}\n',
  );
  const storage = await newStorage(vault.path);
  await adoptOutputs(storage, tmp.path);
  const a = storage.artifacts;
  assertEquals(a.times.columns, [
    { name: "step", type: "INT64" },
    { name: "ns", type: "INT64" },
    { name: "neg", type: "INT64" },
    { name: "mixed", type: "DOUBLE" },
    { name: "ratio", type: "DOUBLE" },
  ]);
  const t = await storage.readMetrics("times");
  assertEquals(t.ns, [1796609848123456789n, 1796609848123456790n]);
  assertEquals(t.neg, [-9007199254740993n, -3n]);
  assertEquals(a.times.rounded_columns, ["mixed"]);
  assertEquals(a.ints.columns, [
    { name: "step", type: "INT64" },
    { name: "count", type: "INT64" },
  ]);
  assertEquals(a.ints.rounded_columns, undefined);
});

Deno.test("an output named like an Object property (x.constructor, y.__proto__, toString.npy) is adopted by the usual rules", async () => {
  await using vault = await tempVault();
  await using tmp = await tempDir();
  await Deno.writeTextFile(join(tmp.path, "x.constructor"), "c\n");
  await Deno.writeTextFile(join(tmp.path, "y.hasOwnProperty"), "h\n");
  const storage = await newStorage(vault.path);
  const report = await adoptOutputs(storage, tmp.path);
  assertEquals(report.refused, []);
  const formats = Object.fromEntries(
    report.adopted.map((x) => [x.file, x.format]),
  );
  assertEquals(formats, {
    "x.constructor": "file",
    "y.hasOwnProperty": "file",
  });
});

Deno.test("openVaultFile() with noFollow refuses a link even to a file inside the root, and a FIFO at once", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  await Deno.writeTextFile(join(root, "a.txt"), "a");
  await Deno.symlink("a.txt", join(root, "link.txt"));
  const fifo = join(root, "pipe");
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert(made.success);
  // Followed without noFollow (it stays inside):
  using followed = await openVaultFile(join(root, "link.txt"), { root });
  assertEquals((await followed.stat()).size, 1);
  for (const name of ["link.txt", "pipe"]) {
    await assertRejects(
      () => openVaultFile(join(root, name), { root, noFollow: true }),
      UnsafeFileError,
      name === "pipe" ? /FIFO/ : /symbolic link/,
    );
  }
});

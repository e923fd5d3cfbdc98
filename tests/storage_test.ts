import { join } from "../lib/_deps.ts";
import {
  ImmutableArtifactError,
  InvalidInputError,
  NotFoundError,
} from "../lib/errors.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  newStorage,
  ROOT,
  runDeno,
  tempVault,
} from "./utils.ts";

function listing(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("writeMetrics() stores Parquet, records the artifact and reads back", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const record = await storage.writeMetrics({
    step: [0, 1, 2],
    loss: [1.5, 0.75, null],
    note: ["a", "b", "c"],
    ok: [true, false, true],
  });
  assertEquals(record.path, "strata/metrics.parquet");
  assertEquals(record.format, "parquet");
  assertEquals(record.rows, 3);
  assertEquals(record.columns, [
    { name: "step", type: "INT64" },
    { name: "loss", type: "DOUBLE" },
    { name: "note", type: "STRING" },
    { name: "ok", type: "BOOLEAN" },
  ]);
  const manifest = await readManifest(storage.dir);
  assertEquals(manifest.artifacts.metrics.path, "strata/metrics.parquet");
  assertEquals(manifest.artifacts.metrics.rows, 3);
  const back = await storage.readMetrics();
  assertEquals([...back.step], [0, 1, 2]);
  assertEquals([...back.loss], [1.5, 0.75, null]);
  assertEquals([...back.note], ["a", "b", "c"]);
  assertEquals([...back.ok], [true, false, true]);
  assertEquals(listing(storage.strata), ["metrics.parquet"]);
});

Deno.test("writeMetrics() refuses to replace a table and leaves it untouched", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await storage.writeMetrics({ step: [0], loss: [1] });
  const before = await Deno.readFile(join(storage.strata, "metrics.parquet"));
  await assertRejects(
    () => storage.writeMetrics({ step: [0], loss: [2] }),
    ImmutableArtifactError,
    "specimens are immutable: create a new specimen for a variation",
  );
  // A fresh handle (another process, say) is refused too.
  const again = await SpecimenStorage.open(storage.dir);
  await assertRejects(
    () => again.writeMetrics({ step: [0], loss: [3] }),
    ImmutableArtifactError,
  );
  assertEquals(
    await Deno.readFile(join(storage.strata, "metrics.parquet")),
    before,
  );
  assertEquals(listing(storage.strata), ["metrics.parquet"]);
});

Deno.test("writeMetrics() keeps named tables apart and validates names", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await storage.writeMetrics({ step: [0, 1], loss: [1, 0.5] });
  await storage.writeMetrics({ step: [0], acc: [0.9] }, { name: "eval" });
  assertEquals(listing(storage.strata), ["eval.parquet", "metrics.parquet"]);
  assertEquals([...(await storage.readMetrics("eval")).acc], [0.9]);
  for (const name of ["", "../x", "Eval", "a.b", "x".repeat(65)]) {
    await assertRejects(
      () => storage.writeMetrics({ a: [1] }, { name }),
      InvalidInputError,
      "Invalid artifact name",
    );
  }
  await assertRejects(
    () => storage.readMetrics("missing"),
    NotFoundError,
    "it has: metrics, eval",
  );
});

Deno.test("a failed writeMetrics() leaves no file and no record", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await assertRejects(
    () => storage.writeMetrics({ step: [0, 1], loss: [1] }),
    InvalidInputError,
  );
  assertEquals(listing(storage.strata), []);
  assertEquals((await readManifest(storage.dir)).artifacts, {});
  await storage.writeMetrics({ step: [0, 1], loss: [1, 2] });
});

Deno.test("writeTensor() stores Zarr v3, records shape and dtype, reads slices", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const data = Float32Array.from({ length: 6 * 4 }, (_, i) => i);
  const record = await storage.writeTensor("acts", data, { shape: [6, 4] });
  assertEquals(record.path, "strata/acts.zarr");
  assertEquals(record.format, "zarr");
  assertEquals(record.shape, [6, 4]);
  assertEquals(record.dtype, "float32");
  assert(record.codecs!.includes("zstd"));
  assert(record.bytes! > 0);
  const meta = JSON.parse(
    await Deno.readTextFile(join(storage.strata, "acts.zarr", "zarr.json")),
  );
  assertEquals(meta.zarr_format, 3);
  const row = await storage.readTensor("acts", [2]);
  assertEquals(row.shape, [4]);
  assertEquals([...row.data as Float32Array], [8, 9, 10, 11]);
  const info = await storage.tensorInfo("acts");
  assertEquals(info.shape, [6, 4]);
  assertEquals((await readManifest(storage.dir)).artifacts.acts.shape, [6, 4]);
  await assertRejects(
    () => storage.writeTensor("acts", data, { shape: [6, 4] }),
    ImmutableArtifactError,
  );
  await assertRejects(
    () => storage.writeMetrics({ a: [1] }, { name: "acts" }),
    ImmutableArtifactError,
    'Artifact "acts"',
  );
  await assertRejects(
    () => storage.readTensor("nope"),
    NotFoundError,
    "it has: acts",
  );
});

Deno.test("createTensor() streams row blocks and records on close; abort leaves nothing", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  {
    await using w = await storage.createTensor("stream", {
      shape: [10, 3],
      dtype: "int32",
      chunks: [4, 3],
    });
    await w.write(Int32Array.from({ length: 9 }, (_, i) => i));
    await w.write(Int32Array.from({ length: 21 }, (_, i) => i + 9));
    assertEquals(w.rowsWritten, 10);
    const rec = await w.close();
    assertEquals(rec.shape, [10, 3]);
  }
  const all = await storage.readTensor("stream");
  assertEquals(
    [...all.data as Int32Array],
    Array.from({ length: 30 }, (_, i) => i),
  );
  {
    await using w = await storage.createTensor("dropped", {
      shape: [4, 2],
      dtype: "float64",
    });
    await w.write(new Float64Array(2));
    // leaving the block without close() aborts
  }
  assertEquals(listing(storage.strata), ["stream.zarr"]);
  assertEquals(Object.keys((await readManifest(storage.dir)).artifacts), [
    "stream",
  ]);
});

Deno.test("concurrent writes of different artifacts are all recorded", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await Promise.all([
    storage.writeMetrics({ step: [0] }, { name: "a" }),
    storage.writeMetrics({ step: [0] }, { name: "b" }),
    storage.writeTensor("t", new Float32Array(4), { shape: [2, 2] }),
    storage.writeMetrics({ step: [0] }, { name: "c" }),
  ]);
  assertEquals(
    Object.keys((await readManifest(storage.dir)).artifacts).sort(),
    ["a", "b", "c", "t"],
  );
});

Deno.test("two processes writing to one specimen do not drop each other's records", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const script = (name: string) =>
    `import { SpecimenStorage } from "${join(ROOT, "mod.ts")}";
     const s = await SpecimenStorage.open(${JSON.stringify(storage.dir)});
     for (let i = 0; i < 10; i++) await s.writeMetrics({ step: [i] }, { name: "${name}_" + i });`;
  const runs = await Promise.all(
    ["p", "q"].map((n) =>
      runDeno(["eval", "--config", join(ROOT, "deno.json"), script(n)])
    ),
  );
  for (const r of runs) assertEquals(r.code, 0, r.stderr);
  const names = Object.keys((await readManifest(storage.dir)).artifacts);
  assertEquals(names.length, 20);
});

Deno.test("SpecimenStorage.open() explains a folder without a manifest", async () => {
  await using vault = await tempVault();
  await assertRejects(
    () => SpecimenStorage.open(vault.path),
    NotFoundError,
    "No manifest at",
  );
});

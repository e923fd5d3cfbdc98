import { join } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { NotFoundError } from "../lib/errors.ts";
import { readManifest, writeManifest } from "../lib/specimen/manifest.ts";
import { sealSpecimen } from "../lib/specimen/seal.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { verifySpecimen, verifyVault } from "../lib/specimen/verify.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  ROOT,
  runDeno,
  tempVault,
} from "./utils.ts";

/** Runs the verify task exactly as deno.json does (same permission flags). */
function verifyCli(args: string[]) {
  return runDeno([
    "run",
    "--allow-read",
    "--allow-env=SPECIMEN_VAULT",
    join(ROOT, "tasks", "verify.ts"),
    ...args,
  ]);
}

/** A sealed specimen with a Parquet table and a 4-chunk Zarr tensor. */
async function sealed(vault: string, id: string): Promise<string> {
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "interpretability",
    method: "sae_analysis",
  });
  const storage = await SpecimenStorage.open(dir);
  await storage.writeMetrics({ step: [0, 1, 2], loss: [3, 2, 1] });
  await storage.writeTensor(
    "acts",
    Float32Array.from({ length: 64 * 8 }, (_, i) => i / 7),
    { shape: [64, 8], chunks: [16, 8], compression: "none" },
  );
  await sealSpecimen(dir);
  return dir;
}

async function flipByte(path: string, offset: number): Promise<void> {
  using f = await Deno.open(path, { read: true, write: true });
  const b = new Uint8Array(1);
  await f.seek(offset, Deno.SeekMode.Start);
  await f.read(b);
  b[0] ^= 0x01;
  await f.seek(offset, Deno.SeekMode.Start);
  await f.write(b);
}

Deno.test("verifySpecimen() passes an untouched sealed specimen and ignores edits to field_notes.md", async () => {
  await using vault = await tempVault();
  const dir = await sealed(vault.path, "clean");
  await Deno.writeTextFile(join(dir, "field_notes.md"), "\nSeen: fine.\n", {
    append: true,
  });
  const r = await verifySpecimen(dir);
  assertEquals(r.state, "ok");
  assertEquals([r.modified, r.missing, r.extra], [[], [], []]);
  const m = await readManifest(dir);
  assertEquals(r.files, m.seal!.file_count);
  assertEquals(r.bytes, m.seal!.bytes);
  assertEquals(r.digest, m.seal!.digest);
});

Deno.test("verifySpecimen() names each tampering: a flipped byte in a Zarr chunk, a deleted Parquet file, a stray file, an edited protocol", async (t) => {
  await using vault = await tempVault();
  const cases: {
    name: string;
    tamper: (dir: string) => Promise<void>;
    expect: { modified?: string[]; missing?: string[]; extra?: string[] };
  }[] = [
    {
      name: "one byte inside a Zarr chunk",
      tamper: (dir) => flipByte(join(dir, "strata/acts.zarr/c/2/0"), 100),
      expect: { modified: ["strata/acts.zarr/c/2/0"] },
    },
    {
      name: "a deleted Parquet file",
      tamper: (dir) => Deno.remove(join(dir, "strata/metrics.parquet")),
      expect: { missing: ["strata/metrics.parquet"] },
    },
    {
      name: "a stray file",
      tamper: (dir) => Deno.writeTextFile(join(dir, "strata/stray.txt"), "x"),
      expect: { extra: ["strata/stray.txt"] },
    },
    {
      name: "an edited protocol",
      tamper: (dir) =>
        Deno.writeTextFile(join(dir, "protocol.ts"), "// edited\n", {
          append: true,
        }),
      expect: { modified: ["protocol.ts"] },
    },
    {
      name: "a file added beside strata/",
      tamper: (dir) => Deno.writeTextFile(join(dir, "results.csv"), "a,b\n"),
      expect: { extra: ["results.csv"] },
    },
  ];
  for (const [i, c] of cases.entries()) {
    await t.step(c.name, async () => {
      const dir = await sealed(vault.path, `t${i}`);
      assertEquals((await verifySpecimen(dir)).state, "ok", "before");
      await c.tamper(dir);
      const r = await verifySpecimen(dir);
      assertEquals(r.state, "mismatch");
      assertEquals(r.modified, c.expect.modified ?? []);
      assertEquals(r.missing, c.expect.missing ?? []);
      assertEquals(r.extra, c.expect.extra ?? []);
    });
  }
});

Deno.test("verifySpecimen() finds a same-size change at the end of a file larger than the read buffer", async () => {
  await using vault = await tempVault();
  const { dir } = await createSpecimen({
    vault: vault.path,
    id: "big",
    domain: "training",
    method: "fine_tuning",
  });
  const size = 9 * 1024 * 1024 + 3; // more than two 4 MB reads
  await Deno.writeFile(join(dir, "strata", "blob.bin"), new Uint8Array(size));
  await sealSpecimen(dir);
  await flipByte(join(dir, "strata", "blob.bin"), size - 1);
  const r = await verifySpecimen(dir);
  assertEquals(r.modified, ["strata/blob.bin"]);
});

Deno.test("verifyVault() reports unsealed specimens as such and rejects unknown ids before hashing", async () => {
  await using vault = await tempVault();
  await sealed(vault.path, "a_sealed");
  await createSpecimen({
    vault: vault.path,
    id: "b_fresh",
    domain: "training",
    method: "fine_tuning",
  });
  const progress: number[] = [];
  const results = await verifyVault({
    vault: vault.path,
    onProgress: (p) => progress.push(p.bytesDone),
  });
  assertEquals(results.map((r) => [r.id, r.state, r.status]), [
    ["a_sealed", "ok", "sealed"],
    ["b_fresh", "unsealed", "active"],
  ]);
  assert(progress.at(-1)! === results[0].bytes, "progress reaches the total");
  await assertRejects(
    () => verifyVault({ vault: vault.path, ids: ["a_sealed", "nope"] }),
    NotFoundError,
    `No specimen "nope"`,
  );
});

Deno.test("verifyVault() reports a corrupt manifest as an error and goes on", async () => {
  await using vault = await tempVault();
  await sealed(vault.path, "good");
  const bad = await sealed(vault.path, "hurt");
  const m = await readManifest(bad);
  (m.seal as unknown as Record<string, unknown>).files = "oops";
  await writeManifest(bad, m);
  const results = await verifyVault({ vault: vault.path });
  assertEquals(results.map((r) => r.state), ["ok", "error"]);
  assertMatch(results[1].error!, /seal .* is malformed: "files" must be a map/);

  delete m.seal; // "sealed" with nothing to prove it
  await writeManifest(bad, m);
  const r = await verifySpecimen(bad);
  assertEquals([r.state, r.status], ["error", "sealed"]);
  assertMatch(r.error!, /Status is "sealed" but the manifest holds no seal/);
});

Deno.test("verify task: exit 0 and a table when everything matches, exit 1 naming each bad file", async () => {
  await using vault = await tempVault();
  const good = await sealed(vault.path, "good_one");
  const bad = await sealed(vault.path, "tampered");
  await createSpecimen({
    vault: vault.path,
    id: "unrun",
    domain: "training",
    method: "fine_tuning",
  });
  let r = await verifyCli(["--vault", vault.path]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /^ok\s+good_one\s+\d+ files/m);
  assertMatch(r.stdout, /^unsealed\s+unrun\s+status active: not run yet/m);
  assertMatch(r.stdout, /3 specimens: 2 ok, 0 mismatch, 1 unsealed, 0 error/);
  assertEquals(r.stderr, "", "no progress output when stderr is not a TTY");

  r = await verifyCli(["--vault", vault.path, "--require-sealed"]);
  assertEquals(r.code, 1, "unsealed fails with --require-sealed");

  await flipByte(join(bad, "strata/acts.zarr/c/0/0"), 10);
  await Deno.remove(join(bad, "strata/metrics.parquet"));
  await Deno.writeTextFile(join(bad, "strata/stray.txt"), "x");
  await Deno.writeTextFile(join(bad, "protocol.ts"), "// changed\n");
  r = await verifyCli(["--vault", vault.path]);
  assertEquals(r.code, 1);
  assertMatch(
    r.stdout,
    /^MISMATCH\s+tampered\s+2 modified, 1 missing, 1 extra/m,
  );
  assertMatch(r.stdout, /^\s+modified\s+protocol\.ts$/m);
  assertMatch(r.stdout, /^\s+modified\s+strata\/acts\.zarr\/c\/0\/0$/m);
  assertMatch(r.stdout, /^\s+missing\s+strata\/metrics\.parquet$/m);
  assertMatch(r.stdout, /^\s+extra\s+strata\/stray\.txt$/m);

  r = await verifyCli(["--vault", vault.path, "good_one"]);
  assertEquals(r.code, 0, "only the named specimen is checked");
  assert(!r.stdout.includes("tampered"));
  assert(good.endsWith("good_one"));
});

Deno.test("verify task --format json lists states and files for programs", async () => {
  await using vault = await tempVault();
  const dir = await sealed(vault.path, "j1");
  await Deno.writeTextFile(join(dir, "strata/extra.bin"), "1");
  const r = await verifyCli(["--vault", vault.path, "--format", "json"]);
  assertEquals(r.code, 1);
  const out = JSON.parse(r.stdout);
  assertEquals(out.summary.mismatch, 1);
  assertEquals(out.specimens[0].id, "j1");
  assertEquals(out.specimens[0].state, "mismatch");
  assertEquals(out.specimens[0].extra, ["strata/extra.bin"]);
});

Deno.test("verify task: usage errors exit 2, unknown ids exit 4, --help exits 0", async () => {
  await using vault = await tempVault();
  let r = await verifyCli(["--vault", vault.path, "--format", "xml"]);
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /^error: Unknown --format "xml": use table or json/);
  r = await verifyCli(["--vault", vault.path, "--bogus"]);
  assertEquals(r.code, 2);
  r = await verifyCli(["--vault", vault.path, "ghost"]);
  assertEquals(r.code, 4);
  assertMatch(r.stderr, /No specimen "ghost"/);
  r = await verifyCli(["--help"]);
  assertEquals(r.code, 0);
  assertMatch(r.stdout, /deno task verify \[ID\.\.\.\]/);
  assertMatch(r.stdout, /Exit codes:/);
});

Deno.test("verifying a 1 GB tensor file keeps memory bounded (peak RSS well under the file size)", async () => {
  if (Deno.build.os !== "linux") return; // peak RSS read from /proc
  await using vault = await tempVault();
  const { dir } = await createSpecimen({
    vault: vault.path,
    id: "huge",
    domain: "training",
    method: "fine_tuning",
  });
  // A sparse file: 1 GB to read and hash, almost nothing on disk.
  const path = join(dir, "strata", "huge.bin");
  using f = await Deno.open(path, { write: true, createNew: true });
  await f.truncate(1024 ** 3);
  await sealSpecimen(dir);
  const script = `
    import { verifySpecimen } from ${
    JSON.stringify(join(ROOT, "lib/specimen/verify.ts"))
  };
    const r = await verifySpecimen(${JSON.stringify(dir)});
    const hwm = /VmHWM:\\s+(\\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))[1];
    console.log(JSON.stringify({ state: r.state, bytes: r.bytes, peakMb: Number(hwm) / 1024 }));
  `;
  const r = await runDeno([
    "eval",
    "--config",
    join(ROOT, "deno.json"),
    script,
  ]);
  assertEquals(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assertEquals(out.state, "ok");
  assert(out.bytes > 1024 ** 3, "the whole file was hashed");
  assert(out.peakMb < 200, `peak RSS ${out.peakMb} MB`);
});

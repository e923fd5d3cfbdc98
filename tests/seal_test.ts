import { join } from "../lib/_deps.ts";
import { FileHasher, listFiles } from "../lib/_hash.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import {
  CorruptFileError,
  ImmutableArtifactError,
  VaultError,
} from "../lib/errors.ts";
import { readManifest, writeManifest } from "../lib/specimen/manifest.ts";
import {
  assertWritable,
  computeSeal,
  readSeal,
  sealDigest,
  sealListing,
  sealSpecimen,
  STATUS_FAILED,
} from "../lib/specimen/seal.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { verifySpecimen } from "../lib/specimen/verify.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  tempDir,
  tempVault,
  webSha256,
} from "./utils.ts";

async function specimenWithResults(vault: string, id = "s1") {
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "training",
    method: "fine_tuning",
  });
  const storage = await SpecimenStorage.open(dir);
  await storage.writeMetrics({ step: [0, 1, 2], loss: [1, 0.5, 0.25] });
  await storage.writeTensor(
    "acts",
    Float32Array.from({ length: 64 * 8 }, (_, i) => Math.sin(i)),
    { shape: [64, 8], chunks: [16, 8] },
  );
  return { dir, storage };
}

Deno.test("FileHasher hashes files larger than its buffer, and empty files, like WebCrypto", async () => {
  await using tmp = await tempDir();
  const hasher = new FileHasher(1024);
  for (const size of [0, 1, 1023, 1024, 1025, 10 * 1024 + 7]) {
    const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 31) & 255);
    const path = join(tmp.path, `f${size}`);
    await Deno.writeFile(path, bytes);
    let reported = 0;
    const got = await hasher.hash(path, (n) => reported += n);
    assertEquals(got, { sha256: await webSha256(bytes), bytes: size });
    assertEquals(reported, size, "progress adds up to the size");
  }
});

Deno.test("computeSeal() covers protocol.ts, strata/ and runs/ but not the manifest, field notes or lock", async () => {
  await using vault = await tempVault();
  const { dir } = await specimenWithResults(vault.path);
  await Deno.mkdir(join(dir, "runs", "r1"), { recursive: true });
  await Deno.writeTextFile(join(dir, "runs", "r1", "stdout.log"), "hello\n");
  const seal = await computeSeal(dir, { run: "r1" });
  const paths = Object.keys(seal.files).sort();
  assert(paths.includes("protocol.ts"));
  assert(paths.includes("strata/metrics.parquet"));
  assert(paths.includes("strata/acts.zarr/zarr.json"));
  assert(
    paths.filter((p) => p.startsWith("strata/acts.zarr/c/")).length === 4,
    `four chunks of 16 rows: ${paths}`,
  );
  assert(paths.includes("runs/r1/stdout.log"));
  for (const skipped of ["manifest.msgpack", "field_notes.md", ".lock"]) {
    assert(!paths.includes(skipped), `${skipped} is not sealed`);
  }
  for (const p of paths) {
    const bytes = await Deno.readFile(join(dir, p));
    assertEquals(seal.files[p], {
      sha256: await webSha256(bytes),
      bytes: bytes.length,
    });
  }
  assertEquals(seal.file_count, paths.length);
  assertEquals(
    seal.bytes,
    paths.reduce((n, p) => n + seal.files[p].bytes, 0),
  );
  assertEquals(seal.run, "r1");
  // The digest: SHA-256 of the JSON [path, sha256] pairs, sorted by path.
  assertEquals(seal.listing, "json");
  assertEquals(
    seal.digest,
    await webSha256(
      new TextEncoder().encode(
        JSON.stringify(paths.map((p) => [p, seal.files[p].sha256])),
      ),
    ),
  );
});

Deno.test("the seal listing is accepted by sha256sum -c from the specimen folder", async () => {
  await using vault = await tempVault();
  const { dir } = await specimenWithResults(vault.path);
  const seal = await computeSeal(dir);
  const listing = join(vault.path, "listing.sha256");
  await Deno.writeTextFile(listing, sealListing(seal.files));
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("sha256sum", {
      args: ["--check", "--strict", listing],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return; // no coreutils here
    throw e;
  }
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  assertEquals(text.match(/: OK$/gm)?.length, seal.file_count);
});

Deno.test("sealSpecimen() records the seal and status sealed atomically, and refuses to seal twice", async () => {
  await using vault = await tempVault();
  const { dir } = await specimenWithResults(vault.path);
  const written = await sealSpecimen(dir);
  const m = await readManifest(dir);
  assertEquals(m.status, "sealed");
  assertEquals(m.seal, written.seal);
  assert(Object.keys(m.artifacts).length === 2, "artifacts kept");
  const leftovers = (await listFiles(dir, "")).filter((f) =>
    f.path.startsWith(".tmp-")
  );
  assertEquals(leftovers, [], "no temp manifest left behind");
  await assertRejects(
    () => sealSpecimen(dir),
    ImmutableArtifactError,
    `Specimen "s1" is sealed`,
  );
});

Deno.test("a sealed specimen refuses every write, pointing to create --from, and its strata stay unchanged", async () => {
  await using vault = await tempVault();
  const { dir, storage } = await specimenWithResults(vault.path);
  await sealSpecimen(dir);
  const before = await listFiles(dir, "strata");
  const attempts: [string, () => Promise<unknown>][] = [
    ["writeMetrics", () => storage.writeMetrics({ a: [1] }, { name: "more" })],
    [
      "writeTensor",
      () => storage.writeTensor("t2", new Float32Array(4), { shape: [2, 2] }),
    ],
    [
      "createTensor",
      () => storage.createTensor("t3", { shape: [2, 2], dtype: "float32" }),
    ],
  ];
  for (const [what, attempt] of attempts) {
    await assertRejects(
      attempt,
      ImmutableArtifactError,
      `deno task create --id s1_v2 --from s1`,
    );
    assertEquals(await listFiles(dir, "strata"), before, `${what} wrote`);
  }
  // A new handle, opened after sealing, is refused the same way.
  const fresh = await SpecimenStorage.open(dir);
  await assertRejects(
    () => fresh.writeMetrics({ a: [1] }, { name: "late" }),
    ImmutableArtifactError,
    "is sealed",
  );
});

Deno.test("a specimen whose run failed refuses writes: its partial results are kept as they are", async () => {
  await using vault = await tempVault();
  const { dir, storage } = await specimenWithResults(vault.path);
  const m = await readManifest(dir);
  m.status = STATUS_FAILED;
  await writeManifest(dir, m);
  await assertRejects(
    () => storage.writeMetrics({ a: [1] }, { name: "after" }),
    ImmutableArtifactError,
    `Specimen "s1" is marked failed`,
  );
  assertThrows(
    () => assertWritable(m),
    ImmutableArtifactError,
    "deno task seal s1",
  );
});

Deno.test("computeSeal() refuses a symbolic link under strata/, naming it", async () => {
  await using vault = await tempVault();
  const { dir } = await specimenWithResults(vault.path);
  await Deno.symlink("/etc/hostname", join(dir, "strata", "link.txt"));
  await assertRejects(
    () => computeSeal(dir),
    Error,
    "strata/link.txt: it is a symbolic link",
  );
});

Deno.test("readSeal() rejects malformed seals: bad hashes, paths leaving the folder", async (t) => {
  await using vault = await tempVault();
  const { dir } = await specimenWithResults(vault.path);
  const base = await readManifest(dir);
  const good = { sha256: "a".repeat(64), bytes: 1 };
  const cases: [string, unknown, string][] = [
    ["not a map", [1], "expected a map"],
    ["other algorithm", { algorithm: "md5", files: {} }, "unknown algorithm"],
    [
      "short hash",
      { algorithm: "sha256", files: { "a": { sha256: "ab", bytes: 1 } } },
      `entry "a" needs {sha256, bytes}`,
    ],
    [
      "parent path",
      { algorithm: "sha256", files: { "../x": good } },
      "leaves the specimen folder",
    ],
    [
      "absolute path",
      { algorithm: "sha256", files: { "/etc/passwd": good } },
      "leaves the specimen folder",
    ],
  ];
  for (const [name, seal, msg] of cases) {
    await t.step(name, () => {
      assertThrows(
        () => readSeal({ ...base, seal } as typeof base),
        CorruptFileError,
        msg,
      );
    });
  }
  assertEquals(readSeal(base), null);
});

Deno.test("storage used without runProtocol captures provenance with the first artifact", async () => {
  await using vault = await tempVault();
  const { dir } = await createSpecimen({
    vault: vault.path,
    id: "bare",
    domain: "training",
    method: "fine_tuning",
  });
  assertEquals((await readManifest(dir)).provenance, undefined);
  const storage = await SpecimenStorage.open(dir);
  await storage.writeMetrics({ x: [1, 2] });
  const p = (await readManifest(dir)).provenance as Record<string, unknown>;
  assertEquals(p.captured_by, "SpecimenStorage");
  const protocol = await Deno.readFile(join(dir, "protocol.ts"));
  assertEquals(
    (p.protocol as { sha256: string }).sha256,
    await webSha256(protocol),
  );
  const first = p.captured;
  await storage.writeMetrics({ y: [3] }, { name: "second" });
  assertEquals(
    ((await readManifest(dir)).provenance as Record<string, unknown>).captured,
    first,
    "captured once, not on every write",
  );
});

/** A file named by raw bytes (not UTF-8), made by bash: Deno paths are strings. */
async function makeRawNamed(dir: string, escaped: string, folder = false) {
  const out = await new Deno.Command("bash", {
    args: [
      "-c",
      `${folder ? "mkdir" : "printf x >"} "$1"/$'${escaped}'`,
      "_",
      dir,
    ],
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
}

Deno.test("two trees whose sha256sum listings collide (a name holding a newline) get different digests", async (t) => {
  await using tmp = await tempDir();
  const cases: {
    name: string;
    a: Record<string, string>;
    b: (h: (s: string) => Promise<string>) => Promise<Record<string, string>>;
  }[] = [
    {
      name: "one file named like two listing lines vs two files",
      a: { "a": "X", "b": "Y" },
      b: async (h) => ({ [`a\n${await h("Y")}  b`]: "X" }),
    },
    {
      name: "a name ending in a newline and a fake third line",
      a: { "p": "1", "q": "2", "r": "3" },
      b: async (h) => ({ "p": "1", [`q\n${await h("3")}  r`]: "2" }),
    },
  ];
  for (const [i, c] of cases.entries()) {
    await t.step(c.name, async () => {
      const h = async (s: string) =>
        await webSha256(new TextEncoder().encode(s));
      const trees = [c.a, await c.b(h)];
      const seals = [];
      for (const [j, files] of trees.entries()) {
        const dir = join(tmp.path, `c${i}_${j}`);
        await Deno.mkdir(dir);
        for (const [name, text] of Object.entries(files)) {
          await Deno.writeTextFile(join(dir, name), text);
        }
        seals.push(await computeSeal(dir));
      }
      // The old rule collides...
      assertEquals(
        sealDigest(seals[0].files, "sha256sum"),
        sealDigest(seals[1].files, "sha256sum"),
      );
      // ...the rule new seals use does not, and says which it is.
      assert(seals[0].digest !== seals[1].digest);
      assertEquals([seals[0].listing, seals[1].listing], ["json", "json"]);
      assertEquals(seals[0].digest, sealDigest(seals[0].files, "json"));
    });
  }
});

Deno.test("a seal made before the listing rule was recorded still verifies by the old rule; an edited seal does not", async () => {
  await using vault = await tempVault();
  const { dir } = await specimenWithResults(vault.path);
  await sealSpecimen(dir);
  const m = await readManifest(dir);
  const seal = readSeal(m)!;
  // As older versions (and the Python vault) wrote it: no `listing`.
  delete seal.listing;
  seal.digest = await webSha256(
    new TextEncoder().encode(sealListing(seal.files)),
  );
  await writeManifest(dir, m);
  assertEquals((await verifySpecimen(dir)).state, "ok");
  // A seal claiming the new rule with an old-rule digest is caught.
  seal.listing = "json";
  await writeManifest(dir, m);
  const edited = await verifySpecimen(dir);
  assertEquals(edited.state, "error");
  assertMatch(
    edited.error!,
    /does not match its list of files \(listing rule "json"\): the seal was edited/,
  );
  // So is a file dropped from the list.
  seal.listing = "sha256sum";
  delete seal.files["protocol.ts"];
  await writeManifest(dir, m);
  assertEquals((await verifySpecimen(dir)).state, "error");
  // An unknown rule is a malformed seal.
  (seal as unknown as Record<string, unknown>).listing = "xml";
  assertThrows(
    () => readSeal(m),
    CorruptFileError,
    'unknown listing rule "xml"',
  );
});

Deno.test("a file or folder whose name is not UTF-8 is refused by sealing, named, not a false 'No such file'; verify counts it as extra", async (t) => {
  const cases = [
    {
      name: "a Latin-1 file name under strata/",
      at: "strata",
      raw: "caf\\xe9.bin",
      folder: false,
    },
    {
      name: "a lone continuation byte at the top",
      at: "",
      raw: "x\\x80y",
      folder: false,
    },
    {
      name: "a folder whose name is not UTF-8",
      at: "strata",
      raw: "d\\xff",
      folder: true,
    },
  ];
  for (const [i, c] of cases.entries()) {
    await t.step(c.name, async () => {
      await using vault = await tempVault();
      const { dir } = await specimenWithResults(vault.path, `s${i}`);
      await makeRawNamed(join(dir, c.at), c.raw, c.folder);
      const err = await assertRejects(() => sealSpecimen(dir), VaultError);
      assertMatch(
        err.message,
        /its name is not valid UTF-8 \(shown with U\+FFFD/,
      );
      assert(err.message.includes("\uFFFD"), err.message);
      assert(!/No such file/.test(err.message), err.message);
      assertEquals((await readManifest(dir)).status, "active");
      // Sealed without it, then added: verify reports it, not an error.
      const aside = join(vault.path, "aside");
      await Deno.mkdir(aside);
      await new Deno.Command("bash", {
        args: ["-c", `mv "$1"/$'${c.raw}' "$2"/`, "_", join(dir, c.at), aside],
      }).output();
      await sealSpecimen(dir);
      await new Deno.Command("bash", {
        args: ["-c", `mv "$2"/$'${c.raw}' "$1"/`, "_", join(dir, c.at), aside],
      }).output();
      const r = await verifySpecimen(dir);
      assertEquals(r.state, "mismatch");
      assertEquals(r.extra.length, 1);
      assert(r.extra[0].includes("\uFFFD"), r.extra[0]);
    });
  }
});

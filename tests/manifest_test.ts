import { encodeMsgpack, join } from "../lib/_deps.ts";
import { CorruptFileError, NotFoundError } from "../lib/errors.ts";
import {
  decodeManifest,
  encodeManifest,
  type Manifest,
  readManifest,
  writeManifest,
} from "../lib/specimen/manifest.ts";
import {
  assertEquals,
  assertRejects,
  assertThrows,
  INTEROP,
  tempDir,
} from "./utils.ts";

const good: Manifest = {
  specimen_id: "m1",
  created: "2026-11-26T10:00:00+05:00",
  taxonomy: { domain: "training", method: "fine_tuning" },
  status: "active",
  artifacts: {},
  tags: ["a"],
  model: null,
  description: null,
  dependencies: {},
};

Deno.test("decodeManifest() reads manifests written by the Python vault", async () => {
  for (const n of [0, 1, 2]) {
    const id = `2024_01_01_run_00000${n}`;
    const dir = join(INTEROP, "python_vault", "specimens", id);
    const m = await readManifest(dir);
    assertEquals(m.specimen_id, id);
    assertEquals(m.created, `2024-01-01T0${n}:00:00+00:00`);
    assertEquals(m.dependencies.polars, ">=0.20");
  }
});

Deno.test("encodeManifest() round-trips every key, extra keys included", () => {
  const m = { ...good, parent: "m0", provenance: { host: "x" } };
  assertEquals(decodeManifest(encodeManifest(m)), m);
});

Deno.test("decodeManifest() names the file and the reason for each bad manifest", async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ["not a map", [1, 2], /expected a map at the top level, found a list/],
    [
      "missing id",
      { ...good, specimen_id: undefined },
      /missing key "specimen_id"/,
    ],
    ["bad id", { ...good, specimen_id: "../x" }, /"specimen_id" must match/],
    [
      "tags not a list",
      { ...good, tags: "a,b" },
      /"tags" must be a list of strings/,
    ],
    [
      "tags with numbers",
      { ...good, tags: ["a", 1] },
      /"tags" must be a list of strings/,
    ],
    [
      "created unparseable",
      { ...good, created: "yesterday" },
      /"created" is not an ISO-8601 instant/,
    ],
    [
      "created without offset",
      { ...good, created: "2026-11-26T10:00:00" },
      /not an ISO-8601 instant with an offset/,
    ],
    [
      "created a number",
      { ...good, created: 5 },
      /"created" must be an ISO-8601 string, found number 5/,
    ],
    [
      "taxonomy missing",
      { ...good, taxonomy: undefined },
      /"taxonomy" must be a map/,
    ],
    ["status a number", { ...good, status: 3 }, /"status" must be a string/],
    [
      "artifacts a list",
      { ...good, artifacts: [] },
      /"artifacts" must be a map/,
    ],
    ["model a map", { ...good, model: {} }, /"model" must be a string or nil/],
    [
      "dependencies of numbers",
      { ...good, dependencies: { a: 1 } },
      /"dependencies" must be a map of strings/,
    ],
  ];
  for (const [name, value, reason] of cases) {
    await t.step(name, () => {
      const clean = JSON.parse(JSON.stringify(value));
      assertThrows(
        () => decodeManifest(encodeMsgpack(clean), "x/manifest.msgpack"),
        CorruptFileError,
        reason,
      );
      assertThrows(
        () => decodeManifest(encodeMsgpack(clean), "x/manifest.msgpack"),
        /x\/manifest\.msgpack/,
      );
    });
  }
  await t.step("truncated msgpack", () => {
    const bytes = encodeManifest(good);
    assertThrows(
      () => decodeManifest(bytes.subarray(0, 20), "t"),
      CorruptFileError,
      "Cannot read t: not valid msgpack",
    );
  });
  await t.step("empty file", () => {
    assertThrows(
      () => decodeManifest(new Uint8Array(0), "e"),
      CorruptFileError,
      "not valid msgpack",
    );
  });
  await t.step("random bytes", () => {
    const bytes = new Uint8Array(256).map((_, i) => (i * 97 + 13) & 255);
    assertThrows(() => decodeManifest(bytes, "r"), CorruptFileError);
  });
});

Deno.test("decodeManifest() fills optional keys the Python vault may omit", () => {
  const minimal = {
    specimen_id: "m",
    created: "2026-01-01T00:00:00Z",
    taxonomy: { domain: "training", method: "fine_tuning" },
  };
  const m = decodeManifest(encodeMsgpack(minimal));
  assertEquals(m.tags, []);
  assertEquals(m.artifacts, {});
  assertEquals(m.status, "active");
  assertEquals(m.model, null);
});

Deno.test("readManifest() insists the id matches the folder", async () => {
  await using dir = await tempDir();
  const folder = join(dir.path, "other");
  await Deno.mkdir(folder);
  await writeManifest(folder, good);
  await assertRejects(
    () => readManifest(folder),
    CorruptFileError,
    '"specimen_id" is "m1" but the folder is "other"',
  );
  await assertRejects(
    () => readManifest(join(dir.path, "none")),
    NotFoundError,
    "No manifest at",
  );
});

Deno.test("writeManifest() leaves no temp file behind", async () => {
  await using dir = await tempDir();
  const folder = join(dir.path, "m1");
  await Deno.mkdir(folder);
  await writeManifest(folder, good);
  await writeManifest(folder, { ...good, status: "sealed" });
  assertEquals([...Deno.readDirSync(folder)].map((e) => e.name), [
    "manifest.msgpack",
  ]);
  assertEquals((await readManifest(folder)).status, "sealed");
});

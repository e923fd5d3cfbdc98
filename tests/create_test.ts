import { join } from "../lib/_deps.ts";
import { createSpecimen, normalizeTags } from "../lib/specimen/create.ts";
import { InvalidInputError, SpecimenExistsError } from "../lib/errors.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { validateSpecimenId } from "../lib/specimen/id.ts";
import { validateTaxonomy } from "../lib/specimen/taxonomy.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  tempVault,
} from "./utils.ts";

const base = { domain: "interpretability", method: "sae_analysis" };

Deno.test("createSpecimen() writes manifest, protocol, field notes and an empty strata", async () => {
  await using vault = await tempVault();
  const { dir, manifest } = await createSpecimen({
    vault: vault.path,
    id: "2026_11_26_my_run",
    ...base,
    tags: " gpt2, layer_12 ,gpt2",
    model: "gpt2",
    description: "first try",
  });
  assertEquals(dir, join(vault.specimens, "2026_11_26_my_run"));
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  assertEquals(names.sort(), [
    "field_notes.md",
    "manifest.msgpack",
    "protocol.ts",
    "strata",
  ]);
  assertEquals([...Deno.readDirSync(join(dir, "strata"))], []);
  const onDisk = await readManifest(dir);
  assertEquals(onDisk, manifest);
  assertEquals(onDisk.tags, ["gpt2", "layer_12"]);
  assertEquals(onDisk.taxonomy, {
    domain: "interpretability",
    method: "sae_analysis",
  });
  assertEquals(onDisk.status, "active");
  assertEquals(onDisk.artifacts, {});
  assertEquals(onDisk.model, "gpt2");
  assertEquals(onDisk.description, "first try");
  assertMatch(onDisk.created, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assertEquals(onDisk.dependencies["@duckdb/node-api"], "1.5.6-r.1");
  const protocol = await Deno.readTextFile(join(dir, "protocol.ts"));
  assert(protocol.includes('from "specimen-vault"'));
  assert(!protocol.includes("{{"), "every placeholder is filled");
  const notes = await Deno.readTextFile(join(dir, "field_notes.md"));
  assert(notes.includes("# Field notes: 2026_11_26_my_run"));
});

Deno.test("createSpecimen() rejects unsafe ids, naming the value and the rule", async (t) => {
  await using vault = await tempVault();
  const bad = [
    "../x",
    "a/b",
    "a\\b",
    ".hidden",
    "x;DROP TABLE catalog",
    "x'--",
    'a"b',
    "a b",
    "Upper",
    "ｘ",
    "café",
    "",
    "a".repeat(129),
    "a\nb",
    "a-b",
    "a.b",
  ];
  for (const id of bad) {
    await t.step(JSON.stringify(id).slice(0, 40), async () => {
      const err = await assertRejects(
        () => createSpecimen({ vault: vault.path, id, ...base }),
        InvalidInputError,
      );
      void err;
      assertEquals(
        [...Deno.readDirSync(vault.specimens)],
        [],
        "nothing left behind",
      );
    });
  }
  assertThrows(
    () => validateSpecimenId("a/b"),
    /Invalid specimen id "a\/b": it contains "\/"/,
  );
  assertThrows(() => validateSpecimenId(""), /it is empty/);
  assertThrows(
    () => validateSpecimenId("a".repeat(129)),
    /129 characters long/,
  );
  validateSpecimenId("a".repeat(128));
});

Deno.test("createSpecimen() enforces the taxonomy and lists the valid methods", async () => {
  await using vault = await tempVault();
  await assertRejects(
    () =>
      createSpecimen({
        vault: vault.path,
        id: "x",
        domain: "benchmarking",
        method: "fine_tuning",
      }),
    InvalidInputError,
    'Invalid method "fine_tuning" for domain "benchmarking": valid methods for benchmarking are ablation_study',
  );
  assertThrows(
    () => validateTaxonomy("chemistry", "x"),
    /Unknown domain "chemistry": valid domains are interpretability, training, benchmarking, alignment/,
  );
  assertThrows(() => validateTaxonomy("", ""), /Unknown domain ""/);
  assertThrows(
    () => validateTaxonomy("training", ""),
    /valid methods for training are fine_tuning, ablation_study/,
  );
  assertThrows(() => validateTaxonomy("toString", "x"), /Unknown domain/);
  for (
    const [d, m] of [
      ["interpretability", "sae_analysis"],
      ["interpretability", "probe_training"],
      ["interpretability", "ablation_study"],
      ["training", "fine_tuning"],
      ["training", "ablation_study"],
      ["benchmarking", "ablation_study"],
      ["alignment", "fine_tuning"],
      ["alignment", "probe_training"],
      ["alignment", "ablation_study"],
    ]
  ) validateTaxonomy(d, m);
});

Deno.test("normalizeTags() trims, deduplicates and refuses empty or oversized tags", () => {
  assertEquals(normalizeTags("a, b ,a"), ["a", "b"]);
  assertEquals(normalizeTags(["x's", 'y"z']), ["x's", 'y"z']);
  assertEquals(normalizeTags(""), []);
  assertEquals(normalizeTags(undefined), []);
  assertThrows(() => normalizeTags("a,,b"), /Tag 2 of "a,,b" is empty/);
  assertThrows(() => normalizeTags(["a", "  "]), /is empty/);
  assertThrows(() => normalizeTags(["x".repeat(129)]), /129 characters long/);
  assertThrows(
    () => normalizeTags(Array.from({ length: 10_000 }, (_, i) => `t${i}`)),
    /Too many tags \(10000\)/,
  );
  assertEquals(normalizeTags(Array.from({ length: 10_000 }, () => "same")), [
    "same",
  ]);
});

Deno.test("createSpecimen() refuses an existing id and leaves it untouched", async () => {
  await using vault = await tempVault();
  const first = await createSpecimen({
    vault: vault.path,
    id: "taken",
    ...base,
    tags: "one",
  });
  const before = await Deno.readFile(join(first.dir, "manifest.msgpack"));
  await assertRejects(
    () =>
      createSpecimen({ vault: vault.path, id: "taken", ...base, tags: "two" }),
    SpecimenExistsError,
    'Specimen "taken" already exists',
  );
  assertEquals(
    await Deno.readFile(join(first.dir, "manifest.msgpack")),
    before,
  );
  assertEquals([...Deno.readDirSync(vault.specimens)].map((e) => e.name), [
    "taken",
  ]);
});

Deno.test("createSpecimen() racing on one id in one process yields exactly one specimen", async () => {
  await using vault = await tempVault();
  const results = await Promise.allSettled(
    Array.from(
      { length: 8 },
      (_, i) =>
        createSpecimen({
          vault: vault.path,
          id: "race",
          ...base,
          description: `p${i}`,
        }),
    ),
  );
  assertEquals(results.filter((r) => r.status === "fulfilled").length, 1);
  for (const r of results) {
    if (r.status === "rejected") {
      assert(r.reason instanceof SpecimenExistsError);
    }
  }
  assertEquals([...Deno.readDirSync(vault.specimens)].map((e) => e.name), [
    "race",
  ]);
});

/**
 * Params in the manifest: recorded by createSpecimen, validated when a
 * manifest is read, and a bad value is one specimen's issue for the index,
 * never the end of it.
 */
import { join } from "../lib/_deps.ts";
import { CorruptFileError, InvalidInputError } from "../lib/errors.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import {
  decodeManifest,
  encodeManifest,
  type Manifest,
  readManifest,
  writeManifest,
} from "../lib/specimen/manifest.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  runTask,
  tempVault,
} from "./utils.ts";

const base: Manifest = {
  specimen_id: "a",
  created: "2026-01-01T00:00:00Z",
  taxonomy: { domain: "training", method: "fine_tuning" },
  status: "active",
  artifacts: {},
  tags: [],
  model: null,
  description: null,
  dependencies: {},
};

Deno.test("createSpecimen() records params in the manifest, and refuses invalid ones before creating anything", async () => {
  await using vault = await tempVault();
  const params = { lr: 3e-4, optimizer: { name: "adam", betas: [0.9, 0.999] } };
  const { dir } = await createSpecimen({
    vault: vault.path,
    id: "with_params",
    domain: "training",
    method: "fine_tuning",
    params,
  });
  assertEquals((await readManifest(dir)).params, params);
  for (const bad of [{ lr: NaN }, { "a.b": 1 }, { f: () => 1 }]) {
    await assertRejects(
      () =>
        createSpecimen({
          vault: vault.path,
          id: "bad_params",
          domain: "training",
          method: "fine_tuning",
          // deno-lint-ignore no-explicit-any
          params: bad as any,
        }),
      InvalidInputError,
    );
  }
  assertEquals(
    (await Array.fromAsync(Deno.readDir(vault.specimens))).map((e) => e.name),
    ["with_params"],
  );
});

Deno.test("decodeManifest() reads params of the right shape and names a wrong one", () => {
  const ok = decodeManifest(
    encodeManifest({ ...base, params: { layers: 12 } }),
  );
  assertEquals(ok.params, { layers: 12 });
  assertEquals(decodeManifest(encodeManifest(base)).params, undefined);
  for (const params of ["lr=3", [1, 2], { a: { "b c": 1 } }, 7]) {
    const e = assertThrows(
      () => decodeManifest(encodeManifest({ ...base, params } as Manifest)),
      CorruptFileError,
    );
    assertMatch(e.message, /"params"/);
  }
});

Deno.test("the index reports a specimen whose params are of a wrong type and indexes the rest", async () => {
  await using vault = await tempVault();
  for (const id of ["good", "bad"]) {
    await createSpecimen({
      vault: vault.path,
      id,
      domain: "training",
      method: "fine_tuning",
      params: { lr: 0.1 },
    });
  }
  const dir = join(vault.specimens, "bad");
  const m = await readManifest(dir);
  await writeManifest(dir, { ...m, params: "lr=0.1" } as unknown as Manifest);
  const r = await runTask("index", ["--vault", vault.path]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stderr, /bad.*params/s);
  assert(r.stdout.includes("1 specimen(s)"), r.stdout);
});

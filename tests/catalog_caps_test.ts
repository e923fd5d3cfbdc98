import { join } from "../lib/_deps.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import {
  isReadableSpecimenId,
  isSpecimenId,
  validateReadableSpecimenId,
} from "../lib/specimen/id.ts";
import { SpecimenStorage, validateArtifactName } from "../lib/run/storage.ts";
import { verifyVault } from "../lib/specimen/verify.ts";
import { writeZarr } from "../lib/formats/zarr/zarr.ts";
import { copyTree, writeSpecimen } from "./testdata/catalog_fixtures.ts";
import { serveVault } from "./testdata/dashboard_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertThrows,
  INTEROP,
  tempVault,
} from "./utils.ts";

const CAPS_ID = "2024_01_03_Sweep_LR";

async function capsVault() {
  const v = await tempVault();
  await copyTree(
    join(INTEROP, "python_vault_caps", "specimens", CAPS_ID),
    join(v.specimens, CAPS_ID),
  );
  return v;
}

Deno.test("the readable id rule takes the original vault's capitals; the rule for new ids does not", () => {
  for (const id of [CAPS_ID, "A", "run_1", "X".repeat(128)]) {
    assert(isReadableSpecimenId(id), id);
    validateReadableSpecimenId(id);
  }
  for (const id of ["", "a-b", "../x", "a b", "É", "X".repeat(129), 7]) {
    assert(!isReadableSpecimenId(id), String(id));
    assertThrows(() => validateReadableSpecimenId(id), Error, "Invalid");
  }
  assert(!isSpecimenId(CAPS_ID));
  validateArtifactName("Acts", { reading: true });
  assertThrows(() => validateArtifactName("Acts"), Error, "^[a-z0-9_]+$");
});

Deno.test("indexVault() indexes an id with capitals from the original vault; exp_ and VaultQuery read it in any case", async () => {
  await using v = await capsVault();
  const report = await indexVault({ vault: v.path });
  assertEquals([report.indexed, report.skipped], [1, 0]);
  assertEquals(report.warnings, []);
  using q = await VaultQuery.open({ vault: v.path });
  const ids = await q.search("SELECT specimen_id FROM catalog");
  assertEquals(ids, [{ specimen_id: CAPS_ID }]);
  const n = (sql: string) => q.search(sql).then((r) => Number(r[0].n));
  const rows = await n("SELECT count(*) AS n FROM metrics");
  assert(rows > 0);
  for (const name of [`exp_${CAPS_ID}`, `exp_${CAPS_ID.toLowerCase()}`]) {
    assertEquals(await n(`SELECT count(*) AS n FROM ${name}`), rows, name);
  }
  assertEquals((await q.specimenMetrics(CAPS_ID)).length, rows);
});

Deno.test("verifyVault() and the dashboard's specimen route take an id with capitals", async () => {
  await using v = await capsVault();
  await indexVault({ vault: v.path });
  const [result] = await verifyVault({ vault: v.path, ids: [CAPS_ID] });
  assertEquals(result.id, CAPS_ID);
  assert(result.state !== "error", JSON.stringify(result));
  await using server = await serveVault(v.path);
  const res = await fetch(new URL(`/api/specimens/${CAPS_ID}`, server.url));
  assertEquals(res.status, 200);
  const body = await res.json();
  assertEquals(JSON.stringify(body).includes(CAPS_ID), true);
  const bad = await fetch(new URL(`/api/specimens/a-b`, server.url));
  assertEquals(bad.status, 400);
  await bad.body?.cancel();
});

Deno.test("indexVault() reports ids that differ only in case and gives the exp_ view to one of them", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "Run_A" });
  await writeSpecimen(v.path, { id: "run_a" });
  await writeSpecimen(v.path, { id: "other" });
  const report = await indexVault({ vault: v.path });
  assertEquals(report.indexed, 3);
  const twin = report.warnings.filter((w) => /only in case/.test(w));
  assert(twin.length >= 1, report.warnings.join("\n"));
  assertMatch(twin[0], /^specimens\/run_a: /);
  assertMatch(twin[0], /"Run_A"/);
  using q = await VaultQuery.open({ vault: v.path });
  const ids = await q.search(
    "SELECT specimen_id, issues FROM catalog ORDER BY specimen_id",
  );
  assertEquals(ids.map((r) => r.specimen_id), ["Run_A", "other", "run_a"]);
  assertEquals(
    await q.search(
      "SELECT specimen_id, relation FROM metric_tables ORDER BY specimen_id",
    ),
    [
      { specimen_id: "Run_A", relation: "exp_Run_A" },
      { specimen_id: "other", relation: "exp_other" },
      { specimen_id: "run_a", relation: null },
    ],
  );
  assertEquals(
    (await q.search("SELECT count(*) AS n FROM exp_run_a"))[0].n,
    10,
  );
  // A later index run of the lowercase one alone keeps it apart.
  await writeSpecimen(v.path, {
    id: "run_a",
    tables: { eval: "SELECT 1 AS x" },
  });
  const again = await indexVault({ vault: v.path });
  assert(
    again.warnings.some((w) => /^specimens\/run_a: .*only in case/.test(w)),
  );
});

Deno.test("SpecimenStorage reads a tensor and a metric table whose names have capitals", async () => {
  await using v = await capsVault();
  const dir = join(v.specimens, CAPS_ID);
  await writeZarr(
    join(dir, "strata", "Acts.zarr"),
    new Float32Array([1, 2, 3, 4]),
    {
      shape: [2, 2],
    },
  );
  const storage = await SpecimenStorage.open(dir);
  const slice = await storage.readTensor("Acts");
  assertEquals([...slice.data as Float32Array], [1, 2, 3, 4]);
  await Deno.copyFile(
    join(dir, "strata", "metrics.parquet"),
    join(dir, "strata", "Evals.parquet"),
  );
  const metrics = await storage.readMetrics();
  assert(Object.keys(metrics).length > 0);
  assertEquals(await storage.readMetrics("Evals"), metrics);
  const report = await indexVault({ vault: v.path });
  using q = await VaultQuery.open({ vault: v.path });
  assertEquals(
    await q.search("SELECT name, shape FROM tensors"),
    [{ name: "Acts", shape: [2, 2] }],
    report.warnings.join("\n"),
  );
  assertEquals(
    (await q.search(`SELECT count(*) AS n FROM exp_${CAPS_ID}__evals`))[0].n,
    metrics[Object.keys(metrics)[0]].length,
  );
});

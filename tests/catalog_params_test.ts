/**
 * Params in the catalog: `catalog.params` (the whole map as JSON) and the
 * long `params` table (one row per leaf), kept up to date incrementally.
 */
import { join } from "../lib/_deps.ts";
import { openDatabase } from "../lib/duckdb/duckdb.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import {
  type Manifest,
  readManifest,
  writeManifest,
} from "../lib/specimen/manifest.ts";
import {
  catalogRows as rows,
  copyPythonSpecimens,
  PYTHON_IDS,
} from "./testdata/catalog_fixtures.ts";
import { paramSpecimen } from "./testdata/params_fixtures.ts";
import type { Params } from "../lib/specimen/params.ts";
import { assert, assertEquals, tempVault } from "./utils.ts";

async function index(vault: string) {
  const warnings: string[] = [];
  const report = await indexVault({
    vault,
    onWarning: (w) => warnings.push(w),
  });
  return { report, warnings };
}

const A: Params = {
  lr: 3e-4,
  optimizer: { name: "adam", betas: [0.9, 0.999] },
  layers: 12,
  amp: true,
};
const B: Params = {
  lr: 1e-3,
  optimizer: { name: "sgd", momentum: 0.9 },
  layers: 12,
};
const C: Params = { lr: 1e-4, optimizer: { name: "adam" }, note: "0.5" };

Deno.test("the index stores params as JSON in catalog.params and one row per leaf in the params table", async () => {
  await using v = await tempVault();
  await paramSpecimen(v.path, "a", A);
  await paramSpecimen(v.path, "b", B);
  const { warnings } = await index(v.path);
  assertEquals(warnings, []);
  const long = await rows(
    v.path,
    "SELECT specimen_id, key, value, num FROM params ORDER BY specimen_id, key",
  );
  assertEquals(long, [
    { specimen_id: "a", key: "amp", value: "true", num: null },
    { specimen_id: "a", key: "layers", value: "12", num: 12 },
    { specimen_id: "a", key: "lr", value: "0.0003", num: 3e-4 },
    {
      specimen_id: "a",
      key: "optimizer.betas",
      value: "[0.9,0.999]",
      num: null,
    },
    { specimen_id: "a", key: "optimizer.name", value: "adam", num: null },
    { specimen_id: "b", key: "layers", value: "12", num: 12 },
    { specimen_id: "b", key: "lr", value: "0.001", num: 1e-3 },
    { specimen_id: "b", key: "optimizer.momentum", value: "0.9", num: 0.9 },
    { specimen_id: "b", key: "optimizer.name", value: "sgd", num: null },
  ]);
  const whole = await rows(
    v.path,
    "SELECT specimen_id, params::VARCHAR AS p FROM catalog ORDER BY specimen_id",
  );
  assertEquals(whole.map((r) => JSON.parse(String(r.p))), [A, B]);
  const types = await rows(
    v.path,
    "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'params' OR (table_name = 'catalog' AND column_name = 'params') ORDER BY table_name, column_index",
  );
  assertEquals(types.map((t) => `${t.column_name}:${t.data_type}`), [
    "params:JSON",
    "specimen_id:VARCHAR",
    "key:VARCHAR",
    "value:VARCHAR",
    "num:DOUBLE",
  ]);
});

Deno.test("SELECT specimen_id FROM params WHERE key = 'lr' AND num < 1e-3 compares numbers numerically", async () => {
  await using v = await tempVault();
  await paramSpecimen(v.path, "a", A);
  await paramSpecimen(v.path, "b", B);
  await paramSpecimen(v.path, "c", C);
  // A string that looks like a number is not a number.
  await paramSpecimen(v.path, "d", { lr: "0.0001" });
  await index(v.path);
  const found = await rows(
    v.path,
    "SELECT specimen_id FROM params WHERE key = 'lr' AND num < 1e-3 ORDER BY specimen_id",
  );
  assertEquals(found.map((r) => r.specimen_id), ["a", "c"]);
  const strings = await rows(
    v.path,
    "SELECT specimen_id FROM params WHERE key = 'note' AND value = '0.5' AND num IS NULL",
  );
  assertEquals(strings.map((r) => r.specimen_id), ["c"]);
});

Deno.test("c.params->>'$.optimizer.name' reads a nested param from catalog, null where there is none", async () => {
  await using v = await tempVault();
  await paramSpecimen(v.path, "a", A);
  await paramSpecimen(v.path, "b", B);
  await paramSpecimen(v.path, "none", undefined);
  await index(v.path);
  const found = await rows(
    v.path,
    "SELECT c.specimen_id, c.params->>'$.optimizer.name' AS opt FROM catalog c ORDER BY c.specimen_id",
  );
  assertEquals(found, [
    { specimen_id: "a", opt: "adam" },
    { specimen_id: "b", opt: "sgd" },
    { specimen_id: "none", opt: null },
  ]);
});

Deno.test("params join the final loss from metrics: arg_max(loss, step) per specimen", async () => {
  await using v = await tempVault();
  await paramSpecimen(v.path, "a", A, 1, 10); // final loss 1/10
  await paramSpecimen(v.path, "b", B, 2, 10); // 2/10
  await paramSpecimen(v.path, "c", C, 1, 4); // 1/4
  await index(v.path);
  const found = await rows(
    v.path,
    `SELECT p.specimen_id, p.num AS lr, m.final_loss
     FROM params p
     JOIN (SELECT specimen_id, arg_max(loss, step) AS final_loss FROM metrics GROUP BY specimen_id) m
       USING (specimen_id)
     WHERE p.key = 'lr'
     ORDER BY m.final_loss`,
  );
  assertEquals(found.map((r) => r.specimen_id), ["a", "b", "c"]);
  assertEquals(found.map((r) => r.lr), [3e-4, 1e-3, 1e-4]);
  const losses = found.map((r) => r.final_loss as number);
  assert(Math.abs(losses[0] - 0.1) < 1e-12, String(losses));
  assert(Math.abs(losses[1] - 0.2) < 1e-12, String(losses));
  assert(Math.abs(losses[2] - 0.25) < 1e-12, String(losses));
});

Deno.test("the Python vault's specimens (no params) index with a null params column and no params rows", async () => {
  await using v = await tempVault();
  await copyPythonSpecimens(v.path);
  await paramSpecimen(v.path, "with_params", { lr: 0.1 });
  const { report, warnings } = await index(v.path);
  assertEquals(warnings, []);
  assertEquals(report.indexed, PYTHON_IDS.length + 1);
  const cat = await rows(
    v.path,
    "SELECT specimen_id, params IS NULL AS none FROM catalog ORDER BY specimen_id",
  );
  assertEquals(
    cat.filter((r) => r.none).map((r) => r.specimen_id),
    [...PYTHON_IDS].sort(),
  );
  const long = await rows(
    v.path,
    "SELECT DISTINCT specimen_id FROM params",
  );
  assertEquals(long.map((r) => r.specimen_id), ["with_params"]);
});

Deno.test("a params value of a wrong type is one specimen's warning; the rest are indexed with their params", async () => {
  await using v = await tempVault();
  await paramSpecimen(v.path, "good", { lr: 0.1 });
  for (
    const [id, bad] of [["bad_string", "lr=0.1"], ["bad_list", [1, 2]], [
      "bad_key",
      { "a b": 1 },
    ]] as const
  ) {
    const dir = await paramSpecimen(v.path, id, { lr: 0.2 });
    const m = await readManifest(dir);
    await writeManifest(dir, { ...m, params: bad } as unknown as Manifest);
  }
  const { report, warnings } = await index(v.path);
  assertEquals(report.indexed, 1);
  for (const id of ["bad_string", "bad_list", "bad_key"]) {
    assert(
      warnings.some((w) => w.includes(id) && /params/.test(w)),
      `no warning names ${id}: ${warnings.join("\n")}`,
    );
  }
  const long = await rows(v.path, "SELECT specimen_id, num FROM params");
  assertEquals(long, [{ specimen_id: "good", num: 0.1 }]);
});

Deno.test("a re-index replaces the params rows of a changed specimen, removes a deleted one's, keeps the others", async () => {
  await using v = await tempVault();
  const a = await paramSpecimen(v.path, "a", { lr: 0.1, seed: 1 });
  await paramSpecimen(v.path, "b", { lr: 0.2 });
  const gone = await paramSpecimen(v.path, "gone", { lr: 0.3 });
  await index(v.path);
  const m = await readManifest(a);
  await writeManifest(a, { ...m, params: { lr: 0.5, batch: 64 } });
  await Deno.remove(gone, { recursive: true });
  const { report } = await index(v.path);
  assertEquals(report.indexed, 2);
  const long = await rows(
    v.path,
    "SELECT specimen_id, key, num FROM params ORDER BY specimen_id, key",
  );
  assertEquals(long, [
    { specimen_id: "a", key: "batch", num: 64 },
    { specimen_id: "a", key: "lr", num: 0.5 },
    { specimen_id: "b", key: "lr", num: 0.2 },
  ]);
  const whole = await rows(
    v.path,
    "SELECT params->>'$.lr' AS lr FROM catalog WHERE specimen_id = 'a'",
  );
  assertEquals(whole, [{ lr: "0.5" }]);
});

Deno.test("a catalog of the previous schema version (no params) is rebuilt with params", async () => {
  await using v = await tempVault();
  await paramSpecimen(v.path, "a", { lr: 0.1 });
  await index(v.path);
  {
    using db = await openDatabase(join(v.path, "vault.duckdb"));
    await db.connection.run(
      "DROP TABLE params; ALTER TABLE catalog DROP COLUMN params; UPDATE vault_info SET value = '3' WHERE key = 'schema_version'",
    );
  }
  const { warnings } = await index(v.path);
  assertEquals(warnings, []);
  assertEquals(await rows(v.path, "SELECT key, num FROM params"), [
    { key: "lr", num: 0.1 },
  ]);
});

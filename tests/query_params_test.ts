/**
 * VaultQuery and params: `specimens({ params })`, `paramsOf(id)` and
 * `compare(ids)`, over a real catalog.
 */
import { InvalidInputError, NotFoundError } from "../lib/errors.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import {
  copyPythonSpecimens,
  PYTHON_IDS,
} from "./testdata/catalog_fixtures.ts";
import { paramSpecimen } from "./testdata/params_fixtures.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  runTask,
  tempVault,
} from "./utils.ts";

async function vaultWithParams() {
  const v = await tempVault();
  await paramSpecimen(
    v.path,
    "a",
    {
      lr: 3e-4,
      batch: 32,
      optimizer: { name: "adam", betas: [0.9, 0.999] },
      amp: true,
    },
    1,
    10,
  );
  await paramSpecimen(
    v.path,
    "b",
    {
      lr: 1e-3,
      batch: 64,
      optimizer: { name: "sgd" },
      amp: false,
    },
    2,
    10,
  );
  await paramSpecimen(
    v.path,
    "c",
    {
      lr: 0.0003,
      batch: 64,
      optimizer: { name: "adam" },
      tag: "3e-4",
    },
    1,
    4,
  );
  await paramSpecimen(v.path, "none", undefined, 1, 5);
  await indexVault({ vault: v.path });
  return v;
}

const ids = (rows: Record<string, unknown>[]) =>
  rows.map((r) => String(r.specimen_id)).sort();

Deno.test("specimens({ params }) filters on leaf values: numbers numerically, nested records and dotted keys alike", async () => {
  await using v = await vaultWithParams();
  using q = await VaultQuery.open({ vault: v.path });
  assertEquals(ids(await q.specimens({ params: { lr: 3e-4 } })), ["a", "c"]);
  assertEquals(ids(await q.specimens({ params: { lr: 0.00030 } })), [
    "a",
    "c",
  ]);
  assertEquals(
    ids(await q.specimens({ params: { lr: 3e-4, batch: 64 } })),
    ["c"],
  );
  assertEquals(
    ids(await q.specimens({ params: { optimizer: { name: "adam" } } })),
    ["a", "c"],
  );
  assertEquals(
    ids(await q.specimens({ params: { "optimizer.name": "sgd" } })),
    ["b"],
  );
  assertEquals(ids(await q.specimens({ params: { amp: false } })), ["b"]);
  assertEquals(
    ids(await q.specimens({ params: { "optimizer.betas": [0.9, 0.999] } })),
    ["a"],
  );
  // A string is not the number it spells, nor the other way round.
  assertEquals(ids(await q.specimens({ params: { tag: "3e-4" } })), ["c"]);
  assertEquals(ids(await q.specimens({ params: { lr: "0.0003" } })), []);
  assertEquals(ids(await q.specimens({ params: { missing: 1 } })), []);
  // Combined with the other filters, and the params column comes back parsed.
  const rows = await q.specimens({ params: { batch: 32 }, domain: "training" });
  assertEquals(ids(rows), ["a"]);
  assertEquals((rows[0].params as Record<string, unknown>).batch, 32);
});

Deno.test("specimens({ params }) refuses keys and values params cannot hold, naming them", async () => {
  await using v = await vaultWithParams();
  using q = await VaultQuery.open({ vault: v.path });
  for (
    const [bad, pattern] of [
      [{ "a b": 1 }, /"a b"/],
      [{ "a..b": 1 }, /"a\.\.b"/],
      [{ lr: NaN }, /NaN.*"lr"/],
      [{ lr: () => 1 }, /"lr".*function/],
    ] as const
  ) {
    const e = await assertRejects(
      () => q.specimens({ params: bad as Record<string, unknown> }),
      InvalidInputError,
    );
    assert(pattern.test(e.message), e.message);
  }
});

Deno.test("paramsOf(id) returns the params map, {} for a specimen without, and NotFoundError for an unknown id", async () => {
  await using v = await vaultWithParams();
  await copyPythonSpecimens(v.path);
  await indexVault({ vault: v.path });
  using q = await VaultQuery.open({ vault: v.path });
  assertEquals(await q.paramsOf("b"), {
    lr: 1e-3,
    batch: 64,
    optimizer: { name: "sgd" },
    amp: false,
  });
  assertEquals(await q.paramsOf("none"), {});
  assertEquals(await q.paramsOf(PYTHON_IDS[0]), {});
  const e = await assertRejects(() => q.paramsOf("nope"), NotFoundError);
  assert(e.message.includes('"nope"'), e.message);
});

Deno.test("compare(ids) flags the differing params and summarizes the metric per specimen in the order given", async () => {
  await using v = await vaultWithParams();
  using q = await VaultQuery.open({ vault: v.path });
  const { params, metric } = await q.compare(["c", "a", "none"]);
  assertEquals(
    params.map((r) => `${r.key}:${r.differs}`),
    [
      "amp:true",
      "batch:true",
      "lr:true",
      "optimizer.betas:true",
      "optimizer.name:true",
      "tag:true",
    ],
  );
  const two = await q.compare(["a", "c"]);
  assertEquals(
    two.params.filter((r) => !r.differs).map((r) => r.key),
    ["lr", "optimizer.name"],
  );
  assertEquals(two.params.find((r) => r.key === "batch")?.values, [32, 64]);
  assertEquals(metric.map((m) => m.specimen_id), ["c", "a", "none"]);
  const close = (a: number | null, b: number) =>
    assert(a !== null && Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  close(metric[0].final, 0.25);
  close(metric[0].min, 0.25);
  close(metric[0].max, 1);
  close(metric[1].final, 0.1);
  close(metric[2].final, 0.2);
  assertEquals(metric[1].rows, 10);
  // Another column of the table.
  const acc = await q.compare(["a"], { metric: "accuracy" });
  close(acc.metric[0].final, 0.9);
  close(acc.metric[0].min, 0);
});

Deno.test("compare() names an unknown id, metric column or table", async () => {
  await using v = await vaultWithParams();
  using q = await VaultQuery.open({ vault: v.path });
  await assertRejects(() => q.compare(["a", "zzz"]), NotFoundError, '"zzz"');
  await assertRejects(
    () => q.compare(["a"], { metric: "perplexity" }),
    InvalidInputError,
    '"perplexity"',
  );
  await assertRejects(
    () => q.compare(["a"], { table: "eval" }),
    NotFoundError,
    '"eval"',
  );
});

Deno.test("the README's three params queries pass the SQL gate of deno task query and answer", async () => {
  await using v = await vaultWithParams();
  const query = async (sql: string) => {
    const r = await runTask("query", [
      "--vault",
      v.path,
      "--format",
      "json",
      sql,
    ]);
    assertEquals(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Record<string, unknown>[];
  };
  assertEquals(
    ids(
      await query(
        "SELECT specimen_id FROM params WHERE key = 'lr' AND num < 1e-3",
      ),
    ),
    ["a", "c"],
  );
  const names = await query(
    "SELECT c.specimen_id, c.params->>'$.optimizer.name' AS opt FROM catalog c ORDER BY 1",
  );
  assertEquals(names.map((r) => r.opt), ["adam", "sgd", "adam", null]);
  const joined = await query(
    `SELECT p.specimen_id, p.num AS lr, m.final_loss FROM params p
     JOIN (SELECT specimen_id, arg_max(loss, step) AS final_loss FROM metrics GROUP BY 1) m
     USING (specimen_id) WHERE p.key = 'lr' ORDER BY m.final_loss`,
  );
  assertEquals(joined.map((r) => r.specimen_id), ["a", "b", "c"]);
  assertEquals(joined.map((r) => r.lr), [3e-4, 1e-3, 3e-4]);
});

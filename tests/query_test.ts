import { join } from "../lib/_deps.ts";
import { openDatabase, plainRows } from "../lib/duckdb/duckdb.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { InvalidInputError, NotFoundError, VaultError } from "../lib/errors.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import {
  copyPythonSpecimens,
  metricsSql,
  PYTHON_IDS,
  PYTHON_SPECIMENS,
  writeSpecimen,
} from "./testdata/catalog_fixtures.ts";
import { assert, assertEquals, assertMatch, tempVault } from "./utils.ts";

/**
 * The Python vault's three specimens plus three with 100 steps each:
 * loss = scale / (step + 1), so the final loss is scale / 100.
 */
async function exampleVault() {
  const v = await tempVault();
  await copyPythonSpecimens(v.path);
  await writeSpecimen(v.path, {
    id: "sae_a",
    domain: "interpretability",
    method: "sae_analysis",
    tags: ["gpt2"],
    created: "2024-02-01T00:00:00+05:00",
    metrics: metricsSql(100, 1),
  });
  await writeSpecimen(v.path, {
    id: "sae_b",
    domain: "interpretability",
    method: "sae_analysis",
    tags: ["gpt2", "sweep"],
    created: "2024-02-02T00:00:00Z",
    metrics: metricsSql(100, 2),
  });
  await writeSpecimen(v.path, {
    id: "probe_a",
    domain: "interpretability",
    method: "probe_training",
    tags: ["pythia"],
    created: "2024-02-03T00:00:00Z",
    metrics: metricsSql(100, 3),
    dependencies: { numpy: "1.26" },
    extra: { provenance: { git: { commit: "abc" } } },
  });
  await indexVault({ vault: v.path });
  return v;
}

/** Ground truth straight from a Parquet file, not through the catalog. */
async function fromParquet(id: string, sql: string) {
  using db = await openDatabase(":memory:");
  const file = join(PYTHON_SPECIMENS, id, "strata", "metrics.parquet");
  return plainRows(
    await db.connection.runAndReadAll(sql.replace("FILE", `'${file}'`)),
  );
}

async function assertVaultError(
  fn: () => Promise<unknown>,
  kind: typeof VaultError,
  ...patterns: RegExp[]
): Promise<VaultError> {
  try {
    await fn();
  } catch (e) {
    assert(e instanceof kind, `expected ${kind.name}, got ${e}`);
    for (const p of patterns) assertMatch(e.message, p);
    return e;
  }
  throw new Error(`expected ${kind.name}, nothing was thrown`);
}

Deno.test("VaultQuery runs every example query of the original README", async (t) => {
  await using v = await exampleVault();
  await using q = await VaultQuery.open({ vault: v.path });

  await t.step("1: specimens by domain", async () => {
    const rows = await q.search(
      "SELECT * FROM catalog WHERE domain = 'interpretability'",
    );
    assertEquals(rows.map((r) => r.specimen_id).sort(), [
      PYTHON_IDS[0],
      "probe_a",
      "sae_a",
      "sae_b",
    ]);
  });

  await t.step("2: specimens by tag with array_contains", async () => {
    const rows = await q.search(
      "SELECT specimen_id FROM catalog WHERE array_contains(tags, 'gpt2') ORDER BY 1",
    );
    assertEquals(rows.map((r) => r.specimen_id), [
      PYTHON_IDS[0],
      PYTHON_IDS[1],
      "sae_a",
      "sae_b",
    ]);
  });

  await t.step("3: the most recent by created", async () => {
    const rows = await q.search(
      "SELECT specimen_id, created FROM catalog ORDER BY created DESC LIMIT 10",
    );
    // sae_a's +05:00 makes it 2024-01-31T19:00Z: the instant decides.
    assertEquals(rows.map((r) => r.specimen_id), [
      "probe_a",
      "sae_b",
      "sae_a",
      PYTHON_IDS[2],
      PYTHON_IDS[1],
      PYTHON_IDS[0],
    ]);
    assertEquals(
      (rows[2].created as Date).toISOString(),
      "2024-01-31T19:00:00.000Z",
    );
  });

  await t.step("4: one specimen's exp_ view", async () => {
    const rows = await q.search("SELECT * FROM exp_sae_a WHERE step > 50");
    assertEquals(rows.length, 49);
    assertEquals(Object.keys(rows[0]), ["step", "loss", "accuracy"]);
    assertEquals(rows[0], { step: 51, loss: 1 / 52, accuracy: 0.51 });
    const python = await q.search(
      `SELECT * FROM exp_${PYTHON_IDS[0]} WHERE step > 40 ORDER BY step`,
    );
    assertEquals(
      python,
      await fromParquet(
        PYTHON_IDS[0],
        "SELECT * FROM read_parquet(FILE) WHERE step > 40 ORDER BY step",
      ),
    );
  });

  await t.step(
    "5: average final loss per method, across specimens",
    async () => {
      const rows = await q.search(
        `SELECT c.method, avg(f.final_loss) AS avg_final_loss, count(*) AS n
       FROM (SELECT specimen_id, arg_max(loss, step) AS final_loss
             FROM metrics GROUP BY specimen_id) f
       JOIN catalog c USING (specimen_id)
       GROUP BY c.method ORDER BY c.method`,
      );
      const final = async (id: string) =>
        (await fromParquet(
          id,
          "SELECT arg_max(loss, step) AS l FROM read_parquet(FILE)",
        ))[0].l as number;
      const expected = [
        ["fine_tuning", [await final(PYTHON_IDS[2])]],
        ["probe_training", [await final(PYTHON_IDS[1]), 0.03]],
        ["sae_analysis", [await final(PYTHON_IDS[0]), 0.01, 0.02]],
      ] as const;
      assertEquals(rows.length, 3);
      for (const [i, [method, losses]] of expected.entries()) {
        assertEquals(rows[i].method, method);
        assertEquals(rows[i].n, losses.length);
        const mean = losses.reduce((a, b) => a + b, 0) / losses.length;
        assert(Math.abs((rows[i].avg_final_loss as number) - mean) < 1e-12);
      }
    },
  );

  await t.step(
    "6: compare one metric at the same step across specimens",
    async () => {
      const rows = await q.search(
        `SELECT m.specimen_id, c.method, m.loss FROM metrics m
       JOIN catalog c USING (specimen_id) WHERE m.step = 40 ORDER BY m.loss`,
      );
      assertEquals(rows.length, 6);
      const sae = rows.find((r) => r.specimen_id === "sae_b")!;
      assertEquals(sae.loss, 2 / 41);
      const [truth] = await fromParquet(
        PYTHON_IDS[1],
        "SELECT loss FROM read_parquet(FILE) WHERE step = 40",
      );
      assertEquals(
        rows.find((r) => r.specimen_id === PYTHON_IDS[1])!.loss,
        truth.loss,
      );
    },
  );
});

Deno.test("VaultQuery.search() returns plain values: numbers, Dates, arrays, objects", async () => {
  await using v = await exampleVault();
  using q = await VaultQuery.open({ vault: v.path });
  const [row] = await q.search(
    `SELECT 42::BIGINT AS big, (2::BIGINT ** 60)::BIGINT AS huge, 1.5::DECIMAL(4,2) AS dec,
       created, tags, dependencies, artifacts, provenance, NULL AS nothing,
       [{'a': 1}] AS structs, INTERVAL 1 DAY AS span
     FROM catalog WHERE specimen_id = 'probe_a'`,
  );
  assertEquals(row.big, 42);
  assertEquals(row.huge, 2n ** 60n);
  assertEquals(row.dec, 1.5);
  assert(row.created instanceof Date);
  assertEquals((row.created as Date).toISOString(), "2024-02-03T00:00:00.000Z");
  assertEquals(row.tags, ["pythia"]);
  assertEquals(row.dependencies, { numpy: "1.26" });
  assertEquals(row.artifacts, {});
  assertEquals(row.provenance, { git: { commit: "abc" } });
  assertEquals(row.nothing, null);
  assertEquals(row.structs, [{ a: 1 }]);
  assertEquals(row.span, "1 day");
});

Deno.test("VaultQuery.search() binds positional and named parameters, Dates and lists", async () => {
  await using v = await exampleVault();
  using q = await VaultQuery.open({ vault: v.path });
  const positional = await q.search(
    "SELECT specimen_id FROM catalog WHERE domain = $1 AND method = ? ORDER BY 1",
    ["interpretability", "sae_analysis"],
  );
  assertEquals(positional.map((r) => r.specimen_id), [
    PYTHON_IDS[0],
    "sae_a",
    "sae_b",
  ]);
  const named = await q.search(
    "SELECT specimen_id FROM catalog WHERE created >= $since AND list_has_all(tags, $tags) ORDER BY 1",
    { since: new Date("2024-02-01T00:00:00Z"), tags: ["gpt2", "sweep"] },
  );
  assertEquals(named.map((r) => r.specimen_id), ["sae_b"]);
  await assertVaultError(
    () => q.search("SELECT $1", [{ not: "a value" }]),
    InvalidInputError,
    /Parameter \$1/,
  );
});

Deno.test("VaultQuery refuses statements that write, and the vault is unchanged", async (t) => {
  await using v = await exampleVault();
  using q = await VaultQuery.open({ vault: v.path });
  const catalog = join(v.path, "vault.duckdb");
  const before = await Deno.readFile(catalog);
  const listing = () => [...Deno.readDirSync(v.path)].map((e) => e.name).sort();
  const names = listing();
  const cases = [
    "DROP TABLE catalog",
    "CREATE TABLE x AS SELECT 1",
    "CREATE TEMP TABLE x AS SELECT 1",
    "INSERT INTO catalog SELECT * FROM catalog",
    "UPDATE catalog SET domain = 'x'",
    "DELETE FROM metrics",
    `COPY catalog TO '${join(v.path, "leak.csv")}'`,
    `COPY (SELECT 1) TO '${join(v.path, "specimens", "x.parquet")}'`,
    `ATTACH '${join(v.path, "other.duckdb")}' AS other`,
    `EXPORT DATABASE '${join(v.path, "export")}'`,
    "SET enable_external_access = true",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SELECT 1; DROP TABLE catalog",
  ];
  for (const sql of cases) {
    await t.step(sql, async () => {
      await assertVaultError(
        () => q.search(sql),
        InvalidInputError,
        /^Refusing to/,
        /read-only/,
      );
    });
  }
  assertEquals(listing(), names);
  assertEquals(await Deno.readFile(catalog), before);
  assertEquals((await q.search("SELECT count(*) AS n FROM catalog"))[0].n, 6);
});

Deno.test("VaultQuery lets SQL open no file: everything it needs is in the catalog", async (t) => {
  await using v = await exampleVault();
  using q = await VaultQuery.open({ vault: v.path });
  const files = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    `SELECT * FROM read_text('${v.path}/../../etc/hostname')`,
    `SELECT * FROM read_parquet('${PYTHON_SPECIMENS}/*/strata/metrics.parquet')`,
    `SELECT * FROM read_parquet('${
      join(v.specimens, "sae_a", "strata", "metrics.parquet")
    }')`,
    "SELECT * FROM glob('/*')",
  ];
  for (const sql of files) {
    await t.step(sql, async () => {
      await assertVaultError(
        () => q.search(sql),
        InvalidInputError,
        /^Refusing to run (read_csv|read_text|read_parquet|glob)\(\)/,
      );
    });
  }
  const settings = await q.search(
    "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', 'lock_configuration', 'access_mode') ORDER BY name",
  );
  assertEquals(settings, [
    { name: "access_mode", value: "read_only" },
    { name: "enable_external_access", value: "false" },
    { name: "lock_configuration", value: "true" },
  ]);
  await assertVaultError(
    () => q.search("PRAGMA enable_external_access = true"),
    VaultError,
    /locked|Refusing/,
  );
});

Deno.test("VaultQuery shows where in the SQL a DuckDB error is", async () => {
  await using v = await exampleVault();
  using q = await VaultQuery.open({ vault: v.path });
  const e = await assertVaultError(
    () => q.search("SELECT nope FROM catalog"),
    VaultError,
    /Referenced column "nope" not found/,
  );
  const lines = e.message.split("\n");
  const sqlLine = lines.find((l) => l.startsWith("LINE 1:"))!;
  const caret = lines[lines.indexOf(sqlLine) + 1];
  assertEquals(caret.trim(), "^");
  assertEquals(caret.indexOf("^"), sqlLine.indexOf("nope"));
  await assertVaultError(
    () => q.search("SELECT * FORM catalog"),
    VaultError,
    /^Parser Error: syntax error/,
    /LINE 1: SELECT \* FORM catalog/,
  );
  await assertVaultError(
    () => q.search("SELECT * FROM exp_no_such_specimen"),
    VaultError,
    /exp_no_such_specimen/,
  );
});

Deno.test("VaultQuery.open() without a catalog says to run deno task index", async () => {
  await using v = await tempVault();
  await assertVaultError(
    () => VaultQuery.open({ vault: v.path }),
    NotFoundError,
    /No catalog at .*vault\.duckdb/,
    /deno task index/,
  );
});

Deno.test("VaultQuery.specimens() filters by domain, method, tag and date, newest first", async () => {
  await using v = await exampleVault();
  using q = await VaultQuery.open({ vault: v.path });
  const ids = async (f: Parameters<VaultQuery["specimens"]>[0]) =>
    (await q.specimens(f)).map((r) => r.specimen_id);
  assertEquals(await ids({ domain: "interpretability", tag: "gpt2" }), [
    "sae_b",
    "sae_a",
    PYTHON_IDS[0],
  ]);
  assertEquals(await ids({ method: "probe_training" }), [
    "probe_a",
    PYTHON_IDS[1],
  ]);
  assertEquals(await ids({ tags: ["gpt2", "sweep"] }), [
    "sae_b",
    PYTHON_IDS[0],
  ]);
  assertEquals(
    await ids({ since: "2024-01-01T01:00:00Z", until: new Date("2024-02-01") }),
    ["sae_a", PYTHON_IDS[2], PYTHON_IDS[1]],
  );
  assertEquals(await ids({ limit: 2 }), ["probe_a", "sae_b"]);
  const [one] = await q.specimens({ limit: 1 });
  assert(!("manifest" in one) && "created" in one);
  await assertVaultError(
    () => q.specimens({ since: "last week" }),
    InvalidInputError,
    /Invalid "since" "last week"/,
  );
});

Deno.test("VaultQuery.specimenMetrics() returns one specimen's rows", async () => {
  await using v = await exampleVault();
  await writeSpecimen(v.path, {
    id: "with_eval",
    tables: { eval: "SELECT 'mmlu' AS task, 0.5 AS score" },
  });
  await indexVault({ vault: v.path });
  using q = await VaultQuery.open({ vault: v.path });
  const rows = await q.specimenMetrics(PYTHON_IDS[2]);
  assertEquals(
    rows,
    await fromParquet(PYTHON_IDS[2], "SELECT * FROM read_parquet(FILE)"),
  );
  assertEquals(await q.specimenMetrics("with_eval", { name: "eval" }), [
    { task: "mmlu", score: 0.5 },
  ]);
  assertEquals(
    await q.search("SELECT * FROM exp_with_eval__eval"),
    [{ task: "mmlu", score: 0.5 }],
  );
  await assertVaultError(
    () => q.specimenMetrics("nope"),
    NotFoundError,
    /No metric table "metrics" for specimen "nope"/,
  );
});

Deno.test("VaultQuery.metricAcross() gives one metric per specimen", async () => {
  await using v = await exampleVault();
  using q = await VaultQuery.open({ vault: v.path });
  const last = await q.metricAcross("loss", { domain: "interpretability" });
  assertEquals(last.map((r) => r.specimen_id), [
    PYTHON_IDS[0],
    "probe_a",
    "sae_a",
    "sae_b",
  ]);
  assertEquals(last[2], {
    specimen_id: "sae_a",
    domain: "interpretability",
    method: "sae_analysis",
    value: 0.01,
    step: 99,
  });
  const atStep = await q.metricAcross("loss", { at: 9, tag: "gpt2" });
  assertEquals(
    atStep.filter((r) => r.specimen_id === "sae_b").map((r) => r.value),
    [0.2],
  );
  const max = await q.metricAcross("accuracy", {
    at: "max",
    method: "probe_training",
  });
  assertEquals(max.find((r) => r.specimen_id === "probe_a")!.value, 0.99);
  await assertVaultError(
    () => q.metricAcross("perplexity"),
    InvalidInputError,
    /No metric column "perplexity" in "metrics": its columns are step, loss, accuracy/,
  );
});

Deno.test("VaultQuery.writeParquet() writes the result with its types", async () => {
  await using v = await exampleVault();
  const out = join(v.path, "..", `${v.path.split("/").pop()}_out.parquet`);
  try {
    using q = await VaultQuery.open({ vault: v.path });
    const n = await q.writeParquet(
      "SELECT specimen_id, created, tags, dependencies FROM catalog ORDER BY 1",
      out,
    );
    assertEquals(n, 6);
    using db = await openDatabase(":memory:");
    const back = await db.connection.runAndReadAll(
      `SELECT * FROM read_parquet('${out}')`,
    );
    assertEquals(back.columnTypes().map(String), [
      "VARCHAR",
      "TIMESTAMP WITH TIME ZONE",
      "VARCHAR[]",
      "MAP(VARCHAR, VARCHAR)",
    ]);
    assertEquals(plainRows(back)[0].specimen_id, PYTHON_IDS[0]);
  } finally {
    await Deno.remove(out).catch(() => {});
  }
});

Deno.test("VaultQuery closes with using: the catalog can then be opened for writing", async () => {
  await using v = await exampleVault();
  const catalog = join(v.path, "vault.duckdb");
  {
    await using q = await VaultQuery.open({ vault: v.path });
    await q.search("SELECT 1");
  }
  using db = await openDatabase(catalog);
  assertEquals(
    plainRows(
      await db.connection.runAndReadAll("SELECT count(*) AS n FROM catalog"),
    )[0].n,
    6,
  );
});

Deno.test("VaultQuery finds exp_ views whatever their case or quoting, and after a move", async () => {
  await using v = await exampleVault();
  const moved = `${v.path}_moved`;
  await Deno.rename(v.path, moved);
  try {
    using q = await VaultQuery.open({ vault: moved });
    const [a] = await q.search(
      `SELECT (SELECT count(*) FROM EXP_SAE_A) AS upper, (SELECT count(*) FROM "exp_sae_b") AS quoted`,
    );
    assertEquals(a, { upper: 100, quoted: 100 });
  } finally {
    await Deno.rename(moved, v.path);
  }
});

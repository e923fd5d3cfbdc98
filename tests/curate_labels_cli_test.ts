import { join } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { sealSpecimen } from "../lib/specimen/seal.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { verifySpecimen } from "../lib/specimen/verify.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
} from "./utils.ts";

/** Runs task `name` as deno.json does (its own permission flags). */
async function task(name: string, args: string[], vault: string) {
  const flags = await taskFlags(name === "unstar" ? "star" : name);
  const script = name === "unstar" ? "star" : name;
  return await runDeno([
    "run",
    ...flags,
    join(ROOT, "tasks", `${script}.ts`),
    ...(name === "unstar" ? ["--off"] : []),
    ...args,
    "--vault",
    vault,
  ]);
}

/** A sealed specimen with a small metrics table. */
async function sealed(vault: string, id: string, tags = ""): Promise<string> {
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "training",
    method: "fine_tuning",
    tags,
  });
  const storage = await SpecimenStorage.open(dir);
  await storage.writeMetrics({ step: [0, 1], loss: [2, 1] });
  await sealSpecimen(dir);
  return dir;
}

async function catalogRows(vault: string, sql: string) {
  await using q = await VaultQuery.open({ vault });
  return await q.search(sql);
}

Deno.test("tag sets and removes labels outside the seal; verify stays ok and the next incremental index sees them", async () => {
  await using vault = await tempVault();
  const a = await sealed(vault.path, "run_a", "sweep");
  await sealed(vault.path, "run_b", "sweep");
  assertEquals((await task("index", [], vault.path)).code, 0);

  const r = await task(
    "tag",
    ["run_a", "run_b", "+best", "+lr.1e-3"],
    vault.path,
  );
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /changed\s+run_a\s+\+best \+lr\.1e-3/);
  const file = JSON.parse(await Deno.readTextFile(join(a, "labels.json")));
  assertEquals(Object.keys(file.labels).sort(), ["best", "lr.1e-3"]);
  assert(!Number.isNaN(Date.parse(file.labels.best)), "each label has a time");

  const s = await task("tag", ["run_a", "-best", "+buggy"], vault.path);
  assertEquals(s.code, 0, s.stderr);
  const after = JSON.parse(await Deno.readTextFile(join(a, "labels.json")));
  assertEquals(Object.keys(after.labels).sort(), ["buggy", "lr.1e-3"]);
  assert("best" in after.removed, "a removal is kept with its time");
  assertEquals((await task("star", ["run_b"], vault.path)).code, 0);

  // Labels are not part of the seal.
  assertEquals((await verifySpecimen(a)).state, "ok");
  const v = await runDeno([
    "run",
    ...(await taskFlags("verify")),
    join(ROOT, "tasks", "verify.ts"),
    "--vault",
    vault.path,
  ]);
  assertEquals(v.code, 0, v.stdout + v.stderr);

  // The incremental index (no --rescan) reads them through the journal.
  const ix = await task("index", [], vault.path);
  assertEquals(ix.code, 0, ix.stderr);
  const rows = await catalogRows(
    vault.path,
    "SELECT specimen_id, labels, starred, tags FROM catalog ORDER BY 1",
  );
  assertEquals(rows.map((r) => [r.specimen_id, r.labels, r.starred, r.tags]), [
    ["run_a", ["buggy", "lr.1e-3"], false, ["sweep"]],
    ["run_b", ["best", "lr.1e-3"], true, ["sweep"]],
  ]);
  const q = await catalogRows(
    vault.path,
    "SELECT specimen_id FROM catalog WHERE list_contains(labels, 'best') AND starred",
  );
  assertEquals(q.map((r) => r.specimen_id), ["run_b"]);

  assertEquals((await task("unstar", ["run_b"], vault.path)).code, 0);
  assertEquals((await task("index", [], vault.path)).code, 0);
  const un = await catalogRows(
    vault.path,
    "SELECT count(*)::INT AS n FROM catalog WHERE starred",
  );
  assertEquals(un[0].n, 0);
});

Deno.test("tag --where chooses specimens by a SQL predicate; --dry-run changes nothing", async () => {
  await using vault = await tempVault();
  await sealed(vault.path, "keep_1", "baseline");
  await sealed(vault.path, "junk_1", "sweep");
  await sealed(vault.path, "junk_2", "sweep");
  assertEquals((await task("index", [], vault.path)).code, 0);

  const dry = await task("tag", [
    "--where",
    "list_contains(tags, 'sweep')",
    "+junk",
    "--dry-run",
  ], vault.path);
  assertEquals(dry.code, 0, dry.stderr);
  assertMatch(dry.stdout, /would change\s+junk_1\s+\+junk/);
  assertMatch(dry.stdout, /would change\s+junk_2/);
  assert(!dry.stdout.includes("keep_1"));
  await Deno.lstat(join(vault.specimens, "junk_1", "labels.json")).then(
    () => assert(false, "dry run wrote a labels file"),
    () => {},
  );

  const wet = await task("tag", [
    "--where",
    "specimen_id LIKE 'junk%'",
    "+junk",
    "--format",
    "json",
  ], vault.path);
  assertEquals(wet.code, 0, wet.stderr);
  const out = JSON.parse(wet.stdout);
  assertEquals(out.specimens.map((s: { id: string }) => s.id), [
    "junk_1",
    "junk_2",
  ]);
});

Deno.test("tag refuses bad input with documented exit codes and writes nothing", async (t) => {
  await using vault = await tempVault();
  await sealed(vault.path, "run_a");
  assertEquals((await task("index", [], vault.path)).code, 0);
  const cases: [string, string[], number, RegExp][] = [
    ["an unknown id", ["nope", "+x"], 4, /No specimen "nope"/],
    ["an invalid id", ["../etc", "+x"], 2, /Invalid specimen id/],
    [
      "an invalid label",
      ["run_a", "+bad label"],
      2,
      /Invalid label "bad label"/,
    ],
    [
      "a label added and removed",
      ["run_a", "+x", "-x"],
      2,
      /both added and removed/,
    ],
    ["no label", ["run_a"], 2, /No label given/],
    ["ids and --where", ["run_a", "--where", "true", "+x"], 2, /not both/],
    ["an unknown option", ["run_a", "+x", "--bogus"], 2, /bogus/],
  ];
  for (const [name, args, code, message] of cases) {
    await t.step(name, async () => {
      const r = await task("tag", args, vault.path);
      assertEquals(r.code, code, r.stderr);
      assertMatch(r.stderr, message);
    });
  }
  await Deno.lstat(join(vault.specimens, "run_a", "labels.json")).then(
    () => assert(false, "a refused tag wrote a labels file"),
    () => {},
  );
});

Deno.test("--where cannot escape its WHERE: a second statement, a UNION, ORDER/LIMIT or a refused function are refused", async (t) => {
  await using vault = await tempVault();
  await sealed(vault.path, "run_a");
  await sealed(vault.path, "run_b");
  assertEquals((await task("index", [], vault.path)).code, 0);
  const escapes: [string, string, RegExp][] = [
    ["a semicolon", "true; SELECT 'run_b'", /statements/],
    ["a UNION", "specimen_id = 'zzz' UNION SELECT 'run_b'", /union/i],
    [
      "a closing parenthesis",
      "1=1) UNION SELECT specimen_id FROM catalog WHERE (1=1",
      /union|syntax|Parser/i,
    ],
    ["an EXCEPT", "true EXCEPT SELECT 'run_a'", /except/i],
    ["ORDER BY and LIMIT", "true ORDER BY 1 LIMIT 1", /ORDER BY|LIMIT/],
    ["GROUP BY", "true GROUP BY specimen_id", /GROUP BY/],
    ["QUALIFY", "true QUALIFY row_number() OVER () = 1", /QUALIFY/],
    [
      "a file read",
      "specimen_id IN (SELECT * FROM read_csv('/etc/passwd'))",
      /read_csv/,
    ],
    [
      "a write",
      "true; COPY catalog TO '/tmp/x.csv'",
      /COPY|statements|not a SELECT/,
    ],
    ["an empty predicate", "  ", /empty/],
  ];
  for (const [name, predicate, message] of escapes) {
    await t.step(name, async () => {
      const r = await task(
        "discard",
        ["--where", predicate, "--dry-run"],
        vault.path,
      );
      assertEquals(r.code, 2, r.stdout + r.stderr);
      assertMatch(r.stderr, message);
      assertEquals(r.stdout, "");
    });
  }
  // A subquery inside the condition is one expression: allowed.
  const ok = await task("discard", [
    "--where",
    "specimen_id IN (SELECT specimen_id FROM metric_tables WHERE rows >= 2) AND specimen_id <> 'run_b' -- trailing comment",
    "--dry-run",
  ], vault.path);
  assertEquals(ok.code, 0, ok.stderr);
  assertMatch(ok.stdout, /would discard\s+run_a/);
  assert(!ok.stdout.includes("run_b"));
});

Deno.test("each new task answers --help with its usage and exit codes", async () => {
  await using vault = await tempVault();
  for (const name of ["tag", "star", "unstar", "discard", "trash"]) {
    const r = await task(name, ["--help"], vault.path);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /Usage:/);
    assertMatch(r.stdout, /Exit codes:/);
  }
});

Deno.test("a hand-broken labels.json: tag refuses it naming the fix (exit 2), the index reports it as an issue and keeps the specimen", async () => {
  await using vault = await tempVault();
  const dir = await sealed(vault.path, "run_a");
  await Deno.writeTextFile(join(dir, "labels.json"), "{not json");
  const r = await task("tag", ["run_a", "+x"], vault.path);
  assertEquals(r.code, 2, r.stderr);
  assertMatch(r.stderr, /labels\.json is not JSON .*remove it/);
  assertEquals(await Deno.readTextFile(join(dir, "labels.json")), "{not json");
  assertEquals((await task("index", [], vault.path)).code, 0);
  const rows = await catalogRows(
    vault.path,
    "SELECT labels, starred, issues FROM catalog",
  );
  assertEquals(rows.length, 1);
  assertEquals(rows[0].labels, []);
  assertMatch(String(rows[0].issues), /labels\.json is not JSON/);
  assertEquals((await verifySpecimen(dir)).state, "ok");
});

import { join } from "../lib/_deps.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
} from "./utils.ts";

const CREATE_FLAGS = await taskFlags("create");

/** Runs the create task exactly as deno.json does (same permission flags). */
function create(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
) {
  return runDeno([
    "run",
    ...CREATE_FLAGS,
    join(ROOT, "tasks", "create.ts"),
    ...args,
  ], opts);
}

const ok = ["--domain", "training", "--method", "fine_tuning"];

Deno.test("create task --help prints usage, the taxonomy and exit codes", async () => {
  const r = await create(["--help"]);
  assertEquals(r.code, 0);
  assertMatch(
    r.stdout,
    /deno task create --id ID --domain DOMAIN --method METHOD/,
  );
  assertMatch(
    r.stdout,
    /interpretability: sae_analysis, probe_training, ablation_study/,
  );
  assertMatch(r.stdout, /Exit codes:/);
});

Deno.test("create task makes a specimen in --vault from any working directory", async () => {
  await using vault = await tempVault();
  const r = await create(
    [
      "--id",
      "cli_run",
      ...ok,
      "--tags",
      "gpt2,layer_12",
      "--model",
      "gpt2",
      "--vault",
      vault.path,
    ],
    { cwd: Deno.env.get("TMPDIR") ?? "/tmp" },
  );
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /Created specimen cli_run/);
  const m = await readManifest(join(vault.specimens, "cli_run"));
  assertEquals(m.tags, ["gpt2", "layer_12"]);
  assertEquals(m.model, "gpt2");
});

Deno.test("create task finds the vault from the working directory and SPECIMEN_VAULT", async () => {
  await using vault = await tempVault();
  const sub = join(vault.path, "notebooks");
  await Deno.mkdir(sub);
  const r1 = await create(["--id", "from_cwd", ...ok], { cwd: sub });
  assertEquals(r1.code, 0, r1.stderr);
  const r2 = await create(["--id", "from_env", ...ok], {
    cwd: "/",
    env: { SPECIMEN_VAULT: vault.path },
  });
  assertEquals(r2.code, 0, r2.stderr);
  const names = [...Deno.readDirSync(vault.specimens)].map((e) => e.name)
    .sort();
  assertEquals(names, ["from_cwd", "from_env"]);
});

Deno.test("create task exits 2 with a clear error on invalid input and writes nothing", async (t) => {
  await using vault = await tempVault();
  const cases: [string, string[], RegExp][] = [
    [
      "path in id",
      ["--id", "../x", ...ok],
      /Invalid specimen id "\.\.\/x": it contains "\."/,
    ],
    [
      "sql in id",
      ["--id", "x;DROP TABLE catalog", ...ok],
      /Invalid specimen id/,
    ],
    [
      "unknown domain",
      ["--id", "a", "--domain", "chem", "--method", "x"],
      /Unknown domain "chem": valid domains are/,
    ],
    ["wrong method", [
      "--id",
      "a",
      "--domain",
      "benchmarking",
      "--method",
      "fine_tuning",
    ], /valid methods for benchmarking are ablation_study/],
    [
      "empty tag",
      ["--id", "a", ...ok, "--tags", "a,,b"],
      /Tag 2 of "a,,b" is empty/,
    ],
    ["missing id", [...ok], /Missing --id/],
    [
      "unknown flag",
      ["--id", "a", ...ok, "--colour", "red"],
      /Unknown option '--colour'/,
    ],
  ];
  for (const [name, args, message] of cases) {
    await t.step(name, async () => {
      const r = await create([...args, "--vault", vault.path]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, /^error: /);
      assertMatch(r.stderr, message);
      assertEquals([...Deno.readDirSync(vault.specimens)], []);
    });
  }
});

Deno.test("create task exits 4 when no vault can be found", async () => {
  await using vault = await tempVault();
  const r = await create([
    "--id",
    "a",
    ...ok,
    "--vault",
    join(vault.path, "nope"),
  ]);
  assertEquals(r.code, 4);
  assertMatch(r.stderr, /does not exist/);
});

Deno.test("8 processes creating one id end with one specimen and seven clear errors", async () => {
  await using vault = await tempVault();
  const runs = await Promise.all(
    Array.from(
      { length: 8 },
      (_, i) =>
        create([
          "--id",
          "contested",
          ...ok,
          "--description",
          `p${i}`,
          "--vault",
          vault.path,
        ]),
    ),
  );
  assertEquals(runs.filter((r) => r.code === 0).length, 1);
  const losers = runs.filter((r) => r.code !== 0);
  assertEquals(losers.length, 7);
  for (const r of losers) {
    assertEquals(r.code, 3);
    assertMatch(r.stderr, /Specimen "contested" already exists/);
  }
  const entries = [...Deno.readDirSync(vault.specimens)].map((e) => e.name);
  assertEquals(entries, ["contested"], "no temp folders left behind");
  const m = await readManifest(join(vault.specimens, "contested"));
  const winner = runs.findIndex((r) => r.code === 0);
  assert(m.description === `p${winner}`);
});

import { join } from "../lib/_deps.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import {
  assertEquals,
  assertMatch,
  INTEROP,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
} from "./utils.ts";

const CREATE = await taskFlags("create");
const IMPORT = await taskFlags("import");
const INDEX = await taskFlags("index");
const QUERY = await taskFlags("query");

function create(vault: string, domain: string, method: string, id = "x") {
  return runDeno([
    "run",
    ...CREATE,
    join(ROOT, "tasks", "create.ts"),
    "--vault",
    vault,
    "--id",
    id,
    "--domain",
    domain,
    "--method",
    method,
  ]);
}

async function config(vault: string, value: unknown) {
  await Deno.writeTextFile(
    join(vault, "vault.config.json"),
    typeof value === "string" ? value : JSON.stringify(value),
  );
}

Deno.test("vault.config.json extends the seed taxonomy: a method for a seed domain, a new domain; other keys are left alone", async () => {
  await using vault = await tempVault();
  await config(vault.path, {
    remotes: { team: { url: "s3://bucket/vault" } },
    taxonomy: {
      training: ["from_scratch"],
      robotics: ["imitation_learning", "sim2real"],
    },
  });
  const cases: [string, string, string][] = [
    ["a", "training", "from_scratch"],
    ["b", "robotics", "sim2real"],
    ["c", "training", "fine_tuning"], // the seed stays
    ["d", "interpretability", "sae_analysis"],
  ];
  for (const [id, domain, method] of cases) {
    const r = await create(vault.path, domain, method, id);
    assertEquals(r.code, 0, r.stderr);
    const m = await readManifest(join(vault.specimens, id));
    assertEquals(m.taxonomy, { domain, method });
  }
  // A sweep of a specimen filed under an added domain.
  const sweep = await runDeno([
    "run",
    ...CREATE,
    join(ROOT, "tasks", "create.ts"),
    "--vault",
    vault.path,
    "--from",
    "b",
    "--sweep",
    "lr=1,2",
    "--prefix",
    "s",
    "--allow-new-params",
  ]);
  assertEquals(sweep.code, 0, sweep.stderr);
  assertEquals(
    (await readManifest(join(vault.specimens, "s_lr_2"))).taxonomy.domain,
    "robotics",
  );
  const refused = await create(vault.path, "robotics", "fine_tuning");
  assertEquals(refused.code, 2);
  assertMatch(
    refused.stderr,
    /valid methods for robotics are imitation_learning, sim2real; a vault adds its own in vault\.config\.json/,
  );
  const index = await runDeno([
    "run",
    ...INDEX,
    join(ROOT, "tasks", "index.ts"),
    "--vault",
    vault.path,
  ]);
  assertEquals(index.code, 0, index.stderr);
  const q = await runDeno([
    "run",
    ...QUERY,
    join(ROOT, "tasks", "query.ts"),
    "--vault",
    vault.path,
    "--local",
    "--format",
    "json",
    "SELECT specimen_id, domain, method FROM catalog WHERE domain = 'robotics' AND specimen_id = 'b'",
  ]);
  assertEquals(JSON.parse(q.stdout), [
    { specimen_id: "b", domain: "robotics", method: "sim2real" },
  ]);
});

Deno.test("without vault.config.json, or without its taxonomy key, the seed taxonomy is the only one", async () => {
  await using vault = await tempVault();
  let r = await create(vault.path, "training", "from_scratch");
  assertEquals(r.code, 2);
  assertMatch(
    r.stderr,
    /valid methods for training are fine_tuning, ablation_study/,
  );
  await config(vault.path, { remotes: {} });
  r = await create(vault.path, "training", "from_scratch");
  assertEquals(r.code, 2);
  r = await create(vault.path, "training", "fine_tuning");
  assertEquals(r.code, 0, r.stderr);
});

Deno.test("a malformed vault.config.json taxonomy is refused, naming the file and the value", async (t) => {
  await using vault = await tempVault();
  const cases: [string, unknown, RegExp][] = [
    ["not JSON", "{taxonomy:", /vault\.config\.json is not valid JSON/],
    [
      "a list",
      { taxonomy: ["training"] },
      /"taxonomy" of .* is \["training"\]/,
    ],
    [
      "a string method list",
      { taxonomy: { training: "x" } },
      /gives training "x", not a list/,
    ],
    [
      "a bad domain name",
      { taxonomy: { "Robo tics": ["a"] } },
      /the domain "Robo tics"/,
    ],
    [
      "a bad method name",
      { taxonomy: { training: ["From-Scratch"] } },
      /the method "From-Scratch"/,
    ],
    [
      "an empty new domain",
      { taxonomy: { robotics: [] } },
      /gives robotics no method/,
    ],
    ["a top level list", [], /not an object/],
  ];
  for (const [name, value, want] of cases) {
    await t.step(name, async () => {
      await config(vault.path, value);
      const r = await create(vault.path, "training", "fine_tuning");
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, want);
      assertMatch(r.stderr, new RegExp(vault.path));
    });
  }
});

Deno.test("deno task import files runs under a domain and method the vault's config adds", async () => {
  await using vault = await tempVault();
  await config(vault.path, { taxonomy: { benchmarking: ["from_history"] } });
  const args = (method: string) => [
    "run",
    ...IMPORT,
    join(ROOT, "tasks", "import.ts"),
    "csv",
    join(
      INTEROP,
      "trackers",
      "lightning_csv",
      "lightning_logs",
      "version_0",
      "metrics.csv",
    ),
    "--vault",
    vault.path,
    "--id",
    `old_${method}`,
    "--domain",
    "benchmarking",
    "--method",
    method,
  ];
  const ok = await runDeno(args("from_history"));
  assertEquals(ok.code, 0, ok.stderr);
  assertEquals(
    (await readManifest(join(vault.specimens, "old_from_history"))).taxonomy,
    { domain: "benchmarking", method: "from_history" },
  );
  const no = await runDeno(args("sim2real"));
  assertEquals(no.code, 2, no.stderr);
});

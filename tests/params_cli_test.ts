import { join } from "../lib/_deps.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { InvalidInputError } from "../lib/errors.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  repoVault,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
} from "./utils.ts";

const CREATE_FLAGS = await taskFlags("create");

function create(args: string[], opts: { cwd?: string } = {}) {
  return runDeno(
    ["run", ...CREATE_FLAGS, join(ROOT, "tasks", "create.ts"), ...args],
    opts,
  );
}

const ok = ["--domain", "training", "--method", "fine_tuning"];

async function entries(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("create --param and --params record typed, nested params in the manifest", async () => {
  await using vault = await tempVault();
  const file = join(vault.path, "p.json");
  await Deno.writeTextFile(
    file,
    JSON.stringify({ lr: 1, seed: 7, optimizer: { name: "sgd" } }),
  );
  const r = await create([
    "--id",
    "a",
    ...ok,
    "--vault",
    vault.path,
    "--params",
    file,
    "--param",
    "lr=3e-4",
    "--param",
    "optimizer.name=adam",
    "--param",
    "optimizer.betas=[0.9,0.999]",
    "--param",
    "amp=true",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const m = await readManifest(join(vault.specimens, "a"));
  assertEquals(m.params, {
    lr: 3e-4,
    seed: 7,
    optimizer: { name: "adam", betas: [0.9, 0.999] },
    amp: true,
  });
  assertEquals(m.params_changed, undefined);
});

Deno.test("create refuses bad params with exit 2 and creates nothing", async () => {
  await using vault = await tempVault();
  const bad = join(vault.path, "bad.json");
  await Deno.writeTextFile(bad, "{ lr: 1 ");
  const list = join(vault.path, "list.json");
  await Deno.writeTextFile(list, "[1, 2]");
  const cases: [string[], RegExp][] = [
    [["--param", "lr"], /lr/],
    [["--param", "l r=1"], /l r/],
    [["--param", "lr$=1"], /lr\$/],
    [["--param", "=1"], /=1/],
    [["--param", "a.b=1", "--param", "a=2"], /a/],
    [["--params", bad], /not valid JSON/],
    [["--params", list], /list\.json/],
    [["--params", join(vault.path, "missing.json")], /missing\.json/],
  ];
  for (const [args, msg] of cases) {
    const r = await create([
      "--id",
      "x",
      ...ok,
      "--vault",
      vault.path,
      ...args,
    ]);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assertMatch(r.stderr, msg);
    assertEquals(await entries(vault.specimens), [], args.join(" "));
  }
});

Deno.test("create refuses a --params file holding NaN or a non-finite number", async () => {
  await using vault = await tempVault();
  // JSON has no NaN: a value too large for a double parses to Infinity.
  const file = join(vault.path, "inf.json");
  await Deno.writeTextFile(file, '{"lr": 1e999}');
  const r = await create([
    "--id",
    "x",
    ...ok,
    "--vault",
    vault.path,
    "--params",
    file,
  ]);
  assertEquals(r.code, 2, r.stderr);
  assertEquals(await entries(vault.specimens), []);
  await Deno.writeTextFile(join(vault.path, "nan.json"), '{"lr": NaN}');
  const nan = await create([
    "--id",
    "y",
    ...ok,
    "--vault",
    vault.path,
    "--params",
    join(vault.path, "nan.json"),
  ]);
  assertEquals(nan.code, 2);
  assertMatch(nan.stderr, /nan\.json/);
  assertEquals(await entries(vault.specimens), []);
});

Deno.test("create --from merges the parent's params with --param and records the changed keys", async () => {
  await using vault = await tempVault();
  let r = await create([
    "--id",
    "parent",
    ...ok,
    "--vault",
    vault.path,
    "--param",
    "lr=1e-3",
    "--param",
    "seed=1",
    "--param",
    "optimizer.name=adam",
  ]);
  assertEquals(r.code, 0, r.stderr);
  r = await create([
    "--id",
    "child",
    "--from",
    "parent",
    "--vault",
    vault.path,
    "--param",
    "lr=1e-4",
    "--new-param",
    "optimizer.eps=1e-8",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const m = await readManifest(join(vault.specimens, "child"));
  assertEquals(m.params, {
    lr: 1e-4,
    seed: 1,
    optimizer: { name: "adam", eps: 1e-8 },
  });
  assertEquals(m.params_changed, ["lr", "optimizer.eps"]);
  assertEquals(m.parent, "parent");
  // Without --param the child keeps the parent's params, nothing changed.
  r = await create(["--id", "same", "--from", "parent", "--vault", vault.path]);
  assertEquals(r.code, 0, r.stderr);
  const same = await readManifest(join(vault.specimens, "same"));
  assertEquals(same.params, { lr: 1e-3, seed: 1, optimizer: { name: "adam" } });
  assertEquals(same.params_changed, undefined);
});

async function parentVault(vault: { path: string }) {
  const r = await create([
    "--id",
    "base",
    ...ok,
    "--vault",
    vault.path,
    "--param",
    "lr=1e-2",
    "--param",
    "seed=0",
  ]);
  assertEquals(r.code, 0, r.stderr);
}

Deno.test("create --sweep makes one specimen per combination with readable ids", async () => {
  await using vault = await tempVault();
  await parentVault(vault);
  const r = await create([
    "--from",
    "base",
    "--vault",
    vault.path,
    "--sweep",
    "lr=1e-3,3e-4,1e-4",
    "--sweep",
    "batch=32,64",
    "--prefix",
    "sw",
    "--allow-new-params",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const ids = r.stdout.trim().split("\n");
  assertEquals(ids, [
    "sw_lr_0_001_batch_32",
    "sw_lr_0_001_batch_64",
    "sw_lr_3e_4_batch_32",
    "sw_lr_3e_4_batch_64",
    "sw_lr_1e_4_batch_32",
    "sw_lr_1e_4_batch_64",
  ]);
  assertEquals(await entries(vault.specimens), ["base", ...ids].sort());
  const m = await readManifest(join(vault.specimens, "sw_lr_3e_4_batch_64"));
  assertEquals(m.params, { lr: 3e-4, seed: 0, batch: 64 });
  assertEquals(m.params_changed, ["batch", "lr"]);
  assertEquals(m.parent, "base");
  assertEquals(m.taxonomy, { domain: "training", method: "fine_tuning" });
  assert(
    (await Deno.readTextFile(join(vault.specimens, ids[0], "protocol.ts")))
      .length > 0,
  );
});

Deno.test("create --sweep refuses colliding ids, too many combinations and bad specs with exit 2, creating nothing", async () => {
  await using vault = await tempVault();
  await parentVault(vault);
  const first = await create([
    "--from",
    "base",
    "--vault",
    vault.path,
    "--sweep",
    "lr=1e-3",
    "--prefix",
    "sw",
  ]);
  assertEquals(first.code, 0, first.stderr);
  const before = await entries(vault.specimens);
  const many = Array.from({ length: 11 }, (_, i) => i).join(",");
  const cases: [string[], RegExp][] = [
    [["--sweep", "lr=1e-2,1e-3", "--prefix", "sw"], /exist already/],
    [
      ["--sweep", `a=${many}`, "--sweep", `b=${many}`, "--sweep", `c=${many}`],
      /--max 1331/,
    ],
    [["--sweep", "lr"], /lr/],
    [["--sweep", "l r=1,2"], /l r/],
    [["--sweep", "lr=1,2", "--prefix", "Bad-Prefix"], /prefix/],
    [["--sweep", "lr=1,2"], /--prefix/],
    [["--sweep", "lr=1,2", "--id", "x"], /--id/],
    [["--sweep", "lr=1,2", "--param", "bad key=1"], /bad key/],
    [["--sweep", "lr=1,2", "--param", "lr.x=1"], /lr/],
    [["--sweep", "lr=1,2", "--param", "lr=5"], /overlaps --sweep lr/],
  ];
  for (const [args, msg] of cases) {
    const withPrefix = args.includes("--prefix") || msg.source === "--prefix"
      ? args
      : [...args, "--prefix", "new"];
    const r = await create([
      "--from",
      "base",
      "--vault",
      vault.path,
      ...withPrefix,
    ]);
    assertEquals(r.code, 2, `${withPrefix.join(" ")}: ${r.stderr}`);
    assertMatch(r.stderr, msg);
    assertEquals(await entries(vault.specimens), before, args.join(" "));
  }
});

Deno.test("create --sweep with --param applies the change to every combination", async () => {
  await using vault = await tempVault();
  await parentVault(vault);
  const r = await create([
    "--from",
    "base",
    "--vault",
    vault.path,
    "--param",
    "seed=5",
    "--sweep",
    "opt.name=adam,sgd",
    "--prefix",
    "o",
    "--allow-new-params",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout.trim().split("\n"), [
    "o_opt_name_adam",
    "o_opt_name_sgd",
  ]);
  const m = await readManifest(join(vault.specimens, "o_opt_name_sgd"));
  assertEquals(m.params, { lr: 1e-2, seed: 5, opt: { name: "sgd" } });
  assertEquals(m.params_changed, ["opt.name", "seed"]);
});

Deno.test("create --sweep --yes creates more than 1,000 combinations in one step", async () => {
  await using vault = await tempVault();
  await parentVault(vault);
  const values = Array.from({ length: 1001 }, (_, i) => i).join(",");
  const r = await create([
    "--from",
    "base",
    "--vault",
    vault.path,
    "--sweep",
    `seed=${values}`,
    "--prefix",
    "big",
    "--yes",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals((await entries(vault.specimens)).length, 1002);
  assert(!(await entries(vault.specimens)).some((n) => n.startsWith(".tmp")));
});

const PARAMS_PROTOCOL = `import { runProtocol } from "specimen-vault";
await runProtocol(import.meta, async (storage, params) => {
  const lr: number = params.lr;
  console.log(JSON.stringify({ params, stored: storage.params, lr }));
  await storage.writeMetrics({ step: [0, 1], loss: [1, 1 - lr] });
  if (Deno.args[0] === "change") await storage.recordParams({ extra: 1 });
}, { params: { lr: 0.1, seed: 0, opt: { name: "sgd", momentum: 0.9 } } });
`;

async function paramsSpecimen(
  vault: { path: string; specimens: string },
  id: string,
  extra: string[],
): Promise<string> {
  const r = await create(["--id", id, ...ok, "--vault", vault.path, ...extra]);
  assertEquals(r.code, 0, r.stderr);
  const dir = join(vault.specimens, id);
  await Deno.writeTextFile(join(dir, "protocol.ts"), PARAMS_PROTOCOL);
  return dir;
}

Deno.test("runProtocol fills params defaults for missing keys, records them before the body, and storage.params returns them", async () => {
  await using vault = await repoVault();
  const dir = await paramsSpecimen(vault, "p1", [
    "--param",
    "lr=0.5",
    "--param",
    "opt.name=adam",
  ]);
  const r = await runDeno(["run", "-A", join(dir, "protocol.ts")]);
  assertEquals(r.code, 0, r.stderr);
  const want = { lr: 0.5, seed: 0, opt: { name: "adam", momentum: 0.9 } };
  const out = JSON.parse(r.stdout.trim().split("\n")[0]);
  assertEquals(out.params, want);
  assertEquals(out.stored, want);
  assertEquals(out.lr, 0.5);
  const m = await readManifest(dir);
  assertEquals(m.params, want);
  assertEquals(m.status, "sealed");
  // Without any --param, the defaults are what is recorded.
  const d2 = await paramsSpecimen(vault, "p2", []);
  const r2 = await runDeno(["run", "-A", join(d2, "protocol.ts")]);
  assertEquals(r2.code, 0, r2.stderr);
  assertEquals((await readManifest(d2)).params, {
    lr: 0.1,
    seed: 0,
    opt: { name: "sgd", momentum: 0.9 },
  });
});

Deno.test("changing params after a result is written is refused with exit 2", async () => {
  await using vault = await repoVault();
  const dir = await paramsSpecimen(vault, "p3", []);
  const r = await runDeno(["run", "-A", join(dir, "protocol.ts"), "change"]);
  assertEquals(r.code, 2, r.stderr);
  assertMatch(r.stderr, /Cannot change the params of specimen "p3"/);
  assertMatch(r.stderr, /--from p3/);
  const m = await readManifest(dir);
  assertEquals(m.params?.extra, undefined);
  assertEquals(m.status, "failed");
});

Deno.test("recordParams accepts the same values after results, refuses new ones and bad defaults", async () => {
  await using vault = await tempVault();
  const { dir } = await createSpecimen({
    vault: vault.path,
    id: "s",
    domain: "training",
    method: "fine_tuning",
    params: { lr: 1e-3 },
  });
  const storage = await SpecimenStorage.open(dir);
  await assertRejects(
    () => storage.recordParams({ f: (() => 1) as unknown as number }),
    InvalidInputError,
  );
  await storage.writeMetrics({ step: [0], loss: [1] });
  assertEquals(await storage.recordParams({}), { lr: 1e-3 });
  assertEquals(await storage.recordParams({ lr: 5 }), { lr: 1e-3 });
  await assertRejects(
    () => storage.recordParams({ seed: 1 }),
    InvalidInputError,
    "already holds results",
  );
  assertEquals((await readManifest(dir)).params, { lr: 1e-3 });
  assertEquals(storage.paramsAs<{ lr: number }>().lr, 1e-3);
});

const RUN_FLAGS = await taskFlags("run");

function runCli(args: string[]) {
  return runDeno([
    "run",
    ...RUN_FLAGS,
    join(ROOT, "tasks", "run.ts"),
    ...args,
  ]);
}

const GOOD = `import { runProtocol } from "specimen-vault";
await runProtocol(import.meta, async (storage, params) => {
  await storage.writeMetrics({ step: [0, 1], loss: [1, params.lr] });
}, { params: { lr: 0.5 } });
`;
const BAD = `console.error("boom"); Deno.exit(7);\n`;

async function runnable(
  vault: { path: string; specimens: string },
  id: string,
  protocol: string,
): Promise<string> {
  const { dir } = await createSpecimen({
    vault: vault.path,
    id,
    domain: "training",
    method: "fine_tuning",
  });
  await Deno.writeTextFile(join(dir, "protocol.ts"), protocol);
  return dir;
}

Deno.test("run of several ids runs each, a failure stops nothing, the summary lists all and the exit is 1", async () => {
  await using vault = await repoVault();
  await runnable(vault, "r1", GOOD);
  await runnable(vault, "r2", BAD);
  await runnable(vault, "r3", GOOD);
  const r = await runCli(["r1", "r2", "r3", "--vault", vault.path]);
  assertEquals(r.code, 1, r.stderr);
  assertMatch(r.stdout, /id +status +duration +exit/);
  assertMatch(r.stdout, /r1 +succeeded +\d+\.\d\d s +0 +sealed/);
  assertMatch(r.stdout, /r2 +failed +\d+\.\d\d s +7/);
  assertMatch(r.stdout, /r3 +succeeded +\d+\.\d\d s +0 +sealed/);
  assertMatch(r.stdout, /3 runs: 2 succeeded, 1 failed \(r2\)/);
  assertMatch(r.stderr, /boom/);
  assertEquals(
    (await readManifest(join(vault.specimens, "r3"))).status,
    "sealed",
  );
  assertEquals(
    (await readManifest(join(vault.specimens, "r2"))).status,
    "failed",
  );
  // All succeed: exit 0.
  await runnable(vault, "r4", GOOD);
  await runnable(vault, "r5", GOOD);
  const ok2 = await runCli(["r4", "r5", "--vault", vault.path]);
  assertEquals(ok2.code, 0, ok2.stderr);
  assertMatch(ok2.stdout, /2 runs: 2 succeeded, 0 failed/);
  // A sealed one among them is refused in its row, the others still run.
  await runnable(vault, "r6", GOOD);
  const again = await runCli(["r1", "r6", "--vault", vault.path]);
  assertEquals(again.code, 1);
  assertMatch(again.stdout, /r1 +refused +0\.00 s +3/);
  assertMatch(again.stdout, /r6 +succeeded/);
});

Deno.test("run --all-pending runs only specimens never run and not sealed", async () => {
  await using vault = await repoVault();
  await runnable(vault, "done", GOOD);
  const first = await runCli(["done", "--vault", vault.path]);
  assertEquals(first.code, 0, first.stderr);
  await runnable(vault, "failed_once", BAD);
  assertEquals((await runCli(["failed_once", "--vault", vault.path])).code, 7);
  await runnable(vault, "p_a", GOOD);
  await runnable(vault, "p_b", GOOD);
  const r = await runCli(["--all-pending", "--vault", vault.path]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /2 runs: 2 succeeded, 0 failed/);
  assertMatch(r.stdout, /p_a +succeeded/);
  assertMatch(r.stdout, /p_b +succeeded/);
  assert(!/done|failed_once/.test(r.stdout), r.stdout);
  const none = await runCli(["--all-pending", "--vault", vault.path]);
  assertEquals(none.code, 0);
  assertMatch(none.stderr, /No pending specimens/);
});

Deno.test("run of several ids checks them all first: an unknown or repeated id runs nothing", async () => {
  await using vault = await repoVault();
  await runnable(vault, "q1", GOOD);
  const missing = await runCli(["q1", "nope", "--vault", vault.path]);
  assertEquals(missing.code, 4, missing.stderr);
  assertMatch(missing.stderr, /nope/);
  const twice = await runCli(["q1", "q1", "--vault", vault.path]);
  assertEquals(twice.code, 2, twice.stderr);
  const mixed = await runCli(["q1", "--all-pending", "--vault", vault.path]);
  assertEquals(mixed.code, 2, mixed.stderr);
  const m = await readManifest(join(vault.specimens, "q1"));
  assertEquals(m.runs ?? [], []);
  assertEquals(m.status, "active");
});

import { join } from "../lib/_deps.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  runDeno,
  taskFlags,
  tempDir,
  tempVault,
} from "./utils.ts";

const CREATE = await taskFlags("create");

function create(args: string[], cwd = ROOT) {
  return runDeno(
    ["run", ...CREATE, join(ROOT, "tasks", "create.ts"), ...args],
    {
      cwd,
      env: { INIT_CWD: cwd },
    },
  );
}

/** Creates specimen "base" (training/fine_tuning, "MLP baseline on digits", lr=0.1). */
function createBase(vault: string, cwd?: string) {
  return create([
    "--vault",
    vault,
    "--id",
    "base",
    "--domain",
    "training",
    "--method",
    "fine_tuning",
    "--description",
    "MLP baseline on digits",
    "--param",
    "lr=0.1",
  ], cwd);
}

/** Sweeps `sweep` from "base", children named `<prefix>_…`. */
function sweepBase(
  vault: string,
  sweep: string,
  prefix: string,
  extra: string[] = [],
  cwd?: string,
) {
  return create([
    "--vault",
    vault,
    "--from",
    "base",
    "--sweep",
    sweep,
    "--prefix",
    prefix,
    ...extra,
  ], cwd);
}

Deno.test("create prints what to do next: edit a new protocol, run a variation as it is", async () => {
  await using vault = await tempVault();
  const base = await createBase(vault.path, vault.path);
  assertEquals(base.code, 0, base.stderr);
  assertMatch(base.stdout, /at specimens\/base\n/);
  assertMatch(
    base.stdout,
    /Next: edit specimens\/base\/protocol\.ts, then run it:\n {2}deno task run base/,
  );
  const child = await create([
    "--vault",
    vault.path,
    "--id",
    "child",
    "--from",
    "base",
    "--param",
    "lr=0.2",
  ], vault.path);
  assertEquals(child.code, 0, child.stderr);
  assert(!child.stdout.includes("Next: edit"), child.stdout);
  assertMatch(
    child.stdout,
    /Next: run it \(protocol\.ts is the parent's.*\n {2}deno task run child/,
  );
  const sweep = await sweepBase(vault.path, "lr=0.3,0.03", "s", [], vault.path);
  assertEquals(sweep.code, 0, sweep.stderr);
  assert(!sweep.stderr.includes("edit"), sweep.stderr);
  assertMatch(sweep.stderr, /Created 2 specimens from base in specimens:/);
  assertMatch(sweep.stderr, /Run them: deno task run s_lr_0_3 s_lr_0_03/);
});

Deno.test("sweep children keep the parent's description unless --description is given", async () => {
  await using vault = await tempVault();
  assertEquals(
    (await createBase(vault.path)).code,
    0,
  );
  await sweepBase(vault.path, "lr=0.3", "a");
  assertEquals(
    (await readManifest(join(vault.specimens, "a_lr_0_3"))).description,
    "MLP baseline on digits",
  );
  await sweepBase(vault.path, "lr=0.3", "b", ["--description", "lr sweep"]);
  assertEquals(
    (await readManifest(join(vault.specimens, "b_lr_0_3"))).description,
    "lr sweep",
  );
});

Deno.test("create outside the vault prints absolute paths, never ../", async () => {
  await using vault = await tempVault();
  await using elsewhere = await tempDir();
  const r = await create([
    "--vault",
    vault.path,
    "--id",
    "x",
    "--domain",
    "training",
    "--method",
    "fine_tuning",
  ], elsewhere.path);
  assertEquals(r.code, 0, r.stderr);
  assert(!r.stdout.includes("../"), r.stdout);
  assertMatch(r.stdout, new RegExp(`at ${join(vault.specimens, "x")}\\n`));
});

Deno.test("the clone's .gitignore leaves out lock files of manifests and logs, and keeps deno.lock", async () => {
  const r = await new Deno.Command("git", {
    args: [
      "check-ignore",
      "--no-index",
      "-v",
      "specimens/a/.lock",
      "specimens/a/strata/m.parts/.lock",
      "vault.duckdb.lock",
    ],
    cwd: ROOT,
    stdout: "piped",
  }).output();
  const out = new TextDecoder().decode(r.stdout).trim().split("\n");
  assertEquals(out.length, 3, out.join("\n"));
  const deno = await new Deno.Command("git", {
    args: ["check-ignore", "--no-index", "-q", "deno.lock"],
    cwd: ROOT,
  }).output();
  assertEquals(deno.code, 1, "deno.lock is not ignored");
});

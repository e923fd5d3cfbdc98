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

const INIT = await taskFlags("init");
const RUN = await taskFlags("run");

function init(dir: string, cwd: string) {
  return runDeno(["run", ...INIT, join(ROOT, "tasks", "init.ts"), dir], {
    cwd,
    env: { INIT_CWD: cwd },
  });
}

/** `deno task …` typed in `cwd`, as from a fresh shell there. */
function denoTask(
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
) {
  return runDeno(["task", "--quiet", ...args], {
    cwd,
    env: { INIT_CWD: cwd, ...env },
  });
}

/** The `deno task …` line a task printed after "Next:" or "Check …with:". */
function hint(output: string, task: string): string[] {
  const m = new RegExp(`deno task (${task} [^\\n]+)`).exec(output);
  assert(m, `no "deno task ${task}" hint in: ${output}`);
  return m[1].trim().split(/\s+/);
}

Deno.test("deno task init makes a folder outside the clone where create, run, index, query and verify work, and their hints too", async () => {
  await using tmp = await tempDir();
  const r = await init("proj", tmp.path);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(
    r.stdout,
    /Initialized proj: specimens\/, deno\.json, \.gitignore, README\.md/,
  );
  const dir = join(tmp.path, "proj");
  const config = JSON.parse(await Deno.readTextFile(join(dir, "deno.json")));
  assertEquals(config.imports["specimen-vault"], join(ROOT, "mod.ts"));
  assert(!("test" in config.tasks) && !("demo" in config.tasks));
  assertMatch(config.tasks.run.command, new RegExp(`${ROOT}/tasks/run\\.ts`));

  const created = await denoTask(dir, [
    "create",
    "--id",
    "first",
    "--domain",
    "training",
    "--method",
    "fine_tuning",
    "--template",
    "python",
    "--param",
    "steps=20",
  ]);
  assertEquals(created.code, 0, created.stderr);
  assertMatch(created.stdout, /at specimens\/first\n/);
  const ran = await denoTask(dir, hint(created.stdout, "run"), {
    SPECIMEN_PYTHON: "/usr/bin/python3",
  });
  assertEquals(ran.code, 0, ran.stderr);
  assertMatch(ran.stderr, /Logs: specimens\/first\/runs\//);
  const verify = await denoTask(dir, hint(ran.stderr, "verify"));
  assertEquals(verify.code, 0, verify.stdout + verify.stderr);

  const variation = await denoTask(dir, [
    "create",
    "--from",
    "first",
    "--sweep",
    "lr=0.05,0.2",
    "--prefix",
    "lr",
  ]);
  assertEquals(variation.code, 0, variation.stderr);
  const batch = await denoTask(dir, ["run", "--all-pending"]);
  assertEquals(batch.code, 0, batch.stdout + batch.stderr);
  assertMatch(batch.stdout, /3 runs: 3 succeeded|2 runs: 2 succeeded/);

  const index = await denoTask(dir, ["index"]);
  assertEquals(index.code, 0, index.stderr);
  const q = await denoTask(dir, [
    "query",
    "SELECT specimen_id, status FROM catalog ORDER BY 1",
    "--format",
    "json",
  ]);
  assertEquals(q.code, 0, q.stderr);
  assertEquals(JSON.parse(q.stdout), [
    { specimen_id: "first", status: "sealed" },
    { specimen_id: "lr_lr_0_05", status: "sealed" },
    { specimen_id: "lr_lr_0_2", status: "sealed" },
  ]);
  const rows = await denoTask(dir, [
    "query",
    "SELECT count(*)::INT AS n FROM metrics WHERE specimen_id = 'first'",
    "--format",
    "json",
  ]);
  assertEquals(JSON.parse(rows.stdout), [{ n: 20 }]);
});

Deno.test("a git repository made by deno task init shows no catalog, lock, temp or result files after a run", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "repo");
  await Deno.mkdir(dir);
  const git = (args: string[]) =>
    new Deno.Command("git", { args, cwd: dir, stdout: "piped" }).output();
  await git(["init", "-q"]);
  await Deno.writeTextFile(join(dir, ".gitignore"), "vault.duckdb\n*.pyc");
  assertEquals((await init(".", dir)).code, 0);
  const gitignore = await Deno.readTextFile(join(dir, ".gitignore"));
  assertEquals(gitignore.split("\n").filter((l) => l === "vault.duckdb"), [
    "vault.duckdb",
  ]);
  assertMatch(gitignore, /^\*\.pyc\n/m);
  const c = await denoTask(dir, [
    "create",
    "--id",
    "a",
    "--domain",
    "training",
    "--method",
    "fine_tuning",
    "--template",
    "python",
  ]);
  assertEquals(c.code, 0, c.stderr);
  assertEquals((await denoTask(dir, ["run", "a"])).code, 0);
  assertEquals((await denoTask(dir, ["index"])).code, 0);
  const status = new TextDecoder().decode(
    (await git(["status", "--porcelain", "--untracked-files=all"])).stdout,
  );
  const files = status.trim().split("\n").map((l) => l.slice(3)).sort();
  assertEquals(files, [
    ".gitignore",
    "README.md",
    "deno.json",
    "deno.lock",
    "specimens/a/field_notes.md",
    "specimens/a/manifest.msgpack",
    "specimens/a/params.json",
    "specimens/a/protocol.ts",
    "specimens/a/train.py",
  ]);
});

Deno.test("deno task init refuses a folder with a deno.json, a file, and a folder inside the clone", async (t) => {
  await using tmp = await tempDir();
  await t.step("a deno.json", async () => {
    const dir = join(tmp.path, "has_config");
    await Deno.mkdir(dir);
    await Deno.writeTextFile(join(dir, "deno.json"), "{}");
    const r = await init(dir, tmp.path);
    assertEquals(r.code, 2);
    assertMatch(r.stderr, /has a deno\.json already/);
    assertEquals(await Deno.readTextFile(join(dir, "deno.json")), "{}");
  });
  await t.step("a file", async () => {
    await Deno.writeTextFile(join(tmp.path, "f"), "");
    const r = await init(join(tmp.path, "f"), tmp.path);
    assertEquals(r.code, 2);
    assertMatch(r.stderr, /is a file/);
  });
  await t.step("inside the clone", async () => {
    const r = await init(join(ROOT, ".tmp-init-inside"), tmp.path);
    assertEquals(r.code, 2);
    assertMatch(r.stderr, /inside the tool's clone/);
  });
  await t.step("no folder", async () => {
    const r = await init("", tmp.path);
    assertEquals(r.code, 2);
  });
});

Deno.test("run --all-pending passes over the tool's examples, which run when named", async () => {
  await using vault = await tempVault();
  for (
    const id of [
      "example_2024_12_19_synthetic_demo",
      "example_2026_11_27_digits_mlp",
    ]
  ) {
    await Deno.mkdir(join(vault.specimens, id, "strata"), { recursive: true });
    for await (const e of Deno.readDir(join(ROOT, "specimens", id))) {
      if (e.isFile) {
        await Deno.copyFile(
          join(ROOT, "specimens", id, e.name),
          join(vault.specimens, id, e.name),
        );
      }
    }
    assertEquals((await readManifest(join(vault.specimens, id))).example, true);
  }
  const r = await runDeno([
    "run",
    ...RUN,
    join(ROOT, "tasks", "run.ts"),
    "--vault",
    vault.path,
    "--all-pending",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stderr, /No pending specimens/);
  const named = await runDeno([
    "run",
    ...RUN,
    join(ROOT, "tasks", "run.ts"),
    "--vault",
    vault.path,
    "--no-system-metrics",
    "example_2024_12_19_synthetic_demo",
  ]);
  assertEquals(named.code, 0, named.stderr);
});

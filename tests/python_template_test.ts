import { join } from "../lib/_deps.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import type { ChildEnvironment } from "../lib/bridge/child_env.ts";
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
const RUN = await taskFlags("run");

async function pythonSpecimen(vault: string, id: string, args: string[] = []) {
  const r = await runDeno([
    "run",
    ...CREATE,
    join(ROOT, "tasks", "create.ts"),
    "--vault",
    vault,
    "--id",
    id,
    "--domain",
    "training",
    "--method",
    "fine_tuning",
    "--template",
    "python",
    ...args,
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /Next: put your training in .*train\.py/);
  return join(vault, "specimens", id);
}

function run(vault: string, id: string, env: Record<string, string>) {
  return runDeno([
    "run",
    ...RUN,
    join(ROOT, "tasks", "run.ts"),
    "--vault",
    vault,
    "--no-system-metrics",
    id,
  ], { env });
}

function child(m: Awaited<ReturnType<typeof readManifest>>): ChildEnvironment {
  const p = m.provenance as { children?: ChildEnvironment[] };
  assert(p.children?.length === 1, JSON.stringify(p));
  return p.children[0];
}

/** A folder with a `python3` that imports nothing useful, to put first on PATH. */
async function decoyPath(dir: string): Promise<string> {
  const bin = join(dir, "bin");
  await Deno.mkdir(bin);
  await Deno.writeTextFile(
    join(bin, "python3"),
    `#!/bin/sh\necho "decoy python: no numpy" >&2\nexit 1\n`,
  );
  await Deno.chmod(join(bin, "python3"), 0o755);
  return `${bin}:${Deno.env.get("PATH")}`;
}

Deno.test("create --template python gives train.py and a protocol that runs it with the Python findPython chose, recorded in provenance", async () => {
  await using vault = await tempVault();
  const dir = await pythonSpecimen(vault.path, "py", ["--param", "steps=12"]);
  assert((await Deno.stat(join(dir, "train.py"))).isFile);
  const r = await run(vault.path, "py", {
    PATH: await decoyPath(vault.path),
  });
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /Python: \/usr\/bin\/python3 \(3\.\d+/);
  const m = await readManifest(dir);
  assertEquals(m.status, "sealed");
  assertEquals(m.artifacts.metrics.rows, 12);
  assertEquals(m.artifacts.w1.format, "zarr");
  assertEquals(m.params, { steps: 12, lr: 0.1, hidden: 16, seed: 0 });
  const c = child(m);
  assertEquals(c.command, ["/usr/bin/python3", "train.py"]);
  assert("path" in c.executable, JSON.stringify(c.executable));
  assertEquals(c.executable.path, "/usr/bin/python3");
  assertMatch(c.executable.realpath, /^\/usr\/bin\/python3\.\d+$/);
  const version = c.python?.version;
  assert(typeof version === "string", JSON.stringify(c.python));
  assertMatch(version, /^Python 3\.\d+/);
  const packages = c.python?.packages as Record<string, string>;
  assert("numpy" in packages, Object.keys(packages).join());
});

Deno.test("SPECIMEN_PYTHON chooses the interpreter, and only it: one without numpy fails the run naming it", async () => {
  await using vault = await tempVault();
  await using tmp = await tempDir();
  const dir = await pythonSpecimen(vault.path, "chosen", [
    "--param",
    "steps=3",
  ]);
  const r = await run(vault.path, "chosen", {
    SPECIMEN_PYTHON: "/usr/bin/python3.11",
  });
  assertEquals(r.code, 0, r.stderr);
  const m = await readManifest(dir);
  assertEquals(child(m).command[0], "/usr/bin/python3.11");

  await pythonSpecimen(vault.path, "decoy");
  const decoy = join(tmp.path, "python3");
  await Deno.writeTextFile(decoy, `#!/bin/sh\nexit 3\n`);
  await Deno.chmod(decoy, 0o755);
  const bad = await run(vault.path, "decoy", { SPECIMEN_PYTHON: decoy });
  assertEquals(bad.code, 4, bad.stderr);
  assertMatch(bad.stderr, new RegExp(`tried ${decoy}: exit code 3`));
  assertMatch(bad.stderr, /change SPECIMEN_PYTHON/);
  const missing = await run(vault.path, "decoy", {
    SPECIMEN_PYTHON: join(tmp.path, "nope"),
  });
  assertEquals(missing.code, 4, missing.stderr);
  assertMatch(missing.stderr, /nope: not found/);
});

Deno.test("create --template refuses an unknown template, naming the ones there are, and --template with --from", async () => {
  await using vault = await tempVault();
  const r = await runDeno([
    "run",
    ...CREATE,
    join(ROOT, "tasks", "create.ts"),
    "--vault",
    vault.path,
    "--id",
    "x",
    "--domain",
    "training",
    "--method",
    "fine_tuning",
    "--template",
    "pytorch",
  ]);
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /Unknown template "pytorch": the templates are python/);
  await pythonSpecimen(vault.path, "base");
  const from = await runDeno([
    "run",
    ...CREATE,
    join(ROOT, "tasks", "create.ts"),
    "--vault",
    vault.path,
    "--id",
    "y",
    "--from",
    "base",
    "--template",
    "python",
  ]);
  assertEquals(from.code, 2);
  assertMatch(from.stderr, /does not go with --from/);
});

Deno.test("create --template python checks --param against the template's params.json, creating nothing on a typo", async (t) => {
  await using vault = await tempVault();
  const cases: [string[], number, RegExp | null][] = [
    [
      ["--param", "lrr=0.3"],
      2,
      /"lrr" is not a known param \(did you mean "lr"\?\).*params\.json/,
    ],
    [
      ["--param", "steps=many"],
      2,
      /"steps" is string "many", but the known "steps" is number \(50\)/,
    ],
    [["--new-param", "dropout=0.1"], 0, null],
    [["--param", "lr=0.05"], 0, null],
  ];
  for (const [i, [args, code, want]] of cases.entries()) {
    await t.step(args.join(" "), async () => {
      const r = await runDeno([
        "run",
        ...CREATE,
        join(ROOT, "tasks", "create.ts"),
        "--vault",
        vault.path,
        "--id",
        `t${i}`,
        "--domain",
        "training",
        "--method",
        "fine_tuning",
        "--template",
        "python",
        ...args,
      ]);
      assertEquals(r.code, code, r.stderr);
      if (want) assertMatch(r.stderr, want);
      const made = await Deno.stat(join(vault.specimens, `t${i}`)).then(
        () => true,
        () => false,
      );
      assertEquals(made, code === 0);
    });
  }
  const r = await run(vault.path, "t2", {});
  assertEquals(r.code, 0, r.stderr);
  const m = await readManifest(join(vault.specimens, "t2"));
  assertEquals(m.params?.dropout, 0.1);
  assertEquals(m.params_new, ["dropout"]);
});

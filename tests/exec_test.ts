/**
 * `storage.exec` with real `/usr/bin/python3` children: the environment it
 * gives, where rows land, logs, records, provenance, errors.
 */
import { join } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import type { Provenance } from "../lib/specimen/manifest_types.ts";
import type { ExecutableInfo } from "../lib/bridge/child_env.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { beginRun, finishRun } from "../lib/run/run_record.ts";
import {
  ChildProcessError,
  ImmutableArtifactError,
  InvalidInputError,
  NotFoundError,
} from "../lib/errors.ts";
import { hasNumpy, PYTHON } from "./_python.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  newStorage,
  tempVault,
  webSha256,
} from "./utils.ts";

const py = (script: string, ...args: string[]) => [
  PYTHON,
  "-c",
  script,
  ...args,
];

/** A script printing what the child sees, as one JSON line on stdout. */
const SEES = `
import json, os
keys = ["SPECIMEN_DIR", "SPECIMEN_ID", "SPECIMEN_PARAMS", "SPECIMEN_METRICS", "SPECIMEN_OUTPUTS", "EXTRA"]
env = {k: os.environ.get(k) for k in keys}
print(json.dumps({
  "env": env,
  "cwd": os.getcwd(),
  "params": json.load(open(env["SPECIMEN_PARAMS"])),
  "metrics_size": os.path.getsize(env["SPECIMEN_METRICS"]),
  "outputs": os.listdir(env["SPECIMEN_OUTPUTS"]),
}))
`;

Deno.test("storage.exec gives the child its SPECIMEN_* variables, a params file and an empty outputs folder, in the specimen folder", async () => {
  await using vault = await tempVault();
  const { dir } = await createSpecimen({
    vault: vault.path,
    id: "sees",
    domain: "training",
    method: "fine_tuning",
    params: { lr: 0.001, layers: [64, 32], opt: { name: "adam" } },
  });
  const storage = await SpecimenStorage.open(dir);
  const r = await storage.exec(py(SEES), {
    echo: false,
    env: { EXTRA: "x y" },
  });
  assertEquals([r.code, r.signal, r.success], [0, null, true]);
  const seen = JSON.parse(await Deno.readTextFile(join(dir, r.stdout)));
  assertEquals(seen.env.SPECIMEN_DIR, dir);
  assertEquals(seen.env.SPECIMEN_ID, "sees");
  assertEquals(seen.env.EXTRA, "x y");
  assertEquals(seen.cwd, dir);
  assertEquals(seen.params, {
    lr: 0.001,
    layers: [64, 32],
    opt: { name: "adam" },
  });
  assertEquals([seen.metrics_size, seen.outputs], [0, []]);
  // Scratch files: in one hidden temp folder of the specimen, gone after.
  const scratch = join(seen.env.SPECIMEN_PARAMS, "..");
  for (const k of ["SPECIMEN_METRICS", "SPECIMEN_OUTPUTS"]) {
    assertEquals(join(seen.env[k], ".."), scratch);
  }
  assertMatch(scratch, new RegExp(`^${dir}/\\.tmp-exec-\\d+-[0-9a-f]{8}$`));
  await assertRejects(() => Deno.stat(scratch), Deno.errors.NotFound);
});

Deno.test("storage.exec logs each JSON line to its table: metrics by default, _table routes, table option renames", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const script = `
import json, os
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    for step in range(500):
        f.write(json.dumps({"step": step, "loss": 1 / (step + 1)}) + "\\n")
        if step % 100 == 0:
            f.write(json.dumps({"_table": "eval", "step": step, "acc": step / 500, "split": "val"}) + "\\n")
`;
  const r = await storage.exec(py(script), { echo: false, table: "train" });
  assertEquals(r.rows, { train: 500, eval: 5 });
  assertEquals([r.badLines, r.tornLine, r.problems], [0, false, []]);
  const train = await storage.readMetrics("train");
  assertEquals(Object.keys(train).sort(), ["loss", "step"]);
  assertEquals(train.step.length, 500);
  assertEquals(train.loss[3], 0.25);
  const evalTable = await storage.readMetrics("eval");
  assertEquals(Object.keys(evalTable).sort(), ["acc", "split", "step"]);
  assertEquals([...evalTable.step].map(Number), [0, 100, 200, 300, 400]);
  assertEquals(evalTable.split[0], "val");
  const m = await readManifest(storage.dir);
  assertEquals(m.artifacts.train.rows, 500);
  assertEquals(m.artifacts.eval.rows, 5);
});

Deno.test("storage.exec runs in options.cwd: relative to the specimen folder, or absolute", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await Deno.mkdir(join(storage.dir, "code"));
  const cwd = `import os; print(os.getcwd())`;
  const rel = await storage.exec(py(cwd), { echo: false, cwd: "code" });
  assertEquals(
    (await Deno.readTextFile(join(storage.dir, rel.stdout))).trim(),
    join(storage.dir, "code"),
  );
  const abs = await storage.exec(py(cwd), { echo: false, cwd: vault.path });
  assertEquals(
    (await Deno.readTextFile(join(storage.dir, abs.stdout))).trim(),
    vault.path,
  );
  await assertRejects(
    () => storage.exec(py(cwd), { echo: false, cwd: "missing" }),
    NotFoundError,
    `${join(storage.dir, "missing")} is not a folder`,
  );
});

Deno.test("storage.exec records each exec in the run and the child's environment in provenance", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const run = await beginRun(storage.dir, {
    via: "deno run",
    command: ["deno", "run", "protocol.ts"],
  });
  const script = `
import json, os, sys
print("to stdout"); print("to stderr", file=sys.stderr)
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    f.write('{"step": 1, "loss": 0.5}\\n[1]\\n')
`;
  const first = await storage.exec(py(script), { echo: false });
  const second = await storage.exec(py(`print("again")`), { echo: false });
  assertEquals([first.index, second.index], [1, 2]);
  assertEquals(first.stdout, `runs/${run.id}/exec-1.stdout.log`);
  assertEquals(second.stderr, `runs/${run.id}/exec-2.stderr.log`);
  assertEquals(
    await Deno.readTextFile(join(storage.dir, first.stdout)),
    "to stdout\n",
  );
  assertEquals(
    await Deno.readTextFile(join(storage.dir, first.stderr)),
    "to stderr\n",
  );
  const m = await readManifest(storage.dir);
  const execs = m.runs![0].execs!;
  assertEquals(execs.length, 2);
  assertEquals(execs[0].command, py(script));
  assertEquals(execs[0].cwd, storage.dir);
  assertEquals([execs[0].exit_code, execs[0].signal], [0, null]);
  assertEquals([execs[0].rows, execs[0].bad_lines], [{ metrics: 1 }, 1]);
  assert(execs[0].duration_ms! >= 0 && execs[0].ended !== null);
  assertEquals(execs[1].rows, {});
  // The storage's copy of the manifest sees it too.
  assertEquals(storage.manifest.runs![0].execs!.length, 2);

  const children = (m.provenance as Provenance).children!;
  assertEquals(children.map((c) => c.exec), [1, 2]);
  const exe = children[0].executable as ExecutableInfo;
  assertEquals(exe.path, PYTHON);
  assertEquals(exe.realpath, await Deno.realPath(PYTHON));
  assertEquals(exe.sha256, await webSha256(await Deno.readFile(exe.realpath)));
  assertMatch(children[0].python!.version as string, /^Python 3\.\d+/);
  if (await hasNumpy()) {
    assert("numpy" in (children[0].python!.packages as object));
  }
  assert("reason" in children[0].gpus || Array.isArray(children[0].gpus));

  const { run: done } = await finishRun(storage.dir, run.id, { exitCode: 0 });
  assertEquals(done.status, "succeeded");
  // The logs are sealed with the run; the scratch folder never is.
  const sealed = Object.keys((await readManifest(storage.dir)).seal!.files);
  assert(sealed.includes(first.stdout) && sealed.includes(second.stderr));
  assert(!sealed.some((f) => f.includes(".tmp-")));
});

Deno.test("storage.exec of a child exiting non-zero throws ChildProcessError with its code; check: false returns it", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const script = `
import os, sys
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    f.write('{"step": 1}\\n{"step": 2}\\n')
print("diverged", file=sys.stderr); sys.exit(3)`;
  const e = await assertRejects(
    () => storage.exec(py(script), { echo: false }),
    ChildProcessError,
    "failed: exit code 3",
  ) as ChildProcessError;
  assertEquals([e.code, e.signal, e.exitCode], [3, null, 7]);
  assertMatch(e.message, /exec-1\.stderr\.log/);
  // The complete lines are kept, and the logs.
  assertEquals((await storage.readMetrics()).step.length, 2);
  const log = join(storage.dir, "runs");
  const [folder] = await Array.fromAsync(Deno.readDir(log));
  assertEquals(
    await Deno.readTextFile(join(log, folder.name, "exec-1.stderr.log")),
    "diverged\n",
  );
  const r = await storage.exec(py(`import sys; sys.exit(4)`), {
    echo: false,
    check: false,
    table: "second",
  });
  // Without a run in progress, each exec has its own log folder.
  assertEquals([r.code, r.success, r.index], [4, false, 1]);
  assertMatch(r.stdout, /^runs\/exec_\S+\/exec-1\.stdout\.log$/);
});

Deno.test("storage.exec refuses a command that is not found, naming it, and bad options, before running anything", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  for (const cmd of ["no_such_tool_xyz", "./missing.py", "/nowhere/python"]) {
    await assertRejects(
      () => storage.exec([cmd, "train.py"], { echo: false }),
      NotFoundError,
      `Cannot run "${cmd} train.py"`,
    );
  }
  await assertRejects(
    () => storage.exec([], { echo: false }),
    InvalidInputError,
    "executable first",
  );
  await assertRejects(
    () => storage.exec(py("pass"), { echo: false, maxBadLines: -1 }),
    InvalidInputError,
    "maxBadLines",
  );
  await assertRejects(
    () => storage.exec(py("pass"), { echo: false, table: "Bad Name" }),
    InvalidInputError,
  );
  // Nothing was run: no logs, no scratch folder.
  const left = (await Array.fromAsync(Deno.readDir(storage.dir)))
    .map((e) => e.name).filter((n) => n.startsWith(".tmp-") || n === "runs");
  assertEquals(left, []);
});

Deno.test("storage.exec twice into one table is refused with a hint, keeping the first table", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const write = `
import os
with open(os.environ["SPECIMEN_METRICS"], "a") as f: f.write('{"step": 1}\\n')`;
  await storage.exec(py(write), { echo: false });
  await assertRejects(
    () => storage.exec(py(write), { echo: false }),
    ImmutableArtifactError,
    `storage.exec(command, { table: "metrics_2" })`,
  );
  assertEquals((await storage.readMetrics()).step.length, 1);
  const r = await storage.exec(py(write), { echo: false, table: "metrics_2" });
  assertEquals(r.rows, { metrics_2: 1 });
});

Deno.test("storage.exec refuses a sealed specimen before running the child", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const run = await beginRun(storage.dir, {
    via: "deno run",
    command: ["x"],
  });
  await storage.writeMetrics({ step: [0] });
  await finishRun(storage.dir, run.id, { exitCode: 0 });
  const marker = join(vault.path, "ran");
  await assertRejects(
    () =>
      storage.exec(py(`open(${JSON.stringify(marker)}, "w")`), {
        echo: false,
      }),
    ImmutableArtifactError,
  );
  await assertRejects(() => Deno.stat(marker), Deno.errors.NotFound);
});

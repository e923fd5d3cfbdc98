/**
 * `storage.exec` under faults, with real processes: bad lines of every
 * kind, a child killed mid-write, `deno task run` killed, signals, a child
 * writing far more than memory should hold.
 */
import { join } from "../lib/_deps.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { beginRun } from "../lib/run/run_record.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { PYTHON } from "./_python.ts";
import { alive, pySpecimen, readPid, runTaskArgs } from "./_exec.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  newStorage,
  repoVault,
  ROOT,
  runDeno,
  runTask,
  tempVault,
  until,
} from "./utils.ts";

Deno.test("storage.exec skips each kind of bad line with its line number, keeps the good rows, ignores a torn last line", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const script = `
import os
lines = [
  b'{"step": 0, "loss": 1.0}',
  b'[1, 2]',
  b'{"step": 1, "loss": 0.5}',
  b'not json at all',
  b'{"step": "two", "loss": 0.4}',
  b'{"step": 3, "s": "\\xff"}',
  b'{"_table": "Bad Name", "x": 1}',
  b'{"step": 4, "loss": {"nested": 1}}',
  b'"just a string"',
  b'{"step": 5, "loss": 0.25}',
]
with open(os.environ["SPECIMEN_METRICS"], "ab") as f:
    f.write(b"\\n".join(lines) + b"\\n" + b'{"step": 6, "lo')
`;
  const r = await storage.exec([PYTHON, "-c", script], { echo: false });
  assertEquals(r.rows, { metrics: 3 });
  assertEquals([r.badLines, r.tornLine], [7, true]);
  assertEquals(
    r.problems.map((p) => [p.line, p.kind]).sort((a, b) =>
      (a[0] as number) - (b[0] as number)
    ),
    [
      [2, "not_object"],
      [4, "not_json"],
      [5, "rejected"],
      [6, "not_utf8"],
      [7, "bad_table"],
      [8, "rejected"],
      [9, "not_object"],
      [11, "torn"],
    ],
  );
  for (const p of r.problems) assertMatch(p.message, /line \d+/);
  const conflict = r.problems.find((p) => p.line === 5)!;
  assertMatch(conflict.message, /step/);
  const { step, loss } = await storage.readMetrics();
  assertEquals([...step].map(Number), [0, 1, 5]);
  assertEquals([...loss], [1, 0.5, 0.25]);
});

Deno.test("storage.exec refuses a 100 MB line as too long without failing the run, and keeps the lines after it", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const script = `
import os
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    f.write('{"step": 0}\\n')
    f.write('{"blob": "' + "x" * 100_000_000 + '"}\\n')
    f.write('{"step": 2}\\n')
`;
  const before = Deno.memoryUsage().rss;
  const r = await storage.exec([PYTHON, "-c", script], { echo: false });
  assertEquals(r.rows, { metrics: 2 });
  assertEquals(r.problems.map((p) => [p.line, p.kind]), [[2, "too_long"]]);
  assertMatch(
    r.problems[0].message,
    /100000012 bytes, over the 16777216-byte limit/,
  );
  // The line was skipped as it streamed by, never held whole.
  assert(Deno.memoryUsage().rss - before < 80e6);
  assertEquals([...(await storage.readMetrics()).step].map(Number), [0, 2]);
});

Deno.test("storage.exec stops the child after more bad lines than maxBadLines, records why, and keeps the rows before", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await beginRun(storage.dir, { via: "deno run", command: ["x"] });
  const pidFile = join(vault.path, "pid");
  const script = `
import os, time
open(${JSON.stringify(pidFile)}, "w").write(f"{os.getpid()}\\n")
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    for i in range(3): f.write(f'{{"step": {i}}}\\n')
    while True:
        f.write("oops\\n"); f.flush(); time.sleep(0.01)
`;
  await assertRejects(
    () => storage.exec([PYTHON, "-c", script], { echo: false, maxBadLines: 5 }),
    InvalidInputError,
    "6 bad lines in its SPECIMEN_METRICS file, over the limit of 5",
  );
  // The child writes bad lines forever: returning at all proves it was stopped.
  assert(!alive((await readPid(pidFile))!), "the child was stopped");
  assertEquals((await storage.readMetrics()).step.length, 3);
  const exec = (await readManifest(storage.dir)).runs![0].execs![0];
  assertEquals([exec.bad_lines, exec.signal], [6, "SIGTERM"]);
  assertMatch(exec.error!, /over the limit of 5/);
});

Deno.test("run task: a child killed with SIGKILL mid-write keeps every complete line; the run fails with its logs, unsealed", async () => {
  await using vault = await repoVault();
  const dir = await pySpecimen(
    vault.path,
    "killed",
    `import json, os, signal
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    for step in range(1000):
        f.write(json.dumps({"step": step, "loss": 1 / (step + 1)}) + "\\n")
    f.write('{"step": 1000, "lo')
print("about to die")
os.kill(os.getpid(), signal.SIGKILL)
`,
  );
  const r = await runDeno(runTaskArgs(vault.path, "killed"));
  assertEquals(r.code, 7, r.stderr);
  assertMatch(r.stdout, /about to die/);
  assertMatch(r.stderr, /train\.py" failed: killed by SIGKILL/);
  const m = await readManifest(dir);
  assertEquals(m.status, "failed");
  assertEquals(m.seal, undefined);
  const run = m.runs![0];
  assertEquals([run.status, run.exit_code], ["failed", 7]);
  const exec = run.execs![0];
  assertEquals([exec.signal, exec.exit_code], ["SIGKILL", null]);
  assertEquals([exec.rows, exec.torn_line], [{ metrics: 1000 }, true]);
  assertEquals(
    await Deno.readTextFile(join(dir, exec.stdout)),
    "about to die\n",
  );
  const storage = await SpecimenStorage.open(dir);
  const { step } = await storage.readMetrics();
  assertEquals(step.length, 1000);
  assertEquals(Number(step[999]), 999);
  // No scratch folder is left in the specimen.
  for await (const e of Deno.readDir(dir)) assert(!e.name.startsWith(".tmp-"));
});

Deno.test("run task killed with SIGKILL: the child is gone within seconds, flushed rows survive, the run is marked interrupted", async () => {
  await using vault = await repoVault();
  const pidFile = join(vault.path, "pids");
  const dir = await pySpecimen(
    vault.path,
    "orphan",
    `import json, os, time
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    for step in range(200):
        f.write(json.dumps({"step": step}) + "\\n")
    f.flush()
    open(${
      JSON.stringify(pidFile)
    }, "w").write(f"{os.getpid()} {os.getppid()}\\n")
    step = 200
    while True:
        f.write(json.dumps({"step": step}) + "\\n"); f.flush()
        step += 1; time.sleep(0.01)
`,
  );
  const task = new Deno.Command(Deno.execPath(), {
    args: runTaskArgs(vault.path, "orphan"),
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const [pid, protocolPid] = (await until(async () => {
    try {
      const t = await Deno.readTextFile(pidFile);
      return t.endsWith("\n") ? t : undefined;
    } catch {
      return undefined;
    }
  }, "the child's pid")).trim().split(" ").map(Number);
  task.kill("SIGKILL");
  await task.status;
  // The child writes forever: it ends only because deno task run's end
  // stopped it (the bound only keeps a regression from hanging the suite).
  await until(() => !alive(pid), "the child to end");
  // The protocol records what happened, then ends too.
  await until(() => !alive(protocolPid), "the protocol to end");
  const m = await readManifest(dir);
  const run = m.runs![0];
  assertEquals(run.status, "interrupted");
  assertMatch(run.error!, /died while .*train\.py/);
  assertEquals(m.status, "failed");
  assertEquals(m.seal, undefined);
  const exec = run.execs![0];
  // However many rows the follower had read when the task was killed, the
  // count recorded is the count stored (no timing assumed).
  const storage = await SpecimenStorage.open(dir);
  assertEquals((await storage.readMetrics()).step.length, exec.rows.metrics);
  // Nothing is left to repair, and a new run is refused (it holds results).
  const repair = await runTask("repair", [
    "--vault",
    vault.path,
  ]);
  assertEquals(repair.code, 0, repair.stderr);
});

Deno.test("run task: SIGTERM is passed through the protocol to the child, whose exit is recorded", async () => {
  await using vault = await repoVault();
  const dir = await pySpecimen(
    vault.path,
    "term",
    `import signal, sys, time
def stop(sig, frame):
    print("child got SIGTERM", flush=True); sys.exit(5)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
time.sleep(60)
`,
  );
  const task = new Deno.Command(Deno.execPath(), {
    args: runTaskArgs(vault.path, "term"),
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = task.stdout.getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += new TextDecoder().decode(value);
  }
  task.kill("SIGTERM");
  const rest = (async () => {
    let text = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += new TextDecoder().decode(value);
    }
  })();
  const [status, stdout, stderr] = await Promise.all([
    task.status,
    rest,
    new Response(task.stderr).text(),
  ]);
  assertMatch(seen + stdout, /child got SIGTERM/);
  assert(!status.success, stderr);
  const m = await readManifest(dir);
  const exec = m.runs![0].execs![0];
  assertEquals([exec.exit_code, exec.signal], [5, null]);
  assertEquals(m.runs![0].status, "interrupted"); // stopped by the user
});

Deno.test("a protocol killed with SIGKILL takes its child with it (parent-death signal); repair compacts the rows flushed", async () => {
  if (Deno.build.os !== "linux") return;
  await using vault = await repoVault();
  const pidFile = join(vault.path, "pid");
  const dir = await pySpecimen(
    vault.path,
    "direct",
    `import json, os, time
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    for step in range(70_000):
        f.write(json.dumps({"step": step}) + "\\n")
open(${JSON.stringify(pidFile)}, "w").write(f"{os.getpid()}\\n")
time.sleep(60)
`,
  );
  const protocol = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(dir, "protocol.ts")],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const pid = await until(() => readPid(pidFile), "the child's pid");
  // The first 65,536 rows make two part files: flushed, so they survive.
  const part = join(dir, "strata", "metrics.parts", "part-000002.parquet");
  await until(
    () => Deno.stat(part).then(() => true, () => undefined),
    "a part on disk",
  );
  protocol.kill("SIGKILL");
  await protocol.status;
  await until(() => !alive(pid), "the child to end");
  const repair = await runTask("repair", [
    "--vault",
    vault.path,
    "--format",
    "json",
  ]);
  assertEquals(repair.code, 0, repair.stderr);
  assertMatch(repair.stdout, /"direct"/);
  assertMatch(repair.stdout, /"metrics"/);
  const storage = await SpecimenStorage.open(dir);
  assertEquals((await storage.readMetrics()).step.length, 65_536);
  assertEquals(
    (await readManifest(dir)).artifacts.metrics.interrupted,
    true,
  );
});

Deno.test("a protocol run directly keeps its child when the shell that started it exits (nohup-style)", async () => {
  if (Deno.build.os !== "linux") return;
  await using vault = await repoVault();
  const dir = await pySpecimen(
    vault.path,
    "nohup",
    `import json, os, time
open(${JSON.stringify(join(vault.path, "started"))}, "w")
time.sleep(1.5)
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    f.write(json.dumps({"step": 0}) + "\\n")
`,
  );
  const shell = await new Deno.Command("sh", {
    args: [
      "-c",
      // The shell waits for the child to start, then exits.
      `"$0" run -A "$1" >/dev/null 2>&1 &
while [ ! -e "$2" ]; do sleep 0.05; done`,
      Deno.execPath(),
      join(dir, "protocol.ts"),
      join(vault.path, "started"),
    ],
  }).output();
  assert(shell.success);
  const m = await until(async () => {
    const m = await readManifest(dir);
    return m.runs?.[0]?.status === "running" || !m.runs?.length ? undefined : m;
  }, "the run to end");
  assertEquals([m.runs![0].status, m.status], ["succeeded", "sealed"]);
  assertEquals(m.runs![0].execs![0].rows, { metrics: 1 });
});

Deno.test("storage.exec ingests 150 MB of JSON lines written as fast as a child can: none lost, parent peak RSS under 200 MB", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const lines = 1_500_000;
  const script = join(vault.path, "measure.ts");
  await Deno.writeTextFile(
    script,
    `import { SpecimenStorage } from ${
      JSON.stringify(join(ROOT, "lib/run/storage.ts"))
    };
const storage = await SpecimenStorage.open(${JSON.stringify(storage.dir)});
const py = \`
import json, os, random
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    for step in range(${lines}):
        f.write(json.dumps({"step": step, "loss": random.random(), "acc": random.random(), "lr": 0.000312, "grad_norm": random.random() * 10}) + "\\\\n")
\`;
const r = await storage.exec([${
      JSON.stringify(PYTHON)
    }, "-c", py], { echo: false });
const hwm = Number(/VmHWM:\\s+(\\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))![1]) * 1024;
console.log(JSON.stringify({ rows: r.rows, hwm, bytes: ${lines} }));
`,
  );
  const out = await runDeno(["run", "-A", script]);
  assertEquals(out.code, 0, out.stderr);
  const { rows, hwm } = JSON.parse(out.stdout);
  assertEquals(rows, { metrics: lines });
  assert(hwm < 200e6, `peak RSS ${(hwm / 1e6).toFixed(0)} MB`);
  const { step } = await storage.readMetrics();
  assertEquals(step.length, lines);
  assertEquals(Number(step[lines - 1]), lines - 1);
});

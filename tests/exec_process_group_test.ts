/**
 * A child of `storage.exec` that leaves a background writer in its process
 * group and exits: the writer is followed until it ends (or stopped after
 * `groupGraceMs`), its rows are kept, a warning says so, and nothing of the
 * group outlives the run. Real `deno task run` subprocesses and real Python
 * grandchildren. See docs/RELIABILITY.md, "A child's process group".
 */
import { join } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import {
  alive,
  pySpecimen,
  readPid,
  runSpecimen,
  runTaskArgs,
} from "./_exec.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  repoVault,
  until,
} from "./utils.ts";

/**
 * A specimen whose protocol runs a Python child that starts `writer` (a
 * Python script) detached from its stdio, writes its pid to `pid.txt`, and
 * exits at once.
 */
function specimen(
  vault: string,
  id: string,
  writer: string,
  execOptions = "{}",
): Promise<string> {
  return pySpecimen(
    vault,
    id,
    `import subprocess, sys
p = subprocess.Popen([sys.executable, "writer.py"], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
open("pid.txt", "w").write(str(p.pid))
print("child exits, writer", p.pid)
`,
    { execOptions, files: { "writer.py": writer }, logLeftBehind: true },
  );
}

Deno.test("run task: a background writer the child leaves behind is followed until it ends; all its rows are sealed and none of the group outlives the run", async (t) => {
  for (const [rows, pause] of [[40, 0.02], [300, 0.001]] as const) {
    await t.step(`${rows} rows`, async () => {
      await using vault = await repoVault();
      const dir = await specimen(
        vault.path,
        "bg",
        `import json, os, time
for i in range(${rows}):
    with open(os.environ["SPECIMEN_METRICS"], "a") as f:
        f.write(json.dumps({"step": i, "loss": 1 / (i + 1)}) + "\\n")
    time.sleep(${pause})
`,
      );
      const r = await runSpecimen(vault.path, "bg");
      assertEquals(r.code, 0, r.stderr);
      const pid = Number(await Deno.readTextFile(join(dir, "pid.txt")));
      assert(!alive(pid), `writer ${pid} still runs after the run`);
      assertMatch(
        r.stderr,
        /exited, leaving 1 process\(es\) of its process group .*followed until they ended/,
      );
      const m = await readManifest(dir);
      assertEquals(m.status, "sealed");
      assertEquals(m.runs![0].execs![0].rows, { metrics: rows });
      const storage = await SpecimenStorage.open(dir);
      assertEquals((await storage.readMetrics()).step.length, rows);
    });
  }
});

Deno.test("run task: a writer that never ends is stopped after groupGraceMs; the rows it wrote are kept and the warning names it", async () => {
  await using vault = await repoVault();
  const dir = await specimen(
    vault.path,
    "forever",
    `import json, os, time
i = 0
while True:
    with open(os.environ["SPECIMEN_METRICS"], "a") as f:
        f.write(json.dumps({"step": i}) + "\\n")
    with open("tally.txt", "a") as f:
        f.write("x\\n")
    i += 1
    time.sleep(0.01)
`,
    "{ groupGraceMs: 300 }",
  );
  const r = await runSpecimen(vault.path, "forever");
  assertEquals(r.code, 0, r.stderr);
  const pid = Number(await Deno.readTextFile(join(dir, "pid.txt")));
  assert(!alive(pid), `writer ${pid} still runs after the run`);
  assertMatch(
    r.stderr,
    new RegExp(
      `leaving 1 process\\(es\\) of its process group \\(pid ${pid}\\) running; they were followed for 0.3 s, then stopped`,
    ),
  );
  const m = await readManifest(dir);
  const rows = (m.runs![0].execs![0].rows as Record<string, number>).metrics;
  // Each row is written before its tally line: the kill may fall between.
  const tally = (await Deno.readTextFile(join(dir, "tally.txt"))).length / 2;
  assert(rows >= tally && rows <= tally + 1, `${rows} rows, ${tally} written`);
  assert(rows > 0);
  const storage = await SpecimenStorage.open(dir);
  assertEquals((await storage.readMetrics()).step.length, rows);
});

Deno.test("run task: a protocol killed with SIGKILL or SIGTERM during a hung exec, or deno task run killed with SIGKILL, leaves no .tmp-exec folder; the run fails", async (t) => {
  const cases = [
    ["SIGKILL", "protocol"],
    ["SIGTERM", "protocol"],
    ["SIGKILL", "task"],
  ] as const;
  for (const [sig, target] of cases) {
    await t.step(`${sig} to the ${target}`, async () => {
      await using vault = await repoVault();
      const { dir } = await createSpecimen({
        vault: vault.path,
        id: "hung",
        domain: "training",
        method: "fine_tuning",
      });
      // The child records its parent (the protocol), then hangs.
      await Deno.writeTextFile(
        join(dir, "protocol.ts"),
        `import { runProtocol } from "specimen-vault";
await runProtocol(import.meta, async (storage) => {
  await storage.exec(["sh", "-c", 'echo $PPID > protocol.pid; exec sleep 600'], { echo: false });
});
`,
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: runTaskArgs(vault.path, "hung"),
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const protocol = await until(
        () => readPid(join(dir, "protocol.pid")),
        "the exec's child to start",
      );
      assert(protocol, "the exec's child never started");
      const scratch = await Array.fromAsync(Deno.readDir(dir), (e) => e.name)
        .then((n) => n.filter((x) => x.startsWith(".tmp-exec-")));
      assertEquals(scratch.length, 1);
      Deno.kill(target === "protocol" ? protocol : child.pid, sig);
      const out = await child.output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert(out.code !== 0, stderr);
      // Killed outright, deno task run records nothing: the protocol sees
      // its parent gone, stops the child, records and cleans up, then ends.
      await until(() => !alive(protocol), `the protocol ${protocol} to end`);
      const left = await Array.fromAsync(Deno.readDir(dir), (e) => e.name);
      assertEquals(left.filter((x) => x.startsWith(".tmp-")), [], stderr);
      const m = await readManifest(dir);
      assertEquals(
        m.runs![0].status,
        target === "task" ? "interrupted" : "failed",
      );
    });
  }
});

// System metrics during `deno task run`: real runs of real protocols (and a
// Python grandchild), sampled by the runner into strata/system.parquet.
import { join } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import { serveDashboard } from "../lib/dashboard/server.ts";
import { verifySpecimen } from "../lib/specimen/verify.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  repoVault,
  ROOT,
  runDeno,
  taskFlags,
} from "./utils.ts";
import { PYTHON } from "./_python.ts";

const RUN_FLAGS = await taskFlags("run");
const REPAIR_FLAGS = await taskFlags("repair");
const MB = 2 ** 20;

function runTaskCli(args: string[]) {
  return runDeno(["run", ...RUN_FLAGS, join(ROOT, "tasks", "run.ts"), ...args]);
}

/** A specimen whose protocol.ts runs `body` inside runProtocol. */
async function specimen(vault: string, id: string, body: string) {
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "training",
    method: "fine_tuning",
  });
  await writeProtocol(dir, body);
  return dir;
}

async function writeProtocol(dir: string, body: string) {
  await Deno.writeTextFile(
    join(dir, "protocol.ts"),
    `import { runProtocol } from "specimen-vault";
await runProtocol(import.meta, async (storage) => {
${body}
});
`,
  );
}

/** The system table's columns as plain numbers. */
async function systemTable(dir: string): Promise<Record<string, number[]>> {
  const storage = await SpecimenStorage.open(dir);
  const cols = await storage.readMetrics("system");
  return Object.fromEntries(
    Object.entries(cols).map((
      [k, v],
    ) => [k, Array.from(v as ArrayLike<unknown>, Number)]),
  );
}

const max = (xs: number[]) => Math.max(...xs);
/** The most a tree can use: every core, plus a tick's rounding. */
const CPU_CEILING = 100 * navigator.hardwareConcurrency + 15;

// Burns one core and holds 120 MiB (every page touched) for 2.5 s, and
// records the CPU seconds it used by its own account (rusage).
const BURN_AND_ALLOCATE = `
  const { cpuUsage } = await import("node:process");
  const c0 = cpuUsage();
  const buf = new Uint8Array(120 * 2 ** 20);
  for (let i = 0; i < buf.length; i += 4096) buf[i] = 1;
  const end = Date.now() + 2500;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + buf[x % 4096]);
  const used = cpuUsage(c0);
  await storage.writeMetrics({ step: [0], cpu_s: [(used.user + used.system) / 1e6] });`;

/**
 * CPU seconds the samples account for: each sample's cpu_percent covers
 * the time since the previous one.
 */
function sampledCpuSeconds(sys: Record<string, number[]>): number {
  let total = 0;
  for (let i = 1; i < sys.step.length; i++) {
    total += (sys.cpu_percent[i] / 100) * (sys.seconds[i] - sys.seconds[i - 1]);
  }
  return total;
}

/** The protocol's own `cpu_s` metric. */
async function ownCpuSeconds(dir: string): Promise<number> {
  const storage = await SpecimenStorage.open(dir);
  return Number((await storage.readMetrics()).cpu_s[0]);
}

Deno.test("run task: a protocol burning CPU and allocating 120 MiB shows in strata/system.parquet, queryable as metrics__system and plotted", async () => {
  await using vault = await repoVault();
  const dir = await specimen(vault.path, "burn", BURN_AND_ALLOCATE);
  const r = await runTaskCli([
    "--vault",
    vault.path,
    "burn",
    "--system-interval",
    "0.2",
  ]);
  assertEquals(r.code, 0, r.stderr);

  const sys = await systemTable(dir);
  const rows = sys.step.length;
  assert(rows >= 5, `${rows} samples in about 3 s at 0.2 s`);
  assertEquals(sys.step, sys.step.map((_, i) => i), "one step per sample");
  // Timings on a shared machine vary: the samples must account for at
  // least half the CPU the protocol says it used (the rest is startup,
  // before the first sample, and the last moment, after the last).
  const own = await ownCpuSeconds(dir);
  const sampled = sampledCpuSeconds(sys);
  assert(own > 0.2, `the protocol used ${own} s of CPU`);
  assert(max(sys.cpu_percent) <= CPU_CEILING, `cpu ${sys.cpu_percent}`);
  assert(
    sampled > own / 2,
    `samples account for ${sampled} CPU s of ${own}: ${sys.cpu_percent}`,
  );
  assert(max(sys.rss_bytes) > 120 * MB, `rss ${sys.rss_bytes}`);
  assert(sys.threads.every((t) => t >= 1), `threads ${sys.threads}`);
  assert(sys.mem_total_bytes.every((t) => t > sys.mem_used_bytes[0]));
  assert(sys.seconds.every((s, i) => i === 0 || s > sys.seconds[i - 1]));
  assert(Math.abs(sys.time[0] - Date.now() / 1000) < 120, "Unix seconds");

  const m = await readManifest(dir);
  assertEquals(m.status, "sealed");
  assertEquals(m.runs![0].system_metrics, "strata/system.parquet");
  assertEquals(m.artifacts.system.rows, rows);
  assert(m.artifacts.metrics, "the protocol's own table is recorded too");
  assert(m.seal!.files["strata/system.parquet"]);
  assertEquals((await verifySpecimen(dir)).state, "ok");

  await indexVault({ vault: vault.path });
  {
    await using q = await VaultQuery.open({ vault: vault.path });
    const [row] = await q.search(
      "SELECT count(*)::INTEGER AS n, max(rss_bytes) AS rss FROM metrics__system WHERE specimen_id = 'burn'",
    );
    assertEquals(row.n, rows);
    assert(Number(row.rss) > 120 * MB);
  }
  // The specimen page draws every metric table with a step column.
  await using server = await serveDashboard({ vault: vault.path, port: 0 });
  const page = await (await fetch(new URL("/api/specimens/burn", server.url)))
    .json();
  const table = page.metric_tables.find((t: { name: string }) =>
    t.name === "system"
  );
  assert(table, JSON.stringify(page.metric_tables));
  const curves = await (await fetch(
    new URL(
      "/api/curves?ids=burn&table=system&columns=cpu_percent,rss_bytes&width=400",
      server.url,
    ),
  )).json();
  assertEquals(
    curves.series.map((s: { column: string }) => s.column).sort(),
    ["cpu_percent", "rss_bytes"],
  );
});

Deno.test("run task: a Python grandchild the protocol starts is counted in the process tree", async () => {
  await using vault = await repoVault();
  const script = [
    "import time",
    "b = b'\\\\x01' * (150 * 2 ** 20)",
    "end = time.time() + 2.5",
    "x = 0",
    "while time.time() < end: x += 1",
    "print(time.process_time())",
  ].join("\\n");
  const dir = await specimen(
    vault.path,
    "py_child",
    `
  const py = await new Deno.Command(${JSON.stringify(PYTHON)}, {
    args: ["-c", "${script}"],
  }).output();
  if (!py.success) throw new Error(new TextDecoder().decode(py.stderr));
  const cpu = Number(new TextDecoder().decode(py.stdout));
  await storage.writeMetrics({ step: [0], cpu_s: [cpu] });`,
  );
  const r = await runTaskCli([
    "--vault",
    vault.path,
    "py_child",
    "--system-interval",
    "0.2",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const sys = await systemTable(dir);
  assert(max(sys.procs) >= 2, `procs ${sys.procs}`);
  // The protocol (Deno) waits; the CPU and the 150 MiB are Python's.
  const withPython = sys.procs.map((p, i) => p >= 2 ? i : -1).filter((i) =>
    i >= 0
  );
  assert(
    max(withPython.map((i) => sys.rss_bytes[i])) > 150 * MB,
    `rss ${sys.rss_bytes}`,
  );
  const own = await ownCpuSeconds(dir);
  const sampled = sampledCpuSeconds(sys);
  assert(own > 0.2, `Python used ${own} s of CPU`);
  assert(max(sys.cpu_percent) <= CPU_CEILING, `cpu ${sys.cpu_percent}`);
  assert(
    sampled > own / 2,
    `samples account for ${sampled} CPU s of Python's ${own}: ${sys.cpu_percent}`,
  );
});

Deno.test("run task: --no-system-metrics takes none; a protocol shorter than the interval still gets a sample", async (t) => {
  await using vault = await repoVault();
  await t.step("--no-system-metrics", async () => {
    const dir = await specimen(
      vault.path,
      "off",
      `await storage.writeMetrics({ step: [0], loss: [1] });`,
    );
    const r = await runTaskCli([
      "--vault",
      vault.path,
      "off",
      "--no-system-metrics",
    ]);
    assertEquals(r.code, 0, r.stderr);
    const m = await readManifest(dir);
    assertEquals(Object.keys(m.artifacts), ["metrics"]);
    assertEquals(m.runs![0].system_metrics, undefined);
    assertEquals(
      await Deno.stat(join(dir, "strata", "system.parquet")).catch(() => null),
      null,
    );
  });
  await t.step("a 60 s interval and a protocol of a moment", async () => {
    const dir = await specimen(
      vault.path,
      "quick",
      `await storage.writeMetrics({ step: [0], loss: [1] });`,
    );
    const r = await runTaskCli([
      "--vault",
      vault.path,
      "quick",
      "--system-interval",
      "60",
    ]);
    assertEquals(r.code, 0, r.stderr);
    const sys = await systemTable(dir);
    assertEquals(sys.step, [0]);
    assert(sys.procs[0] >= 1 && sys.rss_bytes[0] > 0, JSON.stringify(sys));
  });
});

Deno.test("run task: a failed run keeps its samples; they are not results, so the fixed protocol runs again and the old samples move to runs/", async (t) => {
  await using vault = await repoVault();
  const cases = [
    [
      "throws",
      `await new Promise((r) => setTimeout(r, 800));
  throw new Error("diverged");`,
      /exit code 1/,
    ],
    [
      "exits",
      `await new Promise((r) => setTimeout(r, 800));
  Deno.exit(3);`,
      /exit code 3/,
    ],
    [
      "kills_itself",
      `await new Promise((r) => setTimeout(r, 800));
  Deno.kill(Deno.pid, "SIGKILL");`,
      /killed by SIGKILL/,
    ],
  ] as const;
  for (const [id, body, why] of cases) {
    await t.step(id, async () => {
      const dir = await specimen(vault.path, id, body);
      const r = await runTaskCli([
        "--vault",
        vault.path,
        id,
        "--system-interval",
        "0.2",
      ]);
      assert(r.code !== 0);
      assertMatch(r.stderr, why);
      const m = await readManifest(dir);
      assertEquals(m.status, "failed");
      const first = m.runs![0];
      assertEquals(first.system_metrics, "strata/system.parquet");
      assert(m.artifacts.system.rows! >= 2, JSON.stringify(m.artifacts));
      const before = (await systemTable(dir)).step.length;
      assertEquals(before, m.artifacts.system.rows);

      await writeProtocol(dir, `await storage.writeMetrics({ step: [0] });`);
      const again = await runTaskCli(["--vault", vault.path, id]);
      assertEquals(again.code, 0, again.stderr);
      const m2 = await readManifest(dir);
      assertEquals(m2.status, "sealed");
      const moved = `runs/${first.id}/system.parquet`;
      assertEquals(m2.runs![0].system_metrics, moved);
      assertEquals(m2.runs![1].system_metrics, "strata/system.parquet");
      assert(m2.seal!.files[moved]);
      assert((await Deno.stat(join(dir, moved))).size > 0);
    });
  }
});

Deno.test("run task: a protocol that wrote nothing else is not sealed by its system metrics", async () => {
  await using vault = await repoVault();
  const dir = await specimen(vault.path, "idle", `console.log("nothing");`);
  const r = await runTaskCli(["--vault", vault.path, "idle"]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stderr, /wrote nothing to strata\/, so idle is not sealed/);
  const m = await readManifest(dir);
  assertEquals(m.status, "active");
  assert(m.artifacts.system, "the samples are kept");
});

Deno.test("run task: after a SIGKILL of the runner, deno task repair compacts the samples it flushed", async () => {
  await using vault = await repoVault();
  const pidFile = join(vault.path, "protocol.pid");
  const dir = await specimen(
    vault.path,
    "killed",
    `await Deno.writeTextFile(${JSON.stringify(pidFile)}, String(Deno.pid));
  await new Promise((r) => setTimeout(r, 60_000));`,
  );
  const runner = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...RUN_FLAGS,
      join(ROOT, "tasks", "run.ts"),
      "--vault",
      vault.path,
      "killed",
      "--system-interval",
      "0.2",
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const parts = join(dir, "strata", "system.parts");
  try {
    const deadline = Date.now() + 30_000;
    let flushed = 0;
    while (flushed < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      flushed = 0;
      try {
        for await (const e of Deno.readDir(parts)) {
          if (/^part-\d+\.parquet$/.test(e.name)) flushed++;
        }
      } catch { /* not made yet */ }
    }
    assert(flushed >= 2, "two parts flushed within 30 s");
    runner.kill("SIGKILL");
    await runner.status;
  } finally {
    const pid = Number(await Deno.readTextFile(pidFile).catch(() => "0"));
    if (pid > 0) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
  }
  const repair = await runDeno([
    "run",
    ...REPAIR_FLAGS,
    join(ROOT, "tasks", "repair.ts"),
    "--vault",
    vault.path,
  ]);
  assertEquals(repair.code, 0, repair.stderr);
  const m = await readManifest(dir);
  assertEquals(m.artifacts.system.interrupted, true);
  const sys = await systemTable(dir);
  assert(sys.step.length >= 2, `${sys.step.length} samples survived`);
  assertEquals(sys.step, sys.step.map((_, i) => i), "no sample lost between");

  // The interrupted run's samples are not results: a fixed protocol runs,
  // and they move beside that run's logs.
  await writeProtocol(dir, `await storage.writeMetrics({ step: [0] });`);
  const again = await runTaskCli(["--vault", vault.path, "killed"]);
  assertEquals(again.code, 0, again.stderr);
  const m2 = await readManifest(dir);
  assertEquals(m2.runs!.map((r) => r.status), ["interrupted", "succeeded"]);
  assertEquals(
    m2.runs![0].system_metrics,
    `runs/${m2.runs![0].id}/system.parquet`,
  );
  assertEquals(m2.status, "sealed");
});

Deno.test("run task: an invalid --system-interval is refused before anything runs", async (t) => {
  await using vault = await repoVault();
  const dir = await specimen(vault.path, "never", `throw new Error("ran");`);
  for (
    const args of [
      ["--system-interval", "0"],
      ["--system-interval", "0.05"],
      ["--system-interval", "-1"],
      ["--system-interval", "soon"],
      ["--system-interval", ""],
      ["--system-interval", "5", "--no-system-metrics"],
    ]
  ) {
    await t.step(args.join(" "), async () => {
      const r = await runTaskCli(["--vault", vault.path, "never", ...args]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, /--system-interval/);
    });
  }
  assertEquals((await readManifest(dir)).runs, undefined);
});

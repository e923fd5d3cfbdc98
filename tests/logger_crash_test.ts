/**
 * The logger against real process deaths: a training loop in a subprocess
 * killed with SIGKILL, ended without close(), or competing for a table.
 *
 * @module
 */
import { join } from "../lib/_deps.ts";
import { exists } from "../lib/_fs.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { ImmutableArtifactError, VaultError } from "../lib/errors.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import {
  listMetricTables,
  partFileName,
  repairLogs,
} from "../lib/metrics_log/table.ts";
import {
  decodeMetrics,
  type ReadColumn,
} from "../lib/formats/parquet/parquet.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { expectedRow } from "./testdata/logger_child.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  ROOT,
  tempVault,
} from "./utils.ts";

const CHILD = join(ROOT, "tests", "testdata", "logger_child.ts");

async function newSpecimen(vault: string, id = "run"): Promise<string> {
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "training",
    method: "fine_tuning",
  });
  return dir;
}

/** The child as a real subprocess, its stdout as lines. */
function spawnChild(
  dir: string,
  mode: string,
  options: Record<string, unknown> = {},
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, dir, mode, JSON.stringify(options)],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(splitLines())
    [Symbol.asyncIterator]();
  const stderr = new Response(child.stderr).text();
  return { child, lines, stderr };
}

function splitLines(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const p of parts) controller.enqueue(p);
    },
    flush(controller) {
      if (rest) controller.enqueue(rest);
    },
  });
}

/** Checks that `columns` holds exactly rows 0..n-1 of the child's loop. */
function assertRows(columns: Record<string, ReadColumn>, n: number): void {
  assertEquals(columns.step.length, n, "row count");
  const keys = ["step", "loss", "lr", "tokens", "eval_loss", "phase"];
  if (n > 0) {
    assertEquals(
      Object.keys(columns),
      keys.slice(0, Object.keys(columns).length),
    );
  }
  for (let step = 0; step < n; step++) {
    const want = expectedRow(step);
    for (const key of Object.keys(columns)) {
      const got = columns[key][step];
      if (got !== (want[key] ?? null)) {
        throw new Error(
          `row ${step}, "${key}": expected ${want[key] ?? null}, got ${got}`,
        );
      }
    }
  }
}

Deno.test("a logger killed with SIGKILL mid-run keeps every flushed row; repair compacts the log", async () => {
  await using vault = await tempVault();
  const dir = await newSpecimen(vault.path);
  const { child, lines, stderr } = spawnChild(dir, "run", { flushRows: 500 });
  let lastFlushed = 0;
  let flushes = 0;
  let killed = false;
  for (let r = await lines.next(); !r.done; r = await lines.next()) {
    const m = /^flushed (\d+)$/.exec(r.value);
    if (!m) continue;
    lastFlushed = Number(m[1]);
    if (++flushes === 8 && !killed) {
      // Mid-run: parts are being encoded and written right now.
      await new Promise((res) => setTimeout(res, Math.random() * 20));
      child.kill("SIGKILL");
      killed = true;
    }
  }
  const status = await child.status;
  await stderr;
  assertEquals(status.signal, "SIGKILL");
  assert(lastFlushed >= 8 * 500, `flushed ${lastFlushed}`);

  // The surviving parts are the table, every part whole.
  const [table, ...others] = await listMetricTables(dir);
  assertEquals(others, []);
  assertEquals(table.kind, "parts");
  assertEquals(table.live, false, "the dead logger's lock is released");
  let partRows = 0;
  for (const path of table.paths) {
    const file = join(dir, path);
    partRows += (await decodeMetrics(await Deno.readFile(file), file)).rows;
  }
  const strata = join(dir, "strata");
  assertEquals(
    [...Deno.readDirSync(strata)].map((e) => e.name),
    ["metrics.parts"],
  );
  const before = await (await SpecimenStorage.open(dir)).readMetrics();
  assert(before.step.length >= lastFlushed);
  assertEquals(before.step.length, partRows);
  assertRows(before, partRows);

  const report = await repairLogs(dir);
  assertEquals(report, { repaired: ["metrics"], live: [], problems: [] });
  assertEquals(
    [...Deno.readDirSync(strata)].map((e) => e.name),
    ["metrics.parquet"],
  );
  const manifest = await readManifest(dir);
  assertEquals(manifest.artifacts.metrics.rows, partRows);
  assertEquals(manifest.artifacts.metrics.interrupted, true);
  assertEquals(manifest.artifacts.metrics.format, "parquet");
  assertEquals(
    manifest.artifacts.metrics.bytes,
    (await Deno.stat(join(strata, "metrics.parquet"))).size,
  );
  const storage = await SpecimenStorage.open(dir);
  const after = await storage.readMetrics();
  assertEquals(after, before);
  assertEquals(await repairLogs(dir), { repaired: [], live: [], problems: [] });

  // Write-once holds for the repaired table; other specimens log as usual.
  await assertRejects(() => storage.logger(), ImmutableArtifactError);
  const other = await SpecimenStorage.open(
    await newSpecimen(vault.path, "next"),
  );
  await using log = await other.logger();
  log.log({ step: 0, loss: 1 });
  assertEquals((await log.close())?.rows, 1);
});

Deno.test("SIGKILL at any moment, even during close(), leaves a readable prefix of the rows", async () => {
  await using vault = await tempVault();
  const rows = 30_000;
  const outcomes: string[] = [];
  // Milliseconds after the loop ends and close() starts: while the last
  // parts are written, while they are compacted, while they are removed.
  for (const delay of [0, 30, 80, 150, 250, 400]) {
    const dir = await newSpecimen(vault.path, `kill_${delay}`);
    const { child, lines, stderr } = spawnChild(dir, "close", {
      rows,
      flushRows: 1500,
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const seen: string[] = [];
    for (let r = await lines.next(); !r.done; r = await lines.next()) {
      seen.push(r.value);
      if (r.value === "closing") {
        timer = setTimeout(() => child.kill("SIGKILL"), delay);
      }
    }
    const status = await child.status;
    clearTimeout(timer);
    await stderr;
    const left = [...Deno.readDirSync(join(dir, "strata"))].map((e) => e.name)
      .sort().join("+") || "nothing";
    const report = await repairLogs(dir);
    assertEquals(report.problems, [], `delay ${delay}`);
    assertEquals(report.live, []);
    const tables = await listMetricTables(dir);
    const strata = [...Deno.readDirSync(join(dir, "strata"))].map((e) =>
      e.name
    );
    assertEquals(tables.map((t) => t.kind), ["file"]);
    assertEquals(strata, ["metrics.parquet"]);
    const back = await (await SpecimenStorage.open(dir)).readMetrics();
    const n = back.step.length;
    assertRows(back, n);
    const flushed = seen.filter((l) => l.startsWith("flushed ")).map((l) =>
      Number(l.slice(8))
    );
    assert(n >= Math.max(0, ...flushed), `delay ${delay}: ${n} rows`);
    if (status.success) assertEquals(n, rows);
    outcomes.push(
      `${delay}ms: ${
        status.success ? "closed" : "killed"
      }, left ${left}, ${n} rows`,
    );
    const record = (await readManifest(dir)).artifacts.metrics;
    assertEquals(record.rows, n);
  }
  console.log(outcomes.join("; "));
});

Deno.test("a process that ends without close() loses nothing: return, Deno.exit() and an uncaught error", async (t) => {
  await using vault = await tempVault();
  const cases = [
    { mode: "end", code: 0 },
    { mode: "exit", code: 7 },
    { mode: "throw", code: 1 },
  ];
  for (const { mode, code } of cases) {
    await t.step(mode, async () => {
      const dir = await newSpecimen(vault.path, mode);
      // 2 parts by count, then 345 rows still in memory at the end.
      const { child, lines, stderr } = spawnChild(dir, mode, {
        rows: 2345,
        flushRows: 1000,
        flushSeconds: 3600,
      });
      while (!(await lines.next()).done) { /* drain */ }
      const status = await child.status;
      const err = await stderr;
      assertEquals(status.code, code, err);
      if (mode === "end") {
        assertMatch(
          err,
          /warning: metrics logger "metrics" .* not closed: its 2345 rows are safe as parts/,
        );
      }
      if (mode === "throw") assertMatch(err, /training diverged/);
      const [table] = await listMetricTables(dir);
      assertEquals(table.kind, "parts");
      assertEquals(table.paths.length, 3);
      assert(table.paths[2].endsWith(partFileName(3)));
      const back = await (await SpecimenStorage.open(dir)).readMetrics();
      assertRows(back, 2345);
      assertEquals((await repairLogs(dir)).repaired, ["metrics"]);
    });
  }
});

Deno.test("two processes logging to one table: the second gets a clear error, then the first's death frees it", async () => {
  await using vault = await tempVault();
  const dir = await newSpecimen(vault.path);
  const { child, lines, stderr } = spawnChild(dir, "hold");
  let line = await lines.next();
  while (!line.done && line.value !== "ready") line = await lines.next();
  assertEquals(line.value, "ready");
  const storage = await SpecimenStorage.open(dir);
  const err = await assertRejects(
    () => storage.logger(),
    VaultError,
    'Metrics table "metrics" of specimen "run" is being written by another logger',
  );
  assertMatch(err.message, /log to another name \(e\.g\. "metrics_2"\)/);
  // A live log is read from its parts, and repair leaves it alone.
  assertEquals((await storage.readMetrics()).step.length, 10);
  assertEquals(await repairLogs(dir), {
    repaired: [],
    live: ["metrics"],
    problems: [],
  });
  // Another table of the same specimen is free.
  await using evalLog = await storage.logger("eval");
  evalLog.log({ step: 0, acc: 0.5 });

  child.kill("SIGKILL");
  await child.status;
  await stderr;
  // The lock died with its holder; the parts left are an interrupted log,
  // which the next logger of that table compacts before refusing the name.
  const reopened = await assertRejects(
    () => storage.logger(),
    ImmutableArtifactError,
    "had an interrupted log (1 parts in strata/metrics.parts/",
  );
  assertMatch(reopened.message, /now compacted into strata\/metrics\.parquet/);
  assertEquals(await exists(join(dir, "strata", "metrics.parts")), false);
  assertEquals((await repairLogs(dir)).repaired, []);
  assertEquals((await readManifest(dir)).artifacts.metrics.interrupted, true);
  assertEquals((await storage.readMetrics()).step.length, 10);
  assertEquals((await evalLog.close())?.rows, 1);
});

Deno.test("a process that opens a logger and logs nothing leaves nothing behind", async () => {
  await using vault = await tempVault();
  const dir = await newSpecimen(vault.path);
  const { child, lines, stderr } = spawnChild(dir, "end", { rows: 0 });
  while (!(await lines.next()).done) { /* drain */ }
  assertEquals((await child.status).code, 0);
  assertEquals(await stderr, "");
  assertEquals([...Deno.readDirSync(join(dir, "strata"))], []);
  // So the name stays free for a batch write.
  const storage = await SpecimenStorage.open(dir);
  assertEquals((await storage.writeMetrics({ step: [0] })).rows, 1);
});

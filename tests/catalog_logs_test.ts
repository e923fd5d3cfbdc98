/**
 * The catalog over metrics logs: a live log is indexed as its parts (and
 * its new parts by the next incremental index), an interrupted one is read
 * as its parts too and reported (the index only reads: `deno task repair`
 * compacts it), and a named log lands in its own union table.
 *
 * @module
 */
import { join } from "../lib/_deps.ts";
import { openDatabase } from "../lib/duckdb/duckdb.ts";
import { type IndexOptions, indexVault } from "../lib/catalog/index_vault.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { readManifest, writeManifest } from "../lib/specimen/manifest.ts";
import { readMetricTable, repairLogs } from "../lib/metrics_log/table.ts";
import { VaultError } from "../lib/errors.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import { sealSpecimen } from "../lib/specimen/seal.ts";
import type { SpecimenStorage } from "../lib/run/storage.ts";
import { expectedRow } from "./testdata/logger_child.ts";
import {
  catalogCount as count,
  catalogRows as rows,
} from "./testdata/catalog_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  newStorage,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
} from "./utils.ts";

const CHILD = join(ROOT, "tests", "testdata", "logger_child.ts");
/** The permissions deno.json's `index` and `query` tasks grant. */
const TASK_FLAGS = await taskFlags("index");

async function index(vault: string, options: IndexOptions = {}) {
  const warnings: string[] = [];
  const report = await indexVault({
    vault,
    onWarning: (w) => warnings.push(w),
    ...options,
  });
  return { ...report, warnings };
}

/** Makes `strata/` look settled (older than the index's 5 s), as in a long run. */
function ageStrata(storage: SpecimenStorage): void {
  const past = new Date(Date.now() - 60_000);
  Deno.utimeSync(storage.strata, past, past);
}

/** Steps of `exp_<relation>` in order, through VaultQuery. */
async function steps(vault: string, relation: string): Promise<number[]> {
  await using q = await VaultQuery.open({ vault });
  return (await q.search(`SELECT step FROM ${relation} ORDER BY step`))
    .map((r) => Number(r.step));
}

Deno.test("deno task index reads a log whose process was killed with SIGKILL as it is, reports it, and indexes exactly the flushed rows", async () => {
  await using vault = await tempVault();
  const { dir } = await createSpecimen({
    vault: vault.path,
    id: "killed",
    domain: "training",
    method: "fine_tuning",
  });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, dir, "run", JSON.stringify({ flushRows: 100 })],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  // Kill it after a few flushes, while it keeps logging.
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while ((out.match(/^flushed \d+$/gm) ?? []).length < 5) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  child.kill("SIGKILL");
  await reader.cancel();
  assertEquals((await child.status).signal, "SIGKILL");

  // The flushed rows: what the surviving parts hold.
  const flushed = (await readMetricTable(dir, "metrics")).rows;
  assert(flushed >= 500 && flushed % 100 === 0, `flushed ${flushed}`);
  assert(await Deno.stat(join(dir, "strata", "metrics.parts")));
  // strata/ settled long ago, as after a long run: its mtime is trusted at
  // once, so the next index finds the same fingerprint however slow this
  // machine is.
  const past = new Date(Date.now() - 60_000);
  Deno.utimeSync(join(dir, "strata"), past, past);

  const r = await runDeno(
    ["run", ...TASK_FLAGS, join(ROOT, "tasks", "index.ts")],
    { cwd: vault.path },
  );
  assertEquals(r.code, 0, r.stderr);
  const reported =
    /^warning: specimens\/killed: the log strata\/metrics\.parts\/ is interrupted \(its logger stopped without closing\): its \d+ part\(s\) are read as they are; run `deno task repair killed` to compact it$/m;
  assertMatch(r.stderr, reported);
  assertMatch(r.stdout, /Indexed \(full\): 1 specimen/);

  // The index only reads: the parts are left, the manifest unchanged.
  const before = await readManifest(dir);
  assertEquals(
    [...Deno.readDirSync(join(dir, "strata"))].map((e) => e.name),
    ["metrics.parts"],
  );
  assertEquals(before.artifacts.metrics, undefined);

  assertEquals(
    await count(
      vault.path,
      "SELECT count(*) FROM metrics WHERE specimen_id = 'killed'",
    ),
    flushed,
  );
  assertEquals(
    await count(
      vault.path,
      "SELECT metrics_rows FROM catalog WHERE specimen_id = 'killed'",
    ),
    flushed,
  );
  // exp_<id> through the query task, every value as logged.
  const q = await runDeno([
    "run",
    ...TASK_FLAGS,
    join(ROOT, "tasks", "query.ts"),
    "--vault",
    vault.path,
    "--format",
    "json",
    "SELECT step, loss, tokens, eval_loss FROM exp_killed ORDER BY step",
  ]);
  assertEquals(q.code, 0, q.stderr);
  const got = JSON.parse(q.stdout) as Record<string, number | null>[];
  assertEquals(got.length, flushed);
  for (const [step, row] of got.entries()) {
    const want = expectedRow(step);
    assertEquals(row, {
      step,
      loss: want.loss,
      tokens: want.tokens,
      eval_loss: want.eval_loss ?? null,
    });
  }

  // Nothing changed: the next index reads nothing, and says it again.
  const again = await runDeno(
    ["run", ...TASK_FLAGS, join(ROOT, "tasks", "index.ts")],
    { cwd: vault.path },
  );
  assertEquals(again.code, 0, again.stderr);
  assertMatch(again.stderr, reported);
  assertMatch(again.stdout, /Catalog up to date/);
  assertEquals(await readManifest(dir), before);
  assert(await Deno.stat(join(dir, "strata", "metrics.parts")));
});

Deno.test("a live log is indexed as its parts; an incremental index picks up its new parts; after close() the rows come from the file", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path, "live");
  const other = await newStorage(vault.path, "done");
  await other.writeMetrics({ step: [0, 1], loss: [0.5, 0.25] });
  const log = await storage.logger("metrics", { flushRows: 100 });
  try {
    for (let step = 0; step < 250; step++) log.log(expectedRow(step));
    await log.flush(); // parts of 100, 100, 50
    ageStrata(storage);
    ageStrata(other);

    let report = await index(vault.path);
    assertEquals(report.warnings, []);
    assertEquals(report.mode, "full");
    const live = "SELECT count(*) FROM metrics WHERE specimen_id = 'live'";
    assertEquals(await count(vault.path, live), 250);
    assertEquals(
      await rows(
        vault.path,
        "SELECT name, path, rows, relation, issue FROM metric_tables WHERE specimen_id = 'live'",
      ),
      [{
        name: "metrics",
        path: "specimens/live/strata/metrics.parts",
        rows: 250,
        relation: "exp_live",
        issue: null,
      }],
    );
    assertEquals(
      await steps(vault.path, "exp_live"),
      Array.from({ length: 250 }, (_, i) => i),
    );
    // The logger is still open: nothing was compacted or recorded.
    assertEquals((await readManifest(storage.dir)).artifacts, {});

    // New parts change strata/metrics.parts/, not strata/ (still settled).
    for (let step = 250; step < 620; step++) log.log(expectedRow(step));
    await log.flush();
    ageStrata(storage);
    report = await index(vault.path);
    assertEquals(report.warnings, []);
    assertEquals([report.mode, report.read], ["incremental", 1]);
    assertEquals(await count(vault.path, live), 620);
    assertEquals(
      await count(
        vault.path,
        "SELECT count(*) FROM metrics WHERE specimen_id = 'live' AND phase IS NOT NULL",
      ),
      120, // the late string column, from the newer parts
    );

    // Unchanged log, settled strata/: nothing to read.
    report = await index(vault.path);
    assertEquals([report.mode, report.read], ["unchanged", 0]);
  } finally {
    await log.close();
  }
  const report = await index(vault.path);
  assertEquals(report.warnings, []);
  assertEquals([report.mode, report.read], ["incremental", 1]);
  assertEquals(
    await rows(
      vault.path,
      "SELECT path, rows FROM metric_tables WHERE specimen_id = 'live'",
    ),
    [{ path: "specimens/live/strata/metrics.parquet", rows: 620 }],
  );
  assertEquals(
    await steps(vault.path, "exp_live"),
    Array.from({ length: 620 }, (_, i) => i),
  );
  assertEquals(
    await count(vault.path, "SELECT count(*) FROM metrics"),
    622,
  );
  const manifest = await readManifest(storage.dir);
  assertEquals(manifest.artifacts.metrics.interrupted, undefined);
});

Deno.test("a named log is indexed into metrics__<name> and exp_<id>__<name>, live and after close()", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path, "named");
  const evals = await storage.logger("eval", { flushRows: 10 });
  for (let step = 0; step < 35; step++) {
    evals.log({ step: step * 100, acc: step / 35 });
  }
  await evals.flush();
  let report = await index(vault.path);
  assertEquals(report.warnings, []);
  const sql =
    "SELECT count(*) FROM metrics__eval WHERE specimen_id = 'named' AND acc IS NOT NULL";
  assertEquals(await count(vault.path, sql), 35);
  assertEquals(
    await count(
      vault.path,
      "SELECT count(*) FROM metric_tables WHERE name = 'metrics'",
    ),
    0,
  );
  const want = Array.from({ length: 35 }, (_, i) => i * 100);
  assertEquals(await steps(vault.path, "exp_named__eval"), want);

  await evals.close();
  report = await index(vault.path);
  assertEquals(report.warnings, []);
  assertEquals(await count(vault.path, sql), 35);
  assertEquals(await steps(vault.path, "exp_named__eval"), want);
  assertEquals(
    await rows(
      vault.path,
      "SELECT path FROM metric_tables WHERE specimen_id = 'named'",
    ),
    [{ path: "specimens/named/strata/eval.parquet" }],
  );
});

Deno.test("a logger closing while the index reads it loses no row", async () => {
  await using vault = await tempVault();
  // The close (compaction, then the parts removed) races the index, caught
  // at a different moment each time: before, between and after its reads.
  const delays = [0, 1, 3, 10, 30];
  for (const [i, delay] of delays.entries()) {
    const storage = await newStorage(vault.path, `closing_${i}`);
    const log = await storage.logger("metrics", { flushRows: 50 });
    for (let step = 0; step < 2000; step++) log.log(expectedRow(step));
    await log.flush();
    const closed = new Promise((r) => setTimeout(r, delay)).then(() =>
      log.close()
    );
    const [report] = await Promise.all([index(vault.path), closed]);
    assertEquals(report.warnings, []);
    assertEquals(
      await count(
        vault.path,
        `SELECT count(*) FROM metrics WHERE specimen_id = 'closing_${i}'`,
      ),
      2000,
    );
  }
  // Whichever they read, the next index settles on the files.
  await index(vault.path);
  assertEquals(
    await rows(
      vault.path,
      "SELECT DISTINCT path LIKE '%/metrics.parquet' AS file, rows FROM metric_tables",
    ),
    [{ file: true, rows: 2000 }],
  );
  assertEquals(
    await count(vault.path, "SELECT count(*) FROM metrics"),
    2000 * delays.length,
  );
});

/**
 * Leaves `rows` logged rows in `strata/metrics.parts/` as a logger that
 * died would (unlocked, not compacted, not recorded).
 */
async function interruptedLog(
  storage: SpecimenStorage,
  rows: number,
): Promise<string> {
  const log = await storage.logger("metrics", { flushRows: 10 });
  for (let step = 0; step < rows; step++) log.log(expectedRow(step));
  await log.flush();
  const parts = join(storage.strata, "metrics.parts");
  const saved = `${storage.dir}_parts`;
  Deno.mkdirSync(saved);
  for (const e of Deno.readDirSync(parts)) {
    if (e.name.startsWith("part-")) {
      Deno.copyFileSync(join(parts, e.name), join(saved, e.name));
    }
  }
  await log.close();
  Deno.removeSync(join(storage.strata, "metrics.parquet"));
  Deno.renameSync(saved, parts);
  Deno.writeFileSync(join(parts, ".lock"), new Uint8Array()); // as a dead logger leaves it
  const m = await readManifest(storage.dir);
  delete m.artifacts.metrics;
  await writeManifest(storage.dir, m);
  return parts;
}

Deno.test("an interrupted log in a sealed specimen is read as its parts and reported, not changed", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path, "sealed");
  const parts = await interruptedLog(storage, 30);
  await sealSpecimen(storage.dir);

  for (const full of [true, false]) {
    const report = await index(vault.path, { full });
    assertEquals(report.warnings.length, 1, report.warnings.join("\n"));
    assertMatch(
      report.warnings[0],
      /^specimens\/sealed: the log strata\/metrics\.parts\/ is interrupted \(its logger stopped without closing\): its \d+ part\(s\) are read as they are; the specimen is sealed, so it is left as is$/,
    );
    assertEquals(await count(vault.path, "SELECT count(*) FROM metrics"), 30);
    assert(await Deno.stat(parts));
  }
});

Deno.test("the first index over a catalog from before logs were fingerprinted lists every folder, so an interrupted log is read and reported", async () => {
  await using vault = await tempVault();
  const done = await newStorage(vault.path, "done");
  await done.writeMetrics({ step: [0, 1], loss: [0.5, 0.25] });
  const storage = await newStorage(vault.path, "crashed");
  const parts = await interruptedLog(storage, 30);
  // The older index did not see the log; strata/ looks the same since.
  const aside = join(vault.path, "aside");
  Deno.renameSync(parts, aside);
  ageStrata(storage);
  ageStrata(done);
  const mtime = Deno.statSync(storage.strata).mtime!;
  assertEquals((await index(vault.path)).mode, "full");
  Deno.renameSync(aside, parts);
  Deno.utimeSync(storage.strata, mtime, mtime);
  {
    using db = await openDatabase(join(vault.path, "vault.duckdb"));
    await db.connection.run(
      "DELETE FROM vault_info WHERE key = 'fingerprint_logs'",
    );
  }

  let report = await index(vault.path);
  assertEquals(report.warnings.length, 1, report.warnings.join("\n"));
  const interrupted = report.warnings[0];
  assertMatch(
    interrupted,
    /^specimens\/crashed: the log strata\/metrics\.parts\/ is interrupted .*run `deno task repair crashed` to compact it$/,
  );
  assertEquals([report.mode, report.read], ["incremental", 1]);
  assertEquals(
    await count(
      vault.path,
      "SELECT count(*) FROM metrics WHERE specimen_id = 'crashed'",
    ),
    30,
  );
  report = await index(vault.path);
  assertEquals([report.mode, report.read, report.warnings], [
    "unchanged",
    0,
    [interrupted],
  ]);
  assert(await Deno.stat(parts)); // read, never repaired

  // An older catalog whose fingerprints still match is upgraded in place.
  {
    using db = await openDatabase(join(vault.path, "vault.duckdb"));
    await db.connection.run(
      "DELETE FROM vault_info WHERE key = 'fingerprint_logs'",
    );
  }
  report = await index(vault.path);
  assertEquals([report.mode, report.read, report.warnings], [
    "incremental",
    0,
    [interrupted],
  ]);
  assertEquals(await count(vault.path, "SELECT count(*) FROM metrics"), 32);
  assertEquals((await index(vault.path)).mode, "unchanged");
});

/** Every entry under `dir` (not following links): type, size, mtime, link target. */
function tree(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (
    const e of [...Deno.readDirSync(dir)].sort((a, b) =>
      a.name < b.name ? -1 : 1
    )
  ) {
    const path = join(dir, e.name);
    const st = Deno.lstatSync(path);
    const kind = e.isSymlink
      ? `-> ${Deno.readLinkSync(path)}`
      : e.isDirectory
      ? "dir"
      : "file";
    out.push(`${prefix}${e.name} ${kind} ${st.size} ${st.mtime?.getTime()}`);
    if (e.isDirectory) out.push(...tree(path, `${prefix}${e.name}/`));
  }
  return out;
}

Deno.test("deno task index never touches a sealed specimen's parts folders, whatever they hold", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path, "sealed");
  const parts = await interruptedLog(storage, 30);
  Deno.writeTextFileSync(join(parts, "notes.txt"), "mine");
  await sealSpecimen(storage.dir);
  // Folders that appeared after sealing: empty, and with a stray folder.
  Deno.mkdirSync(join(storage.strata, "empty.parts"));
  Deno.mkdirSync(join(storage.strata, "other.parts", "keep"), {
    recursive: true,
  });
  const before = tree(storage.dir);
  for (const full of [true, false]) {
    const r = await runDeno([
      "run",
      ...TASK_FLAGS,
      join(ROOT, "tasks", "index.ts"),
      "--vault",
      vault.path,
      ...(full ? ["--full"] : []),
    ]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(tree(storage.dir), before);
    assertMatch(
      r.stderr,
      /the log strata\/metrics\.parts\/ is interrupted .*the specimen is sealed, so it is left as is/,
    );
  }
  // Not even a lock file was made.
  assertEquals(
    [...Deno.readDirSync(join(storage.strata, "empty.parts"))].length,
    0,
  );
});

Deno.test("repairLogs removes only the files a logger wrote: anything else in a parts folder is reported and left, with the folder; the index touches none of it", async (t) => {
  await using vault = await tempVault();
  const outside = join(vault.path, "outside");
  Deno.mkdirSync(outside);
  Deno.writeTextFileSync(join(outside, "precious.txt"), "precious");
  const cases: {
    name: string;
    add: (parts: string) => void;
    left: string[];
    said: RegExp;
  }[] = [
    {
      name: "a stray file beside real parts",
      add: (p) => Deno.writeTextFileSync(join(p, "notes.txt"), "mine"),
      left: [".lock", "notes.txt"],
      said: /"notes\.txt", which no logger wrote/,
    },
    {
      name: "a stray subfolder holding a file",
      add: (p) => {
        Deno.mkdirSync(join(p, "keep"));
        Deno.writeTextFileSync(join(p, "keep", "part-000009.parquet"), "x");
      },
      left: [".lock", "keep", "keep/part-000009.parquet"],
      said: /"keep", which no logger wrote/,
    },
    {
      name: "files named like parts but not parts",
      add: (p) => {
        Deno.writeTextFileSync(join(p, "part-1.parquet.bak"), "x");
        Deno.writeTextFileSync(join(p, "part-000001.parquet~"), "x");
        Deno.writeTextFileSync(join(p, ".tmp-x"), "x");
      },
      left: [".lock", ".tmp-x", "part-000001.parquet~", "part-1.parquet.bak"],
      said: /"\.tmp-x", "part-000001\.parquet~", "part-1\.parquet\.bak"/,
    },
    {
      name: "symlinks, one named like a part, one to a folder outside",
      add: (p) => {
        Deno.symlinkSync(
          join(outside, "precious.txt"),
          join(p, "part-000099.parquet"),
        );
        Deno.symlinkSync(outside, join(p, "linked"));
      },
      left: [".lock", "linked", "part-000099.parquet"],
      said: /"linked", "part-000099\.parquet", which no logger wrote/,
    },
  ];
  for (const [i, c] of cases.entries()) {
    await t.step(c.name, async () => {
      const storage = await newStorage(vault.path, `case_${i}`);
      const parts = await interruptedLog(storage, 30);
      c.add(parts);
      // The index only reads it.
      const before = tree(parts);
      const indexed = await index(vault.path);
      assert(
        indexed.warnings.some((w) =>
          w.startsWith(
            `specimens/case_${i}: the log strata/metrics.parts/ is interrupted`,
          )
        ),
        indexed.warnings.join("\n"),
      );
      assertEquals(tree(parts), before);
      const report = await repairLogs(storage.dir);
      assert(
        report.problems.some((w) => c.said.test(w)),
        report.problems.join("\n"),
      );
      // The log itself was compacted and recorded...
      assertEquals(
        (await readManifest(storage.dir)).artifacts.metrics.rows,
        30,
      );
      // ...and only the logger's own files went (its lock stays with the
      // folder, which is still a log, without parts).
      assertEquals(
        tree(parts).map((l) => l.split(" ")[0]),
        c.left,
      );
      assertEquals(
        Deno.readTextFileSync(join(outside, "precious.txt")),
        "precious",
      );
      // Again: nothing more is removed, and it is still reported.
      const again = await repairLogs(storage.dir);
      assert(
        again.problems.some((w) => c.said.test(w)),
        again.problems.join("\n"),
      );
      assertEquals(tree(parts).map((l) => l.split(" ")[0]), c.left);
    });
  }
  await t.step(
    "an empty parts folder in a writable specimen is reported and left",
    async () => {
      const storage = await newStorage(vault.path, "empty_case");
      Deno.mkdirSync(join(storage.strata, "loose.parts"));
      const report = await repairLogs(storage.dir);
      assert(
        report.problems.some((w) =>
          /loose: strata\/loose\.parts\/ has no \.lock file, so no logger made it; it is left as is \(it is empty\)/
            .test(w)
        ),
        report.problems.join("\n"),
      );
      assert(Deno.statSync(join(storage.strata, "loose.parts")).isDirectory);
      assertEquals(
        [...Deno.readDirSync(join(storage.strata, "loose.parts"))],
        [],
      );
    },
  );
  await t.step(
    "a logger refuses a name whose parts folder no logger made",
    async () => {
      const storage = await newStorage(vault.path, "blocked");
      Deno.mkdirSync(join(storage.strata, "m.parts"));
      Deno.writeTextFileSync(join(storage.strata, "m.parts", "mine.txt"), "x");
      await assertRejects(
        () => storage.logger("m"),
        VaultError,
        "strata/m.parts/ exists but has no .lock file, so no logger made it",
      );
      assertEquals(
        Deno.readTextFileSync(join(storage.strata, "m.parts", "mine.txt")),
        "x",
      );
    },
  );
});

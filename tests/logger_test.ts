import { DuckDBInstance } from "@duckdb/node-api";
import { parquetMetadata } from "hyparquet";
import { join } from "../lib/_deps.ts";
import {
  CorruptFileError,
  ImmutableArtifactError,
  InvalidInputError,
  VaultError,
} from "../lib/errors.ts";
import type { FlushInfo } from "../lib/metrics_log/logger.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import {
  listMetricTables,
  partFileName,
  repairLogs,
} from "../lib/metrics_log/table.ts";
import { sealSpecimen } from "../lib/specimen/seal.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  newStorage,
  tempVault,
} from "./utils.ts";

function listing(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Copies the part files of a log aside (to fake an interrupted log later). */
function copyParts(from: string, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const e of Deno.readDirSync(from)) {
    if (e.name.startsWith("part-")) {
      Deno.copyFileSync(join(from, e.name), join(to, e.name));
    }
  }
  // A logger that died leaves its (unlocked) lock file.
  Deno.writeFileSync(join(to, ".lock"), new Uint8Array());
}

Deno.test("close() compacts the log into strata/<name>.parquet, records it as writeMetrics would, and removes the parts", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const log = await storage.logger("train", { flushRows: 4 });
  for (let step = 0; step < 10; step++) {
    log.log({ step, loss: 1 / (step + 1), note: step % 2 ? "odd" : "even" });
  }
  await log.flush();
  assertEquals(listing(join(storage.strata, "train.parts")), [
    ".lock",
    "part-000001.parquet",
    "part-000002.parquet",
    "part-000003.parquet",
  ]);
  const record = await log.close();
  assertEquals(listing(storage.strata), ["train.parquet"]);
  assertEquals(record!.path, "strata/train.parquet");
  assertEquals(record!.format, "parquet");
  assertEquals(record!.rows, 10);
  assertEquals(record!.columns, [
    { name: "step", type: "INT64" },
    { name: "loss", type: "DOUBLE" },
    { name: "note", type: "STRING" },
  ]);
  assertEquals(
    record!.bytes,
    (await Deno.stat(join(storage.strata, "train.parquet"))).size,
  );
  assertEquals((await readManifest(storage.dir)).artifacts.train, record);
  assertEquals(storage.artifacts.train, record);

  // The same columns through writeMetrics: the same record keys and types.
  const batch = await newStorage(vault.path, "s2");
  const written = await batch.writeMetrics({
    step: [0, 1],
    loss: [1, 0.5],
    note: ["even", "odd"],
  }, { name: "train" });
  assertEquals(Object.keys(record!).sort(), Object.keys(written).sort());
  assertEquals(record!.columns, written.columns);
});

Deno.test("logged rows read back exactly as writeMetrics of the same columns", async () => {
  await using vault = await tempVault();
  const rows = [
    { step: 0, loss: 2.5, big: 10n, tag: "a", ok: true, odd: NaN },
    { step: 1, loss: -0, big: -(2n ** 63n), tag: "ü", ok: false, odd: 1 },
    { step: 2, loss: Infinity, big: 2n ** 63n - 1n, tag: "", ok: null },
    { step: 2 ** 53 - 1, loss: 1e-300, big: null, tag: null, ok: true },
  ];
  const storage = await newStorage(vault.path);
  {
    await using log = await storage.logger("m", { flushRows: 3 });
    for (const row of rows) log.log(row);
  }
  const keys = ["step", "loss", "big", "tag", "ok", "odd"] as const;
  const columns = Object.fromEntries(
    keys.map((
      k,
    ) => [k, rows.map((r) => (r as Record<string, unknown>)[k] ?? null)]),
  );
  const batch = await newStorage(vault.path, "s2");
  const written = await batch.writeMetrics(columns as never, { name: "m" });
  assertEquals(storage.artifacts.m.columns, written.columns);
  const logged = await storage.readMetrics("m");
  assertEquals(logged, await batch.readMetrics("m"));
  assert(Object.is(logged.loss[1], -0), "-0 survives");
  assertEquals(logged.big[1], -(2n ** 63n));
});

Deno.test("keys may appear later and be missing: those rows read as null", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const log = await storage.logger("m", { flushRows: 2 });
  log.log({ step: 0, loss: 1.5 });
  log.log({ step: 1 });
  log.log({ step: 2, loss: 0.5, eval_acc: 0.25 });
  log.log({ step: 3, loss: undefined, eval_acc: null });
  log.log({ step: 4, lr: 0.1 });
  await log.flush();
  const expected = {
    step: [0, 1, 2, 3, 4],
    loss: [1.5, null, 0.5, null, null],
    eval_acc: [null, null, 0.25, null, null],
    lr: [null, null, null, null, 0.1],
  };
  assertEquals(await storage.readMetrics("m"), expected); // from the parts
  await log.close();
  assertEquals(await storage.readMetrics("m"), expected); // compacted
});

Deno.test("a type conflict names the key, the step and both types, and refuses the row whole", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await using log = await storage.logger();
  log.log({ step: 0, loss: 0.5, phase: "warmup" });
  const err = assertThrows(
    () => log.log({ step: 1, lr: 0.1, loss: "nan", phase: "train" }),
    InvalidInputError,
    `Cannot log "loss" at step 1 (row 1): "nan" is a string, but "loss" holds numbers`,
  );
  assertMatch(err.message, /Number\(x\)/);
  assertThrows(
    () => log.log({ step: 1, phase: true }),
    InvalidInputError,
    `"phase" at step 1 (row 1): true is a boolean, but "phase" holds strings`,
  );
  // Whole numbers and bigints share a column (INT64); fractions and bigints
  // cannot (a double would round the bigint).
  assertThrows(
    () => log.log({ epoch: 3n, step: 1, loss: 7n }),
    InvalidInputError,
    `"loss" at step 1 (row 1): 7n would mix exact integers past 2^53 with fractions`,
  );
  log.log({ step: 1, loss: 0.25, epoch: "one" }); // epoch was never created
  assertEquals(log.rowsLogged, 2);
  await log.close();
  assertEquals(await storage.readMetrics(), {
    step: [0, 1],
    loss: [0.5, 0.25],
    phase: ["warmup", null],
    epoch: [null, "one"],
  });
});

Deno.test("log() refuses rows and values it cannot store, with the fix", async (t) => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await using log = await storage.logger();
  log.log({ step: 0, Loss: 1 });
  const cases: [string, unknown, string][] = [
    ["an empty row", {}, "at least one value"],
    ["a row of nulls", { a: null, b: undefined }, "at least one value"],
    ["an array", [1, 2], "a row is an object of metric values"],
    ["null", null, "a row is an object"],
    ["an object value", { step: 1, w: { a: 1 } }, `"w" at step 1`],
    [
      "an array value",
      { step: 1, w: [1, 2] },
      "write arrays with writeTensor()",
    ],
    ["a function value", { step: 1, loss: () => 1 }, "is not a number"],
    ["a case clash", { step: 1, loss: 2 }, `differs from "Loss" only in case`],
    ["a blank key", { step: 1, " ": 2 }, "must not be blank"],
    ["a bigint too large", { step: 1, n: 2n ** 64n }, "outside the 64-bit"],
  ];
  for (const [what, row, message] of cases) {
    await t.step(what, () => {
      assertThrows(() => log.log(row as never), InvalidInputError, message);
    });
  }
  assertEquals(log.rowsLogged, 1);
  log.log({ step: 1, Loss: 0.5 });
  await log.close();
  assertEquals(await storage.readMetrics(), { step: [0, 1], Loss: [1, 0.5] });
});

Deno.test("logger() refuses bad options, naming the value and the range", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await assertRejects(
    () => storage.logger("m", { flushRows: 0 }),
    InvalidInputError,
    "Invalid flushRows 0",
  );
  await assertRejects(
    () => storage.logger("m", { flushSeconds: -1 }),
    InvalidInputError,
    "Invalid flushSeconds -1",
  );
  await assertRejects(
    () => storage.logger("Bad Name"),
    InvalidInputError,
    'Invalid artifact name "Bad Name"',
  );
  assertEquals(listing(storage.strata), []);
});

Deno.test("a part is written every flushRows rows, off the calling thread", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const flushed: FlushInfo[] = [];
  await using log = await storage.logger("m", {
    flushRows: 10,
    flushSeconds: Infinity,
    onFlush: (info) => flushed.push(info),
  });
  for (let step = 0; step < 25; step++) log.log({ step });
  await waitFor(() => flushed.length === 2);
  assertEquals(log.rowsFlushed, 20);
  assertEquals(log.rowsLogged, 25);
  assertEquals(flushed.map((f) => [f.part, f.rows, f.totalRows]), [
    [1, 10, 10],
    [2, 10, 20],
  ]);
  assertEquals(flushed[1].path, join(log.partsDir, partFileName(2)));
  assert(flushed[1].bytes > 0);
  await new Promise((r) => setTimeout(r, 50));
  // The last 5 rows stay in memory until a part is due.
  assertEquals(listing(log.partsDir), [
    ".lock",
    "part-000001.parquet",
    "part-000002.parquet",
  ]);
});

Deno.test("rows older than flushSeconds are written even when no more rows come", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await using log = await storage.logger("m", { flushSeconds: 0.05 });
  log.log({ step: 0 });
  log.log({ step: 1 });
  await waitFor(() => log.rowsFlushed === 2);
  assertEquals((await storage.readMetrics("m")).step, [0, 1]);
});

Deno.test("rows older than flushSeconds are written inside a loop that never yields", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await using log = await storage.logger("m", { flushSeconds: 0.05 });
  // A slow synchronous loop (a row every ~0.5 ms): far from flushRows, and
  // the timer cannot fire; rowsFlushed reads shared memory, no turn needed.
  const end = performance.now() + 10_000;
  let step = 0;
  while (log.rowsFlushed === 0 && performance.now() < end) {
    const until = performance.now() + 0.5;
    while (performance.now() < until) { /* training */ }
    log.log({ step: step++ });
  }
  assert(log.rowsFlushed > 0, "a part was written while the loop ran");
  assert(step < 65_536, "by time, not by count");
});

Deno.test("flush() resolves once every row is on disk; readMetrics reads the parts meanwhile", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await using log = await storage.logger("m");
  for (let step = 0; step < 1000; step++) log.log({ step, x: step / 2 });
  assertEquals(log.rowsFlushed, 0);
  await log.flush();
  assertEquals(log.rowsFlushed, 1000);
  await log.flush(); // nothing new: resolves at once
  const back = await storage.readMetrics("m");
  assertEquals(back.step.length, 1000);
  assertEquals(back.x[999], 499.5);
  const tables = await listMetricTables(storage.dir);
  assertEquals(tables, [{
    name: "m",
    kind: "parts",
    paths: ["strata/m.parts/part-000001.parquet"],
    live: true,
    leftover: false,
  }]);
});

Deno.test("close() twice gives the same record; log() after close() is a clear error", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const log = await storage.logger("train");
  log.log({ step: 0 });
  const [a, b] = await Promise.all([log.close(), log.close()]);
  assertEquals(a, b);
  assertEquals(await log.close(), a);
  assert(log.closed);
  assertThrows(
    () => log.log({ step: 1 }),
    InvalidInputError,
    'Cannot log to "train" of specimen "s1": the logger is closed (after 1 rows); open a logger for another table, e.g. storage.logger("train_2")',
  );
});

Deno.test("close() of a logger that logged nothing writes and records nothing", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const log = await storage.logger();
  assertEquals(await log.close(), null);
  assertEquals(listing(storage.strata), []);
  assertEquals((await readManifest(storage.dir)).artifacts, {});
});

Deno.test("write-once: a logger for an existing table is refused, and writeMetrics refuses a table being logged", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await storage.writeMetrics({ step: [0] });
  await assertRejects(
    () => storage.logger(),
    ImmutableArtifactError,
    'Artifact "metrics" of specimen "s1" already exists (in the manifest)',
  );
  await storage.writeTensor("acts", new Float32Array(4), { shape: [4] });
  await assertRejects(() => storage.logger("acts"), ImmutableArtifactError);
  // A file under strata/ that the manifest does not know is refused too.
  await Deno.writeFile(
    join(storage.strata, "stray.parquet"),
    new Uint8Array(1),
  );
  await assertRejects(
    () => storage.logger("stray"),
    ImmutableArtifactError,
    "already exists (strata/stray.parquet)",
  );
  await using log = await storage.logger("train");
  log.log({ step: 0 });
  await assertRejects(
    () => storage.writeMetrics({ step: [1] }, { name: "train" }),
    ImmutableArtifactError,
  );
  await log.close();
  await assertRejects(() => storage.logger("train"), ImmutableArtifactError);
});

Deno.test("a sealed specimen refuses a logger", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await storage.writeMetrics({ step: [0] });
  await sealSpecimen(storage.dir);
  await assertRejects(
    () => storage.logger("more"),
    ImmutableArtifactError,
    "sealed",
  );
  assertEquals(listing(storage.strata), ["metrics.parquet"]);
});

Deno.test("train and eval log in parallel to separate tables; a second logger on one table is refused", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const train = await storage.logger("train", { flushRows: 50 });
  const evals = await storage.logger("eval", { flushRows: 7 });
  await assertRejects(
    () => storage.logger("train"),
    VaultError,
    'Metrics table "train" of specimen "s1" is being written by another logger',
  );
  for (let step = 0; step < 500; step++) {
    train.log({ step, loss: 1 / (step + 1) });
    if (step % 10 === 0) evals.log({ step, acc: step / 500 });
  }
  const [t, e] = await Promise.all([train.close(), evals.close()]);
  assertEquals([t!.rows, e!.rows], [500, 50]);
  assertEquals(Object.keys(storage.artifacts).sort(), ["eval", "train"]);
  assertEquals(listing(storage.strata), ["eval.parquet", "train.parquet"]);
  assertEquals((await storage.readMetrics("eval")).acc[49], 490 / 500);
});

Deno.test("await using closes the logger", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  {
    await using log = await storage.logger();
    log.log({ step: 0, loss: 1 });
  }
  assertEquals(storage.artifacts.metrics.rows, 1);
  assertEquals(listing(storage.strata), ["metrics.parquet"]);
});

Deno.test("a failed part write surfaces in log(), flush() and close(); earlier parts stay", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const log = await storage.logger("m", { flushRows: 5 });
  for (let step = 0; step < 5; step++) log.log({ step });
  await log.flush();
  const parts = join(storage.strata, "m.parts");
  const aside = join(vault.path, "aside");
  await Deno.rename(parts, aside); // the folder vanishes under the writer
  for (let step = 5; step < 10; step++) log.log({ step });
  await assertRejects(
    () => log.flush(),
    VaultError,
    "Cannot write part-000002.parquet",
  );
  assertThrows(() => log.log({ step: 10 }), VaultError, "Cannot write part");
  await assertRejects(() => log.close(), VaultError);
  await Deno.rename(aside, parts);
  assertEquals((await storage.readMetrics("m")).step, [0, 1, 2, 3, 4]);
  // The failed logger let go of its lock: the log is an interrupted one.
  assertEquals((await repairLogs(storage.dir)).repaired, ["m"]);
});

Deno.test("a column promoted from INT64 to DOUBLE: readMetrics, DuckDB over the parts and the compacted file agree", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const log = await storage.logger("m", { flushRows: 3 });
  // lr is 0 (a whole number) for the first part, then fractional.
  for (let step = 0; step < 8; step++) {
    log.log({ step, lr: step < 3 ? 0 : step / 10, tokens: step * 2 });
  }
  await log.flush();
  const [parts] = await listMetricTables(storage.dir);
  const fromParts = await storage.readMetrics("m");
  const sql = (from: string) =>
    `SELECT typeof(step) AS s, typeof(lr) AS l, typeof(tokens) AS t, list(lr ORDER BY step) AS lr FROM ${from} GROUP BY ALL`;
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    const list = parts.paths.map((p) => `'${join(storage.dir, p)}'`).join(", ");
    const before = (await con.runAndReadAll(
      sql(`read_parquet([${list}], union_by_name = true)`),
    )).getRowObjectsJS();
    await log.close();
    const file = join(storage.strata, "m.parquet");
    const after = (await con.runAndReadAll(sql(`read_parquet('${file}')`)))
      .getRowObjectsJS();
    assertEquals(after, before);
    assertEquals(after[0].s, "BIGINT");
    assertEquals(after[0].l, "DOUBLE");
    assertEquals(after[0].t, "BIGINT");
  } finally {
    con.closeSync();
    instance.closeSync();
  }
  assertEquals(await storage.readMetrics("m"), fromParts);
  assertEquals(storage.artifacts.m.columns, [
    { name: "step", type: "INT64" },
    { name: "lr", type: "DOUBLE" },
    { name: "tokens", type: "INT64" },
  ]);
});

Deno.test("compaction copies large parts as row groups and merges small ones", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const cases = [
    {
      name: "large",
      flushRows: 40_000,
      rows: 100_000,
      groups: [40_000, 40_000, 20_000],
    },
    {
      name: "small",
      flushRows: 1_000,
      rows: 100_000,
      groups: [66_000, 34_000],
    },
  ];
  for (const c of cases) {
    const log = await storage.logger(c.name, { flushRows: c.flushRows });
    for (let step = 0; step < c.rows; step++) {
      log.log({ step, loss: Math.sin(step) });
    }
    await log.close();
    const bytes = await Deno.readFile(
      join(storage.strata, `${c.name}.parquet`),
    );
    const meta = parquetMetadata(bytes.buffer);
    assertEquals(meta.row_groups.map((g) => Number(g.num_rows)), c.groups);
    const back = await storage.readMetrics(c.name);
    assertEquals(back.step.length, c.rows);
    assertEquals(back.loss[12_345], Math.sin(12_345));
  }
});

Deno.test("repairLogs() finishes a cleanup cut short, cleans empty logs, and leaves sealed specimens alone", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const log = await storage.logger("done", { flushRows: 2 });
  for (let step = 0; step < 5; step++) log.log({ step });
  await log.flush();
  const saved = join(vault.path, "saved");
  copyParts(log.partsDir, saved);
  await log.close();
  // A crash after the file was placed, before the parts were removed.
  copyParts(saved, join(storage.strata, "done.parts"));
  assertEquals(
    (await listMetricTables(storage.dir)).map((t) => [t.kind, t.leftover]),
    [["file", true]],
  );
  assertEquals(await storage.readMetrics("done"), { step: [0, 1, 2, 3, 4] });
  // A logger that died before its first part, and its part's temp file.
  await Deno.mkdir(join(storage.strata, "empty.parts"));
  await Deno.writeTextFile(join(storage.strata, "empty.parts", ".lock"), "");
  await Deno.writeTextFile(
    join(storage.strata, "empty.parts", ".tmp-part-000001.parquet-1-0123abcd"),
    "",
  );
  assertEquals(await repairLogs(storage.dir), {
    repaired: ["done"],
    live: [],
    problems: [],
  });
  assertEquals(listing(storage.strata), ["done.parquet"]);

  // An interrupted log in a sealed specimen is reported, not touched.
  const sealed = await newStorage(vault.path, "sealed");
  copyParts(saved, join(sealed.strata, "late.parts"));
  await sealSpecimen(sealed.dir);
  const report = await repairLogs(sealed.dir);
  assertEquals(report.repaired, []);
  assertMatch(
    report.problems[0],
    /^late: the specimen is sealed with an interrupted log \(3 parts/,
  );
  assertEquals(listing(join(sealed.strata, "late.parts")), [
    ".lock",
    "part-000001.parquet",
    "part-000002.parquet",
    "part-000003.parquet",
  ]);
});

Deno.test("a corrupt part is reported by repair and by readers, never dropped silently", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const log = await storage.logger("m", { flushRows: 2 });
  for (let step = 0; step < 4; step++) log.log({ step });
  await log.flush();
  const saved = join(vault.path, "saved");
  copyParts(log.partsDir, saved);
  await log.close();
  const other = await newStorage(vault.path, "s2");
  const parts = join(other.strata, "m.parts");
  copyParts(saved, parts);
  // A part truncated under its final name (power loss without sync: true).
  const second = join(parts, partFileName(2));
  await Deno.writeFile(second, (await Deno.readFile(second)).subarray(0, 20));
  await assertRejects(
    () => other.readMetrics("m"),
    CorruptFileError,
    "part-000002.parquet",
  );
  const report = await repairLogs(other.dir);
  assertEquals(report.repaired, []);
  assertMatch(
    report.problems[0],
    /^m: Cannot read log part .*part-000002\.parquet.*; the parts are left as is$/,
  );
  assertEquals(listing(parts).length, 3);
  assertEquals(listing(other.strata), ["m.parts"]);
});

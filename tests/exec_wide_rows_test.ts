/**
 * A child of `storage.exec` writing very wide rows or many tables: memory
 * follows the data (peak RSS of a real subprocess, by `/usr/bin/time`), a
 * row past the column limit is refused naming its line, the count and the
 * limit, and tables past the per-exec limit are refused line by line.
 * See docs/RELIABILITY.md, "Wide rows and many tables".
 */
import { join } from "../lib/_deps.ts";
import { MAX_COLUMNS } from "../lib/metrics_log/options.ts";
import { MAX_TABLES } from "../lib/run/exec.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { PYTHON } from "./_python.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  newStorage,
  ROOT,
  tempVault,
} from "./utils.ts";

/**
 * Runs `storage.exec` of the Python `script` in a fresh `deno` process
 * under `/usr/bin/time`; returns the result's rows and problems and the
 * process's peak RSS in bytes.
 */
async function measured(dir: string, script: string) {
  const main = join(dir, "..", "..", "measure.ts");
  await Deno.writeTextFile(
    main,
    `import { SpecimenStorage } from ${
      JSON.stringify(join(ROOT, "lib/run/storage.ts"))
    };
const storage = await SpecimenStorage.open(${JSON.stringify(dir)});
const r = await storage.exec([${JSON.stringify(PYTHON)}, "-c", ${
      JSON.stringify(script)
    }], { echo: false, maxBadLines: 1000 });
console.log(JSON.stringify({ rows: r.rows, problems: r.problems }));
`,
  );
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "peak %M", Deno.execPath(), "run", "-A", main],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, stderr);
  const peak = Number(/peak (\d+)\s*$/.exec(stderr)![1]) * 1024;
  const result = JSON.parse(new TextDecoder().decode(out.stdout));
  return { ...result, peak } as {
    rows: Record<string, number>;
    problems: { line: number; kind: string; message: string }[];
    peak: number;
  };
}

const wideLine = (keys: number) =>
  `import json, os
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    f.write(json.dumps({"step": 0, "loss": 1.5}) + "\\n")
    f.write(json.dumps({"k%05d" % i: i * 0.5 for i in range(${keys})}) + "\\n")
    f.write(json.dumps({"step": 1, "loss": 0.5}) + "\\n")
`;

Deno.test("storage.exec logs a row of 2,000 keys with memory for its data: peak RSS under 350 MB (was 740 MB)", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const r = await measured(storage.dir, wideLine(2_000));
  assertEquals(r.rows, { metrics: 3 });
  assertEquals(r.problems, []);
  assert(r.peak < 350e6, `peak RSS ${(r.peak / 1e6).toFixed(0)} MB`);
  const m = await readManifest(storage.dir);
  const table = m.artifacts.metrics;
  assertEquals([table.columns?.length, table.rows], [2_002, 3]);
  const { k01999, loss } = await storage.readMetrics();
  assertEquals(k01999, [null, 999.5, null]);
  assertEquals(loss, [1.5, null, 0.5]);
});

Deno.test("storage.exec refuses a row of 20,000 keys naming the line, the count and the limit, keeps the other rows, and stays small", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const r = await measured(storage.dir, wideLine(20_000));
  assertEquals(r.rows, { metrics: 2 });
  assertEquals(r.problems.map((p) => [p.line, p.kind]), [[2, "rejected"]]);
  const message = r.problems[0].message;
  assertMatch(message, /line 2/);
  assertMatch(message, /20000 keys/);
  assertMatch(message, new RegExp(`at most ${MAX_COLUMNS} columns`));
  assert(r.peak < 300e6, `peak RSS ${(r.peak / 1e6).toFixed(0)} MB`);
  assertEquals((await storage.readMetrics()).loss, [1.5, 0.5]);
});

Deno.test("storage.exec writes at most MAX_TABLES tables; lines routed to more are skipped, each named", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const tables = MAX_TABLES + 8;
  const r = await measured(
    storage.dir,
    `import json, os
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    for i in range(${tables}):
        f.write(json.dumps({"_table": "t%03d" % i, "x": i}) + "\\n")
`,
  );
  assertEquals(Object.keys(r.rows).length, MAX_TABLES);
  assertEquals(r.problems.length, tables - MAX_TABLES);
  assertEquals(r.problems[0].line, MAX_TABLES + 1);
  assertMatch(
    r.problems[0].message,
    new RegExp(
      `"t${String(MAX_TABLES).padStart(3, "0")}".*at most ${MAX_TABLES} tables`,
    ),
  );
  const m = await readManifest(storage.dir);
  assertEquals(Object.keys(m.artifacts).length, MAX_TABLES);
});

Deno.test("writeMetrics and logger.log refuse a table past MAX_COLUMNS naming the count and the limit, and accept one at it", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const wide = (n: number) =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`c${i}`, [i]]));
  await assertRejects(
    () => storage.writeMetrics(wide(MAX_COLUMNS + 1), { name: "too_wide" }),
    InvalidInputError,
    `${MAX_COLUMNS + 1} columns, over the limit of ${MAX_COLUMNS}`,
  );
  const log = await storage.logger("logged");
  log.log({ step: 0 });
  const row = Object.fromEntries(
    Array.from({ length: MAX_COLUMNS }, (_, i) => [`c${i}`, i]),
  );
  assertThrows(() => log.log(row), InvalidInputError, `at most ${MAX_COLUMNS}`);
  delete row.c0;
  log.log(row); // step and 9,999 more: exactly the limit
  const record = await log.close();
  assertEquals([record?.columns?.length, record?.rows], [MAX_COLUMNS, 2]);
  const m = await readManifest(storage.dir);
  assertEquals(Object.keys(m.artifacts), ["logged"]);
});

/**
 * Names every JavaScript object already has (`__proto__`, `constructor`,
 * `prototype`, `toString`, …) as table, file and column names: refused
 * where a name is claimed, and a manifest that already holds one (written
 * before the rule) still reads, verifies, indexes and repairs.
 * See docs/RELIABILITY.md, "Names that are JavaScript's".
 */
import { decodeMsgpack, encodeMsgpack, join } from "../lib/_deps.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import {
  RESERVED_ARTIFACT_NAMES,
  validateArtifactName,
} from "../lib/specimen/artifact_name.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { PYTHON } from "./_python.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  newStorage,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
} from "./utils.ts";

const RESERVED_LOWER = ["__proto__", "constructor", "prototype"];

Deno.test("validateArtifactName refuses every Object.prototype name, naming it and the fix", async (t) => {
  for (const name of [...RESERVED_ARTIFACT_NAMES]) {
    await t.step(name, () => {
      for (const reading of [false, true]) {
        assertThrows(
          () => validateArtifactName(name, { reading }),
          InvalidInputError,
          `"${name}"`,
        );
      }
    });
  }
  // Names that only contain a reserved one stay valid.
  for (const ok of ["constructor_2", "proto", "my_prototype", "tostring"]) {
    validateArtifactName(ok);
  }
});

Deno.test("writeMetrics and logger refuse __proto__, constructor and prototype; the manifest stays readable", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  for (const name of RESERVED_LOWER) {
    await assertRejects(
      () => storage.writeMetrics({ step: [1] }, { name }),
      InvalidInputError,
      `"${name}"`,
    );
    await assertRejects(() => storage.logger(name), InvalidInputError, name);
  }
  await storage.writeMetrics({ step: [1, 2] }, { name: "ok" });
  const m = await readManifest(storage.dir);
  assertEquals(Object.keys(m.artifacts), ["ok"]);
  assertEquals(
    await Array.fromAsync(
      Deno.readDir(join(storage.dir, "strata")),
      (e) => e.name,
    ),
    ["ok.parquet"],
  );
});

Deno.test("storage.exec skips SPECIMEN_METRICS lines routed to a reserved _table, counts rows in a clean map, and seals", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const lines = [
    { step: 1, loss: 0.5 },
    { _table: "__proto__", x: 1 },
    { _table: "constructor", x: 1 },
    { _table: "prototype", x: 1 },
    { _table: "hasOwnProperty", x: 1 },
    { _table: "eval", acc: 0.9 },
    { step: 2, loss: 0.25 },
  ];
  const script = `import json, os
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    for line in json.loads(${JSON.stringify(JSON.stringify(lines))}):
        f.write(json.dumps(line) + "\\n")
`;
  const r = await storage.exec([PYTHON, "-c", script], { echo: false });
  assertEquals(r.rows, { metrics: 2, eval: 1 });
  assertEquals(r.badLines, 4);
  assertEquals(r.problems.map((p) => [p.line, p.kind]), [
    [2, "bad_table"],
    [3, "bad_table"],
    [4, "bad_table"],
    [5, "bad_table"],
  ]);
  assertMatch(r.problems[0].message, /"__proto__"/);
  const m = await readManifest(storage.dir);
  assertEquals(Object.keys(m.artifacts).sort(), ["eval", "metrics"]);
  // Reopens (the manifest decodes) and reads back.
  const again = await SpecimenStorage.open(storage.dir);
  assertEquals((await again.readMetrics()).loss, [0.5, 0.25]);
});

Deno.test("files named __proto__ or constructor in SPECIMEN_OUTPUTS are adopted under changed names, the original kept in source", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  const script = `import os
o = os.environ["SPECIMEN_OUTPUTS"]
for n in ["__proto__.txt", "constructor", "prototype.csv", "toString.txt"]:
    with open(os.path.join(o, n), "w") as f:
        f.write("a,b\\n1,2\\n" if n.endswith(".csv") else "x")
`;
  const r = await storage.exec([PYTHON, "-c", script], { echo: false });
  const names = r.adopted.artifacts.sort();
  for (const n of names) validateArtifactName(n);
  assertEquals(names.length, 4);
  for (const n of RESERVED_LOWER) assert(!names.includes(n), n);
  const m = await readManifest(storage.dir);
  assertEquals(Object.keys(m.artifacts).sort(), names);
  assertEquals(
    Object.values(m.artifacts).map((a) => (a as { source?: string }).source)
      .sort(),
    ["__proto__.txt", "constructor", "prototype.csv", "toString.txt"],
  );
});

/** A specimen whose manifest holds an artifact `__proto__`, as one written before the rule. */
async function damaged(vault: string, id: string): Promise<string> {
  const storage = await newStorage(vault, id);
  await storage.writeMetrics({ step: [1, 2, 3] }, { name: "train" });
  const bytes = await Deno.readFile(join(storage.dir, "manifest.msgpack"));
  const m = decodeMsgpack(bytes) as {
    artifacts: Record<string, Record<string, unknown>>;
  };
  const artifacts = Object.create(null);
  Object.assign(artifacts, m.artifacts);
  artifacts["__proto__"] = {
    ...m.artifacts.train,
    path: "strata/__proto__.parquet",
  };
  artifacts["constructor"] = {
    ...m.artifacts.train,
    path: "strata/constructor.parquet",
  };
  await Deno.copyFile(
    join(storage.dir, "strata", "train.parquet"),
    join(storage.dir, "strata", "__proto__.parquet"),
  );
  await Deno.writeFile(
    join(storage.dir, "manifest.msgpack"),
    encodeMsgpack({ ...m, artifacts }),
  );
  return storage.dir;
}

Deno.test("a manifest already holding __proto__ opens, verifies, indexes and repairs", async () => {
  await using vault = await tempVault();
  const dir = await damaged(vault.path, "damaged");
  await newStorage(vault.path, "neighbour").then((s) =>
    s.writeMetrics({ step: [7] }, { name: "train" })
  );
  const m = await readManifest(dir);
  assertEquals(Object.keys(m.artifacts).sort(), [
    "__proto__",
    "constructor",
    "train",
  ]);
  assert(Object.hasOwn(m.artifacts, "__proto__"));
  const storage = await SpecimenStorage.open(dir);
  assertEquals((await storage.readMetrics("train")).step, [1, 2, 3]);
  // Still writable, and a write keeps the old entries.
  await storage.writeMetrics({ step: [9] }, { name: "later" });
  assertEquals(
    Object.keys((await readManifest(dir)).artifacts).sort(),
    ["__proto__", "constructor", "later", "train"],
  );
  // An interrupted log in it: repair must read the manifest, compact the
  // log and record it, keeping the old entries.
  const child = await runDeno([
    "run",
    "-A",
    join(ROOT, "tests", "testdata", "logger_child.ts"),
    dir,
    "end",
    JSON.stringify({ rows: 120, flushRows: 50, name: "eval" }),
  ]);
  assertEquals(child.code, 0, child.stderr);
  for (const name of ["verify", "repair", "index"]) {
    const r = await runDeno([
      "run",
      ...await taskFlags(name),
      join(ROOT, "tasks", `${name}.ts`),
      "--vault",
      vault.path,
    ]);
    assert(
      !/__proto__ is not allowed|Cannot read .*msgpack/.test(r.stderr),
      `${name}: ${r.stderr}`,
    );
    assert(
      r.code === 0 || name === "verify",
      `${name} exit ${r.code}: ${r.stderr}`,
    );
  }
  const repaired = await readManifest(dir);
  assertEquals(Object.keys(repaired.artifacts).sort(), [
    "__proto__",
    "constructor",
    "eval",
    "later",
    "train",
  ]);
  assertEquals(repaired.artifacts.eval.rows, 120);
  const q = await runDeno([
    "run",
    ...await taskFlags("query"),
    join(ROOT, "tasks", "query.ts"),
    "--vault",
    vault.path,
    "--local",
    "--format",
    "json",
    "SELECT specimen_id FROM catalog ORDER BY 1",
  ]);
  assertEquals(q.code, 0, q.stderr);
  assertMatch(q.stdout, /damaged[\s\S]*neighbour/);
});

/**
 * Integers past 2^53 in `SPECIMEN_METRICS` lines stay exact (issue 25, item
 * 1): `time.time_ns()` values and huge steps written by a real Python child
 * come back as the same integers, one column of INT64; a column that would
 * mix such integers with fractions is refused by line, naming the column.
 */
import { join } from "../lib/_deps.ts";
import { beginRun } from "../lib/run/run_record.ts";
import { PYTHON } from "./_python.ts";
import { assertEquals, assertMatch, newStorage, tempVault } from "./utils.ts";

Deno.test("SPECIMEN_METRICS: ten time.time_ns() values and steps past 2^53 come back exact, small whole numbers and big ones in one INT64 column", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await beginRun(storage.dir, { via: "deno run", command: ["x"] });
  const truth = join(vault.path, "truth.txt");
  const script = `
import json, os, time
seen = []
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    for i in range(10):
        t = time.time_ns() + i  # distinct even within one clock tick
        seen.append(t)
        f.write(json.dumps({"step": 2**62 + i, "t_ns": t, "epoch": i, "small_then_big": i if i < 5 else 2**60 + i}) + "\\n")
with open(${JSON.stringify(truth)}, "w") as f:
    f.write(" ".join(str(t) for t in seen))
`;
  const result = await storage.exec([PYTHON, "-c", script], { echo: false });
  assertEquals(result.badLines, 0);
  const m = await storage.readMetrics();
  const expected = (await Deno.readTextFile(truth)).split(" ").map(BigInt);
  assertEquals(m.t_ns, expected);
  assertEquals(new Set(m.t_ns as bigint[]).size, 10, "ten values, not one");
  assertEquals(
    m.step,
    Array.from({ length: 10 }, (_, i) => 2n ** 62n + BigInt(i)),
  );
  assertEquals(
    (m.small_then_big as bigint[]).map(String),
    Array.from(
      { length: 10 },
      (_, i) => String(i < 5 ? BigInt(i) : 2n ** 60n + BigInt(i)),
    ),
  );
  assertEquals(
    Array.from(m.epoch as ArrayLike<number | bigint>, Number),
    Array.from({ length: 10 }, (_, i) => i),
  );
});

Deno.test("SPECIMEN_METRICS: a column that would mix exact big integers with fractions refuses that line, naming the column; the other lines are kept", async () => {
  await using vault = await tempVault();
  const storage = await newStorage(vault.path);
  await beginRun(storage.dir, { via: "deno run", command: ["x"] });
  const script = `
import json, os
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    f.write(json.dumps({"step": 0, "x": 0.5}) + "\\n")
    f.write(json.dumps({"step": 1, "x": 2**60}) + "\\n")
    f.write(json.dumps({"step": 2, "x": 1.5}) + "\\n")
`;
  const result = await storage.exec([PYTHON, "-c", script], { echo: false });
  assertEquals(result.badLines, 1);
  const m = await storage.readMetrics();
  assertEquals(m.step, [0, 2]);
  assertEquals(m.x, [0.5, 1.5]);
  assertMatch(
    result.problems.map((p) => p.message).join("\n"),
    /"x".*mix exact integers past 2\^53 with fractions/,
  );
});

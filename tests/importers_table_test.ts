/**
 * The generic csv/jsonl importer and kind detection, on files written here
 * (these formats belong to no tool).
 */
import {
  CorruptFileError,
  InvalidInputError,
  NotFoundError,
  UnsupportedFormatError,
} from "../lib/errors.ts";
import { join } from "../lib/_deps.ts";
import {
  columnPoints,
  columnToArray,
  detectKind,
  importRuns,
  importTable,
} from "../lib/importers/mod.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  INTEROP,
  tempDir,
} from "./utils.ts";

Deno.test("importTable() reads a CSV keyed by --step-column, numbers as numbers, empty cells as nulls", async (t) => {
  await using tmp = await tempDir();
  for (
    const [name, text, stepColumn] of [
      [
        "default step",
        'step,loss,acc,note\n0,2.5,,a\n1,1.5,0.5,"b, c"\n2,nan,0.75,\n',
        undefined,
      ],
      [
        "other step column",
        'iter,loss,acc,note\n0,2.5,,a\n1,1.5,0.5,"b, c"\n2,NaN,0.75,\n',
        "iter",
      ],
      [
        "unordered rows, CRLF",
        'step,loss,acc,note\r\n2,nan,0.75,\r\n0,2.5,,a\r\n1,1.5,0.5,"b, c"\r\n',
        undefined,
      ],
    ] as const
  ) {
    await t.step(name, async () => {
      const file = join(tmp.path, `${name.replaceAll(/\W/g, "_")}.csv`);
      await Deno.writeTextFile(file, text);
      const [run] = await importRuns(undefined, file, { stepColumn });
      assertEquals(run.kind, "csv");
      const table = run.tables[0];
      // Rows stay in file order: a step is not a key.
      const order = name.startsWith("unordered") ? [2, 0, 1] : [0, 1, 2];
      assertEquals([...table.step], order);
      assertEquals([...table.columns.keys()], ["loss", "acc", "note"]);
      const byStep = (col: string) => {
        const v = columnToArray(table.columns.get(col)!);
        return [0, 1, 2].map((s) => v[order.indexOf(s)]);
      };
      const loss = byStep("loss");
      assertEquals(loss.slice(0, 2), [2.5, 1.5]);
      assert(Number.isNaN(loss[2]));
      assertEquals(byStep("acc"), [null, 0.5, 0.75]);
      assertEquals(columnPoints(table, "acc").values.length, 2);
      assertEquals(byStep("note"), ["a", "b, c", null]);
      assertEquals(run.sourceFiles.length, 1);
      assertEquals(
        run.sourceFiles[0].bytes,
        new TextEncoder().encode(text).length,
      );
    });
  }
});

Deno.test("importTable() reads JSON Lines, keeping every line in file order (a step is not a key)", async () => {
  await using tmp = await tempDir();
  const file = join(tmp.path, "log.jsonl");
  await Deno.writeTextFile(
    file,
    '{"step": 0, "loss": 2}\n\n{"step": 1, "loss": 1}\n{"step": 1, "val": 0.5, "ok": true}\n',
  );
  const run = await importTable(file);
  assertEquals(run.kind, "jsonl");
  const t = run.tables[0];
  assertEquals(t.rows, 3);
  assertEquals([...t.step], [0, 1, 1]);
  assertEquals(columnToArray(t.columns.get("loss")!), [2, 1, null]);
  assertEquals(columnToArray(t.columns.get("val")!), [null, null, 0.5]);
  assertEquals(columnToArray(t.columns.get("ok")!), [null, null, 1]);
});

Deno.test("importTable() rejects a missing step column, a bad step and a line that is not an object", async (t) => {
  await using tmp = await tempDir();
  for (
    const [name, ext, text, cls, message] of [
      [
        "no step column",
        "csv",
        "epoch,loss\n0,1\n",
        InvalidInputError,
        "--step-column",
      ],
      [
        "negative step",
        "csv",
        "step,loss\n-1,1\n",
        CorruptFileError,
        "non-negative integers",
      ],
      [
        "fractional step",
        "jsonl",
        '{"step": 0.5}\n',
        CorruptFileError,
        "non-negative integers",
      ],
      [
        "not JSON",
        "jsonl",
        '{"step": 0}\n{"step": 1\n',
        CorruptFileError,
        "line 2 is not JSON",
      ],
      ["an array", "jsonl", "[1, 2]\n", CorruptFileError, "not a JSON object"],
    ] as const
  ) {
    await t.step(name, async () => {
      const file = join(tmp.path, `${name.replaceAll(" ", "_")}.${ext}`);
      await Deno.writeTextFile(file, text);
      const e = await assertRejects(() => importTable(file), cls, message);
      assert(
        e.message.includes(`${name.replaceAll(" ", "_")}.${ext}`),
        e.message,
      );
    });
  }
});

Deno.test("detectKind() tells each kind, and refuses a folder of several kinds", async () => {
  const trackers = join(INTEROP, "trackers");
  assertEquals(
    await detectKind(join(trackers, "tensorboard", "run_a")),
    "tensorboard",
  );
  assertEquals(
    await detectKind(
      join(trackers, "lightning_csv", "lightning_logs", "version_0"),
    ),
    "lightning",
  );
  assertEquals(
    await detectKind(
      join(trackers, "hf_trainer", "tiny-bert-a", "checkpoint-30"),
    ),
    "hf-trainer",
  );
  await assertRejects(
    () => detectKind(trackers),
    InvalidInputError,
    "several kinds",
  );
  await assertRejects(
    () => detectKind(join(trackers, "README.md")),
    UnsupportedFormatError,
    "it is a text file of a kind this importer does not know",
  );
  await assertRejects(
    () =>
      detectKind(
        join(
          trackers,
          "tensorboard",
          "run_a",
          "events.out.tfevents.1795779300.vm",
        ),
      ),
    InvalidInputError,
    "import its folder",
  );
});

Deno.test("importRuns() rejects a file where a folder is read, a folder where a file is, and a missing path", async () => {
  const trackers = join(INTEROP, "trackers");
  const events = join(
    trackers,
    "tensorboard",
    "run_a",
    "events.out.tfevents.1795779300.vm",
  );
  await assertRejects(
    () => importRuns("tensorboard", events),
    InvalidInputError,
    "its run folder",
  );
  await assertRejects(
    () => importRuns("csv", trackers),
    InvalidInputError,
    "it is a folder",
  );
  await assertRejects(
    () => importRuns("mlflow", join(trackers, "nope")),
    NotFoundError,
    "nope",
  );
});
